"""Tables of the webhook outbox: who listens for what, and every delivery attempt's state."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel


class WebhookSubscription(SQLModel, table=True):
    """A party's endpoint for events about it; the signing secret is encrypted at rest."""

    __tablename__ = "webhook_subscription"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    url: str = Field(max_length=500)
    secret_encrypted: str
    event_types: list[str] = Field(sa_column=Column(JSON, nullable=False))
    active: bool = Field(default=True)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class WebhookDelivery(SQLModel, table=True):
    """One event for one subscription; written in the transaction of the change it reports."""

    __tablename__ = "webhook_delivery"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    subscription_id: uuid.UUID = Field(foreign_key="webhook_subscription.id", index=True)
    event_type: str = Field(max_length=64)
    payload: dict[str, object] = Field(sa_column=Column(JSON, nullable=False))
    # pending | delivered | failed (gave up after the last retry)
    status: str = Field(default="pending", max_length=16, index=True)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, index=True)
    )
    last_status_code: int | None = Field(default=None)
    last_error: str | None = Field(default=None, max_length=500)
    delivered_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
