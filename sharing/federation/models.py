"""Tables of federation: the peer hubs, the cameras their catalogs share with us, and the
requests this hub forwarded to them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, Float
from sqlmodel import Field, SQLModel


class FederationPeer(SQLModel, table=True):
    """Another hub, known by its issuer, bound by an inter-hub agreement, and standing for a
    party of this hub (e.g. the Polda's hub for the party "Polda Sumut")."""

    __tablename__ = "federation_peer"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    issuer: str = Field(max_length=500, unique=True)
    name: str = Field(max_length=200)
    party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    agreement_id: uuid.UUID = Field(foreign_key="agreement.id", index=True)
    status: str = Field(default="active", max_length=16, index=True)  # active | suspended
    # RFC 8414 metadata and JWKS as last read from the peer; refreshed on an unknown kid.
    server_metadata: dict[str, object] = Field(sa_column=Column(JSON, nullable=False))
    jwks: dict[str, object] = Field(sa_column=Column(JSON, nullable=False))
    jwks_fetched_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    catalog_etag: str | None = Field(default=None, max_length=200)
    last_sync_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    last_error: str | None = Field(default=None, max_length=500)
    last_error_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    last_latency_ms: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    suspended_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class RemoteCamera(SQLModel, table=True):
    """A camera a peer's catalog shares with this hub: metadata only, never a stream source."""

    __tablename__ = "remote_camera"

    peer_id: uuid.UUID = Field(foreign_key="federation_peer.id", primary_key=True)
    # Indexed on its own: forwarding looks cameras up by id, whatever their peer.
    camera_id: str = Field(primary_key=True, max_length=36, index=True)
    name: str = Field(max_length=200, index=True)
    latitude: float
    longitude: float
    tags: list[str] = Field(sa_column=Column(JSON, nullable=False))
    modes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    synced_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ForwardedRequest(SQLModel, table=True):
    """An access request this hub forwarded to a camera's home hub, and its last known
    status there. The home hub's request id is the id the officer sees."""

    __tablename__ = "forwarded_request"

    remote_request_id: str = Field(primary_key=True, max_length=36)
    peer_id: uuid.UUID = Field(foreign_key="federation_peer.id", index=True)
    requester_party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    requester_member_id: uuid.UUID | None = Field(default=None, foreign_key="member.id")
    requester_client_id: str = Field(max_length=100)
    camera_ids: list[str] = Field(sa_column=Column(JSON, nullable=False))
    mode: str = Field(max_length=16)
    purpose: str = Field(max_length=40)
    status: str = Field(max_length=16)
    local_event_id: int | None = Field(default=None)
    remote_event_id: int | None = Field(default=None)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    status_checked_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
