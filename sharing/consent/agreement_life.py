"""An agreement's life: activating, suspending, resuming, terminating, and expiring.

Only a hub administrator moves an agreement; the validity sweep expires it. Suspending,
terminating or expiring an agreement stops every token and pending request resting on it::

    draft -> active -> suspended -> active (resumed)
      |        |  \\-> expired (its validity ended; the sweep marks it)
      \\--------+---> terminated          (suspended -> terminated too)
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.service import record
from sharing.clock import Clock, as_utc
from sharing.consent.agreement_schemas import AgreementRead
from sharing.consent.agreements import agreement_for_update, agreement_read
from sharing.consent.cascade import CascadeResult, cascade_stop
from sharing.consent.links import agreement_parties
from sharing.consent.models import Agreement
from sharing.consent.templates import PolicyLibrary
from sharing.errors import Conflict
from sharing.principal import Actor, Principal
from sharing.vocabulary import AgreementStatus, Scope
from sharing.webhooks.schemas import EventType
from sharing.webhooks.service import emit

StatusAction = Literal["activate", "suspend", "resume", "terminate"]

_DRAFT, _ACTIVE = AgreementStatus.DRAFT, AgreementStatus.ACTIVE
_SUSPENDED, _TERMINATED, _EXPIRED = (
    AgreementStatus.SUSPENDED,
    AgreementStatus.TERMINATED,
    AgreementStatus.EXPIRED,
)
TRANSITIONS: dict[StatusAction, tuple[frozenset[AgreementStatus], AgreementStatus]] = {
    "activate": (frozenset({_DRAFT}), _ACTIVE),
    "suspend": (frozenset({_ACTIVE}), _SUSPENDED),
    "resume": (frozenset({_SUSPENDED}), _ACTIVE),
    "terminate": (frozenset({_DRAFT, _ACTIVE, _SUSPENDED}), _TERMINATED),
}
"""What each action moves an agreement from, and to."""
STOPPING = frozenset({_SUSPENDED, _TERMINATED, _EXPIRED})
"""Statuses under which nothing resting on the agreement may go on."""
EXPIRY_ACTOR = Actor.system("agreement-expiry")


async def change_agreement_status(
    session: AsyncSession,
    principal: Principal,
    agreement_id: UUID,
    action: StatusAction,
    reason: str,
    clock: Clock,
    policies: PolicyLibrary,
) -> AgreementRead:
    """Activate, suspend, resume or terminate an agreement, recording who, when and why.

    A move the agreement's status does not allow is a ``Conflict``; so is activating or
    resuming an agreement whose validity has ended or whose template this hub lacks.
    Suspending and terminating stop every token and pending request resting on it.
    """
    principal.require(Scope.REGISTRY_ADMIN)
    agreement = await agreement_for_update(session, agreement_id)
    sources, target = TRANSITIONS[action]
    if agreement.status not in sources:
        raise Conflict(
            f"agreement {agreement.number} is {agreement.status}; it cannot {action} "
            f"(only from {', '.join(sorted(sources))})",
            status=agreement.status,
        )
    now = clock.now()
    if target == _ACTIVE:
        _check_can_take_effect(agreement, policies, now)
    await _move(session, agreement, target, reason, Actor.of(principal), principal.subject, now)
    await session.commit()
    return agreement_read(
        agreement, (await agreement_parties(session, [agreement_id]))[agreement_id]
    )


async def expire_agreements(session: AsyncSession, now: datetime) -> list[UUID]:
    """Mark every active or suspended agreement whose validity has ended as expired, and
    stop what rests on it; the ids expired. Decisions refuse such agreements anyway; this
    sweep makes the state, the trail, the notifications and the tokens say so too."""
    ended = list(
        (
            await session.execute(
                select(Agreement)
                .where(
                    col(Agreement.status).in_([_ACTIVE, _SUSPENDED]),
                    col(Agreement.valid_until).is_not(None),
                    col(Agreement.valid_until) <= now,
                )
                .order_by(col(Agreement.valid_until), col(Agreement.id))
                .with_for_update()
            )
        ).scalars()
    )
    for agreement in ended:
        await _move(
            session,
            agreement,
            _EXPIRED,
            "its validity ended",
            EXPIRY_ACTOR,
            EXPIRY_ACTOR.client_id or "system",
            now,
        )
    if ended:
        await session.commit()
    return [agreement.id for agreement in ended]


async def _move(
    session: AsyncSession,
    agreement: Agreement,
    target: AgreementStatus,
    reason: str,
    actor: Actor,
    by: str,
    now: datetime,
) -> CascadeResult:
    """Change the status, record it, notify every party, and stop what rests on it."""
    previous = agreement.status
    agreement.status = target
    agreement.status_reason = reason
    agreement.status_changed_at = now
    agreement.status_changed_by = by
    event = record(
        session,
        at=now,
        actor=actor,
        action="agreement.status_changed",
        object_type="agreement",
        object_id=agreement.id,
        details={"from": previous, "to": target, "reason": reason},
    )
    stopped = CascadeResult()
    if target in STOPPING:
        with session.no_autoflush:  # the agreement's event stays ahead of the cascade's
            stopped = await cascade_stop(
                session,
                agreement_ids=[agreement.id],
                reason=f"agreement {agreement.number} {target}: {reason}",
                actor=actor,
                now=now,
            )
        event.details = {
            **event.details,
            "revoked_tokens": list(stopped.revoked_tokens),
            "refused_requests": [str(r) for r in stopped.refused_requests],
        }
    parties = (await agreement_parties(session, [agreement.id]))[agreement.id]
    emit(
        session,
        party_ids=parties,
        event_type=EventType.AGREEMENT_STATUS_CHANGED,
        payload={
            "agreement_id": str(agreement.id),
            "number": agreement.number,
            "from": previous,
            "to": target,
            "reason": reason,
            "changed_at": now.isoformat(),
        },
        now=now,
    )
    return stopped


def _check_can_take_effect(agreement: Agreement, policies: PolicyLibrary, now: datetime) -> None:
    if agreement.valid_until is not None and as_utc(agreement.valid_until) <= now:
        raise Conflict(
            f"agreement {agreement.number} ended on {as_utc(agreement.valid_until).isoformat()}; "
            "amend it with a new validity instead",
            status=agreement.status,
        )
    if policies.get(agreement.policy_template) is None:
        raise Conflict(
            f"agreement {agreement.number} names the policy template "
            f"'{agreement.policy_template}', which this hub does not have",
            status=agreement.status,
        )
