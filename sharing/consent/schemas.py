"""Request and response shapes shared by the consent API, and those of objections and policy
templates; agreements' and consents' own are in ``agreement_schemas`` and ``consent_schemas``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from sharing.consent.facts import LegalBasis
from sharing.consent.templates import PolicyTemplate
from sharing.vocabulary import (
    PURPOSE_LABELS,
    AgreementKind,
    Mode,
    Purpose,
)

EXAMPLE_PARTY = "7d1c6a39-3f7e-4a4e-9a55-0f0b7a3c2d11"
EXAMPLE_CAMERA = "2b9e0f54-8a61-4c8e-bb8e-5b1d6f3e9a02"
EXAMPLE_AGREEMENT = "c4f1e2d3-5b6a-4c7d-8e9f-0a1b2c3d4e5f"


class RequestSchema(BaseModel):
    """A request body: an unknown field is refused (422), not silently ignored."""

    model_config = ConfigDict(extra="forbid")


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


# --- objections ---------------------------------------------------------------------------


class ObjectionCreate(RequestSchema):
    """An owner's objection to an arrangement imposed by a legal obligation."""

    text: str = Field(
        min_length=1,
        max_length=4000,
        description="What the owner objects to, and why.",
        examples=["Kamera ini menghadap ke dalam toko, bukan ke ruang publik."],
    )


class ObjectionAnswer(RequestSchema):
    """The hub operator's or the grantee's answer to an objection."""

    answer: str = Field(
        min_length=1,
        max_length=4000,
        description="The answer, recorded and sent to the owner.",
        examples=["Sudut kamera akan disesuaikan oleh petugas Diskominfo dalam 7 hari."],
    )


class ObjectionRead(BaseModel):
    """An objection and, once given, its answer."""

    id: UUID = Field(description="The objection's id.", examples=[EXAMPLE_AGREEMENT])
    consent_id: UUID = Field(
        description="The arrangement objected to.", examples=[EXAMPLE_AGREEMENT]
    )
    owner_party_id: UUID = Field(description="The owner who filed it.", examples=[EXAMPLE_PARTY])
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
