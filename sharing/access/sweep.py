"""Expire pending requests whose approvals did not all come in time.

Readers already treat a pending request past its ``pending_until`` as expired; the sweep makes
it so in the database, closes its approval tasks, audits it and tells the requester and the
approvers (``access_request.expired``).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from sharing.access.disclosure import request_audit
from sharing.access.models import AccessRequest
from sharing.access.pending import close_pending, open_task_parties
from sharing.access.schemas import RequestStatus, TaskStatus
from sharing.clock import Clock
from sharing.principal import Actor
from sharing.settings import Settings
from sharing.webhooks.schemas import EventType
from sharing.webhooks.service import emit

log = logging.getLogger("sharing.access.sweep")

BATCH_SIZE = 200


async def expire_overdue_requests(
    session: AsyncSession, *, clock: Clock, limit: int = BATCH_SIZE
) -> int:
    """Expire up to ``limit`` pending requests past their deadline; returns how many.

    Safe beside other nodes and beside approvers: each request is closed by a guarded
    update, so one that was approved, refused or withdrawn meanwhile is left alone.
    """
    now = clock.now()
    overdue = (
        await session.scalars(
            select(AccessRequest)
            .where(
                col(AccessRequest.status) == RequestStatus.PENDING,
                col(AccessRequest.pending_until) <= now,
            )
            .order_by(col(AccessRequest.pending_until))
            .limit(limit)
        )
    ).all()
    expired = 0
    actor = Actor.system("approval-sweep")
    for request in overdue:
        approvers = await open_task_parties(session, request.id)
        if not await close_pending(
            session,
            request,
            status=RequestStatus.EXPIRED,
            task_status=TaskStatus.EXPIRED,
            now=now,
        ):
            continue
        expired += 1
        audit = await request_audit(session, request)
        audit.record(
            session,
            at=now,
            actor=actor,
            action="access_request.expired",
            purpose=request.purpose,
            details={"awaited_party_ids": sorted(str(party) for party in approvers)},
        )
        emit(
            session,
            party_ids={request.requester_party_id, *approvers},
            event_type=EventType.ACCESS_REQUEST_EXPIRED,
            payload={
                "request_id": request.id,
                "pending_until": request.pending_until,
                "awaited_party_ids": sorted(str(party) for party in approvers),
            },
            now=now,
        )
    await session.commit()
    return expired


async def run_expiry_loop(
    sessionmaker: async_sessionmaker[AsyncSession], *, clock: Clock, settings: Settings
) -> None:
    """Expire overdue requests every ``settings.sweep_interval_seconds`` until cancelled."""
    while True:
        await asyncio.sleep(settings.sweep_interval_seconds)
        try:
            async with sessionmaker() as session:
                while await expire_overdue_requests(session, clock=clock) == BATCH_SIZE:
                    pass  # a full batch: more may be overdue
        except Exception:  # one bad pass must not end the loop
            log.exception("expiring pending access requests failed; trying again next pass")
