"""Accountable emergency access: review items, ratification, overdue flags and suspensions.

An emergency request allowed under a template's emergency clause opens one review per owner
party whose cameras it reached (``open_reviews``, called by the access broker in the
request's transaction). A supervisor of the requesting party, a second person, ratifies it
within ``settings.emergency_review_hours``; the sweep ``flag_overdue_reviews`` flags what was
not ratified in time, and when a party piles up ``settings.emergency_unratified_limit`` flags
under one agreement within 30 days, suspends its emergency right there until an operator
restores it. Policy reads the suspension (``sharing.consent.decision_inputs``) and refuses
emergency requests while it holds.

This module opens, lists, ratifies and closes reviews; ``sweep`` flags the overdue ones and
suspends, ``suspensions`` lists and restores suspended rights.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.access.models import AccessRequest
from sharing.audit.service import record
from sharing.cameras.models import Camera
from sharing.clock import Clock, as_utc
from sharing.consent.facts import Decision
from sharing.emergency.models import EmergencyReview
from sharing.emergency.schemas import ReviewStatus
from sharing.errors import Conflict, NotFound, PermissionDenied
from sharing.parties.models import Member
from sharing.principal import Actor, Principal
from sharing.settings import Settings
from sharing.vocabulary import Role, Scope
from sharing.webhooks.service import emit

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
        details = {**review_payload(review), "camera_ids": sorted(map(str, camera_ids))}
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
    require_read(principal)
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
    require_read(principal)
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
        details={**review_payload(review), "late": review.unratified_flagged_at is not None},
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
        details={**review_payload(review), "note": note},
    )
    await session.commit()
    return (await _with_access(session, [(review, request)]))[0]


def require_read(principal: Principal) -> None:
    """Reading emergency reviews and suspensions needs ``consent:read`` (operators: any)."""
    if not principal.is_registry_admin:
        principal.require(Scope.CONSENT_READ)


def review_payload(review: EmergencyReview) -> dict[str, object]:
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


# --- Private ------------------------------------------------------------------------------


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


def _requester(request: AccessRequest) -> Actor:
    """The audit actor behind a request: the party, member and client that made it."""
    return Actor(
        party_id=str(request.requester_party_id),
        member_id=str(request.requester_member_id) if request.requester_member_id else None,
        client_id=request.requester_client_id,
    )
