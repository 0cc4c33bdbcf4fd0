"""The overdue sweep of emergency reviews: flag what was not ratified in time, suspend
repeat offenders' emergency right under the agreement, and announce both.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.service import record
from sharing.clock import as_utc
from sharing.emergency.models import EmergencyReview, EmergencySuspension
from sharing.emergency.schemas import ReviewStatus
from sharing.emergency.service import review_payload
from sharing.parties.models import Party
from sharing.principal import Actor
from sharing.settings import Settings
from sharing.vocabulary import PartyKind
from sharing.webhooks.service import emit

SUSPENSION_WINDOW = timedelta(days=30)
"""How far back unratified emergency accesses count towards a suspension."""

SWEEP = Actor.system("emergency-sweep")
"""The audit actor of the overdue sweep."""


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


# --- Private ------------------------------------------------------------------------------


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
        details={**suspension_payload(suspension), "unratified": int(flags or 0)},
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
    payload = review_payload(review)
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
        payload["emergency_right_suspended"] = suspension_payload(suspension)
        parties.extend(operators)
    emit(
        session,
        party_ids=parties,
        event_type="emergency.review_overdue",
        payload=payload,
        now=now,
    )


def suspension_payload(suspension: EmergencySuspension) -> dict[str, object]:
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
