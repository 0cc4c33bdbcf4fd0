"""Tables of the access broker: requests, their decisions, and the tokens minted for them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel


class AccessRequest(SQLModel, table=True):
    """A request for live or footage access, with its decision and explanation."""

    __tablename__ = "access_request"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    requester_party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    requester_member_id: uuid.UUID | None = Field(default=None, foreign_key="member.id")
    requester_client_id: str = Field(max_length=100)
    camera_ids: list[str] = Field(sa_column=Column(JSON, nullable=False))
    mode: str = Field(max_length=16)
    purpose: str = Field(max_length=40)
    legal_basis: str = Field(default="", max_length=200)
    justification: str = Field(default="", max_length=2000)
    footage_start: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    footage_end: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    # pending | approved | denied | expired | withdrawn
    status: str = Field(max_length=16, index=True)
    explanation: dict[str, object] = Field(sa_column=Column(JSON, nullable=False))
    emergency: bool = Field(default=False)
    incident_latitude: float | None = Field(default=None)
    incident_longitude: float | None = Field(default=None)
    incident_radius_m: int | None = Field(default=None)
    token_lifetime_seconds: int | None = Field(default=None)
    pending_until: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    decided_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ApprovalTask(SQLModel, table=True):
    """One approval a pending request waits for: the owner's, or a supervisor's in the
    requesting party."""

    __tablename__ = "approval_task"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    request_id: uuid.UUID = Field(foreign_key="access_request.id", index=True)
    kind: str = Field(max_length=16)  # owner | supervisor
    approver_party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    camera_ids: list[str] = Field(sa_column=Column(JSON, nullable=False))
    consent_id: uuid.UUID | None = Field(default=None, foreign_key="consent.id")
    # pending | approved | refused | expired | cancelled
    status: str = Field(default="pending", max_length=16, index=True)
    decided_by: str | None = Field(default=None, max_length=100)
    decided_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    reason: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class AccessToken(SQLModel, table=True):
    """A minted access token's record: what it allows, and whether it was revoked."""

    __tablename__ = "access_token"

    jti: str = Field(primary_key=True, max_length=64)
    request_id: uuid.UUID = Field(foreign_key="access_request.id", index=True)
    audience: str = Field(max_length=200)
    mode: str = Field(max_length=16)
    camera_ids: list[str] = Field(sa_column=Column(JSON, nullable=False))
    footage_start: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    footage_end: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    revocation_reason: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class TokenConsent(SQLModel, table=True):
    """A consent that an access token rests on; revoking the consent revokes the token."""

    __tablename__ = "token_consent"

    jti: str = Field(foreign_key="access_token.jti", primary_key=True)
    consent_id: uuid.UUID = Field(foreign_key="consent.id", primary_key=True, index=True)
