"""HTTP endpoints of emergency accountability. Thin: each hands its input to the service."""

from __future__ import annotations

import uuid
from datetime import datetime

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK

from sharing.clock import as_utc
from sharing.dependencies import ClockDep, PrincipalDep, SessionDep
from sharing.emergency import service, suspensions
from sharing.emergency.models import EmergencySuspension
from sharing.emergency.schemas import (
    EmergencyReviewPage,
    EmergencyReviewRead,
    EmergencySuspensionRead,
    ReviewClose,
    ReviewedAccess,
    ReviewStatus,
)
from sharing.openapi import problem_responses
from sharing.parties.schemas import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

REVIEW_ID = "/{review_id:uuid}"


class EmergencyReviewController(Controller):
    """After-the-fact reviews of emergency access: list, ratify, close."""

    path = "/emergency-reviews"
    tags = ("emergencies",)

    @get(
        "/",
        summary="List emergency reviews",
        description="The reviews of emergency accesses the caller is party to, newest first: "
        "an owner sees those of accesses to its cameras (its report of unratified access with "
        "`flagged=true`), a requesting party its own, a hub operator all. Needs "
        "`consent:read`.",
        responses=problem_responses(400, 401, 403, 422),
    )
    async def list_reviews(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        status: ReviewStatus | None = Parameter(
            default=None, description="Only reviews in this state."
        ),
        flagged: bool | None = Parameter(
            default=None,
            description="true: only accesses flagged as not ratified in time; false: only "
            "those not flagged.",
        ),
        limit: int = Parameter(
            default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Page size."
        ),
        offset: int = Parameter(default=0, ge=0, description="How many reviews to skip."),
    ) -> EmergencyReviewPage:
        """List emergency reviews."""
        items, total = await service.list_reviews(
            session, principal, status=status, flagged=flagged, limit=limit, offset=offset
        )
        return EmergencyReviewPage(
            items=[_review_read(item) for item in items], total=total, limit=limit, offset=offset
        )

    @get(
        REVIEW_ID,
        summary="Read an emergency review",
        description="One review, for its owner party, its requesting party or a hub operator; "
        "404 for anyone else. Needs `consent:read`.",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def get_review(
        self, session: SessionDep, principal: PrincipalDep, review_id: FromPath[uuid.UUID]
    ) -> EmergencyReviewRead:
        """Read an emergency review."""
        return _review_read(await service.get_review(session, principal, review_id))

    @post(
        REVIEW_ID + "/ratify",
        summary="Ratify an emergency access",
        description="A second person ratifies the emergency access: a member of the requesting "
        "party whose role is supervisor or admin, not the member who made the request. Due "
        "within the hub's review window (24 h by default); a late ratification is recorded but "
        "the review stays flagged. The owner gets 403, other parties 404; 409 once ratified or "
        "closed. Needs `access:request`. Audited as `emergency_review.ratified`.",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 403, 404, 409, 422),
    )
    async def ratify_review(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        review_id: FromPath[uuid.UUID],
    ) -> EmergencyReviewRead:
        """Ratify an emergency access."""
        return _review_read(await service.ratify_review(session, principal, review_id, clock))

    @post(
        REVIEW_ID + "/close",
        summary="Close an emergency review",
        description="The owner of the cameras (or a hub operator) closes the review with a "
        "note, once it is ratified or flagged as unratified (409 while it still awaits "
        "ratification, or once closed). The requesting party gets 403, other parties 404. "
        "Needs `consent:write`. Audited as `emergency_review.closed`.",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 403, 404, 409, 422),
    )
    async def close_review(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        review_id: FromPath[uuid.UUID],
        data: JSONBody[ReviewClose],
    ) -> EmergencyReviewRead:
        """Close an emergency review."""
        closed = await service.close_review(session, principal, review_id, data.note, clock)
        return _review_read(closed)


class EmergencySuspensionController(Controller):
    """Emergency rights suspended after repeated unratified use, and their restoration."""

    path = "/emergency-suspensions"
    tags = ("emergencies",)

    @get(
        "/",
        summary="List suspended emergency rights",
        description="Suspensions of emergency rights, newest first: a hub operator sees all, "
        "a party its own. Needs `consent:read`.",
        responses=problem_responses(400, 401, 403, 422),
    )
    async def list_suspensions(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        active: bool | None = Parameter(
            default=None, description="true: only those still in force; false: only restored."
        ),
    ) -> list[EmergencySuspensionRead]:
        """List suspended emergency rights."""
        rows = await suspensions.list_suspensions(session, principal, active=active)
        return [_suspension_read(row) for row in rows]

    @post(
        "/{suspension_id:uuid}/restore",
        summary="Restore a suspended emergency right",
        description="A hub operator restores the party's emergency right under the agreement; "
        "unratified accesses from before no longer count towards a new suspension. The "
        "suspended party itself gets 403, others 404; 409 if already restored. Needs "
        "`registry:admin`. Audited as `emergency.right_restored`.",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 403, 404, 409, 422),
    )
    async def restore_suspension(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        suspension_id: FromPath[uuid.UUID],
    ) -> EmergencySuspensionRead:
        """Restore a suspended emergency right."""
        restored = await suspensions.restore_suspension(session, principal, suspension_id, clock)
        return _suspension_read(restored)


def _review_read(item: service.ReviewWithAccess) -> EmergencyReviewRead:
    review, request = item.review, item.request
    return EmergencyReviewRead(
        id=review.id,
        request_id=review.request_id,
        requester_party_id=review.requester_party_id,
        owner_party_id=review.owner_party_id,
        agreement_id=review.agreement_id,
        status=ReviewStatus(review.status),
        due_at=as_utc(review.due_at),
        ratified_by=review.ratified_by,
        ratified_at=_utc(review.ratified_at),
        flagged=review.unratified_flagged_at is not None,
        unratified_flagged_at=_utc(review.unratified_flagged_at),
        closed_by=review.closed_by,
        closed_at=_utc(review.closed_at),
        closing_note=review.closing_note,
        created_at=as_utc(review.created_at),
        access=ReviewedAccess(
            camera_ids=list(item.camera_ids),
            mode=request.mode,
            purpose=request.purpose,
            incident_latitude=request.incident_latitude,
            incident_longitude=request.incident_longitude,
            requested_at=as_utc(request.created_at),
        ),
    )


def _suspension_read(suspension: EmergencySuspension) -> EmergencySuspensionRead:
    return EmergencySuspensionRead(
        id=suspension.id,
        party_id=suspension.party_id,
        agreement_id=suspension.agreement_id,
        reason=suspension.reason,
        suspended_at=as_utc(suspension.suspended_at),
        active=suspension.restored_at is None,
        restored_by=suspension.restored_by,
        restored_at=_utc(suspension.restored_at),
    )


def _utc(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment is not None else None
