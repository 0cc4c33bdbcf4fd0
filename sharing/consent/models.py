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
    # An amendment is a new agreement that names the one it amends; active terms never change.
    version: int = Field(default=1)
    amends_id: uuid.UUID | None = Field(default=None, foreign_key="agreement.id")
    status_reason: str | None = Field(default=None, max_length=500)
    status_changed_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    status_changed_by: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class AgreementParty(SQLModel, table=True):
    """A party bound by an agreement."""

    __tablename__ = "agreement_party"

    agreement_id: uuid.UUID = Field(foreign_key="agreement.id", primary_key=True)
    party_id: uuid.UUID = Field(foreign_key="party.id", primary_key=True, index=True)


class Consent(SQLModel, table=True):
    """An owner's grant of access to their cameras, under an agreement, to a grantee.

    ``grantee_scope`` says who receives it: ``party`` (``grantee_party_id``),
    ``party_and_subunits`` (that party and every party below it, e.g. a Polda and its Polres),
    ``agreement_parties`` (every party bound by the agreement) or ``public`` (anyone).
    ``camera_selector`` is ``cameras`` (the listed ones), ``all`` (every camera of the grantor,
    including ones registered later) or ``tag`` (cameras carrying ``selector_tag``).
    A change makes a new version with the same ``lineage_id``; the old one is ``superseded``.
    Hours and days are in the consent's ``timezone`` (the owner's local time).
    """

    __tablename__ = "consent"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    grantor_party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    grantee_party_id: uuid.UUID | None = Field(default=None, foreign_key="party.id", index=True)
    grantee_scope: str = Field(default="party", max_length=24)
    # UU PDP No. 27/2022 lawful basis: consent (the owner may revoke), legal_obligation (under
    # ``regulation_ref``; the owner may object, not revoke) or public_task (government cameras).
    legal_basis: str = Field(default="consent", max_length=24)
    regulation_ref: str | None = Field(default=None, max_length=200)
    agreement_id: uuid.UUID = Field(foreign_key="agreement.id", index=True)
    camera_selector: str = Field(max_length=16)
    selector_tag: str | None = Field(default=None, max_length=50)
    modes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    purposes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    max_lookback_hours: int | None = Field(default=None)
    max_window_minutes: int | None = Field(default=None)
    max_token_lifetime_seconds: int | None = Field(default=None)
    hours_start: int | None = Field(default=None, ge=0, le=23)
    hours_end: int | None = Field(default=None, ge=1, le=24)
    days_of_week: list[int] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    timezone: str = Field(default="Asia/Jakarta", max_length=64)
    requires_owner_approval: bool = Field(default=False)
    requires_supervisor_approval: bool = Field(default=False)
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
    lineage_id: uuid.UUID = Field(index=True)
    superseded_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ConsentCamera(SQLModel, table=True):
    """A camera named by a consent whose selector is ``cameras``."""

    __tablename__ = "consent_camera"

    consent_id: uuid.UUID = Field(foreign_key="consent.id", primary_key=True)
    camera_id: uuid.UUID = Field(foreign_key="camera.id", primary_key=True, index=True)


class Objection(SQLModel, table=True):
    """An owner's recorded objection to an arrangement they cannot revoke (legal obligation)."""

    __tablename__ = "objection"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    consent_id: uuid.UUID = Field(foreign_key="consent.id", index=True)
    owner_party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    text: str = Field(max_length=4000)
    status: str = Field(default="open", max_length=16, index=True)  # open | answered
    answer: str | None = Field(default=None, max_length=4000)
    answered_by: str | None = Field(default=None, max_length=100)
    answered_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
