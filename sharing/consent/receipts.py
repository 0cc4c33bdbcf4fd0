"""Consent receipts: what an owner keeps as proof of what they allowed, to whom, and how to stop.

The fields follow ISO/IEC TS 27560:2023 (consent record information structure) and the
Kantara Initiative Consent Receipt Specification v1.1 where they fit, in this API's
snake_case: ``receipt_id`` (Kantara ``consentReceiptID``), ``timestamp``
(``consentTimestamp``), ``jurisdiction``, ``collection_method``, ``pii_principal``
(``piiPrincipalId``), ``pii_controllers`` (``piiControllers``), ``services`` with their
``purposes`` and ``pii_categories``, ``recipients`` (``thirdPartyName``), ``legal_basis``
(27560's lawful basis), ``state`` (27560's consent state) and ``how_to_revoke`` (27560's
withdrawal method). The hub's own terms (agreement, cameras, conditions) sit beside them.

A receipt is a pure function of the consent's current record, so the receipt of one event
(a grant, a new version, a revocation) reads the same whenever it is fetched; ``sha256``
is the SHA-256 of its canonical JSON (keys sorted, no whitespace, UTF-8, as RFC 8785 gives
for a document without floating-point numbers), computed without the ``sha256`` field.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.clock import as_utc
from sharing.consent.facts import ConsentStatus, GranteeScope, LegalBasis
from sharing.consent.models import Agreement, Consent
from sharing.consent.receipt_schemas import (
    DATA_PROTECTION_LAW,
    JURISDICTION,
    PII_CATEGORIES,
    RECEIPT_VERSION,
    ConsentReceipt,
    ReceiptAgreement,
    ReceiptCameras,
    ReceiptConditions,
    ReceiptEvent,
    ReceiptLegalBasis,
    ReceiptParty,
    ReceiptPurpose,
    ReceiptRevocation,
    ReceiptService,
)
from sharing.consent.schemas import LEGAL_BASIS_LABELS
from sharing.errors import NotFound
from sharing.parties.models import Party
from sharing.vocabulary import PURPOSE_LABELS, PartyKind, Purpose

_RECEIPT_NAMESPACE = uuid.UUID("6f1c2a4e-9b3d-5e7f-8a1b-2c3d4e5f6a7b")


@dataclass(frozen=True, slots=True)
class ReceiptFacts:
    """What a receipt is made of, loaded by the consent service."""

    consent: Consent
    camera_ids: Sequence[uuid.UUID]
    agreement: Agreement
    grantor: Party
    grantee: Party | None
    operator: Party | None
    issuer: str


def build_receipt(facts: ReceiptFacts) -> ConsentReceipt:
    """The receipt of the consent's latest event, with its hash."""
    consent, agreement = facts.consent, facts.agreement
    event, at = _event(consent)
    basis = LegalBasis(consent.legal_basis)
    label_id, label_en = LEGAL_BASIS_LABELS[basis]
    scope = GranteeScope(consent.grantee_scope)
    fields: dict[str, object] = {
        "receipt_version": RECEIPT_VERSION,
        "receipt_id": str(uuid.uuid5(_RECEIPT_NAMESPACE, f"{consent.id}:{event}")),
        "timestamp": at,
        "event": event,
        "jurisdiction": JURISDICTION,
        "language": ["id", "en"],
        "collection_method": "Given through the hub's API (POST /consents) by the owner's "
        "authenticated client or the hub operator, and recorded in the audit trail",
        "consent_id": str(consent.id),
        "lineage_id": str(consent.lineage_id),
        "consent_version": consent.version,
        "state": ConsentStatus(consent.status),
        "pii_principal": _party(facts.grantor, "pii_principal"),
        "pii_controllers": [
            _party(party, role)
            for party, role in ((facts.operator, "hub_operator"), (facts.grantee, "recipient"))
            if party is not None
        ],
        "recipients": [_recipient(scope, facts.grantee, agreement)],
        "legal_basis": ReceiptLegalBasis(
            code=basis,
            label_id=label_id,
            label_en=label_en,
            law=DATA_PROTECTION_LAW,
            regulation_ref=consent.regulation_ref,
            revocable_by_owner=basis != LegalBasis.LEGAL_OBLIGATION,
        ),
        "agreement": ReceiptAgreement(
            agreement_id=str(agreement.id),
            number=agreement.number,
            title=agreement.title,
            kind=agreement.kind,
            version=agreement.version,
            policy_template=agreement.policy_template,
            policy_url=f"{facts.issuer}/policies/{agreement.policy_template}",
            document_sha256=agreement.document_sha256,
        ),
        "services": [
            ReceiptService(
                service="CCTV video sharing: " + ", ".join(sorted(consent.modes)),
                modes=sorted(consent.modes),
                purposes=[_purpose(p) for p in sorted(consent.purposes)],
                pii_categories=list(PII_CATEGORIES),
                third_party_disclosure=True,
            )
        ],
        "cameras": ReceiptCameras(
            selector=consent.camera_selector,
            camera_ids=sorted(str(c) for c in facts.camera_ids),
            tag=consent.selector_tag,
        ),
        "conditions": ReceiptConditions(
            grantee_scope=scope,
            max_lookback_hours=consent.max_lookback_hours,
            max_window_minutes=consent.max_window_minutes,
            max_token_lifetime_seconds=consent.max_token_lifetime_seconds,
            hours_start=consent.hours_start,
            hours_end=consent.hours_end,
            days_of_week=sorted(consent.days_of_week) if consent.days_of_week else None,
            timezone=consent.timezone,
            requires_owner_approval=consent.requires_owner_approval,
            requires_supervisor_approval=consent.requires_supervisor_approval,
        ),
        "valid_from": as_utc(consent.valid_from),
        "valid_until": _utc_or_none(consent.valid_until),
        "revoked_at": _utc_or_none(consent.revoked_at),
        "revocation_reason": consent.revocation_reason,
        "superseded_at": _utc_or_none(consent.superseded_at),
        "how_to_revoke": _how_to_revoke(consent, basis, facts.issuer),
        "sha256": "",
    }
    unsigned = ConsentReceipt.model_validate(fields)
    return unsigned.model_copy(update={"sha256": receipt_sha256(unsigned)})


def receipt_sha256(receipt: ConsentReceipt) -> str:
    """SHA-256 (hex) of the receipt's canonical JSON, leaving out the ``sha256`` field."""
    body = receipt.model_dump(mode="json", exclude={"sha256"})
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


async def load_receipt(
    session: AsyncSession, consent: Consent, camera_ids: Sequence[uuid.UUID], issuer: str
) -> ConsentReceipt:
    """Load what the receipt of ``consent``'s latest event names, and build it."""
    agreement = await session.get(Agreement, consent.agreement_id)
    grantor = await session.get(Party, consent.grantor_party_id)
    if agreement is None or grantor is None:  # foreign keys hold them
        raise NotFound(f"consent {consent.id} has lost its agreement or grantor")
    grantee = (
        await session.get(Party, consent.grantee_party_id)
        if consent.grantee_party_id is not None
        else None
    )
    # The hub operator: the command center running this hub (the oldest, if there are several).
    operator = await session.scalar(
        select(Party)
        .where(col(Party.kind) == PartyKind.COMMAND_CENTER)
        .order_by(col(Party.created_at), col(Party.id))
        .limit(1)
    )
    return build_receipt(
        ReceiptFacts(consent, camera_ids, agreement, grantor, grantee, operator, issuer)
    )


def receipt_reference(receipt: ConsentReceipt) -> dict[str, object]:
    """How an audit event points at a receipt: its id and its hash."""
    return {"receipt_id": str(receipt.receipt_id), "receipt_sha256": receipt.sha256}


def receipt_text(receipt: ConsentReceipt) -> str:
    """The receipt as plain text in Indonesian and English, short enough for a phone."""
    grantor = receipt.pii_principal.name
    purposes = receipt.services[0].purposes if receipt.services else []
    conditions = receipt.conditions
    lines = [
        "BUKTI PERSETUJUAN / CONSENT RECEIPT",
        f"No. bukti / Receipt: {receipt.receipt_id}",
        f"Peristiwa / Event: {_EVENT_WORDS[receipt.event]}",
        f"Waktu / Time: {receipt.timestamp.isoformat()}",
        f"Status: {receipt.state}",
        "",
        f"Pemilik / Owner: {grantor}",
        f"Penerima / Recipient: {', '.join(receipt.recipients)}",
        f"Dasar hukum / Legal basis: {receipt.legal_basis.label_id} / "
        f"{receipt.legal_basis.label_en}",
    ]
    if receipt.legal_basis.regulation_ref:
        lines.append(f"Peraturan / Regulation: {receipt.legal_basis.regulation_ref}")
    lines += [
        f"Perjanjian / Agreement: {receipt.agreement.number} - {receipt.agreement.title}",
        f"Ketentuan / Terms: {receipt.agreement.policy_url}",
        f"Mode: {', '.join(receipt.services[0].modes) if receipt.services else '-'}",
        "Tujuan / Purposes: " + "; ".join(f"{p.label_id} / {p.label_en}" for p in purposes),
        f"Kamera / Cameras: {_cameras_words(receipt.cameras)}",
    ]
    lines += _condition_lines(conditions)
    lines += [
        f"Berlaku sejak / Valid from: {receipt.valid_from.isoformat()}",
        "Berlaku sampai / Valid until: "
        + (receipt.valid_until.isoformat() if receipt.valid_until else "dicabut / revoked"),
    ]
    if receipt.revoked_at:
        lines.append(
            f"Dicabut / Revoked: {receipt.revoked_at.isoformat()} ({receipt.revocation_reason})"
        )
    revoke = receipt.how_to_revoke
    lines += [
        "",
        revoke.note_id,
        revoke.note_en,
        f"{revoke.method} {revoke.url}",
        "",
        f"SHA-256: {receipt.sha256}",
    ]
    return "\n".join(lines) + "\n"


_EVENT_WORDS: dict[str, str] = {
    "granted": "persetujuan diberikan / consent granted",
    "changed": "persetujuan diubah (versi baru) / consent changed (new version)",
    "superseded": "diganti versi baru / replaced by a new version",
    "revoked": "persetujuan dicabut / consent revoked",
}


def _event(consent: Consent) -> tuple[ReceiptEvent, datetime]:
    if consent.status == ConsentStatus.REVOKED and consent.revoked_at is not None:
        return "revoked", as_utc(consent.revoked_at)
    if consent.superseded_at is not None:
        return "superseded", as_utc(consent.superseded_at)
    return ("granted" if consent.version == 1 else "changed"), as_utc(consent.created_at)


def _party(party: Party, role: str) -> ReceiptParty:
    return ReceiptParty(party_id=str(party.id), name=party.name, kind=party.kind, role=role)


def _recipient(scope: GranteeScope, grantee: Party | None, agreement: Agreement) -> str:
    if scope == GranteeScope.PUBLIC:
        return "masyarakat umum / the public"
    if scope == GranteeScope.AGREEMENT_PARTIES:
        return f"semua pihak {agreement.number} / every party of {agreement.number}"
    name = grantee.name if grantee is not None else "?"
    if scope == GranteeScope.PARTY_AND_SUBUNITS:
        return f"{name} dan satuan di bawahnya / {name} and its sub-units"
    return name


def _purpose(code: str) -> ReceiptPurpose:
    purpose = Purpose(code)
    label_id, label_en = PURPOSE_LABELS[purpose]
    return ReceiptPurpose(code=purpose, label_id=label_id, label_en=label_en)


def _how_to_revoke(consent: Consent, basis: LegalBasis, issuer: str) -> ReceiptRevocation:
    if basis == LegalBasis.LEGAL_OBLIGATION:
        return ReceiptRevocation(
            method="POST",
            url=f"{issuer}/consents/{consent.id}/objections",
            body={"text": "Alasan keberatan / why you object"},
            note_id="Kewajiban hukum tidak dapat dicabut oleh pemilik; ajukan keberatan, yang "
            "dicatat dan wajib dijawab.",
            note_en="A legal obligation cannot be revoked by the owner; file an objection, "
            "which is recorded and must be answered.",
        )
    return ReceiptRevocation(
        method="POST",
        url=f"{issuer}/consents/{consent.id}/revoke",
        body={"reason": "Alasan pencabutan / why you revoke"},
        note_id="Cabut kapan saja; berlaku seketika dan menghentikan semua token akses.",
        note_en="Revoke at any time; it takes effect at once and stops every access token.",
    )


def _cameras_words(cameras: ReceiptCameras) -> str:
    if cameras.selector == "all":
        return "semua kamera pemilik, termasuk yang didaftarkan nanti / all the owner's cameras"
    if cameras.selector == "tag":
        return f"kamera bertanda / cameras tagged '{cameras.tag}'"
    return ", ".join(str(camera) for camera in cameras.camera_ids)


def _condition_lines(conditions: ReceiptConditions) -> list[str]:
    lines: list[str] = []
    if conditions.max_lookback_hours is not None:
        lines.append(
            f"Rekaman paling lama / Footage look-back: {conditions.max_lookback_hours} jam / hours"
        )
    if conditions.hours_start is not None and conditions.hours_end is not None:
        lines.append(
            f"Jam / Hours: {conditions.hours_start:02d}:00-{conditions.hours_end:02d}:00 "
            f"({conditions.timezone})"
        )
    if conditions.days_of_week:
        lines.append(f"Hari (1=Senin) / Days (1=Monday): {conditions.days_of_week}")
    if conditions.requires_owner_approval:
        lines.append(
            "Setiap permintaan perlu persetujuan pemilik / Each request needs your approval"
        )
    if conditions.requires_supervisor_approval:
        lines.append(
            "Setiap permintaan perlu persetujuan atasan peminta / "
            "Each request needs the requester's supervisor's approval"
        )
    return lines


def _utc_or_none(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment is not None else None
