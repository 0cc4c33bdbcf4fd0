"""Tables of emergency access: review items and suspended emergency rights."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel


class EmergencyReview(SQLModel, table=True):
    """The mandatory after-the-fact review of one emergency access, listed until closed.

    The requesting party's supervisor must ratify it within 24 hours (``due_at``); if not,
    ``unratified_flagged_at`` is set and the owner's report shows it.
    """

    __tablename__ = "emergency_review"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    request_id: uuid.UUID = Field(foreign_key="access_request.id", index=True)
    requester_party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    owner_party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    agreement_id: uuid.UUID | None = Field(default=None, foreign_key="agreement.id")
    status: str = Field(default="open", max_length=16, index=True)  # open | ratified | closed
    due_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    ratified_by: str | None = Field(default=None, max_length=100)
    ratified_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    unratified_flagged_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    closed_by: str | None = Field(default=None, max_length=100)
    closed_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    closing_note: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class EmergencySuspension(SQLModel, table=True):
    """A party's emergency right under an agreement, suspended after repeated unratified use
    until an operator restores it."""

    __tablename__ = "emergency_suspension"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    agreement_id: uuid.UUID = Field(foreign_key="agreement.id", index=True)
    reason: str = Field(max_length=500)
    suspended_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    restored_by: str | None = Field(default=None, max_length=100)
    restored_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
