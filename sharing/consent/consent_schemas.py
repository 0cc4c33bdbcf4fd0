"""Request and response shapes of consents: granting, changing, revoking, listing."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from sharing.cameras.schemas import TAG_PATTERN
from sharing.consent.facts import CameraSelector, ConsentStatus, GranteeScope, LegalBasis
from sharing.consent.schemas import (
    EXAMPLE_AGREEMENT,
    EXAMPLE_CAMERA,
    EXAMPLE_PARTY,
    RequestSchema,
)
from sharing.vocabulary import (
    Mode,
    Purpose,
)


class _ConsentTerms(RequestSchema):
    """Everything a consent says, apart from who grants it."""

    grantee_party_id: UUID | None = Field(
        description="The party receiving access. Must be given; null for the scopes "
        "'public' (anyone, which the agreement's template must allow) and "
        "'agreement_parties'.",
        examples=[EXAMPLE_PARTY],
    )
    grantee_scope: GranteeScope | None = Field(
        default=None,
        description="Who receives it: 'party', 'party_and_subunits' (the grantee and the "
        "parties below it), 'agreement_parties' (every party of the agreement) or 'public'. "
        "Defaults to 'party' with a grantee and 'public' without.",
        examples=["party_and_subunits"],
    )
    agreement_id: UUID = Field(
        description="The agreement the grant is made under; grantor and grantee must be "
        "parties to it.",
        examples=[EXAMPLE_AGREEMENT],
    )
    camera_selector: CameraSelector = Field(
        description="'cameras': the cameras in camera_ids; 'all': every camera of the grantor, "
        "including ones registered later; 'tag': the grantor's cameras tagged selector_tag.",
        examples=["cameras"],
    )
    camera_ids: list[UUID] = Field(
        default_factory=list,
        max_length=1_000,
        description="The cameras granted, when camera_selector is 'cameras'.",
        examples=[[EXAMPLE_CAMERA]],
    )
    selector_tag: str | None = Field(
        default=None,
        min_length=1,
        max_length=50,
        pattern=TAG_PATTERN,
        description="The tag selecting cameras, when camera_selector is 'tag'.",
        examples=["storefront"],
    )
    modes: list[Mode] = Field(
        min_length=1, description="Access modes allowed.", examples=[["live", "footage"]]
    )
    purposes: list[Purpose] = Field(
        min_length=1,
        description="Purposes allowed.",
        examples=[["criminal_investigation", "public_order"]],
    )
    max_lookback_hours: int | None = Field(
        default=None,
        ge=1,
        description="How far back footage may reach, at most the template's.",
        examples=[72],
    )
    max_window_minutes: int | None = Field(
        default=None,
        ge=1,
        description="The longest footage window per request, at most the template's.",
        examples=[120],
    )
    max_token_lifetime_seconds: int | None = Field(
        default=None,
        ge=10,
        description="The longest access-token life, at most the template's.",
        examples=[900],
    )
    valid_from: datetime | None = Field(
        default=None,
        description="When the grant takes effect; defaults to now.",
        examples=["2024-07-01T00:00:00Z"],
    )
    valid_until: datetime | None = Field(
        default=None,
        description="When the grant ends; null until revoked.",
        examples=["2025-06-30T23:59:59Z"],
    )
    hours_start: int | None = Field(
        default=None,
        ge=0,
        le=23,
        description="First hour of the day (local time) access is allowed; with hours_end. "
        "A start after the end wraps past midnight (22 to 6 is the night).",
        examples=[8],
    )
    hours_end: int | None = Field(
        default=None,
        ge=1,
        le=24,
        description="Hour of the day (local time) access stops; with hours_start.",
        examples=[22],
    )
    days_of_week: list[int] | None = Field(
        default=None,
        min_length=1,
        max_length=7,
        description="ISO days access is allowed on (1 Monday .. 7 Sunday); null for every day.",
        examples=[[1, 2, 3, 4, 5]],
    )
    timezone: str = Field(
        default="Asia/Jakarta",
        min_length=1,
        max_length=64,
        description="IANA time zone of hours and days: the owner's local time.",
        examples=["Asia/Jakarta"],
    )
    requires_owner_approval: bool = Field(
        default=False,
        description="Every request must wait for the owner's approval.",
        examples=[False],
    )
    requires_supervisor_approval: bool = Field(
        default=False,
        description="Every request must be approved by a supervisor in the requesting party.",
        examples=[True],
    )
    legal_basis: LegalBasis = Field(
        default=LegalBasis.CONSENT,
        description="Lawful basis under UU PDP No. 27/2022: 'consent' (revocable by the "
        "owner), 'legal_obligation' (needs regulation_ref; the owner may object) or "
        "'public_task' (government grantors only).",
        examples=["consent"],
    )
    regulation_ref: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The regulation imposing the obligation; required for 'legal_obligation'.",
        examples=["Perwal Medan No. 12 Tahun 2024 Pasal 7"],
    )


class ConsentCreate(_ConsentTerms):
    """An owner's grant. Limits left empty take the template's; set ones may only narrow it."""

    grantor_party_id: UUID | None = Field(
        default=None,
        description="The granting owner; defaults to the caller's party. Only a hub "
        "administrator may grant for another party.",
        examples=[None],
    )


class ConsentVersionCreate(_ConsentTerms):
    """The full new terms of a consent; they replace the current version's."""


class ConsentRevoke(RequestSchema):
    """Why the owner withdraws a grant; recorded in the audit trail."""

    reason: str = Field(
        min_length=1,
        max_length=500,
        description="Why the consent is revoked.",
        examples=["The shop changed hands; the new owner has not agreed."],
    )


class ConsentRead(BaseModel):
    """A consent, as its grantor and grantee see it."""

    id: UUID = Field(description="The consent's id.", examples=[EXAMPLE_AGREEMENT])
    version: int = Field(description="The consent's version.", examples=[1])
    lineage_id: UUID = Field(
        description="Shared by every version of one arrangement (the first version's id).",
        examples=[EXAMPLE_AGREEMENT],
    )
    grantor_party_id: UUID = Field(description="The granting owner.", examples=[EXAMPLE_PARTY])
    grantee_party_id: UUID | None = Field(
        description="The party receiving access; null for the public or the agreement's parties.",
        examples=[EXAMPLE_PARTY],
    )
    grantee_scope: GranteeScope = Field(description="Who receives it.", examples=["party"])
    legal_basis: LegalBasis = Field(description="The lawful basis.", examples=["consent"])
    regulation_ref: str | None = Field(
        description="The regulation imposing a legal obligation.", examples=[None]
    )
    agreement_id: UUID = Field(
        description="The agreement it is made under.", examples=[EXAMPLE_AGREEMENT]
    )
    camera_selector: CameraSelector = Field(
        description="How cameras are selected.", examples=["cameras"]
    )
    camera_ids: list[UUID] = Field(
        description="The cameras listed, when the selector is 'cameras'.",
        examples=[[EXAMPLE_CAMERA]],
    )
    selector_tag: str | None = Field(
        description="The tag, when the selector is 'tag'.", examples=[None]
    )
    modes: list[Mode] = Field(description="Access modes allowed.", examples=[["live"]])
    purposes: list[Purpose] = Field(description="Purposes allowed.", examples=[["public_order"]])
    max_lookback_hours: int | None = Field(
        description="Footage look-back limit; null means the template's.", examples=[72]
    )
    max_window_minutes: int | None = Field(
        description="Footage window limit; null means the template's.", examples=[None]
    )
    max_token_lifetime_seconds: int | None = Field(
        description="Token lifetime limit; null means the template's.", examples=[None]
    )
    valid_from: datetime = Field(
        description="When it takes effect.", examples=["2024-07-01T00:00:00Z"]
    )
    hours_start: int | None = Field(description="First allowed hour, local.", examples=[8])
    hours_end: int | None = Field(description="Hour access stops, local.", examples=[22])
    days_of_week: list[int] | None = Field(
        description="ISO days allowed (1 Monday); null for every day.", examples=[None]
    )
    timezone: str = Field(description="Time zone of hours and days.", examples=["Asia/Jakarta"])
    requires_owner_approval: bool = Field(
        description="Requests wait for the owner's approval.", examples=[False]
    )
    requires_supervisor_approval: bool = Field(
        description="Requests wait for a supervisor of the requesting party.", examples=[False]
    )
    valid_until: datetime | None = Field(description="When it ends, if it does.", examples=[None])
    status: ConsentStatus = Field(
        description="active, superseded (by a newer version) or revoked.", examples=["active"]
    )
    superseded_at: datetime | None = Field(
        description="When a newer version replaced it.", examples=[None]
    )
    revoked_at: datetime | None = Field(description="When it was revoked.", examples=[None])
    revocation_reason: str | None = Field(description="Why it was revoked.", examples=[None])
    created_at: datetime = Field(
        description="When it was granted.", examples=["2024-07-01T08:00:00Z"]
    )


class ConsentVersions(BaseModel):
    """Every version of one arrangement, oldest first."""

    lineage_id: UUID = Field(
        description="The arrangement's lineage id.", examples=[EXAMPLE_AGREEMENT]
    )
    items: list[ConsentRead] = Field(description="The versions, oldest first.")


class ConsentPage(BaseModel):
    """One page of consents."""

    items: list[ConsentRead] = Field(description="The consents on this page.")
    total: int = Field(description="How many consents match, over all pages.", examples=[1])
    limit: int = Field(description="The page size asked for.", examples=[50])
    offset: int = Field(description="How many matches were skipped.", examples=[0])
