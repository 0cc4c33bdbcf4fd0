"""Request and response shapes of agreements: registering, editing, amending, moving."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from sharing.consent.schemas import (
    EXAMPLE_AGREEMENT,
    EXAMPLE_PARTY,
    RequestSchema,
)
from sharing.vocabulary import (
    AgreementKind,
    AgreementStatus,
)


class AgreementCreate(RequestSchema):
    """A legal instrument to register, with the parties it binds."""

    kind: AgreementKind = Field(description="The instrument's kind.", examples=["regulation"])
    number: str = Field(
        min_length=1,
        max_length=100,
        description="The instrument's official number.",
        examples=["Perwal Medan No. 12 Tahun 2024"],
    )
    title: str = Field(
        min_length=1,
        max_length=300,
        description="The instrument's title.",
        examples=["Pemanfaatan CCTV Milik Swasta dan Masyarakat"],
    )
    policy_template: str = Field(
        min_length=1,
        max_length=100,
        description="Name of the policy template (in policies/) holding the instrument's terms.",
        examples=["city-regulation-private-cctv"],
    )
    document_sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 (hex) of the signed document, so anyone can check the text.",
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    )
    status: Literal[AgreementStatus.DRAFT, AgreementStatus.ACTIVE] = Field(
        default=AgreementStatus.DRAFT,
        description="'draft' (the default: terms still editable, activate it later) or "
        "'active' (in force at once, for an instrument already signed).",
        examples=["draft"],
    )
    valid_from: datetime = Field(
        description="When the instrument takes effect.", examples=["2024-07-01T00:00:00Z"]
    )
    valid_until: datetime | None = Field(
        default=None,
        description="When it ends; null for no end date.",
        examples=["2029-06-30T23:59:59Z"],
    )
    party_ids: list[UUID] = Field(
        min_length=1,
        max_length=10_000,
        description="The parties bound by the instrument.",
        examples=[[EXAMPLE_PARTY]],
    )


class AgreementRead(BaseModel):
    """A registered legal instrument."""

    id: UUID = Field(description="The agreement's id.", examples=[EXAMPLE_AGREEMENT])
    kind: AgreementKind = Field(description="The instrument's kind.", examples=["regulation"])
    number: str = Field(
        description="The official number.", examples=["Perwal Medan No. 12 Tahun 2024"]
    )
    title: str = Field(
        description="The title.", examples=["Pemanfaatan CCTV Milik Swasta dan Masyarakat"]
    )
    status: AgreementStatus = Field(description="Its status.", examples=["active"])
    policy_template: str = Field(
        description="The policy template holding its terms.",
        examples=["city-regulation-private-cctv"],
    )
    document_sha256: str = Field(
        description="SHA-256 of the signed document.",
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    )
    valid_from: datetime = Field(
        description="When it takes effect.", examples=["2024-07-01T00:00:00Z"]
    )
    valid_until: datetime | None = Field(description="When it ends, if it does.", examples=[None])
    party_ids: list[UUID] = Field(description="The parties it binds.", examples=[[EXAMPLE_PARTY]])
    version: int = Field(
        description="1 for an original instrument; an amendment is its original's + 1.",
        examples=[1],
    )
    amends_id: UUID | None = Field(
        description="The agreement this one amends, if it is an amendment.", examples=[None]
    )
    status_reason: str | None = Field(
        description="Why the status last changed.", examples=["Signed by both parties"]
    )
    status_changed_at: datetime | None = Field(
        description="When the status last changed.", examples=["2024-07-01T08:00:00Z"]
    )
    status_changed_by: str | None = Field(
        description="Who changed it last: the member's id, or the client's, or the hub's sweep.",
        examples=["system:agreement-expiry"],
    )
    created_at: datetime = Field(
        description="When it was registered on this hub.", examples=["2024-07-01T08:00:00Z"]
    )


class AgreementTermsChange(RequestSchema):
    """Terms to change: in a draft (``PATCH``), or in an amendment of an active agreement.

    Fields left out keep their current value.
    """

    number: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The instrument's official number.",
        examples=["Perwal Medan No. 12 Tahun 2024 (Perubahan)"],
    )
    title: str | None = Field(
        default=None,
        min_length=1,
        max_length=300,
        description="The instrument's title.",
        examples=["Perubahan atas Pemanfaatan CCTV Milik Swasta"],
    )
    policy_template: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The policy template holding the terms.",
        examples=["city-regulation-private-cctv"],
    )
    document_sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 (hex) of the signed document.",
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    )
    valid_from: datetime | None = Field(
        default=None, description="When it takes effect.", examples=["2025-01-01T00:00:00Z"]
    )
    valid_until: datetime | None = Field(
        default=None,
        description="When it ends; an explicit null removes the end date.",
        examples=["2030-12-31T23:59:59Z"],
    )
    party_ids: list[UUID] | None = Field(
        default=None,
        min_length=1,
        max_length=10_000,
        description="The parties it binds (the whole list, replacing the current one).",
        examples=[[EXAMPLE_PARTY]],
    )


class AgreementStatusChange(RequestSchema):
    """Why an agreement is activated, suspended, resumed or terminated."""

    reason: str = Field(
        min_length=1,
        max_length=500,
        description="Why; recorded on the agreement and in the audit trail.",
        examples=["Evaluasi kepatuhan: akses dihentikan sementara"],
    )
