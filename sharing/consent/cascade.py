"""The revocation cascade: when what access rests on stops, the access stops with it.

A consent revoked or superseded, an agreement suspended, terminated or expired, a party
deactivated: ``cascade_stop`` revokes every live access token resting on them and refuses
every pending request that waits on them, in the caller's transaction, with an audit event
for each. Gateways read a token's revocation from the database at the next media request,
so a stopped token stops serving within a second.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.access.disclosure import request_audit
from sharing.access.models import AccessRequest, AccessToken, ApprovalTask, TokenConsent
from sharing.access.schemas import RequestStatus, TaskStatus
from sharing.audit.service import record
from sharing.consent.facts import ConsentStatus
from sharing.consent.models import Consent
from sharing.principal import Actor
from sharing.webhooks.schemas import EventType
from sharing.webhooks.service import emit

REFUSAL_CODE = "basis_withdrawn"
_TOKEN_REASON_LENGTH = 200  # AccessToken.revocation_reason's column width


@dataclass(frozen=True, slots=True)
class CascadeResult:
    """What a cascade stopped: token ids, request ids and the approval tasks cancelled."""

    revoked_tokens: tuple[str, ...] = ()
    refused_requests: tuple[UUID, ...] = ()
    cancelled_tasks: tuple[UUID, ...] = ()


async def cascade_stop(
    session: AsyncSession,
    *,
    consent_ids: Collection[UUID] = (),
    agreement_ids: Collection[UUID] = (),
    party_ids: Collection[UUID] = (),
    reason: str,
    actor: Actor,
    now: datetime,
) -> CascadeResult:
    """Stop the access that rests on some consents, agreements or parties.

    Covered are the given consents, every consent under the given agreements, every consent
    granted by or to the given parties, and every request the given parties made. Live
    tokens resting on them are revoked; pending requests waiting on them are refused (their
    open approval tasks cancelled) and their requesters notified. Adds to the session; the
    caller commits with its own change.
    """
    consents = await _consents_concerned(session, consent_ids, agreement_ids, party_ids)
    parties = set(party_ids)
    tokens = await _live_tokens(session, consents, parties, now)
    resting = await _resting_on(session, [token.jti for token in tokens], consents)
    for token in tokens:
        _revoke_token(session, token, sorted(resting.get(token.jti, ())), reason, actor, now)
    requests = await _pending_requests(session, consents, set(agreement_ids), parties)
    cancelled: list[UUID] = []
    for request in requests:
        cancelled.extend(await _refuse_request(session, request, reason, actor, now))
    return CascadeResult(
        revoked_tokens=tuple(token.jti for token in tokens),
        refused_requests=tuple(request.id for request in requests),
        cancelled_tasks=tuple(cancelled),
    )


async def stop_party(
    session: AsyncSession, party_id: UUID, *, actor: Actor, now: datetime
) -> CascadeResult:
    """Cascade a party's deactivation: revoke the consents it granted or received, then stop
    every token and pending request resting on them or made by the party.

    Revocation is final: if the party comes back, its owners grant again, knowingly.
    """
    reason = "party deactivated"
    active = list(
        (
            await session.execute(
                select(Consent)
                .where(
                    col(Consent.status) == ConsentStatus.ACTIVE,
                    or_(
                        col(Consent.grantor_party_id) == party_id,
                        col(Consent.grantee_party_id) == party_id,
                    ),
                )
                .order_by(col(Consent.created_at), col(Consent.id))
                .with_for_update()
            )
        ).scalars()
    )
    for consent in active:
        consent.status = ConsentStatus.REVOKED
        consent.revoked_at = now
        consent.revocation_reason = reason
        record(
            session,
            at=now,
            actor=actor,
            action="consent.revoked",
            object_type="consent",
            object_id=consent.id,
            details={"reason": reason, "party_id": str(party_id)},
        )
        emit(
            session,
            party_ids=_consent_parties(consent),
            event_type=EventType.CONSENT_REVOKED,
            payload={**consent_payload(consent), "reason": reason},
            now=now,
        )
    return await cascade_stop(
        session,
        consent_ids=[consent.id for consent in active],
        party_ids=[party_id],
        reason=reason,
        actor=actor,
        now=now,
    )


def consent_payload(consent: Consent) -> dict[str, object]:
    """What a ``consent.*`` notification says about the consent."""
    return {
        "consent_id": str(consent.id),
        "lineage_id": str(consent.lineage_id),
        "version": consent.version,
        "status": consent.status,
        "legal_basis": consent.legal_basis,
        "grantor_party_id": str(consent.grantor_party_id),
        "grantee_party_id": str(consent.grantee_party_id) if consent.grantee_party_id else None,
    }


def _consent_parties(consent: Consent) -> list[UUID]:
    parties = [consent.grantor_party_id]
    if consent.grantee_party_id is not None:
        parties.append(consent.grantee_party_id)
    return parties


async def _consents_concerned(
    session: AsyncSession,
    consent_ids: Collection[UUID],
    agreement_ids: Collection[UUID],
    party_ids: Collection[UUID],
) -> set[UUID]:
    found = set(consent_ids)
    conditions: list[ColumnElement[bool]] = []
    if agreement_ids:
        conditions.append(col(Consent.agreement_id).in_(list(agreement_ids)))
    if party_ids:
        conditions.append(col(Consent.grantor_party_id).in_(list(party_ids)))
        conditions.append(col(Consent.grantee_party_id).in_(list(party_ids)))
    if conditions:
        found.update(
            (await session.execute(select(col(Consent.id)).where(or_(*conditions)))).scalars()
        )
    return found


async def _live_tokens(
    session: AsyncSession, consent_ids: set[UUID], party_ids: set[UUID], now: datetime
) -> list[AccessToken]:
    # Expired tokens are left alone: no gateway accepts them, and revoking them would only
    # add audit events that say nothing.
    resting: ColumnElement[bool] = (
        col(AccessToken.jti).in_(
            select(col(TokenConsent.jti)).where(col(TokenConsent.consent_id).in_(list(consent_ids)))
        )
        if consent_ids
        else false()
    )
    requested: ColumnElement[bool] = (
        col(AccessToken.request_id).in_(
            select(col(AccessRequest.id)).where(
                col(AccessRequest.requester_party_id).in_(list(party_ids))
            )
        )
        if party_ids
        else false()
    )
    if not consent_ids and not party_ids:
        return []
    result = await session.execute(
        select(AccessToken)
        .where(
            or_(resting, requested),
            col(AccessToken.revoked_at).is_(None),
            col(AccessToken.expires_at) > now,
        )
        .order_by(col(AccessToken.created_at), col(AccessToken.jti))
        .with_for_update()
    )
    return list(result.scalars())


async def _resting_on(
    session: AsyncSession, jtis: list[str], consent_ids: set[UUID]
) -> dict[str, set[str]]:
    """Which of the stopped consents each token rests on (none for a party's own tokens)."""
    if not jtis or not consent_ids:
        return {}
    rows = await session.execute(
        select(col(TokenConsent.jti), col(TokenConsent.consent_id)).where(
            col(TokenConsent.jti).in_(jtis), col(TokenConsent.consent_id).in_(list(consent_ids))
        )
    )
    resting: dict[str, set[str]] = {}
    for jti, consent_id in rows:
        resting.setdefault(jti, set()).add(str(consent_id))
    return resting


def _revoke_token(
    session: AsyncSession,
    token: AccessToken,
    consent_ids: list[str],
    reason: str,
    actor: Actor,
    now: datetime,
) -> None:
    token.revoked_at = now
    token.revocation_reason = reason[:_TOKEN_REASON_LENGTH]
    record(
        session,
        at=now,
        actor=actor,
        action="access_token.revoked",
        object_type="access_token",
        object_id=token.jti,
        camera_ids=[str(camera) for camera in token.camera_ids],
        details={
            "reason": reason,
            "request_id": str(token.request_id),
            # The stopped consents it rested on: usually one, so also named on its own.
            "consent_id": consent_ids[0] if consent_ids else None,
            "consent_ids": consent_ids,
        },
    )


async def _pending_requests(
    session: AsyncSession, consent_ids: set[UUID], agreement_ids: set[UUID], party_ids: set[UUID]
) -> list[AccessRequest]:
    """Pending requests made by the parties, or waiting on one of the consents or agreements.

    A pending request names what it waits on in two places: its approval tasks (one per
    consent that asked for the owner's approval) and its explanation's grants (what would be
    allowed once approved). Pending requests are few (they expire within hours), so the
    explanation is read here rather than queried as JSON, which differs between backends.
    """
    if not (consent_ids or agreement_ids or party_ids):
        return []
    pending = list(
        (
            await session.execute(
                select(AccessRequest)
                .where(col(AccessRequest.status) == RequestStatus.PENDING)
                .order_by(col(AccessRequest.created_at), col(AccessRequest.id))
                .with_for_update()
            )
        ).scalars()
    )
    if not pending:
        return []
    tasked = set(
        (
            await session.execute(
                select(col(ApprovalTask.request_id)).where(
                    col(ApprovalTask.request_id).in_([r.id for r in pending]),
                    col(ApprovalTask.consent_id).in_(list(consent_ids)),
                )
            )
        ).scalars()
    )
    return [
        request
        for request in pending
        if request.requester_party_id in party_ids
        or request.id in tasked
        or _grants_rest_on(request.explanation, consent_ids, agreement_ids)
    ]


def _grants_rest_on(
    explanation: Mapping[str, object], consent_ids: set[UUID], agreement_ids: set[UUID]
) -> bool:
    wanted = {str(c) for c in consent_ids} | {str(a) for a in agreement_ids}
    grants = explanation.get("grants")
    if not isinstance(grants, list):
        return False
    return any(
        isinstance(grant, dict)
        and (grant.get("consent_id") in wanted or grant.get("agreement_id") in wanted)
        for grant in grants
    )


async def _refuse_request(
    session: AsyncSession, request: AccessRequest, reason: str, actor: Actor, now: datetime
) -> list[UUID]:
    """Refuse one pending request and cancel its open approval tasks; their ids."""
    request.status = RequestStatus.DENIED
    request.decided_at = now
    refusal = {"code": REFUSAL_CODE, "message": f"Refused before approval: {reason}."}
    # A new dict, so the JSON column sees the change.
    request.explanation = {
        **request.explanation,
        "outcome": "deny",
        "reasons": [*_list(request.explanation.get("reasons")), refusal],
    }
    tasks = list(
        (
            await session.execute(
                select(ApprovalTask)
                .where(
                    col(ApprovalTask.request_id) == request.id,
                    col(ApprovalTask.status) == TaskStatus.PENDING,
                )
                .order_by(col(ApprovalTask.created_at), col(ApprovalTask.id))
                .with_for_update()
            )
        ).scalars()
    )
    for task in tasks:
        task.status = TaskStatus.CANCELLED
        task.decided_at = now
        task.reason = reason
    # With the request's context and camera links, like every decision: it is an entry of
    # the owners' access reports.
    audit = await request_audit(session, request)
    audit.record(
        session,
        at=now,
        actor=actor,
        action="access_request.decided",
        purpose=request.purpose,
        outcome="deny",
        details={
            "reasons": [REFUSAL_CODE],
            "reason": reason,
            "cancelled_tasks": [str(task.id) for task in tasks],
        },
    )
    emit(
        session,
        party_ids=[request.requester_party_id],
        event_type=EventType.ACCESS_REQUEST_REFUSED,
        payload={"request_id": str(request.id), "reasons": [refusal]},
        now=now,
    )
    return [task.id for task in tasks]


def _list(value: object) -> Iterable[object]:
    return value if isinstance(value, list) else []
