"""The one place that writes audit events.

``record`` only adds the event to the caller's session: it is committed, or rolled back,
together with the change it describes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

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
) -> AuditEvent:
    """Append an audit event to the session's transaction."""
    event = AuditEvent(
        occurred_at=at,
        action=action,
        actor_party_id=actor.party_id,
        actor_member_id=actor.member_id,
        actor_client_id=actor.client_id,
        object_type=object_type,
        object_id=str(object_id),
        purpose=purpose,
        outcome=outcome,
        details=dict(details or {}),
    )
    session.add(event)
    return event


async def list_events(
    session: AsyncSession,
    *,
    after_id: int = 0,
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
