"""Request and response shapes of federation: peers, their status, and the catalog."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from sharing.vocabulary import Mode

ISSUER_PATTERN = r"^https?://[^\s/?#]+(/[^\s?#]*)?$"


class PeerCreate(BaseModel):
    """A peer hub to register, by its issuer URL."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    issuer: str = Field(
        max_length=100,  # it becomes the peer's client_id here
        pattern=ISSUER_PATTERN,
        description="The peer's issuer (RFC 8414): its metadata must name exactly this URL.",
        examples=["https://hub.polda-sumut.example"],
    )
    party_id: uuid.UUID = Field(description="The local party that stands for the peer's hub.")
    agreement_id: uuid.UUID = Field(description="The inter-hub agreement binding the two hubs.")
    name: str | None = Field(
        default=None, min_length=1, max_length=200, description="A name; by default the issuer."
    )


class PeerSuspend(BaseModel):
    """Why a peer is suspended."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str | None = Field(default=None, max_length=500, description="Recorded in audit.")


class PeerRead(BaseModel):
    """A peer hub and the state of its catalog sync."""

    id: uuid.UUID = Field(description="The peer's id at this hub.")
    issuer: str = Field(description="The peer's issuer; also its OAuth client id here.")
    name: str = Field(description="The peer's name.")
    party_id: uuid.UUID = Field(description="The local party standing for the peer.")
    agreement_id: uuid.UUID = Field(description="The inter-hub agreement.")
    status: str = Field(description="active or suspended.", examples=["active"])
    token_endpoint: str = Field(description="The peer's token endpoint, from its metadata.")
    jwks_fetched_at: datetime = Field(description="When the peer's keys were last read.")
    key_ids: list[str] = Field(description="The kids of the peer's keys as last read.")
    last_sync_at: datetime | None = Field(description="The last successful catalog sync.")
    last_error: str | None = Field(description="The last failure talking to the peer.")
    last_error_at: datetime | None = Field(description="When that failure happened.")
    last_latency_ms: float | None = Field(description="The last catalog call's duration.")
    catalog_etag: str | None = Field(description="The ETag of the catalog last stored.")
    remote_cameras: int = Field(description="Cameras of the peer's catalog stored here.")
    created_at: datetime = Field(description="When the peer was registered.")
    suspended_at: datetime | None = Field(description="When the peer was suspended.")


class SyncResult(BaseModel):
    """What one catalog sync with a peer did."""

    peer_id: uuid.UUID
    issuer: str
    changed: bool = Field(description="False when the peer answered 304 Not Modified.")
    remote_cameras: int = Field(description="Cameras of the peer stored here after the sync.")
    latency_ms: float = Field(description="How long the catalog call took.")


class CatalogCamera(BaseModel):
    """A camera a hub shares with a peer: metadata only, never a stream source."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID = Field(description="The camera's id at its home hub.")
    name: str = Field(max_length=200)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    tags: list[str] = Field(description="Sorted.")
    modes: list[Mode] = Field(description="The modes the consents and terms allow, sorted.")


class Catalog(BaseModel):
    """The cameras a hub shares with the calling peer's party."""

    hub: str = Field(description="The issuer of the hub that publishes the catalog.")
    cameras: list[CatalogCamera] = Field(description="Ordered by id.")
