"""The shape of a consent receipt (ISO/IEC TS 27560:2023, Kantara Consent Receipt v1.1), as
the API returns it; ``sharing.consent.receipts`` builds it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from sharing.consent.facts import ConsentStatus, GranteeScope, LegalBasis
from sharing.vocabulary import Purpose

RECEIPT_VERSION = "sharing-consent-receipt/1 (ISO/IEC TS 27560:2023; Kantara CR v1.1)"
JURISDICTION = "ID"
DATA_PROTECTION_LAW = "UU No. 27 Tahun 2022 tentang Pelindungan Data Pribadi"
PII_CATEGORIES = ("video images of persons and vehicles in view of the camera",)

ReceiptEvent = Literal["granted", "changed", "superseded", "revoked"]


class ReceiptParty(BaseModel):
    """A party named on a receipt."""

    party_id: uuid.UUID = Field(description="The party's id.")
    name: str = Field(description="The party's registered name.", examples=["Toko Sinar Jaya"])
    kind: str = Field(description="The party's kind.", examples=["business"])
    role: str = Field(
        description="Its part: pii_principal, hub_operator, recipient.", examples=["recipient"]
    )


class ReceiptPurpose(BaseModel):
    """One purpose, in the closed vocabulary, with its labels."""

    code: Purpose = Field(description="The purpose's code.", examples=["public_order"])
    label_id: str = Field(description="Indonesian label.", examples=["Ketertiban umum"])
    label_en: str = Field(description="English label.", examples=["Public order"])


class ReceiptService(BaseModel):
    """Kantara ``services``: what processing is allowed, for which purposes."""

    service: str = Field(
        description="The processing allowed.", examples=["CCTV video sharing: live, footage"]
    )
    modes: list[str] = Field(description="Access modes.", examples=[["live", "footage"]])
    purposes: list[ReceiptPurpose] = Field(description="Purposes allowed.")
    pii_categories: list[str] = Field(
        description="Kinds of personal data concerned.", examples=[list(PII_CATEGORIES)]
    )
    third_party_disclosure: bool = Field(
        description="Whether the data goes to another party.", examples=[True]
    )


class ReceiptLegalBasis(BaseModel):
    """The lawful basis under UU PDP No. 27/2022."""

    code: LegalBasis = Field(description="The basis.", examples=["consent"])
    label_id: str = Field(description="Indonesian label.")
    label_en: str = Field(description="English label.")
    law: str = Field(description="The data protection law.", examples=[DATA_PROTECTION_LAW])
    regulation_ref: str | None = Field(
        description="The regulation imposing a legal obligation.", examples=[None]
    )
    revocable_by_owner: bool = Field(
        description="Whether the owner may withdraw it (only a consent basis).", examples=[True]
    )


class ReceiptAgreement(BaseModel):
    """The instrument the arrangement rests on."""

    agreement_id: uuid.UUID = Field(description="The agreement's id.")
    number: str = Field(description="Official number.", examples=["Perwal Medan No. 12/2024"])
    title: str = Field(description="Title.")
    kind: str = Field(description="Instrument kind.", examples=["regulation"])
    version: int = Field(description="Agreement version (amendments count up).", examples=[1])
    policy_template: str = Field(description="The terms' template.")
    policy_url: str = Field(description="Where the terms are published (Kantara policyUrl).")
    document_sha256: str = Field(description="SHA-256 of the signed document.")


class ReceiptCameras(BaseModel):
    """Which cameras the arrangement covers."""

    selector: str = Field(description="cameras, all or tag.", examples=["cameras"])
    camera_ids: list[uuid.UUID] = Field(description="Cameras listed, for 'cameras'.")
    tag: str | None = Field(description="The tag, for 'tag'.", examples=[None])


class ReceiptConditions(BaseModel):
    """The conditions every access must meet."""

    grantee_scope: GranteeScope = Field(description="Who receives it.", examples=["party"])
    max_lookback_hours: int | None = Field(description="Footage look-back limit.")
    max_window_minutes: int | None = Field(description="Footage window limit.")
    max_token_lifetime_seconds: int | None = Field(description="Token lifetime limit.")
    hours_start: int | None = Field(description="First allowed hour, local.")
    hours_end: int | None = Field(description="Hour access stops, local.")
    days_of_week: list[int] | None = Field(description="ISO days allowed.")
    timezone: str = Field(description="Time zone of hours and days.")
    requires_owner_approval: bool = Field(description="Each request waits for the owner.")
    requires_supervisor_approval: bool = Field(description="Each request waits for a supervisor.")


class ReceiptRevocation(BaseModel):
    """27560's withdrawal method: how to stop the arrangement (or, if not revocable, object)."""

    method: str = Field(description="HTTP method.", examples=["POST"])
    url: str = Field(description="Absolute URL to call.")
    body: dict[str, str] = Field(description="An example body.")
    note_id: str = Field(description="What to do, in Indonesian.")
    note_en: str = Field(description="What to do, in English.")


class ConsentReceipt(BaseModel):
    """A consent receipt (ISO/IEC TS 27560 / Kantara CR v1.1 fields where they fit)."""

    receipt_version: str = Field(description="This receipt format.", examples=[RECEIPT_VERSION])
    receipt_id: uuid.UUID = Field(description="Stable id of this receipt (one per event).")
    timestamp: datetime = Field(description="When the event happened.")
    event: ReceiptEvent = Field(description="What happened.", examples=["granted"])
    jurisdiction: str = Field(description="ISO 3166 country.", examples=[JURISDICTION])
    language: list[str] = Field(description="Languages of the labels.", examples=[["id", "en"]])
    collection_method: str = Field(description="How the grant was given.")
    consent_id: uuid.UUID = Field(description="The consent version this receipt is for.")
    lineage_id: uuid.UUID = Field(description="The arrangement, across its versions.")
    consent_version: int = Field(description="The version number.", examples=[1])
    state: ConsentStatus = Field(description="active, superseded or revoked.")
    pii_principal: ReceiptParty = Field(description="The camera owner.")
    pii_controllers: list[ReceiptParty] = Field(
        description="Who controls the data: the hub operator and the recipient."
    )
    recipients: list[str] = Field(
        description="Who receives access, in words (Kantara thirdPartyName)."
    )
    legal_basis: ReceiptLegalBasis = Field(description="The lawful basis.")
    agreement: ReceiptAgreement = Field(description="The instrument.")
    services: list[ReceiptService] = Field(description="What is allowed, and why.")
    cameras: ReceiptCameras = Field(description="Which cameras.")
    conditions: ReceiptConditions = Field(description="Conditions of every access.")
    valid_from: datetime = Field(description="When it takes effect.")
    valid_until: datetime | None = Field(description="When it ends; null until revoked.")
    revoked_at: datetime | None = Field(description="When it was revoked.")
    revocation_reason: str | None = Field(description="Why it was revoked.")
    superseded_at: datetime | None = Field(description="When a newer version replaced it.")
    how_to_revoke: ReceiptRevocation = Field(description="How to withdraw or object.")
    sha256: str = Field(description="SHA-256 (hex) of the canonical JSON without this field.")
