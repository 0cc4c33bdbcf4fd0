"""Request and response shapes of the camera registry.

A camera's stream source is write-only: create and update shapes accept it as a secret
string, no read shape has it; reads only say whether one is set.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic.config import JsonDict

from sharing.parties.schemas import DEFAULT_PAGE_SIZE, invalid
from sharing.vocabulary import Mode, Visibility

STREAM_SCHEMES = frozenset({"rtsp", "rtsps", "http", "https", "srt"})
MAX_STREAM_SOURCE_LENGTH = 2000
MAX_TAGS = 20
MAX_RADIUS_M = 50_000
TAG_PATTERN = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"

Tag = Annotated[
    str,
    Field(
        min_length=1,
        max_length=50,
        pattern=TAG_PATTERN,
        description="A lowercase slug: letters and digits joined by single - or _.",
        examples=["traffic", "shop-front"],
    ),
]


# Litestar copies a field's description onto the enum's shared OpenAPI component, so every
# field of one enum type carries the enum's own text, or the document would change from run
# to run.
_VISIBILITY = Visibility.__doc__ or ""
_STATUS = "Where a camera is in its life."


class CameraStatus(StrEnum):
    """Where a camera is in its life."""

    ACTIVE = "active"
    MAINTENANCE = "maintenance"
    DECOMMISSIONED = "decommissioned"


# writeOnly (OpenAPI 3.1 / JSON Schema): clients learn that the value is never read back.
_WRITE_ONLY_URL: JsonDict = {"writeOnly": True, "format": "uri"}
_STREAM_EXAMPLE = "rtsp://10.20.0.15:554/stream1"


class CameraCreate(BaseModel):
    """A camera to register."""

    # hide_input_in_errors: a rejected stream source may carry credentials; keep it out of
    # validation errors and so out of any log that prints them.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True)

    name: str = Field(
        min_length=1,
        max_length=200,
        description="A name people recognize.",
        examples=["Toko Sinar - depan"],
    )
    owner_party_id: uuid.UUID | None = Field(
        default=None,
        description="The owning party; defaults to the caller's. Only admins may register "
        "cameras for another party.",
    )
    latitude: float = Field(ge=-90, le=90, description="WGS 84 latitude.", examples=[3.5952])
    longitude: float = Field(ge=-180, le=180, description="WGS 84 longitude.", examples=[98.6722])
    address: str = Field(
        default="",
        max_length=300,
        description="Street address.",
        examples=["Jl. Gatot Subroto No. 12"],
    )
    province: str = Field(
        default="", max_length=100, examples=["Sumatera Utara"], description="Province."
    )
    city: str = Field(
        default="", max_length=100, examples=["Medan"], description="City or regency."
    )
    district: str = Field(
        default="", max_length=100, examples=["Medan Petisah"], description="District (kecamatan)."
    )
    village: str = Field(
        default="",
        max_length=100,
        examples=["Sei Sikambing D"],
        description="Village or urban village (kelurahan/desa).",
    )
    rw: str = Field(
        default="", max_length=10, examples=["05"], description="Neighbourhood (rukun warga)."
    )
    tags: list[Tag] = Field(
        default_factory=list,
        max_length=MAX_TAGS,
        description="Tags that consents and searches select cameras by.",
        examples=[["shop", "street"]],
    )
    visibility: Visibility = Field(
        default=Visibility.PRIVATE,
        description=_VISIBILITY,
        examples=["private"],
    )
    retention_days: int = Field(
        default=30, ge=1, le=3650, description="How long recordings are kept.", examples=[30]
    )
    stream_source: SecretStr | None = Field(
        default=None,
        description="Where the gateway pulls video from (rtsp, rtsps, http, https or srt URL). "
        "Write-only: stored encrypted, never returned or logged.",
        examples=[_STREAM_EXAMPLE],
        json_schema_extra=_WRITE_ONLY_URL,
    )

    @field_validator("tags")
    @classmethod
    def _tags_are_distinct(cls, tags: list[str]) -> list[str]:
        return list(dict.fromkeys(tags))

    @field_validator("stream_source")
    @classmethod
    def _stream_source_is_a_stream_url(cls, source: SecretStr | None) -> SecretStr | None:
        return None if source is None else check_stream_source(source)


class CameraUpdate(BaseModel):
    """Changes to a camera; omitted fields stay as they are.

    ``stream_source`` may be sent as null to forget the stream source; the other fields may
    not be null.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True)

    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="A new name.",
        examples=["Toko Sinar - depan"],
    )
    address: str | None = Field(default=None, max_length=300, description="Street address.")
    province: str | None = Field(default=None, max_length=100, description="Province.")
    city: str | None = Field(default=None, max_length=100, description="City or regency.")
    district: str | None = Field(default=None, max_length=100, description="District.")
    village: str | None = Field(default=None, max_length=100, description="Village.")
    rw: str | None = Field(default=None, max_length=10, description="Neighbourhood (RW).")
    tags: list[Tag] | None = Field(
        default=None,
        max_length=MAX_TAGS,
        description="The camera's new set of tags.",
        examples=[["shop", "street"]],
    )
    visibility: Visibility | None = Field(
        default=None, description=_VISIBILITY, examples=["public"]
    )
    retention_days: int | None = Field(
        default=None, ge=1, le=3650, description="How long recordings are kept.", examples=[14]
    )
    status: CameraStatus | None = Field(default=None, description=_STATUS, examples=["maintenance"])
    stream_source: SecretStr | None = Field(
        default=None,
        description="A new stream source URL, or null to forget it. Write-only.",
        examples=[_STREAM_EXAMPLE],
        json_schema_extra=_WRITE_ONLY_URL,
    )

    @field_validator(
        "name",
        "address",
        "province",
        "city",
        "district",
        "village",
        "rw",
        "tags",
        "visibility",
        "retention_days",
        "status",
    )
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Runs only for values the caller sent: an explicit null would otherwise be ignored.
        if value is None:
            raise invalid("may be omitted but not null")
        return value

    @field_validator("tags")
    @classmethod
    def _tags_are_distinct(cls, tags: list[str]) -> list[str]:
        return list(dict.fromkeys(tags))

    @field_validator("stream_source")
    @classmethod
    def _stream_source_is_a_stream_url(cls, source: SecretStr | None) -> SecretStr | None:
        return None if source is None else check_stream_source(source)


class CameraLocation(BaseModel):
    """Where a camera is."""

    latitude: float = Field(description="WGS 84 latitude.", examples=[3.5952])
    longitude: float = Field(description="WGS 84 longitude.", examples=[98.6722])
    address: str = Field(description="Street address.", examples=["Jl. Gatot Subroto No. 12"])
    province: str = Field(description="Province.", examples=["Sumatera Utara"])
    city: str = Field(description="City or regency.", examples=["Medan"])
    district: str = Field(description="District (kecamatan).", examples=["Medan Petisah"])
    village: str = Field(description="Village (kelurahan/desa).", examples=["Sei Sikambing D"])
    rw: str = Field(description="Neighbourhood (rukun warga).", examples=["05"])


class CameraRead(BaseModel):
    """A camera as callers see it: never its stream source."""

    id: uuid.UUID = Field(description="The camera's id.")
    owner_party_id: uuid.UUID = Field(description="The party that owns the camera.")
    name: str = Field(description="A name people recognize.", examples=["Toko Sinar - depan"])
    location: CameraLocation = Field(description="Where the camera is.")
    tags: list[str] = Field(description="The camera's tags, sorted.", examples=[["shop"]])
    visibility: Visibility = Field(description=_VISIBILITY, examples=["private"])
    retention_days: int = Field(description="How long recordings are kept.", examples=[30])
    status: CameraStatus = Field(description=_STATUS)
    created_at: datetime = Field(description="When the camera was registered (UTC).")
    updated_at: datetime = Field(description="When the camera last changed (UTC).")
    has_stream_source: bool = Field(
        description="Whether a stream source is registered (its value is never shown)."
    )
    distance_m: float | None = Field(
        default=None,
        description="Metres from the search point, to 0.1 m; null unless the search named "
        "one (near_lat, near_lon, radius_m).",
        examples=[142.7],
    )
    home_hub: str | None = Field(
        default=None,
        description="For a camera of a peer hub's catalog (include_remote=true): that hub's "
        "issuer, which decides requests for it; null for this hub's cameras.",
        examples=[None],
    )
    modes: list[Mode] | None = Field(
        default=None,
        description="For a peer hub's camera: the modes its catalog says are shared; else null.",
        examples=[None],
    )


class CameraPage(BaseModel):
    """One page of cameras."""

    items: list[CameraRead] = Field(
        description="The cameras on this page: nearest first for a radius search, else by name "
        "then id."
    )
    total: int = Field(description="How many visible cameras match the filters.", examples=[3])
    limit: int = Field(description="The page size asked for.", examples=[DEFAULT_PAGE_SIZE])
    offset: int = Field(description="How many matching cameras precede this page.", examples=[0])


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """A latitude/longitude rectangle; it does not cross the antimeridian."""

    min_lat: float
    min_lon: float
    max_lat: float
    max_lon: float


@dataclass(frozen=True, slots=True)
class NearPoint:
    """A circle on the ground: cameras within ``radius_m`` metres of a WGS 84 point."""

    latitude: float
    longitude: float
    radius_m: int


@dataclass(frozen=True, slots=True)
class CameraSearch:
    """Filters and page of a camera search; ``None`` means "any".

    With ``near`` the search keeps only cameras within the circle and orders them nearest
    first; without it, by name then id.
    """

    owner_party_id: uuid.UUID | None = None
    tag: str | None = None
    city: str | None = None
    district: str | None = None
    village: str | None = None
    rw: str | None = None
    visibility: Visibility | None = None
    status: CameraStatus | None = None
    bbox: BoundingBox | None = None
    near: NearPoint | None = None
    limit: int = DEFAULT_PAGE_SIZE
    offset: int = 0


def check_stream_source(source: SecretStr) -> SecretStr:
    """Accept an absolute rtsp/rtsps/http/https/srt URL with a host.

    Error messages never repeat the value: it may carry credentials.
    """
    value = source.get_secret_value()
    if len(value) > MAX_STREAM_SOURCE_LENGTH:
        raise invalid(f"must be at most {MAX_STREAM_SOURCE_LENGTH} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise invalid("must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 -- reading the port raises on a malformed one
    except ValueError:
        raise invalid("is not a valid URL") from None
    if parts.scheme.lower() not in STREAM_SCHEMES:
        raise invalid("must be an rtsp, rtsps, http, https or srt URL")
    if not host:
        raise invalid("must name a host")
    return source
