"""Reads of the consent domain's link tables: the parties an agreement binds, and the cameras
a consent lists by id."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from uuid import UUID

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlmodel import col

from sharing.consent.models import AgreementParty, ConsentCamera


async def agreement_parties(
    session: AsyncSession, agreement_ids: Collection[UUID]
) -> defaultdict[UUID, list[UUID]]:
    """The parties each agreement binds, by agreement id (empty for unknown ids)."""
    return await _grouped(
        session, col(AgreementParty.agreement_id), col(AgreementParty.party_id), agreement_ids
    )


async def parties_bound(
    session: AsyncSession, agreement_id: UUID, party_ids: Collection[UUID]
) -> set[UUID]:
    """Which of ``party_ids`` the agreement binds; a regulation may bind thousands of others."""
    rows = await session.execute(
        select(col(AgreementParty.party_id)).where(
            col(AgreementParty.agreement_id) == agreement_id,
            col(AgreementParty.party_id).in_(party_ids),
        )
    )
    return set(rows.scalars())


async def consent_cameras(
    session: AsyncSession,
    consent_ids: Collection[UUID],
    *,
    among: Collection[UUID] | None = None,
) -> defaultdict[UUID, list[UUID]]:
    """The cameras each consent lists, by consent id; only those ``among`` some, if given."""
    camera_id = col(ConsentCamera.camera_id)
    return await _grouped(
        session,
        col(ConsentCamera.consent_id),
        camera_id,
        consent_ids,
        *([] if among is None else [camera_id.in_(among)]),
    )


async def _grouped(
    session: AsyncSession,
    key: Mapped[UUID],
    value: Mapped[UUID],
    keys: Collection[UUID],
    *conditions: ColumnElement[bool],
) -> defaultdict[UUID, list[UUID]]:
    rows = await session.execute(select(key, value).where(key.in_(keys), *conditions))
    grouped: defaultdict[UUID, list[UUID]] = defaultdict(list)
    for key_id, value_id in rows:
        grouped[key_id].append(value_id)
    return grouped
