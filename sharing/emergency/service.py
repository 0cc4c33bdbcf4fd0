"""Accountable emergency access: review items, ratification, overdue flags and suspensions.

An emergency request allowed under a template's emergency clause opens one review per owner
party whose cameras it reached (``open_reviews``, called by the access broker in the
request's transaction). A supervisor of the requesting party, a second person, ratifies it
within ``settings.emergency_review_hours``; the sweep ``flag_overdue_reviews`` flags what was
not ratified in time, and when a party piles up ``settings.emergency_unratified_limit`` flags
under one agreement within 30 days, suspends its emergency right there until an operator
restores it. Policy reads the suspension (``sharing.consent.decision_inputs``) and refuses
emergency requests while it holds.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.access.models import AccessRequest
from sharing.audit.service import record
from sharing.cameras.models import Camera
from sharing.clock import Clock, as_utc
from sharing.consent.facts import Decision
from sharing.emergency.models import EmergencyReview, EmergencySuspension
from sharing.emergency.schemas import ReviewStatus
from sharing.errors import Conflict, NotFound, PermissionDenied
from sharing.parties.models import Member, Party
from sharing.principal import Actor, Principal
from sharing.settings import Settings
from sharing.vocabulary import PartyKind, Role, Scope
from sharing.webhooks.service import emit

SUSPENSION_WINDOW = timedelta(days=30)
"""How far back unratified emergency accesses count towards a suspension."""

SWEEP = Actor.system("emergency-sweep")
"""The audit actor of the overdue sweep."""

RATIFYING_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
"""Who in the requesting party may ratify an emergency access."""


@dataclass(frozen=True, slots=True)
class ReviewWithAccess:
    """A review and the access it is about, as the owner needs to judge it."""

    review: EmergencyReview
    request: AccessRequest
    camera_ids: tuple[uuid.UUID, ...]
    """The review owner's cameras among those the request reached."""


async def open_reviews(
    session: AsyncSession,
    *,
    request: AccessRequest,
    decision: Decision,
    now: datetime,
    settings: Settings,
) -> list[EmergencyReview]:
    """Open the after-the-fact reviews of an emergency-allowed request, in its transaction.

    One review per owner party whose cameras were granted under an emergency clause (and per
    agreement, should one owner's cameras rest on two), due ``settings.emergency_review_hours``
    from ``now``. Each is audited as ``emergency_review.opened`` and announced to the owner and
    the requester as ``emergency.review_opened``. The caller commits. A request's own
    cameras (owner access) need no review.
    """
    emergency_grants = [grant for grant in decision.grants if grant.emergency]
    if not emergency_grants:
        return []
    owners = await _owners_of(session, [grant.camera_id for grant in emergency_grants])
    groups: defaultdict[tuple[uuid.UUID, uuid.UUID | None], list[uuid.UUID]] = defaultdict(list)
    for grant in emergency_grants:
        owner = owners.get(grant.camera_id)
        if owner is not None and owner != request.requester_party_id:
            groups[(owner, grant.agreement_id)].append(grant.camera_id)
    # The reviews point at the request: it must be written before them.
    await session.flush()
    actor = _requester(request)
    due_at = now + timedelta(hours=settings.emergency_review_hours)
    reviews = []
    for (owner, agreement_id), camera_ids in sorted(groups.items(), key=str):
        review = EmergencyReview(
            request_id=request.id,
            requester_party_id=request.requester_party_id,
            owner_party_id=owner,
            agreement_id=agreement_id,
            status=ReviewStatus.OPEN,
            due_at=due_at,
            created_at=now,
        )
        session.add(review)
        details = {**_review_payload(review), "camera_ids": sorted(map(str, camera_ids))}
        record(
            session,
            at=now,
            actor=actor,
            action="emergency_review.opened",
            object_type="emergency_review",
            object_id=review.id,
            purpose=request.purpose,
            details=details,
        )
        emit(
            session,
            party_ids=[owner, request.requester_party_id],
            event_type="emergency.review_opened",
            payload=details,
            now=now,
        )
        reviews.append(review)
    return reviews


async def list_reviews(
    session: AsyncSession,
    principal: Principal,
    *,
    status: ReviewStatus | None,
    flagged: bool | None,
    limit: int,
    offset: int,
) -> tuple[list[ReviewWithAccess], int]:
    """The reviews the caller may see, newest first, with the total that match.

    An owner party sees the reviews of accesses to its cameras (flagged ones are its report of
    unratified access), a requesting party its own, a hub operator every review.
    """
    _require_read(principal)
    conditions: list[ColumnElement[bool]] = []
    if not principal.is_registry_admin:
        conditions.append(_involves(principal.party_id))
    if status is not None:
        conditions.append(col(EmergencyReview.status) == status)
    if flagged is not None:
        flag = col(EmergencyReview.unratified_flagged_at)
        conditions.append(flag.is_not(None) if flagged else flag.is_(None))
    total = await session.scalar(
        select(func.count()).select_from(EmergencyReview).where(*conditions)
    )
    rows = await session.execute(
        select(EmergencyReview, AccessRequest)
        .join(AccessRequest, col(AccessRequest.id) == col(EmergencyReview.request_id))
        .where(*conditions)
        .order_by(col(EmergencyReview.created_at).desc(), col(EmergencyReview.id))
        .limit(limit)
        .offset(offset)
    )
    pairs = [(review, request) for review, request in rows]
    return await _with_access(session, pairs), int(total or 0)


async def get_review(
    session: AsyncSession, principal: Principal, review_id: uuid.UUID
) -> ReviewWithAccess:
    """One review, for its owner party, its requesting party or a hub operator; else 404."""
    _require_read(principal)
    return (await _with_access(session, [await _visible_review(session, principal, review_id)]))[0]


async def ratify_review(
    session: AsyncSession, principal: Principal, review_id: uuid.UUID, clock: Clock
) -> ReviewWithAccess:
    """Ratify an emergency access: a supervisor (or admin) of the requesting party only.

    The ratifier must be a person other than the one who made the request. A late
    ratification is accepted and recorded, but the review keeps its overdue flag.
    """
    principal.require(Scope.ACCESS_REQUEST)
    review, request = await _visible_review(session, principal, review_id)
    if principal.party_id != review.requester_party_id:
        raise PermissionDenied("only the requesting party's supervisor may ratify")
    await _require_second_supervisor(session, principal, request)
    if review.status != ReviewStatus.OPEN:
        raise Conflict(f"the review is already {review.status}", status=review.status)
    now = clock.now()
    review.status = ReviewStatus.RATIFIED
    review.ratified_by = principal.subject
    review.ratified_at = now
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="emergency_review.ratified",
        object_type="emergency_review",
        object_id=review.id,
        details={**_review_payload(review), "late": review.unratified_flagged_at is not None},
    )
    await session.commit()
    return (await _with_access(session, [(review, request)]))[0]


async def close_review(
    session: AsyncSession, principal: Principal, review_id: uuid.UUID, note: str, clock: Clock
) -> ReviewWithAccess:
    """Close a review with a note: the owner party (or a hub operator), once it is ratified
    or flagged as unratified. An open review still awaits its supervisor."""
    if not principal.is_registry_admin:
        principal.require(Scope.CONSENT_WRITE)
    review, request = await _visible_review(session, principal, review_id)
    if not principal.may_act_for(review.owner_party_id):
        raise PermissionDenied("only the owner of the cameras may close the review")
    if review.status == ReviewStatus.CLOSED:
        raise Conflict("the review is already closed", status=review.status)
    if review.status == ReviewStatus.OPEN and review.unratified_flagged_at is None:
        raise Conflict(
            "the review awaits ratification until it is due; it can be closed once ratified "
            "or flagged as unratified",
            status=review.status,
            due_at=as_utc(review.due_at).isoformat(),
        )
    now = clock.now()
    review.status = ReviewStatus.CLOSED
    review.closed_by = principal.subject
    review.closed_at = now
    review.closing_note = note
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="emergency_review.closed",
        object_type="emergency_review",
        object_id=review.id,
        details={**_review_payload(review), "note": note},
    )
    await session.commit()
    return (await _with_access(session, [(review, request)]))[0]


async def flag_overdue_reviews(
    session: AsyncSession, now: datetime, settings: Settings
) -> list[EmergencyReview]:
    """Flag open reviews past their due time; suspend repeat offenders' emergency right.

    Each newly flagged review is audited (``emergency_review.flagged``) and announced to the
    owner and the requester (``emergency.review_overdue``). Then, for each requesting party and
    agreement that got a new flag, if the flags since ``SUSPENSION_WINDOW`` ago (and since the
    right was last restored) reach ``settings.emergency_unratified_limit``, the party's
    emergency right under that agreement is suspended (``emergency.right_suspended``), and the
    flags' webhooks carry the suspension to the hub operators too. Commits; returns the reviews
    flagged.
    Safe to run on several nodes at once: a review is flagged by whichever gets it first.
    """
    overdue = list(
        await session.scalars(
            select(EmergencyReview)
            .where(
                col(EmergencyReview.status) == ReviewStatus.OPEN,
                col(EmergencyReview.unratified_flagged_at).is_(None),
                col(EmergencyReview.due_at) <= now,
            )
            .order_by(col(EmergencyReview.due_at), col(EmergencyReview.id))
        )
    )
    flagged = [review for review in overdue if await _claim_flag(session, review, now)]
    offenders = {
        (review.requester_party_id, review.agreement_id)
        for review in flagged
        if review.agreement_id is not None
    }
    suspended: dict[tuple[uuid.UUID, uuid.UUID | None], EmergencySuspension] = {}
    for party_id, agreement_id in sorted(offenders, key=str):
        suspension = await _suspend_if_repeated(session, party_id, agreement_id, now, settings)
        if suspension is not None:
            suspended[(party_id, agreement_id)] = suspension
    operators = await _hub_operators(session) if suspended else []
    for review in flagged:
        _announce_flag(session, review, suspended.get(_offence(review)), operators, now)
    await session.commit()
    return flagged


async def list_suspensions(
    session: AsyncSession, principal: Principal, *, active: bool | None
) -> list[EmergencySuspension]:
    """Suspended emergency rights, newest first: a party sees its own, an operator all."""
    _require_read(principal)
    query = select(EmergencySuspension)
    if not principal.is_registry_admin:
        query = query.where(col(EmergencySuspension.party_id) == principal.party_id)
    if active is not None:
        restored = col(EmergencySuspension.restored_at)
        query = query.where(restored.is_(None) if active else restored.is_not(None))
    newest_first = (col(EmergencySuspension.suspended_at).desc(), col(EmergencySuspension.id))
    query = query.order_by(*newest_first)
    return list(await session.scalars(query))


async def restore_suspension(
    session: AsyncSession, principal: Principal, suspension_id: uuid.UUID, clock: Clock
) -> EmergencySuspension:
    """Restore a party's suspended emergency right: hub operators (``registry:admin``) only.

    Flags from before the restoration no longer count towards a new suspension.
    """
    suspension = await session.get(EmergencySuspension, suspension_id)
    if suspension is None or not principal.may_act_for(suspension.party_id):
        raise NotFound("no such emergency suspension", suspension_id=str(suspension_id))
    principal.require(Scope.REGISTRY_ADMIN)
    if suspension.restored_at is not None:
        raise Conflict("the emergency right was already restored")
    now = clock.now()
    suspension.restored_at = now
    suspension.restored_by = principal.subject
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="emergency.right_restored",
        object_type="emergency_suspension",
        object_id=suspension.id,
        details={
            "party_id": str(suspension.party_id),
            "agreement_id": str(suspension.agreement_id),
        },
    )
    await session.commit()
    return suspension


# --- Private ------------------------------------------------------------------------------


def _require_read(principal: Principal) -> None:
    if not principal.is_registry_admin:
        principal.require(Scope.CONSENT_READ)


def _involves(party_id: uuid.UUID) -> ColumnElement[bool]:
    return or_(
        col(EmergencyReview.owner_party_id) == party_id,
        col(EmergencyReview.requester_party_id) == party_id,
    )


def _no_such_review(review_id: uuid.UUID) -> NotFound:
    return NotFound("no such emergency review", review_id=str(review_id))


async def _visible_review(
    session: AsyncSession, principal: Principal, review_id: uuid.UUID
) -> tuple[EmergencyReview, AccessRequest]:
    """The review and its request, if the caller is its owner, its requester or an operator."""
    query = (
        select(EmergencyReview, AccessRequest)
        .join(AccessRequest, col(AccessRequest.id) == col(EmergencyReview.request_id))
        .where(col(EmergencyReview.id) == review_id)
    )
    if not principal.is_registry_admin:
        query = query.where(_involves(principal.party_id))
    found = (await session.execute(query)).first()
    if found is None:
        raise _no_such_review(review_id)
    return found[0], found[1]


async def _require_second_supervisor(
    session: AsyncSession, principal: Principal, request: AccessRequest
) -> None:
    """Refuse unless the caller is an active supervisor or admin member of the requesting
    party, and not the member who made the request: ratification is a second person's."""
    if principal.member_id is None:
        raise PermissionDenied("ratification needs a person: the client acts for no member")
    member = await session.get(Member, principal.member_id)
    if member is None or not member.active or member.party_id != request.requester_party_id:
        raise PermissionDenied("ratification needs an active member of the requesting party")
    if member.role not in RATIFYING_ROLES:
        raise PermissionDenied(
            "only a supervisor (or admin) of the requesting party may ratify", role=member.role
        )
    if member.id == request.requester_member_id:
        raise PermissionDenied("the person who made the request cannot ratify it")


async def _owners_of(
    session: AsyncSession, camera_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    rows = await session.execute(
        select(col(Camera.id), col(Camera.owner_party_id)).where(col(Camera.id).in_(camera_ids))
    )
    return {camera_id: owner for camera_id, owner in rows}


async def _with_access(
    session: AsyncSession, pairs: Sequence[tuple[EmergencyReview, AccessRequest]]
) -> list[ReviewWithAccess]:
    """Attach to each review its owner's cameras among those its request reached."""
    wanted = {uuid.UUID(camera) for _, request in pairs for camera in request.camera_ids}
    owners = await _owners_of(session, sorted(wanted)) if wanted else {}
    return [
        ReviewWithAccess(
            review=review,
            request=request,
            camera_ids=tuple(
                uuid.UUID(camera)
                for camera in request.camera_ids
                if owners.get(uuid.UUID(camera)) == review.owner_party_id
            ),
        )
        for review, request in pairs
    ]


async def _claim_flag(session: AsyncSession, review: EmergencyReview, now: datetime) -> bool:
    """Flag ``review`` unless another node did first; True when this call flagged it."""
    result = cast(
        "CursorResult[Any]",
        await session.execute(
            update(EmergencyReview)
            .where(
                col(EmergencyReview.id) == review.id,
                col(EmergencyReview.unratified_flagged_at).is_(None),
                col(EmergencyReview.status) == ReviewStatus.OPEN,
            )
            .values(unratified_flagged_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    claimed = result.rowcount == 1
    if claimed:
        review.unratified_flagged_at = now
    return claimed


async def _suspend_if_repeated(
    session: AsyncSession,
    party_id: uuid.UUID,
    agreement_id: uuid.UUID,
    now: datetime,
    settings: Settings,
) -> EmergencySuspension | None:
    """Suspend ``party_id``'s emergency right under ``agreement_id`` if its recent flags reach
    the limit and no suspension holds already."""
    suspensions = list(
        await session.scalars(
            select(EmergencySuspension).where(
                col(EmergencySuspension.party_id) == party_id,
                col(EmergencySuspension.agreement_id) == agreement_id,
            )
        )
    )
    if any(s.restored_at is None for s in suspensions):
        return None
    # A restoration wipes the slate: earlier flags were weighed by the operator who restored.
    since = max(
        [now - SUSPENSION_WINDOW, *(as_utc(s.restored_at) for s in suspensions if s.restored_at)]
    )
    flags = await session.scalar(
        select(func.count())
        .select_from(EmergencyReview)
        .where(
            col(EmergencyReview.requester_party_id) == party_id,
            col(EmergencyReview.agreement_id) == agreement_id,
            col(EmergencyReview.unratified_flagged_at) > since,
        )
    )
    if int(flags or 0) < settings.emergency_unratified_limit:
        return None
    suspension = EmergencySuspension(
        party_id=party_id,
        agreement_id=agreement_id,
        reason=f"{flags} emergency accesses not ratified in time within "
        f"{SUSPENSION_WINDOW.days} days (limit {settings.emergency_unratified_limit})",
        suspended_at=now,
    )
    session.add(suspension)
    record(
        session,
        at=now,
        actor=SWEEP,
        action="emergency.right_suspended",
        object_type="emergency_suspension",
        object_id=suspension.id,
        details={**_suspension_payload(suspension), "unratified": int(flags or 0)},
    )
    return suspension


def _offence(review: EmergencyReview) -> tuple[uuid.UUID, uuid.UUID | None]:
    return (review.requester_party_id, review.agreement_id)


def _announce_flag(
    session: AsyncSession,
    review: EmergencyReview,
    suspension: EmergencySuspension | None,
    operators: Sequence[uuid.UUID],
    now: datetime,
) -> None:
    """Audit a flag and tell the owner and the requester; when the flag suspended the
    requester's emergency right, the payload says so and the hub operators hear it too
    (the webhook vocabulary has no event of its own for a suspension)."""
    payload = _review_payload(review)
    record(
        session,
        at=now,
        actor=SWEEP,
        action="emergency_review.flagged",
        object_type="emergency_review",
        object_id=review.id,
        outcome="unratified",
        details=payload,
    )
    parties = [review.owner_party_id, review.requester_party_id]
    if suspension is not None:
        payload["emergency_right_suspended"] = _suspension_payload(suspension)
        parties.extend(operators)
    emit(
        session,
        party_ids=parties,
        event_type="emergency.review_overdue",
        payload=payload,
        now=now,
    )


def _suspension_payload(suspension: EmergencySuspension) -> dict[str, object]:
    return {
        "suspension_id": str(suspension.id),
        "party_id": str(suspension.party_id),
        "agreement_id": str(suspension.agreement_id),
        "reason": suspension.reason,
    }


async def _hub_operators(session: AsyncSession) -> list[uuid.UUID]:
    """The parties that run the hub: command centers at the top of the tree."""
    rows = await session.scalars(
        select(col(Party.id)).where(
            col(Party.kind) == PartyKind.COMMAND_CENTER, col(Party.parent_id).is_(None)
        )
    )
    return list(rows)


def _requester(request: AccessRequest) -> Actor:
    """The audit actor behind a request: the party, member and client that made it."""
    return Actor(
        party_id=str(request.requester_party_id),
        member_id=str(request.requester_member_id) if request.requester_member_id else None,
        client_id=request.requester_client_id,
    )


def _review_payload(review: EmergencyReview) -> dict[str, object]:
    """What audit events and webhooks say about a review: ids and times, never video."""
    return {
        "review_id": str(review.id),
        "request_id": str(review.request_id),
        "owner_party_id": str(review.owner_party_id),
        "requester_party_id": str(review.requester_party_id),
        "agreement_id": str(review.agreement_id) if review.agreement_id else None,
        "due_at": as_utc(review.due_at).isoformat(),
        "status": review.status,
    }
