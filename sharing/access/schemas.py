"""Request and response shapes of the access broker."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from sharing.vocabulary import Mode, Purpose

EXAMPLE_CAMERA = "6f1c2a8e-3d4b-4c5a-9e7f-1a2b3c4d5e6f"


class AccessRequestCreate(BaseModel):
    """What an officer or agency asks for: which cameras, how, why, on which legal basis."""

    camera_ids: list[uuid.UUID] = Field(
        min_length=1,
        max_length=50,
        description="Cameras to access (all-or-nothing).",
        examples=[[EXAMPLE_CAMERA]],
    )
    mode: Mode = Field(description="`live` or `footage`.", examples=["footage"])
    purpose: Purpose = Field(
        description="From the closed purpose vocabulary (see /policies).",
        examples=["criminal_investigation"],
    )
    legal_basis: str = Field(
        default="",
        max_length=200,
        description="Case or report number, warrant or incident id, when the terms require one.",
        examples=["LP/B/1234/XI/2026/SPKT/POLRESTABES MEDAN"],
    )
    justification: str = Field(
        default="",
        max_length=2000,
        description="Free text beside the purpose.",
        examples=["Pencurian sepeda motor di depan toko, 02:10 WIB"],
    )
    footage_start: AwareDatetime | None = Field(
        default=None,
        description="Start of the footage window (footage mode only).",
        examples=["2026-11-25T01:00:00+07:00"],
    )
    footage_end: AwareDatetime | None = Field(
        default=None,
        description="End of the footage window (footage mode only).",
        examples=["2026-11-25T03:00:00+07:00"],
    )
    token_lifetime_seconds: int | None = Field(
        default=None,
        ge=10,
        le=86_400,
        description="Ask for a shorter token; the terms cap it in any case.",
        examples=[600],
    )

    @model_validator(mode="after")
    def _window_fits_mode(self) -> Self:
        if self.mode is Mode.FOOTAGE:
            if self.footage_start is None or self.footage_end is None:
                raise ValueError("footage mode needs footage_start and footage_end")
            if self.footage_start >= self.footage_end:
                raise ValueError("footage_start must be before footage_end")
        elif self.footage_start is not None or self.footage_end is not None:
            raise ValueError("live mode takes no footage window")
        if len(set(self.camera_ids)) != len(self.camera_ids):
            raise ValueError("camera_ids must not repeat a camera")
        return self


class AccessGranted(BaseModel):
    """An approved request and the access token to present to the media gateway."""

    request_id: uuid.UUID
    status: Literal["approved"] = "approved"
    access_token: str = Field(
        description="JWT for the gateway: header `Authorization: Bearer` "
        "or query `?token=` for HLS players."
    )
    token_type: Literal["Bearer"] = "Bearer"
    expires_at: datetime
    expires_in: int = Field(description="Seconds until the token expires.", examples=[600])
    audience: str = Field(description="The gateway that accepts this token.")
    mode: Mode
    camera_ids: list[uuid.UUID]
    footage_start: datetime | None = None
    footage_end: datetime | None = None
    explanation: dict[str, object] = Field(
        description="Which rules and consent versions allowed the request."
    )


class AccessRequestRead(BaseModel):
    """A past request with its decision and explanation."""

    id: uuid.UUID
    requester_party_id: uuid.UUID
    requester_member_id: uuid.UUID | None
    requester_client_id: str
    camera_ids: list[uuid.UUID]
    mode: Mode
    purpose: Purpose
    legal_basis: str
    justification: str
    footage_start: datetime | None
    footage_end: datetime | None
    status: Literal["approved", "denied"]
    explanation: dict[str, object]
    created_at: datetime


class AccessRequestPage(BaseModel):
    """One page of requests, newest first."""

    items: list[AccessRequestRead]
    total: int
    limit: int
    offset: int
