"""Sealed accesses: the police keep an access's details from the camera owners for a while.

A police request may ask for ``sealed_until`` when every camera's terms allow a seal that long
(``[disclosure] max_seal_days``, counted from the access) and the request needs no owner
approval and is no emergency (an owner who approves or reviews sees the request anyway).
The owner's access report shows a sealed access at once (camera, time, leaf hash, proof and
the date its details will be disclosed) and shows everything when the date passes or the
requesting party releases the seal at case closure. A supervisor of the requesting party
(role ``supervisor`` or ``admin``, not the officer who asked) may extend it within the terms'
maximum; every extension and release is an audit event. See docs/access-report.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.access.disclosure import disclosure_of, request_audit
from sharing.access.models import AccessRequest
from sharing.audit.models import AccessSeal
from sharing.clock import Clock, as_utc
from sharing.consent.facts import Decision
from sharing.consent.templates import DisclosureTerms
from sharing.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from sharing.parties.models import Member
from sharing.principal import Actor, Principal
from sharing.vocabulary import PartyKind, Role, Scope

SEAL_EXTENDERS = frozenset({Role.SUPERVISOR, Role.ADMIN})
"""Who may extend a seal: the roles that give supervisor approvals."""


def is_sealed(seal: AccessSeal | None, now: datetime) -> bool:
    """Whether ``seal`` still keeps its access's details from the owners."""
    return seal is not None and seal.released_at is None and as_utc(seal.sealed_until) > now


def check_seal_wanted(
    sealed_until: datetime,
    *,
    now: datetime,
    terms: DisclosureTerms,
    decision: Decision,
    requester_kind: str,
    emergency: bool,
) -> None:
    """Refuse (422 on ``sealed_until``) a seal the request may not have."""
    if requester_kind != PartyKind.POLICE:
        _refuse("only the police may seal an access")
    if emergency:
        _refuse("an emergency access is reviewed by the owner and cannot be sealed")
    if sealed_until <= now:
        _refuse("must be in the future")
    if terms.max_seal_days == 0:
        _refuse("the terms of these cameras do not allow sealing an access")
    latest = now + timedelta(days=terms.max_seal_days)
    if sealed_until > latest:
        _refuse(
            f"the terms of these cameras allow a seal of at most {terms.max_seal_days} days "
            f"(until {latest.isoformat()})"
        )
    if decision.needs_approval:
        _refuse("an access that needs approval is seen by its approvers and cannot be sealed")


def add_seal(
    session: AsyncSession, request: AccessRequest, sealed_until: datetime, now: datetime
) -> AccessSeal:
    """Seal ``request`` in the caller's transaction."""
    seal = AccessSeal(request_id=request.id, sealed_until=sealed_until, created_at=now)
    session.add(seal)
    return seal


async def seals_of(
    session: AsyncSession, request_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, AccessSeal]:
    """The seals of some requests, by request id."""
    if not request_ids:
        return {}
    rows = await session.scalars(
        select(AccessSeal).where(col(AccessSeal.request_id).in_(list(request_ids)))
    )
    return {seal.request_id: seal for seal in rows}


async def sealed_now(session: AsyncSession, request_id: uuid.UUID, now: datetime) -> bool:
    """Whether the request's details are sealed from its cameras' owners now."""
    return is_sealed(await session.get(AccessSeal, request_id), now)


async def extend_seal(
    session: AsyncSession,
    principal: Principal,
    request_id: uuid.UUID,
    sealed_until: datetime,
    reason: str,
    *,
    clock: Clock,
) -> tuple[AccessRequest, AccessSeal]:
    """A supervisor of the requesting party moves the seal to a later date, within the
    terms' maximum counted from the access. Audited as ``access_seal.extended``."""
    now = clock.now()
    request, seal = await _live_seal(session, principal, request_id, now)
    await _require_supervisor(session, principal, request)
    audit = await request_audit(session, request)
    terms = disclosure_of(audit)
    accessed = as_utc(request.decided_at or request.created_at)
    latest = accessed + timedelta(days=terms.max_seal_days)
    previous = as_utc(seal.sealed_until)
    if sealed_until <= previous:
        raise InvalidInput(
            "sealed_until", f"must be later than the current seal ({previous.isoformat()})"
        )
    if sealed_until > latest:
        raise InvalidInput(
            "sealed_until",
            f"the terms allow a seal of at most {terms.max_seal_days} days from the access "
            f"(until {latest.isoformat()})",
        )
    seal.sealed_until = sealed_until
    audit.record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="access_seal.extended",
        purpose=request.purpose,
        details={
            "previous_sealed_until": previous.isoformat(),
            "sealed_until": sealed_until.isoformat(),
            "reason": reason,
        },
    )
    await session.commit()
    await session.refresh(seal)
    return request, seal


async def release_seal(
    session: AsyncSession,
    principal: Principal,
    request_id: uuid.UUID,
    reason: str,
    *,
    clock: Clock,
) -> tuple[AccessRequest, AccessSeal]:
    """The requesting party discloses a sealed access now (the case is closed). Audited as
    ``access_seal.released``."""
    now = clock.now()
    request, seal = await _live_seal(session, principal, request_id, now)
    seal.released_at = now
    audit = await request_audit(session, request)
    audit.record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="access_seal.released",
        purpose=request.purpose,
        details={"sealed_until": as_utc(seal.sealed_until).isoformat(), "reason": reason},
    )
    await session.commit()
    await session.refresh(seal)
    return request, seal


async def _live_seal(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, now: datetime
) -> tuple[AccessRequest, AccessSeal]:
    """The caller's party's request and its seal, locked, if the seal still holds."""
    principal.require(Scope.ACCESS_REQUEST)
    request = await session.get(AccessRequest, request_id)
    if request is None or request.requester_party_id != principal.party_id:
        raise NotFound(f"no access request {request_id}")
    seal = await session.scalar(
        select(AccessSeal).where(col(AccessSeal.request_id) == request_id).with_for_update()
    )
    if seal is None:
        raise NotFound(f"access request {request_id} is not sealed")
    if not is_sealed(seal, now):
        raise Conflict(
            "the seal no longer holds: its details are disclosed to the owners",
            sealed_until=as_utc(seal.sealed_until).isoformat(),
            released_at=as_utc(seal.released_at).isoformat() if seal.released_at else None,
        )
    return request, seal


async def _require_supervisor(
    session: AsyncSession, principal: Principal, request: AccessRequest
) -> None:
    role = None
    if principal.member_id is not None:
        role = await session.scalar(
            select(col(Member.role)).where(
                col(Member.id) == principal.member_id, col(Member.party_id) == principal.party_id
            )
        )
    if role not in SEAL_EXTENDERS:
        raise PermissionDenied(
            "extending a seal needs a member of the requesting party whose role is "
            "supervisor or admin"
        )
    if principal.member_id == request.requester_member_id:
        raise PermissionDenied("the member who made a request cannot extend its seal")


def _refuse(message: str) -> NoReturn:
    raise InvalidInput("sealed_until", message)
