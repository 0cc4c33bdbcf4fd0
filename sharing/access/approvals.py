"""The approval workflow: approvers list, approve and refuse what pending requests wait for.

Owner tasks are decided by the camera owner's party (a client with ``consent:write``);
supervisor tasks by a member of the requesting party whose role is supervisor or admin, and
never by the member who made the request. The last approval decides the request again, with
every approval given, against the consents and agreements as they are then: it is minted a
token only if policy still allows it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.access.disclosure import RequestAudit, request_audit
from sharing.access.models import AccessRequest, ApprovalTask
from sharing.access.pending import (
    close_pending,
    lock_pending,
    open_approval_tasks,
    past_deadline,
)
from sharing.access.schemas import RequestStatus, TaskStatus
from sharing.access.service import record_decision, redecide
from sharing.access.tokens import mint_access_token
from sharing.audit.service import record
from sharing.clock import Clock
from sharing.consent.facts import Decision, Reason
from sharing.consent.templates import PolicyLibrary
from sharing.emergency.service import open_reviews
from sharing.errors import Conflict, NotFound, PermissionDenied
from sharing.oauth.keys import KeyRing
from sharing.parties.models import Member
from sharing.principal import Actor, Principal
from sharing.settings import Settings
from sharing.vocabulary import Role, Scope
from sharing.webhooks.schemas import EventType
from sharing.webhooks.service import emit

SUPERVISING_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
_READ_SCOPES = (Scope.CONSENT_READ, Scope.ACCESS_REQUEST)


async def list_approvals(
    session: AsyncSession,
    principal: Principal,
    *,
    status: TaskStatus | None,
    limit: int,
    offset: int,
    now: datetime,
) -> tuple[list[tuple[ApprovalTask, AccessRequest]], int]:
    """The approval tasks addressed to the caller's party, newest first, with their
    requests; ``status`` as readers see it (pending past the deadline is expired)."""
    if not any(scope in principal.scopes for scope in _READ_SCOPES):
        raise PermissionDenied(
            "reading approvals needs the scope 'consent:read' or 'access:request'",
            required_scope=[str(scope) for scope in _READ_SCOPES],
        )
    query = (
        select(ApprovalTask, AccessRequest)
        .join(AccessRequest, col(AccessRequest.id) == col(ApprovalTask.request_id))
        .where(col(ApprovalTask.approver_party_id) == principal.party_id)
    )
    if status is not None:
        query = query.where(_task_status_is(status, now))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.execute(
        query.order_by(col(ApprovalTask.created_at).desc(), col(ApprovalTask.id))
        .limit(limit)
        .offset(offset)
    )
    return [(task, request) for task, request in rows.all()], int(total or 0)


def effective_task_status(task: ApprovalTask, request: AccessRequest, now: datetime) -> TaskStatus:
    """A task still pending on a request past its deadline reads as expired."""
    if task.status == TaskStatus.PENDING and past_deadline(request, now):
        return TaskStatus.EXPIRED
    return TaskStatus(task.status)


async def approve(
    session: AsyncSession,
    principal: Principal,
    task_id: uuid.UUID,
    *,
    clock: Clock,
    policies: PolicyLibrary,
    keyring: KeyRing,
    settings: Settings,
) -> tuple[ApprovalTask, AccessRequest]:
    """Give one approval. If it was the last one, decide the request again: allow mints the
    token and tells the requester (``access_request.approved``); a new refusal denies it."""
    now = clock.now()
    task, request = await _decidable_task(session, principal, task_id, now)
    await _settle_task(session, task, TaskStatus.APPROVED, principal, now, reason=None)
    remaining = await session.scalar(
        select(func.count()).where(
            col(ApprovalTask.request_id) == request.id,
            col(ApprovalTask.status) == TaskStatus.PENDING,
        )
    )
    if not remaining:
        await _decide_approved(
            session,
            request,
            actor=Actor.of(principal),
            now=now,
            policies=policies,
            keyring=keyring,
            settings=settings,
        )
    await session.commit()
    return task, request


async def refuse(
    session: AsyncSession,
    principal: Principal,
    task_id: uuid.UUID,
    reason: str,
    *,
    clock: Clock,
) -> tuple[ApprovalTask, AccessRequest]:
    """Refuse one approval, and with it the request: it is denied with the approver's
    reason among its reasons, its other tasks are cancelled, the requester is told."""
    now = clock.now()
    task, request = await _decidable_task(session, principal, task_id, now)
    await _settle_task(session, task, TaskStatus.REFUSED, principal, now, reason=reason)
    who = "camera owner" if task.kind == "owner" else "supervisor"
    refusal = Reason(
        f"{task.kind}_refused",
        f"The {who} refused the request: {reason}",
        rule=f"approval.{task.kind}",
    )
    explanation = dict(request.explanation)
    previous = explanation.get("reasons")
    explanation |= {
        "outcome": "deny",
        "decided_at": now.isoformat(),
        "reasons": [*(previous if isinstance(previous, list) else []), refusal.to_dict()],
    }
    await close_pending(
        session,
        request,
        status=RequestStatus.DENIED,
        task_status=TaskStatus.CANCELLED,
        now=now,
        explanation=explanation,
    )
    audit = await request_audit(session, request)
    audit.record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="access_request.refused",
        purpose=request.purpose,
        outcome="deny",
        details={"approval_id": str(task.id), "kind": task.kind, "reason": reason},
    )
    emit(
        session,
        party_ids=[request.requester_party_id],
        event_type=EventType.ACCESS_REQUEST_REFUSED,
        payload={
            "request_id": request.id,
            "approval_id": task.id,
            "kind": task.kind,
            "refused_by_party_id": task.approver_party_id,
            "reasons": [refusal.to_dict()],
        },
        now=now,
    )
    await session.commit()
    return task, request


async def _decidable_task(
    session: AsyncSession, principal: Principal, task_id: uuid.UUID, now: datetime
) -> tuple[ApprovalTask, AccessRequest]:
    """The task if the caller may decide it, with its request locked while pending."""
    task = await session.get(ApprovalTask, task_id)
    if task is None or task.approver_party_id != principal.party_id:
        raise NotFound(f"no approval {task_id}")
    request = await session.get(AccessRequest, task.request_id)
    if request is None:
        raise NotFound(f"no approval {task_id}")
    await _authorize(session, principal, task, request)
    request = await lock_pending(session, request.id, now)
    await session.refresh(task)
    if task.status != TaskStatus.PENDING:
        raise Conflict(f"this approval was already {task.status}", approval_status=task.status)
    return task, request


async def _authorize(
    session: AsyncSession, principal: Principal, task: ApprovalTask, request: AccessRequest
) -> None:
    if task.kind == "owner":
        principal.require(Scope.CONSENT_WRITE)
        return
    principal.require(Scope.ACCESS_REQUEST)
    role = None
    if principal.member_id is not None:
        role = await session.scalar(
            select(col(Member.role)).where(
                col(Member.id) == principal.member_id, col(Member.party_id) == principal.party_id
            )
        )
    if role not in SUPERVISING_ROLES:
        raise PermissionDenied(
            "a supervisor approval needs a member of the requesting party whose role is "
            "supervisor or admin"
        )
    if principal.member_id == request.requester_member_id:
        raise PermissionDenied("the member who made a request cannot approve it as supervisor")


async def _settle_task(
    session: AsyncSession,
    task: ApprovalTask,
    status: TaskStatus,
    principal: Principal,
    now: datetime,
    *,
    reason: str | None,
) -> None:
    await session.execute(
        update(ApprovalTask)
        .where(col(ApprovalTask.id) == task.id, col(ApprovalTask.status) == TaskStatus.PENDING)
        .values(status=status, decided_by=principal.subject, decided_at=now, reason=reason)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(task)
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action=f"approval_task.{status}",
        object_type="approval_task",
        object_id=task.id,
        details={"request_id": str(task.request_id), "kind": task.kind, "reason": reason},
    )


async def _decide_approved(
    session: AsyncSession,
    request: AccessRequest,
    *,
    actor: Actor,
    now: datetime,
    policies: PolicyLibrary,
    keyring: KeyRing,
    settings: Settings,
) -> None:
    """Every task is approved: decide again with the approvals, and act on the outcome."""
    approved = await session.execute(
        select(col(ApprovalTask.kind), col(ApprovalTask.approver_party_id)).where(
            col(ApprovalTask.request_id) == request.id,
            col(ApprovalTask.status) == TaskStatus.APPROVED,
        )
    )
    granted = frozenset((str(kind), party_id) for kind, party_id in approved)
    decision = await redecide(
        session, request, granted_approvals=granted, policies=policies, settings=settings, now=now
    )
    audit = await request_audit(session, request)
    record_decision(session, request, decision, audit=audit, actor=actor, now=now)
    if decision.needs_approval and any(
        (need.kind, need.party_id) not in granted for need in decision.approvals
    ):
        # The consents changed while the request waited and now ask someone else too.
        request.explanation = decision.explanation()
        open_approval_tasks(session, request, decision, actor=actor, now=now, already_given=granted)
        return
    if decision.allowed:
        await _grant(session, request, decision, audit, actor, now, keyring, settings)
        return
    await close_pending(
        session,
        request,
        status=RequestStatus.DENIED,
        task_status=TaskStatus.CANCELLED,
        now=now,
        explanation=decision.explanation(),
    )
    emit(
        session,
        party_ids=[request.requester_party_id],
        event_type=EventType.ACCESS_REQUEST_REFUSED,
        payload={
            "request_id": request.id,
            "reasons": [reason.to_dict() for reason in decision.reasons],
        },
        now=now,
    )


async def _grant(
    session: AsyncSession,
    request: AccessRequest,
    decision: Decision,
    audit: RequestAudit,
    actor: Actor,
    now: datetime,
    keyring: KeyRing,
    settings: Settings,
) -> None:
    await close_pending(
        session,
        request,
        status=RequestStatus.APPROVED,
        task_status=TaskStatus.CANCELLED,  # none is left open; kept for symmetry
        now=now,
        explanation=decision.explanation(),
    )
    token = mint_access_token(
        session,
        request,
        decision,
        audit=audit,
        actor=actor,
        now=now,
        keyring=keyring,
        settings=settings,
    )
    if request.emergency:
        await open_reviews(session, request=request, decision=decision, now=now, settings=settings)
    emit(
        session,
        party_ids=[request.requester_party_id],
        event_type=EventType.ACCESS_REQUEST_APPROVED,
        payload={
            "request_id": request.id,
            "token_url": f"/access-requests/{request.id}/token",
            "expires_at": token.record.expires_at,
            "camera_ids": token.record.camera_ids,
        },
        now=now,
    )


def _task_status_is(status: TaskStatus, now: datetime) -> ColumnElement[bool]:
    stored = col(ApprovalTask.status)
    overdue = and_(stored == TaskStatus.PENDING, col(AccessRequest.pending_until) <= now)
    if status is TaskStatus.PENDING:
        return and_(stored == TaskStatus.PENDING, col(AccessRequest.pending_until) > now)
    if status is TaskStatus.EXPIRED:
        return or_(stored == TaskStatus.EXPIRED, overdue)
    return stored == status
