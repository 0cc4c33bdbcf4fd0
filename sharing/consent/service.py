"""Consents: owners' grants of access to their cameras, their new versions and their revocation.

Plain async functions over an ``AsyncSession``. Each change validates, writes its audit event
and its notifications in the same transaction and commits (reading is in
``sharing.consent.consent_reads``). A change makes a new version and supersedes the old one;
revoking or superseding a consent stops, in the same transaction, every live token and
pending request resting on it (``sharing.consent.cascade``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from sharing.audit.service import record
from sharing.clock import Clock, as_utc
from sharing.consent.cascade import cascade_stop, consent_payload
from sharing.consent.consent_reads import consent_read, visible_consent
from sharing.consent.consent_schemas import ConsentCreate, ConsentRead, ConsentVersionCreate
from sharing.consent.facts import ConsentStatus, LegalBasis
from sharing.consent.grant_checks import CheckedGrant, ConsentTerms, check_grant
from sharing.consent.links import consent_cameras
from sharing.consent.models import Agreement, Consent, ConsentCamera
from sharing.consent.receipt_schemas import ConsentReceipt
from sharing.consent.receipts import load_receipt, receipt_reference
from sharing.consent.templates import PolicyLibrary
from sharing.errors import Conflict, InvalidInput, PermissionDenied
from sharing.parties.models import Party
from sharing.principal import Actor, Principal
from sharing.vocabulary import Scope
from sharing.webhooks.schemas import EventType
from sharing.webhooks.service import emit

TOKEN_REVOCATION_REASON = "consent revoked"
TOKEN_SUPERSEDED_REASON = "consent superseded by a new version"


# --- granting -----------------------------------------------------------------------------


async def grant_consent(
    session: AsyncSession,
    principal: Principal,
    data: ConsentCreate,
    clock: Clock,
    policies: PolicyLibrary,
    issuer: str,
) -> ConsentRead:
    """Record an owner's grant, after checking it against the agreement and its template.

    The grantor is the caller's party (an administrator may name another). The agreement
    must be active and bind the grantor and the grantee; modes, purposes and limits must lie
    within the template's terms; listed cameras must belong to the grantor; the grantee
    scope, hours, days, time zone and legal basis must be consistent
    (``sharing.consent.grant_checks``).
    """
    principal.require(Scope.CONSENT_WRITE)
    now = clock.now()
    grantor_id = data.grantor_party_id or principal.party_id
    if not principal.may_act_for(grantor_id):
        raise PermissionDenied("you may only grant consent for your own party's cameras")
    if await session.get(Party, grantor_id) is None:
        raise InvalidInput("grantor_party_id", f"there is no party with the id {grantor_id}")
    checked = await check_grant(session, data, grantor_id, policies, now)

    consent_id = uuid.uuid4()
    consent = _new_consent(consent_id, consent_id, 1, grantor_id, data, checked, now)
    session.add(consent)
    await session.flush()  # the camera rows reference the consent
    session.add_all(ConsentCamera(consent_id=consent.id, camera_id=c) for c in checked.camera_ids)
    receipt = await load_receipt(session, consent, checked.camera_ids, issuer)
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="consent.granted",
        object_type="consent",
        object_id=consent.id,
        details={
            **_consent_summary(consent, checked.camera_ids, checked.agreement),
            **receipt_reference(receipt),
        },
    )
    _notify(session, consent, EventType.CONSENT_GRANTED, receipt, now)
    await session.commit()
    return consent_read(consent, checked.camera_ids)


async def new_consent_version(
    session: AsyncSession,
    principal: Principal,
    consent_id: UUID,
    data: ConsentVersionCreate,
    clock: Clock,
    policies: PolicyLibrary,
    issuer: str,
) -> ConsentRead:
    """Replace an active consent's terms with a new version; the old one is superseded.

    Only the grantor (or an administrator) may; the new terms pass every check a grant
    passes. The new version keeps the lineage and counts up. Tokens and pending requests
    that rest on the old version stop: they were decided under terms that no longer hold
    (docs/decisions/0008-a-new-consent-version-stops-the-old-ones-tokens.md).
    """
    principal.require(Scope.CONSENT_WRITE)
    old = await visible_consent(session, principal, consent_id, for_update=True)
    if not principal.may_act_for(old.grantor_party_id):
        raise PermissionDenied("only the owner who granted a consent may change it")
    if old.status != ConsentStatus.ACTIVE:
        raise Conflict(
            f"consent {consent_id} is {old.status}; only the active version can be changed",
            lineage_id=str(old.lineage_id),
        )
    if old.legal_basis == LegalBasis.LEGAL_OBLIGATION and not principal.is_registry_admin:
        raise Conflict(_OBLIGATION_MESSAGE.format(consent_id=consent_id, verb="change"))
    now = clock.now()
    checked = await check_grant(session, data, old.grantor_party_id, policies, now)

    new = _new_consent(
        uuid.uuid4(),
        old.lineage_id,
        old.version + 1,
        old.grantor_party_id,
        data,
        checked,
        now,
    )
    old.status = ConsentStatus.SUPERSEDED
    old.superseded_at = now
    session.add(new)
    await session.flush()
    session.add_all(ConsentCamera(consent_id=new.id, camera_id=c) for c in checked.camera_ids)
    actor = Actor.of(principal)
    receipt = await load_receipt(session, new, checked.camera_ids, issuer)
    changed = record(
        session,
        at=now,
        actor=actor,
        action="consent.changed",
        object_type="consent",
        object_id=new.id,
        details={
            **_consent_summary(new, checked.camera_ids, checked.agreement),
            **receipt_reference(receipt),
            "lineage_id": str(new.lineage_id),
            "version": new.version,
            "supersedes": str(old.id),
        },
    )
    record(
        session,
        at=now,
        actor=actor,
        action="consent.superseded",
        object_type="consent",
        object_id=old.id,
        details={"superseded_by": str(new.id), "version": new.version},
    )
    with session.no_autoflush:  # the consent's events stay ahead of the cascade's
        stopped = await cascade_stop(
            session, consent_ids=[old.id], reason=TOKEN_SUPERSEDED_REASON, actor=actor, now=now
        )
    changed.details = {**changed.details, "revoked_tokens": list(stopped.revoked_tokens)}
    _notify(session, new, EventType.CONSENT_CHANGED, receipt, now, previous=old)
    await session.commit()
    return consent_read(new, checked.camera_ids)


def _new_consent(
    consent_id: UUID,
    lineage_id: UUID,
    version: int,
    grantor_id: UUID,
    data: ConsentTerms,
    checked: CheckedGrant,
    now: datetime,
) -> Consent:
    return Consent(
        id=consent_id,
        lineage_id=lineage_id,
        version=version,
        grantor_party_id=grantor_id,
        grantee_party_id=data.grantee_party_id,
        grantee_scope=checked.grantee_scope,
        legal_basis=data.legal_basis,
        regulation_ref=data.regulation_ref,
        agreement_id=checked.agreement.id,
        camera_selector=data.camera_selector,
        selector_tag=data.selector_tag,
        modes=sorted(data.modes),
        purposes=sorted(data.purposes),
        max_lookback_hours=data.max_lookback_hours,
        max_window_minutes=data.max_window_minutes,
        max_token_lifetime_seconds=data.max_token_lifetime_seconds,
        hours_start=data.hours_start,
        hours_end=data.hours_end,
        # A day named twice is the same day: kept once, in order.
        days_of_week=sorted(set(data.days_of_week)) if data.days_of_week else None,
        timezone=data.timezone,
        requires_owner_approval=data.requires_owner_approval,
        requires_supervisor_approval=data.requires_supervisor_approval,
        valid_from=checked.valid_from,
        valid_until=checked.valid_until,
        status=ConsentStatus.ACTIVE,
        created_at=now,
    )


def _consent_summary(
    consent: Consent, camera_ids: Sequence[UUID], agreement: Agreement
) -> dict[str, object]:
    return {
        "grantor_party_id": str(consent.grantor_party_id),
        "grantee_party_id": str(consent.grantee_party_id) if consent.grantee_party_id else None,
        "grantee_scope": consent.grantee_scope,
        "legal_basis": consent.legal_basis,
        "regulation_ref": consent.regulation_ref,
        "agreement_id": str(agreement.id),
        "agreement_number": agreement.number,
        "policy_template": agreement.policy_template,
        "camera_selector": consent.camera_selector,
        "selector_tag": consent.selector_tag,
        "camera_ids": [str(camera_id) for camera_id in camera_ids],
        "modes": list(consent.modes),
        "purposes": list(consent.purposes),
        "max_lookback_hours": consent.max_lookback_hours,
        "max_window_minutes": consent.max_window_minutes,
        "max_token_lifetime_seconds": consent.max_token_lifetime_seconds,
        "hours_start": consent.hours_start,
        "hours_end": consent.hours_end,
        "days_of_week": consent.days_of_week,
        "timezone": consent.timezone,
        "requires_owner_approval": consent.requires_owner_approval,
        "requires_supervisor_approval": consent.requires_supervisor_approval,
        "valid_until": as_utc(consent.valid_until).isoformat() if consent.valid_until else None,
    }


# --- revocation ---------------------------------------------------------------------------

_OBLIGATION_MESSAGE = (
    "consent {consent_id} rests on a legal obligation, which its owner cannot {verb}; file an "
    "objection instead (POST /consents/{consent_id}/objections): it is recorded and must be "
    "answered. Only the hub operator can end the arrangement."
)


async def revoke_consent(
    session: AsyncSession,
    principal: Principal,
    consent_id: UUID,
    reason: str,
    clock: Clock,
    issuer: str,
) -> ConsentRead:
    """Revoke a consent at once, and with it every live token and pending request resting
    on it.

    Only the grantor (or an administrator) may revoke; the grantee sees the consent but is
    refused. An arrangement resting on a legal obligation is ended by the hub operator only;
    its owner files an objection instead. Everything changes in one transaction.
    """
    principal.require(Scope.CONSENT_WRITE)
    consent = await visible_consent(session, principal, consent_id, for_update=True)
    if not principal.may_act_for(consent.grantor_party_id):
        raise PermissionDenied("only the owner who granted a consent may revoke it")
    if consent.status == ConsentStatus.REVOKED:
        raise Conflict(f"consent {consent_id} is already revoked")
    if consent.status == ConsentStatus.SUPERSEDED:
        raise Conflict(
            f"consent {consent_id} was superseded by a newer version; revoke that one",
            lineage_id=str(consent.lineage_id),
        )
    if consent.legal_basis == LegalBasis.LEGAL_OBLIGATION and not principal.is_registry_admin:
        raise Conflict(_OBLIGATION_MESSAGE.format(consent_id=consent_id, verb="revoke"))

    now = clock.now()
    actor = Actor.of(principal)
    consent.status = ConsentStatus.REVOKED
    consent.revoked_at = now
    consent.revocation_reason = reason
    cameras = (await consent_cameras(session, [consent.id]))[consent.id]
    receipt = await load_receipt(session, consent, cameras, issuer)
    # The consent's event comes first: the trail reads "revoked the consent, and so these".
    revoked = record(
        session,
        at=now,
        actor=actor,
        action="consent.revoked",
        object_type="consent",
        object_id=consent.id,
        details={"reason": reason, **receipt_reference(receipt)},
    )
    with session.no_autoflush:
        stopped = await cascade_stop(
            session, consent_ids=[consent.id], reason=TOKEN_REVOCATION_REASON, actor=actor, now=now
        )
    revoked.details = {
        **revoked.details,
        "revoked_tokens": list(stopped.revoked_tokens),
        "refused_requests": [str(request) for request in stopped.refused_requests],
    }
    _notify(session, consent, EventType.CONSENT_REVOKED, receipt, now)
    await session.commit()
    return consent_read(consent, cameras)


def _notify(
    session: AsyncSession,
    consent: Consent,
    event_type: EventType,
    receipt: ConsentReceipt,
    now: datetime,
    *,
    previous: Consent | None = None,
) -> None:
    """Tell the owner and the grantee what changed, with where the receipt is."""
    parties = {consent.grantor_party_id}
    if consent.grantee_party_id is not None:
        parties.add(consent.grantee_party_id)
    if previous is not None and previous.grantee_party_id is not None:
        parties.add(previous.grantee_party_id)  # a grantee dropped by the change learns of it
    emit(
        session,
        party_ids=parties,
        event_type=event_type,
        payload={
            **consent_payload(consent),
            "supersedes": str(previous.id) if previous is not None else None,
            "receipt_id": str(receipt.receipt_id),
            "receipt_sha256": receipt.sha256,
            "receipt_path": f"/consents/{consent.id}/receipt",
        },
        now=now,
    )
