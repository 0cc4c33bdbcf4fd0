"""The pending state of an access request: opening it, and leaving it exactly once.

A request that waits for approvals is ``pending`` until ``pending_until``. It leaves that state
only through ``close_pending``: one guarded ``UPDATE`` of a still-pending row, so an approval,
a refusal, a withdrawal, a revocation cascade and the expiry sweep racing on one request
cannot both win. ``lock_pending`` serializes the approvers of one request on its row.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.access.disclosure import request_audit
from sharing.access.models import AccessRequest, ApprovalTask
from sharing.access.schemas import RequestStatus, TaskStatus
from sharing.audit.service import record
from sharing.clock import Clock, as_utc
from sharing.consent.facts import Decision
from sharing.errors import Conflict, NotFound
from sharing.principal import Actor, Principal
from sharing.vocabulary import Scope
from sharing.webhooks.schemas import EventType
from sharing.webhooks.service import emit


def open_approval_tasks(
    session: AsyncSession,
    request: AccessRequest,
    decision: Decision,
    *,
    actor: Actor,
    now: datetime,
    already_given: frozenset[tuple[str, uuid.UUID]] = frozenset(),
) -> list[ApprovalTask]:
    """One task per approval ``decision`` waits for (but those ``already_given``), audited
    and announced to the approvers (``approval.requested``) and the requester
    (``access_request.pending``)."""
    tasks = [
        ApprovalTask(
            request_id=request.id,
            kind=need.kind,
            approver_party_id=need.party_id,
            camera_ids=[str(camera) for camera in need.camera_ids],
            consent_id=need.consent_id,
            created_at=now,
        )
        for need in decision.approvals
        if (need.kind, need.party_id) not in already_given
    ]
    session.add_all(tasks)
    for task in tasks:
        record(
            session,
            at=now,
            actor=actor,
            action="approval_task.opened",
            object_type="approval_task",
            object_id=task.id,
            purpose=request.purpose,
            details={
                "request_id": str(request.id),
                "kind": task.kind,
                "approver_party_id": str(task.approver_party_id),
                "camera_ids": task.camera_ids,
            },
        )
        emit(
            session,
            party_ids=[task.approver_party_id],
            event_type=EventType.APPROVAL_REQUESTED,
            payload={
                "approval_id": task.id,
                "request_id": request.id,
                "kind": task.kind,
                "camera_ids": task.camera_ids,
                "requester_party_id": request.requester_party_id,
                "mode": request.mode,
                "purpose": request.purpose,
                "emergency": request.emergency,
                "pending_until": request.pending_until,
            },
            now=now,
        )
    emit(
        session,
        party_ids=[request.requester_party_id],
        event_type=EventType.ACCESS_REQUEST_PENDING,
        payload={
            "request_id": request.id,
            "pending_until": request.pending_until,
            "approvals": [
                {"id": t.id, "kind": t.kind, "approver_party_id": t.approver_party_id}
                for t in tasks
            ],
        },
        now=now,
    )
    return tasks


def effective_status(request: AccessRequest, now: datetime) -> RequestStatus:
    """The request's status as readers see it: pending past ``pending_until`` is expired,
    whether or not the sweep has recorded that yet."""
    if request.status == RequestStatus.PENDING and past_deadline(request, now):
        return RequestStatus.EXPIRED
    return RequestStatus(request.status)


def past_deadline(request: AccessRequest, now: datetime) -> bool:
    """Whether the request's approvals have run out of time (``pending_until`` has passed)."""
    return request.pending_until is not None and as_utc(request.pending_until) <= now


async def lock_pending(
    session: AsyncSession, request_id: uuid.UUID, now: datetime
) -> AccessRequest:
    """Take the request's row lock while it is still pending and in time, or raise
    ``Conflict`` naming its state.

    An ``UPDATE`` that changes nothing: on PostgreSQL it locks the row, on SQLite it takes
    the database's write lock; either way, concurrent approvers of one request go one after
    the other and each sees what the one before committed.
    """
    locked = await session.execute(
        update(AccessRequest)
        .where(
            col(AccessRequest.id) == request_id,
            col(AccessRequest.status) == RequestStatus.PENDING,
            col(AccessRequest.pending_until) > now,
        )
        .values(status=col(AccessRequest.status))
        .execution_options(synchronize_session=False)
    )
    request = await session.get(AccessRequest, request_id, populate_existing=True)
    if request is None:
        raise NotFound(f"no access request {request_id}")
    if locked.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult of an UPDATE
        status = effective_status(request, now)
        raise Conflict(
            f"the access request is {status}, no longer pending", request_status=str(status)
        )
    return request


async def close_pending(
    session: AsyncSession,
    request: AccessRequest,
    *,
    status: RequestStatus,
    task_status: TaskStatus,
    now: datetime,
    explanation: dict[str, object] | None = None,
) -> bool:
    """Move a pending request to its final ``status`` and its open tasks to
    ``task_status``; False if it was no longer pending (another change won)."""
    values: dict[str, object] = {"status": status, "decided_at": now}
    if explanation is not None:
        values["explanation"] = explanation
    closed = await session.execute(
        update(AccessRequest)
        .where(
            col(AccessRequest.id) == request.id,
            col(AccessRequest.status) == RequestStatus.PENDING,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if closed.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult of an UPDATE
        return False
    await session.execute(
        update(ApprovalTask)
        .where(
            col(ApprovalTask.request_id) == request.id,
            col(ApprovalTask.status) == TaskStatus.PENDING,
        )
        .values(status=task_status, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(request)
    return True


async def open_task_parties(session: AsyncSession, request_id: uuid.UUID) -> set[uuid.UUID]:
    """The parties whose approval the request still waits for."""
    rows = await session.scalars(
        select(col(ApprovalTask.approver_party_id)).where(
            col(ApprovalTask.request_id) == request_id,
            col(ApprovalTask.status) == TaskStatus.PENDING,
        )
    )
    return set(rows)


async def withdraw(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, *, clock: Clock
) -> AccessRequest:
    """The requesting party takes back a pending request; its approvers are told."""
    principal.require(Scope.ACCESS_REQUEST)
    now = clock.now()
    request = await session.get(AccessRequest, request_id)
    if request is None or request.requester_party_id != principal.party_id:
        raise NotFound(f"no access request {request_id}")
    request = await lock_pending(session, request_id, now)
    approvers = await open_task_parties(session, request.id)
    await close_pending(
        session,
        request,
        status=RequestStatus.WITHDRAWN,
        task_status=TaskStatus.CANCELLED,
        now=now,
    )
    audit = await request_audit(session, request)
    audit.record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="access_request.withdrawn",
        purpose=request.purpose,
    )
    emit(
        session,
        party_ids={request.requester_party_id, *approvers},
        event_type=EventType.ACCESS_REQUEST_WITHDRAWN,
        payload={"request_id": request.id},
        now=now,
    )
    await session.commit()
    return request
