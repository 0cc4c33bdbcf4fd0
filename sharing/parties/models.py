"""Tables of the parties domain: parties, their members and their OAuth clients."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel


class Party(SQLModel, table=True):
    """An organization or person that can own cameras or receive access."""

    __tablename__ = "party"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200, index=True)
    kind: str = Field(max_length=32, index=True)
    parent_id: uuid.UUID | None = Field(default=None, foreign_key="party.id", index=True)
    active: bool = Field(default=True)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Member(SQLModel, table=True):
    """A person acting for a party, with a role."""

    __tablename__ = "member"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    name: str = Field(max_length=200)
    role: str = Field(max_length=32)
    active: bool = Field(default=True)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class OAuthClient(SQLModel, table=True):
    """Software acting for a party (or for one member of it) through OAuth2."""

    __tablename__ = "oauth_client"

    client_id: str = Field(primary_key=True, max_length=100)
    party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    member_id: uuid.UUID | None = Field(default=None, foreign_key="member.id")
    name: str = Field(max_length=200)
    auth_method: str = Field(max_length=40)
    # SHA-256 of a 256-bit random secret: a slow KDF adds nothing to a secret of that entropy.
    secret_hash: str | None = Field(default=None, max_length=64)
    jwks: dict[str, object] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    scopes: str = Field(max_length=500)
    active: bool = Field(default=True)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
