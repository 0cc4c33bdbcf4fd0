"""Tables of the consent domain: legal instruments and the owners' grants under them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel


class Agreement(SQLModel, table=True):
    """A legal instrument (regulation, MoU, cooperation agreement) and the terms it allows."""

    __tablename__ = "agreement"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(max_length=32)
    number: str = Field(max_length=100, index=True)
    title: str = Field(max_length=300)
    status: str = Field(max_length=16, index=True)
    policy_template: str = Field(max_length=100)
    document_sha256: str = Field(max_length=64)
    valid_from: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    valid_until: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class AgreementParty(SQLModel, table=True):
    """A party bound by an agreement."""

    __tablename__ = "agreement_party"

    agreement_id: uuid.UUID = Field(foreign_key="agreement.id", primary_key=True)
    party_id: uuid.UUID = Field(foreign_key="party.id", primary_key=True, index=True)


class Consent(SQLModel, table=True):
    """An owner's grant of access to their cameras, under an agreement, to a grantee.

    ``grantee_party_id`` is empty for a public grant (anyone, e.g. a traffic camera).
    ``camera_selector`` is ``cameras`` (the listed ones), ``all`` (every camera of the grantor,
    including ones registered later) or ``tag`` (cameras carrying ``selector_tag``).
    """

    __tablename__ = "consent"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    grantor_party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    grantee_party_id: uuid.UUID | None = Field(default=None, foreign_key="party.id", index=True)
    agreement_id: uuid.UUID = Field(foreign_key="agreement.id", index=True)
    camera_selector: str = Field(max_length=16)
    selector_tag: str | None = Field(default=None, max_length=50)
    modes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    purposes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    max_lookback_hours: int | None = Field(default=None)
    max_window_minutes: int | None = Field(default=None)
    max_token_lifetime_seconds: int | None = Field(default=None)
    valid_from: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    valid_until: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    status: str = Field(default="active", max_length=16, index=True)
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    revocation_reason: str | None = Field(default=None, max_length=500)
    version: int = Field(default=1)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ConsentCamera(SQLModel, table=True):
    """A camera named by a consent whose selector is ``cameras``."""

    __tablename__ = "consent_camera"

    consent_id: uuid.UUID = Field(foreign_key="consent.id", primary_key=True)
    camera_id: uuid.UUID = Field(foreign_key="camera.id", primary_key=True, index=True)
