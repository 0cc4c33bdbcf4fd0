"""HTTP routes of the approvals that pending access requests wait for."""

from __future__ import annotations

import uuid
from datetime import datetime

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, Parameter

from sharing.access import approvals, pending
from sharing.access.models import AccessRequest, ApprovalTask
from sharing.access.schemas import (
    ApprovalDecided,
    ApprovalPage,
    ApprovalRead,
    ApprovalRefuse,
    TaskStatus,
)
from sharing.clock import as_utc
from sharing.dependencies import (
    ClockDep,
    KeyRingDep,
    PoliciesDep,
    PrincipalDep,
    SessionDep,
    SettingsDep,
)
from sharing.openapi import problem_responses

_APPROVAL_ID = "/{approval_id:uuid}"


class ApprovalController(Controller):
    """Approvals that pending access requests wait for: the owner's, or a supervisor's."""

    path = "/approvals"
    tags = ("approvals",)

    @get(
        "/",
        summary="List the approvals my party is asked for",
        description="Approval tasks addressed to the caller's party, newest first, each with "
        "the request it is about. Needs `consent:read` or `access:request`.",
        responses=problem_responses(401, 403, 422),
    )
    async def list_approvals(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        status: TaskStatus | None = Parameter(
            default=None, description="Only tasks in this state."
        ),
        limit: int = Parameter(default=50, ge=1, le=200, description="Page size."),
        offset: int = Parameter(default=0, ge=0, description="How many to skip."),
    ) -> ApprovalPage:
        """List the caller's party's approval tasks."""
        now = clock.now()
        rows, total = await approvals.list_approvals(
            session, principal, status=status, limit=limit, offset=offset, now=now
        )
        return ApprovalPage(
            items=[_approval(task, request, now) for task, request in rows],
            total=total,
            limit=limit,
            offset=offset,
        )

    @post(
        _APPROVAL_ID + "/approve",
        summary="Approve",
        description="Gives the approval. Owner approvals: the camera owner's party, with "
        "`consent:write`. Supervisor approvals: a member of the requesting party whose role "
        "is supervisor or admin (not the requester), with `access:request`. When it is the "
        "last approval, policy decides the request again and, if it allows, mints the "
        "token. Other parties get 404; a request no longer pending is 409. Audited as "
        "`approval_task.approved`.",
        status_code=200,
        responses=problem_responses(401, 403, 404, 409),
    )
    async def approve(
        self,
        approval_id: FromPath[uuid.UUID],
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        policies: PoliciesDep,
        keyring: KeyRingDep,
        settings: SettingsDep,
    ) -> ApprovalDecided:
        """Approve one task."""
        task, request = await approvals.approve(
            session,
            principal,
            approval_id,
            clock=clock,
            policies=policies,
            keyring=keyring,
            settings=settings,
        )
        return _decided(task, request, clock.now())

    @post(
        _APPROVAL_ID + "/refuse",
        summary="Refuse",
        description="Refuses the approval and so the request, which is denied with the "
        "reason among its reasons; the requester is notified (`access_request.refused`). "
        "Who may refuse is who may approve. Audited as `approval_task.refused`.",
        status_code=200,
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def refuse(
        self,
        approval_id: FromPath[uuid.UUID],
        data: JSONBody[ApprovalRefuse],
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
    ) -> ApprovalDecided:
        """Refuse one task."""
        task, request = await approvals.refuse(
            session, principal, approval_id, data.reason, clock=clock
        )
        return _decided(task, request, clock.now())


def _decided(task: ApprovalTask, request: AccessRequest, now: datetime) -> ApprovalDecided:
    return ApprovalDecided(
        approval=_approval(task, request, now),
        request_status=pending.effective_status(request, now),
    )


def _approval(task: ApprovalTask, request: AccessRequest, now: datetime) -> ApprovalRead:
    return ApprovalRead(
        id=task.id,
        request_id=task.request_id,
        kind=task.kind,
        approver_party_id=task.approver_party_id,
        camera_ids=[uuid.UUID(c) for c in task.camera_ids],
        consent_id=task.consent_id,
        status=approvals.effective_task_status(task, request, now),
        decided_by=task.decided_by,
        decided_at=as_utc(task.decided_at) if task.decided_at else None,
        reason=task.reason,
        created_at=as_utc(task.created_at),
        requester_party_id=request.requester_party_id,
        requester_member_id=request.requester_member_id,
        mode=request.mode,
        purpose=request.purpose,
        legal_basis=request.legal_basis,
        justification=request.justification,
        emergency=request.emergency,
        footage_start=as_utc(request.footage_start) if request.footage_start else None,
        footage_end=as_utc(request.footage_end) if request.footage_end else None,
        pending_until=as_utc(request.pending_until) if request.pending_until else None,
    )
