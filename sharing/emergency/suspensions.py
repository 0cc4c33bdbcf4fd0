"""Suspended emergency rights: a party lists its own, a hub operator lists and restores."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.service import record
from sharing.clock import Clock
from sharing.emergency.models import EmergencySuspension
from sharing.emergency.service import require_read
from sharing.errors import Conflict, NotFound
from sharing.principal import Actor, Principal
from sharing.vocabulary import Scope


async def list_suspensions(
    session: AsyncSession, principal: Principal, *, active: bool | None
) -> list[EmergencySuspension]:
    """Suspended emergency rights, newest first: a party sees its own, an operator all."""
    require_read(principal)
    query = select(EmergencySuspension)
    if not principal.is_registry_admin:
        query = query.where(col(EmergencySuspension.party_id) == principal.party_id)
    if active is not None:
        restored = col(EmergencySuspension.restored_at)
        query = query.where(restored.is_(None) if active else restored.is_not(None))
    newest_first = (col(EmergencySuspension.suspended_at).desc(), col(EmergencySuspension.id))
    query = query.order_by(*newest_first)
    return list(await session.scalars(query))


async def restore_suspension(
    session: AsyncSession, principal: Principal, suspension_id: uuid.UUID, clock: Clock
) -> EmergencySuspension:
    """Restore a party's suspended emergency right: hub operators (``registry:admin``) only.

    Flags from before the restoration no longer count towards a new suspension.
    """
    suspension = await session.get(EmergencySuspension, suspension_id)
    if suspension is None or not principal.may_act_for(suspension.party_id):
        raise NotFound("no such emergency suspension", suspension_id=str(suspension_id))
    principal.require(Scope.REGISTRY_ADMIN)
    if suspension.restored_at is not None:
        raise Conflict("the emergency right was already restored")
    now = clock.now()
    suspension.restored_at = now
    suspension.restored_by = principal.subject
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="emergency.right_restored",
        object_type="emergency_suspension",
        object_id=suspension.id,
        details={
            "party_id": str(suspension.party_id),
            "agreement_id": str(suspension.agreement_id),
        },
    )
    await session.commit()
    return suspension
