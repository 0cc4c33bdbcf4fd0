"""Request and response shapes of emergency accountability: review items and suspensions."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from sharing.parties.schemas import DEFAULT_PAGE_SIZE


class ReviewStatus(StrEnum):
    """Where an emergency review is: waiting for ratification, ratified, or closed."""

    OPEN = "open"
    RATIFIED = "ratified"
    CLOSED = "closed"


class ReviewClose(BaseModel):
    """The owner's (or an operator's) closing word on a review."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: str = Field(
        min_length=1,
        max_length=2000,
        description="Why the review is closed: what was checked, what was agreed.",
        examples=["Diperiksa bersama Polrestabes: akses sesuai laporan kejadian 119-0457."],
    )


class ReviewedAccess(BaseModel):
    """The emergency access a review is about, as the owner needs to judge it."""

    camera_ids: list[uuid.UUID] = Field(
        description="The owner's cameras the request reached (the request may name others')."
    )
    mode: str = Field(description="live or footage.", examples=["live"])
    purpose: str = Field(description="The stated purpose.", examples=["emergency_response"])
    incident_latitude: float | None = Field(
        description="The incident's latitude, if the request gave one.", examples=[3.5921]
    )
    incident_longitude: float | None = Field(
        description="The incident's longitude, if the request gave one.", examples=[98.6498]
    )
    requested_at: datetime = Field(description="When the access was requested (UTC).")


class EmergencyReviewRead(BaseModel):
    """A mandatory after-the-fact review of one emergency access, listed until closed."""

    id: uuid.UUID = Field(description="The review's id.")
    request_id: uuid.UUID = Field(description="The emergency access request reviewed.")
    requester_party_id: uuid.UUID = Field(description="The party that used emergency access.")
    owner_party_id: uuid.UUID = Field(description="The party whose cameras were accessed.")
    agreement_id: uuid.UUID | None = Field(
        description="The agreement whose emergency clause allowed the access."
    )
    status: ReviewStatus = Field(description=ReviewStatus.__doc__ or "", examples=["open"])
    due_at: datetime = Field(
        description="When ratification is due (UTC): the request's time plus the hub's "
        "emergency review window (24 h by default)."
    )
    ratified_by: str | None = Field(
        description="The member id of the supervisor who ratified the access."
    )
    ratified_at: datetime | None = Field(description="When it was ratified (UTC).")
    flagged: bool = Field(
        description="Whether the access was not ratified in time. The flag stays after a "
        "late ratification: the owner's report keeps showing it."
    )
    unratified_flagged_at: datetime | None = Field(
        description="When the hub flagged the access as unratified (UTC)."
    )
    closed_by: str | None = Field(description="Who closed the review (member or client id).")
    closed_at: datetime | None = Field(description="When it was closed (UTC).")
    closing_note: str | None = Field(description="The closing note.")
    created_at: datetime = Field(description="When the review was opened (UTC).")
    access: ReviewedAccess = Field(description="The access under review.")


class EmergencyReviewPage(BaseModel):
    """One page of emergency reviews, newest first."""

    items: list[EmergencyReviewRead] = Field(description="The reviews on this page.")
    total: int = Field(description="How many reviews match the filters.", examples=[2])
    limit: int = Field(description="The page size asked for.", examples=[DEFAULT_PAGE_SIZE])
    offset: int = Field(description="How many matching reviews precede this page.", examples=[0])


class EmergencySuspensionRead(BaseModel):
    """A party's emergency right under an agreement, suspended after repeated unratified use."""

    id: uuid.UUID = Field(description="The suspension's id.")
    party_id: uuid.UUID = Field(description="The party whose emergency right is suspended.")
    agreement_id: uuid.UUID = Field(description="The agreement the right is suspended under.")
    reason: str = Field(
        description="Why, in words.",
        examples=["3 emergency accesses not ratified within 30 days"],
    )
    suspended_at: datetime = Field(description="When the right was suspended (UTC).")
    active: bool = Field(description="Whether the suspension still holds.")
    restored_by: str | None = Field(description="The operator who restored the right.")
    restored_at: datetime | None = Field(description="When the right was restored (UTC).")
