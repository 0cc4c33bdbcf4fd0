"""Request and response shapes of the access broker."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from sharing.vocabulary import Mode, Purpose

EXAMPLE_CAMERA = "6f1c2a8e-3d4b-4c5a-9e7f-1a2b3c4d5e6f"
EXAMPLE_PARTY = "3c9d1e2f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
EXAMPLE_REQUEST = "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d"
MAX_INCIDENT_RADIUS_M = 2_000


class RequestStatus(StrEnum):
    """Where an access request is. Only ``pending`` ever changes."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class TaskStatus(StrEnum):
    """Where one approval a request waits for is."""

    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class IncidentPoint(BaseModel):
    """Where an emergency happens; with no camera_ids, the cameras around it are requested."""

    model_config = ConfigDict(extra="forbid")

    latitude: float = Field(ge=-90, le=90, description="WGS 84 latitude.", examples=[3.5921])
    longitude: float = Field(ge=-180, le=180, description="WGS 84 longitude.", examples=[98.6498])
    radius_m: int = Field(
        ge=1,
        le=MAX_INCIDENT_RADIUS_M,
        description="How far around the point cameras are wanted, in metres.",
        examples=[300],
    )


class AccessRequestCreate(BaseModel):
    """What an officer or agency asks for: which cameras, how, why, on which legal basis."""

    camera_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=50,
        description="Cameras to access (all-or-nothing). May be left empty when an `incident` "
        "is given: the active cameras around it are requested, nearest first.",
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
    emergency: bool = Field(
        default=False,
        description="An emergency request: decided under the terms' emergency clause where "
        "there is one, and always reviewed after the fact by the owner and a supervisor.",
        examples=[False],
    )
    incident: IncidentPoint | None = Field(
        default=None,
        description="The incident's location, recorded with the request; with no camera_ids "
        "it selects the cameras within radius_m of it.",
        examples=[None],
    )

    sealed_until: AwareDatetime | None = Field(
        default=None,
        description="Police only: keep the access's details from the camera owners until "
        "then (their access report shows at once that a sealed access happened, and when it "
        "will be disclosed). Allowed only where every camera's terms allow a seal that long "
        "(`[disclosure] max_seal_days`) and the request needs no owner approval and is no "
        "emergency; otherwise 422 on `sealed_until`.",
        examples=[None],
    )

    @model_validator(mode="after")
    def _cameras_named_or_found(self) -> Self:
        if not self.camera_ids and self.incident is None:
            raise ValueError("camera_ids: name at least one camera, or give an incident point")
        return self

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
    status: RequestStatus = Field(
        description="A pending request past its `pending_until` reads as `expired`."
    )
    emergency: bool
    incident: IncidentPoint | None
    pending_until: datetime | None = Field(
        description="Until when a pending request waits for its approvals."
    )
    decided_at: datetime | None = Field(
        description="When it was finally approved, denied, expired or withdrawn."
    )
    explanation: dict[str, object]
    created_at: datetime


class AccessRequestPage(BaseModel):
    """One page of requests, newest first."""

    items: list[AccessRequestRead]
    total: int
    limit: int
    offset: int


class ApprovalAwaited(BaseModel):
    """One approval a pending request waits for."""

    id: uuid.UUID = Field(description="The approval task's id (`/approvals/{id}`).")
    kind: Literal["owner", "supervisor"] = Field(
        description="`owner`: the camera owner's approval; `supervisor`: a supervisor's of "
        "the requesting party.",
        examples=["owner"],
    )
    approver_party_id: uuid.UUID = Field(
        description="The party that must approve.", examples=[EXAMPLE_PARTY]
    )
    camera_ids: list[uuid.UUID] = Field(
        description="The cameras this approval covers.", examples=[[EXAMPLE_CAMERA]]
    )
    status: TaskStatus = Field(examples=["pending"])
    decided_by: str | None = Field(
        default=None, description="The member (or client) who approved or refused it."
    )
    decided_at: datetime | None = None
    reason: str | None = Field(default=None, description="Why it was refused.")


class AccessPending(BaseModel):
    """A request policy would allow once the listed approvals are given (HTTP 202).

    The requester is told of the outcome by webhook (`access_request.approved`, `.refused`,
    `.expired`) and fetches the token from `/access-requests/{id}/token` once approved.
    """

    request_id: uuid.UUID = Field(examples=[EXAMPLE_REQUEST])
    status: Literal["pending"] = "pending"
    pending_until: datetime = Field(
        description="When the request expires if not every approval is given by then."
    )
    approvals: list[ApprovalAwaited]
    explanation: dict[str, object] = Field(
        description="What would allow the request, and which approvals it waits for."
    )


class DryRunResult(BaseModel):
    """What policy would decide for a request, now; nothing is recorded or minted."""

    outcome: Literal["allow", "deny", "needs_approval"] = Field(examples=["needs_approval"])
    camera_ids: list[uuid.UUID] = Field(
        description="The cameras decided on (those found around the incident, if it was given "
        "without camera_ids).",
        examples=[[EXAMPLE_CAMERA]],
    )
    reasons: list[dict[str, object]] = Field(
        description="With `deny`: every reason for every refused camera (`code`, `message`)."
    )
    approvals: list[dict[str, object]] = Field(
        description="With `needs_approval`: who would have to approve which cameras."
    )
    token_lifetime_seconds: int = Field(
        description="The token's life if it were minted now (0 on deny).", examples=[900]
    )
    explanation: dict[str, object] = Field(
        description="The full trace: grants with rule and consent version, reasons, approvals."
    )


class ApprovalRead(BaseModel):
    """An approval task as its approver sees it, with the request it is about."""

    id: uuid.UUID
    request_id: uuid.UUID
    kind: Literal["owner", "supervisor"] = Field(examples=["owner"])
    approver_party_id: uuid.UUID
    camera_ids: list[uuid.UUID]
    consent_id: uuid.UUID | None = Field(
        description="The consent whose condition asks for this approval, if one does."
    )
    status: TaskStatus = Field(
        description="A pending task whose request passed `pending_until` reads as `expired`."
    )
    decided_by: str | None = Field(description="The member (or client) who approved or refused.")
    decided_at: datetime | None
    reason: str | None = Field(description="The approver's reason, on refusal.")
    created_at: datetime
    requester_party_id: uuid.UUID
    requester_member_id: uuid.UUID | None
    mode: Mode
    purpose: Purpose
    legal_basis: str
    justification: str
    emergency: bool
    footage_start: datetime | None
    footage_end: datetime | None
    pending_until: datetime | None


class ApprovalPage(BaseModel):
    """One page of approval tasks, newest first."""

    items: list[ApprovalRead]
    total: int
    limit: int
    offset: int


class ApprovalRefuse(BaseModel):
    """Why the approver refuses; the requester reads it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(
        min_length=1,
        max_length=2000,
        description="Why the request is refused, in words the requester understands.",
        examples=["Kamera gudang tidak mengarah ke jalan; gunakan kamera depan toko."],
    )


class ApprovalDecided(BaseModel):
    """The task as decided, and where its request now stands."""

    approval: ApprovalRead
    request_status: RequestStatus = Field(
        description="`approved` when this was the last approval and policy still allows: "
        "the requester can fetch the token.",
        examples=["approved"],
    )


class ExplanationRead(BaseModel):
    """Why a past request was decided as it was, with the approvals given or refused."""

    request_id: uuid.UUID
    requester_party_id: uuid.UUID
    status: RequestStatus
    decided_at: datetime | None
    explanation: dict[str, object] = Field(
        description="Grants (rule, consent and version) or every reason of a refusal, in "
        "`code`s for programs and `message`s for people."
    )
    approvals: list[ApprovalAwaited]


class SealExtension(BaseModel):
    """A supervisor's decision to keep a sealed access sealed longer."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    sealed_until: AwareDatetime = Field(
        description="The new date: later than the current one, and within the terms' "
        "`max_seal_days` counted from the access.",
        examples=["2027-01-15T00:00:00+07:00"],
    )
    reason: str = Field(
        min_length=1,
        max_length=2000,
        description="Why the investigation needs the seal longer; recorded in the audit trail.",
        examples=["Penyidikan masih berjalan; tersangka belum ditangkap."],
    )


class SealRelease(BaseModel):
    """Disclose a sealed access now, e.g. at case closure."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(
        min_length=1,
        max_length=2000,
        description="Why the seal ends now; recorded in the audit trail.",
        examples=["Perkara dilimpahkan ke kejaksaan (P21)."],
    )


class SealRead(BaseModel):
    """A sealed access and until when its details are kept from the owners."""

    request_id: uuid.UUID
    sealed_until: datetime = Field(description="When the details are disclosed at the latest.")
    released_at: datetime | None = Field(description="When the requesting party released it.")
    sealed: bool = Field(description="Whether the details are still kept from the owners.")
    created_at: datetime
