"""The one place that writes audit events.

``record`` only adds the event to the caller's session: it is committed, or rolled back,
together with the change it describes, and becomes a leaf of the Merkle log when the
session flushes (``sharing.audit.log``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.log import PendingEvent, note_pending
from sharing.audit.models import AuditEvent
from sharing.principal import Actor


def record(
    session: AsyncSession,
    *,
    at: datetime,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object,
    outcome: str = "success",
    purpose: str | None = None,
    details: Mapping[str, object] | None = None,
    camera_ids: Iterable[str] = (),
) -> AuditEvent:
    """Append an audit event to the session's transaction.

    ``details`` may still be changed until the session flushes; after that the event is a
    leaf of the log and can no longer change. ``camera_ids`` lists the cameras the event
    concerns, for their owners' access reports.
    """
    event = AuditEvent(
        occurred_at=at,
        actor_party_id=actor.party_id,
        actor_member_id=actor.member_id,
        actor_client_id=actor.client_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        outcome=outcome,
        purpose=purpose,
        details=dict(details or {})
        if actor.on_behalf_of is None
        else {**(details or {}), "on_behalf_of": actor.on_behalf_of.as_details()},
    )
    session.add(event)
    note_pending(session, PendingEvent(event, tuple(camera_ids)))
    return event


async def list_events(
    session: AsyncSession,
    *,
    after_id: int = -1,
    limit: int = 100,
    object_id: str | None = None,
    actions: Sequence[str] | None = None,
    party_id: str | None = None,
) -> list[AuditEvent]:
    """Events in the order they were recorded, optionally narrowed."""
    query = select(AuditEvent).where(col(AuditEvent.id) > after_id)
    if object_id is not None:
        query = query.where(col(AuditEvent.object_id) == object_id)
    if actions:
        query = query.where(col(AuditEvent.action).in_(actions))
    if party_id is not None:
        query = query.where(col(AuditEvent.actor_party_id) == party_id)
    query = query.order_by(col(AuditEvent.id)).limit(limit)
    return list((await session.execute(query)).scalars())
