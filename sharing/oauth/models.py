"""Tables of the authorization server: signing keys, issued API tokens, used assertions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel


class SigningKey(SQLModel, table=True):
    """A key the hub signs tokens with. The private half is encrypted with the secret key."""

    __tablename__ = "signing_key"

    kid: str = Field(primary_key=True, max_length=64)
    algorithm: str = Field(max_length=16)
    private_pem_encrypted: str
    public_jwk: dict[str, object] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(max_length=16, index=True)  # current | retired
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    retired_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    publish_until: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class IssuedApiToken(SQLModel, table=True):
    """An OAuth access token the hub issued for its API, for introspection and revocation."""

    __tablename__ = "issued_api_token"

    jti: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(foreign_key="oauth_client.client_id", index=True)
    subject: str = Field(max_length=100)
    scope: str = Field(max_length=500)
    issued_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class UsedClientAssertion(SQLModel, table=True):
    """A ``private_key_jwt`` assertion already used; RFC 7523 section 3 forbids replay."""

    __tablename__ = "used_client_assertion"

    client_id: str = Field(primary_key=True, max_length=100)
    jti: str = Field(primary_key=True, max_length=200)
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
