"""Reading past access requests: a party's own list, one request, and why it was decided."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.access.models import AccessRequest, ApprovalTask
from sharing.access.schemas import RequestStatus
from sharing.access.seals import sealed_now
from sharing.cameras.models import Camera
from sharing.errors import NotFound
from sharing.parties.models import Party
from sharing.principal import Principal
from sharing.vocabulary import PartyKind, Scope


async def get_access_request(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID
) -> AccessRequest:
    """A past request, readable by the requesting party (and hub operators)."""
    request = await session.get(AccessRequest, request_id)
    if request is None or not principal.may_act_for(request.requester_party_id):
        raise NotFound(f"no access request {request_id}")
    return request


async def list_access_requests(
    session: AsyncSession,
    principal: Principal,
    *,
    status: RequestStatus | None,
    limit: int,
    offset: int,
    now: datetime,
) -> tuple[list[AccessRequest], int]:
    """The caller's party's requests, newest first; ``status`` as readers see it."""
    query = select(AccessRequest)
    if not principal.is_registry_admin:
        query = query.where(col(AccessRequest.requester_party_id) == principal.party_id)
    if status is not None:
        query = query.where(_status_is(status, now))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    page = await session.execute(
        query.order_by(col(AccessRequest.created_at).desc(), col(AccessRequest.id))
        .limit(limit)
        .offset(offset)
    )
    return list(page.scalars()), int(total or 0)


async def get_explanation(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, *, now: datetime
) -> tuple[AccessRequest, list[ApprovalTask]]:
    """A request's explanation and approvals, for those who may ask why: the requesting
    party, the owners of its cameras (not while the access is sealed), hub operators and
    the operator's auditors."""
    request = await session.get(AccessRequest, request_id)
    if request is None or not await _may_read_explanation(session, principal, request, now):
        raise NotFound(f"no access request {request_id}")
    tasks = await session.scalars(
        select(ApprovalTask)
        .where(col(ApprovalTask.request_id) == request.id)
        .order_by(col(ApprovalTask.created_at), col(ApprovalTask.id))
    )
    return request, list(tasks)


# --- Private ------------------------------------------------------------------------------


async def _may_read_explanation(
    session: AsyncSession, principal: Principal, request: AccessRequest, now: datetime
) -> bool:
    if principal.party_id == request.requester_party_id or principal.is_registry_admin:
        return True
    owners = await session.scalars(
        select(col(Camera.owner_party_id)).where(
            col(Camera.id).in_([uuid.UUID(camera) for camera in request.camera_ids])
        )
    )
    if principal.party_id in set(owners):
        return not await sealed_now(session, request.id, now)
    if Scope.AUDIT_READ not in principal.scopes:
        return False
    kind = await session.scalar(select(col(Party.kind)).where(col(Party.id) == principal.party_id))
    return kind == PartyKind.COMMAND_CENTER


def _status_is(status: RequestStatus, now: datetime) -> ColumnElement[bool]:
    stored = col(AccessRequest.status)
    overdue = and_(stored == RequestStatus.PENDING, col(AccessRequest.pending_until) <= now)
    if status is RequestStatus.PENDING:
        return and_(stored == RequestStatus.PENDING, col(AccessRequest.pending_until) > now)
    if status is RequestStatus.EXPIRED:
        return or_(stored == RequestStatus.EXPIRED, overdue)
    return stored == status
