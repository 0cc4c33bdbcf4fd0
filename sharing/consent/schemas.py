"""Request and response shapes of the consent API: agreements, consents, policy templates."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from sharing.cameras.schemas import TAG_PATTERN
from sharing.consent.facts import CameraSelector, ConsentStatus, GranteeScope, LegalBasis
from sharing.consent.templates import PolicyTemplate
from sharing.vocabulary import (
    PURPOSE_LABELS,
    AgreementKind,
    AgreementStatus,
    Mode,
    Purpose,
)

_EXAMPLE_PARTY = "7d1c6a39-3f7e-4a4e-9a55-0f0b7a3c2d11"
_EXAMPLE_CAMERA = "2b9e0f54-8a61-4c8e-bb8e-5b1d6f3e9a02"
_EXAMPLE_AGREEMENT = "c4f1e2d3-5b6a-4c7d-8e9f-0a1b2c3d4e5f"


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- agreements ---------------------------------------------------------------------------


class AgreementCreate(_Schema):
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
        examples=[[_EXAMPLE_PARTY]],
    )


class AgreementRead(BaseModel):
    """A registered legal instrument."""

    id: UUID = Field(description="The agreement's id.", examples=[_EXAMPLE_AGREEMENT])
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
    party_ids: list[UUID] = Field(description="The parties it binds.", examples=[[_EXAMPLE_PARTY]])
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


class AgreementTermsChange(_Schema):
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
        examples=[[_EXAMPLE_PARTY]],
    )


class AgreementStatusChange(_Schema):
    """Why an agreement is activated, suspended, resumed or terminated."""

    reason: str = Field(
        min_length=1,
        max_length=500,
        description="Why; recorded on the agreement and in the audit trail.",
        examples=["Evaluasi kepatuhan: akses dihentikan sementara"],
    )


# --- consents -----------------------------------------------------------------------------


# UU PDP No. 27/2022 article 20(2): the lawful bases an arrangement may rest on.
LEGAL_BASIS_LABELS: dict[LegalBasis, tuple[str, str]] = {
    LegalBasis.CONSENT: (
        "Persetujuan pemilik (UU PDP Pasal 20 ayat (2) huruf a)",
        "The owner's consent (UU PDP art. 20(2)(a))",
    ),
    LegalBasis.LEGAL_OBLIGATION: (
        "Pemenuhan kewajiban hukum (UU PDP Pasal 20 ayat (2) huruf c)",
        "A legal obligation (UU PDP art. 20(2)(c))",
    ),
    LegalBasis.PUBLIC_TASK: (
        "Pelaksanaan tugas kepentingan umum / kewenangan (UU PDP Pasal 20 ayat (2) huruf e)",
        "A task in the public interest or under official authority (UU PDP art. 20(2)(e))",
    ),
}


class _ConsentTerms(_Schema):
    """Everything a consent says, apart from who grants it."""

    grantee_party_id: UUID | None = Field(
        description="The party receiving access. Must be given; null for the scopes "
        "'public' (anyone, which the agreement's template must allow) and "
        "'agreement_parties'.",
        examples=[_EXAMPLE_PARTY],
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
        examples=[_EXAMPLE_AGREEMENT],
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
        examples=[[_EXAMPLE_CAMERA]],
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


class ConsentRevoke(_Schema):
    """Why the owner withdraws a grant; recorded in the audit trail."""

    reason: str = Field(
        min_length=1,
        max_length=500,
        description="Why the consent is revoked.",
        examples=["The shop changed hands; the new owner has not agreed."],
    )


class ConsentRead(BaseModel):
    """A consent, as its grantor and grantee see it."""

    id: UUID = Field(description="The consent's id.", examples=[_EXAMPLE_AGREEMENT])
    version: int = Field(description="The consent's version.", examples=[1])
    lineage_id: UUID = Field(
        description="Shared by every version of one arrangement (the first version's id).",
        examples=[_EXAMPLE_AGREEMENT],
    )
    grantor_party_id: UUID = Field(description="The granting owner.", examples=[_EXAMPLE_PARTY])
    grantee_party_id: UUID | None = Field(
        description="The party receiving access; null for the public or the agreement's parties.",
        examples=[_EXAMPLE_PARTY],
    )
    grantee_scope: GranteeScope = Field(description="Who receives it.", examples=["party"])
    legal_basis: LegalBasis = Field(description="The lawful basis.", examples=["consent"])
    regulation_ref: str | None = Field(
        description="The regulation imposing a legal obligation.", examples=[None]
    )
    agreement_id: UUID = Field(
        description="The agreement it is made under.", examples=[_EXAMPLE_AGREEMENT]
    )
    camera_selector: CameraSelector = Field(
        description="How cameras are selected.", examples=["cameras"]
    )
    camera_ids: list[UUID] = Field(
        description="The cameras listed, when the selector is 'cameras'.",
        examples=[[_EXAMPLE_CAMERA]],
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
        description="The arrangement's lineage id.", examples=[_EXAMPLE_AGREEMENT]
    )
    items: list[ConsentRead] = Field(description="The versions, oldest first.")


class ConsentPage(BaseModel):
    """One page of consents."""

    items: list[ConsentRead] = Field(description="The consents on this page.")
    total: int = Field(description="How many consents match, over all pages.", examples=[1])
    limit: int = Field(description="The page size asked for.", examples=[50])
    offset: int = Field(description="How many matches were skipped.", examples=[0])


# --- objections ---------------------------------------------------------------------------


class ObjectionCreate(_Schema):
    """An owner's objection to an arrangement imposed by a legal obligation."""

    text: str = Field(
        min_length=1,
        max_length=4000,
        description="What the owner objects to, and why.",
        examples=["Kamera ini menghadap ke dalam toko, bukan ke ruang publik."],
    )


class ObjectionAnswer(_Schema):
    """The hub operator's or the grantee's answer to an objection."""

    answer: str = Field(
        min_length=1,
        max_length=4000,
        description="The answer, recorded and sent to the owner.",
        examples=["Sudut kamera akan disesuaikan oleh petugas Diskominfo dalam 7 hari."],
    )


class ObjectionRead(BaseModel):
    """An objection and, once given, its answer."""

    id: UUID = Field(description="The objection's id.", examples=[_EXAMPLE_AGREEMENT])
    consent_id: UUID = Field(
        description="The arrangement objected to.", examples=[_EXAMPLE_AGREEMENT]
    )
    owner_party_id: UUID = Field(description="The owner who filed it.", examples=[_EXAMPLE_PARTY])
    text: str = Field(description="The objection.", examples=["Kamera menghadap ke dalam."])
    status: Literal["open", "answered"] = Field(
        description="'open' until answered.", examples=["open"]
    )
    answer: str | None = Field(description="The answer, once given.", examples=[None])
    answered_by: str | None = Field(
        description="Who answered: a member's or client's id.", examples=[None]
    )
    answered_at: datetime | None = Field(description="When it was answered.", examples=[None])
    created_at: datetime = Field(
        description="When it was filed.", examples=["2024-07-01T08:00:00Z"]
    )


# --- policy templates ---------------------------------------------------------------------


class PurposeRead(BaseModel):
    """A purpose with its labels."""

    code: Purpose = Field(description="The purpose's code.", examples=["public_order"])
    label_id: str = Field(description="Indonesian label.", examples=["Ketertiban umum"])
    label_en: str = Field(description="English label.", examples=["Public order"])


class LegalBasisRead(BaseModel):
    """What a request for one purpose must cite."""

    purpose: Purpose = Field(
        description="The purpose it applies to.", examples=["criminal_investigation"]
    )
    required: bool = Field(description="Whether a legal basis must be given.", examples=[True])
    pattern: str | None = Field(
        description="Regular expression the legal basis must match.", examples=["(?i)LP/.+"]
    )
    description: str = Field(
        description="What a valid legal basis looks like.",
        examples=["a police report or warrant number"],
    )


class PolicyRead(BaseModel):
    """A policy template: the terms a legal instrument allows."""

    name: str = Field(description="The template's name.", examples=["public-cameras"])
    title_id: str = Field(
        description="Title in Indonesian.", examples=["Kamera Publik untuk Informasi Masyarakat"]
    )
    title_en: str = Field(
        description="Title in English.", examples=["Public cameras for public information"]
    )
    instrument_kind: AgreementKind = Field(
        description="The instrument's kind.", examples=["regulation"]
    )
    description: str = Field(description="What the instrument allows.")
    modes: list[Mode] = Field(description="Modes a consent may allow.", examples=[["live"]])
    purposes: list[PurposeRead] = Field(description="Purposes a consent may allow.")
    grantee_kinds: list[str] = Field(
        description="Party kinds a consent may be granted to; 'public' allows public grants.",
        examples=[["public", "police"]],
    )
    max_lookback_hours: int = Field(description="Footage look-back ceiling.", examples=[168])
    max_window_minutes: int = Field(description="Footage window ceiling.", examples=[240])
    max_token_lifetime_seconds: int = Field(
        description="Access-token lifetime ceiling.", examples=[1800]
    )
    legal_basis: list[LegalBasisRead] = Field(
        description="What requests for some purposes must cite."
    )

    @classmethod
    def of(cls, template: PolicyTemplate) -> PolicyRead:
        """The public view of a loaded template."""
        return cls(
            name=template.name,
            title_id=template.title.id,
            title_en=template.title.en,
            instrument_kind=template.instrument_kind,
            description=template.description.strip(),
            modes=sorted(template.modes),
            purposes=[_purpose_read(purpose) for purpose in sorted(template.purposes)],
            grantee_kinds=sorted(str(kind) for kind in template.grantee_kinds),
            max_lookback_hours=template.max_lookback_hours,
            max_window_minutes=template.max_window_minutes,
            max_token_lifetime_seconds=template.max_token_lifetime_seconds,
            legal_basis=[
                LegalBasisRead(
                    purpose=purpose,
                    required=rule.required,
                    pattern=rule.pattern,
                    description=rule.description,
                )
                for purpose, rule in sorted(template.legal_basis.items())
            ],
        )


def _purpose_read(purpose: Purpose) -> PurposeRead:
    label_id, label_en = PURPOSE_LABELS[purpose]
    return PurposeRead(code=purpose, label_id=label_id, label_en=label_en)
