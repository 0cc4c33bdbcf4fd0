"""Reads of the consent domain's link tables: the parties an agreement binds, and the cameras
a consent lists by id."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from uuid import UUID

from sqlalchemy import bindparam, select
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
    if among is None:
        return await _grouped(
            session, col(ConsentCamera.consent_id), col(ConsentCamera.camera_id), consent_ids
        )
    rows = await session.execute(
        _LISTED_AMONG, {"consent_ids": list(consent_ids), "among": list(among)}
    )
    return _group(rows)


# Every access decision runs this one: built once, as building it per call costs more CPU
# than running it. Expanding parameters take IN lists of any length, the empty one included.
_LISTED_AMONG = select(col(ConsentCamera.consent_id), col(ConsentCamera.camera_id)).where(
    col(ConsentCamera.consent_id).in_(bindparam("consent_ids", expanding=True)),
    col(ConsentCamera.camera_id).in_(bindparam("among", expanding=True)),
)


async def _grouped(
    session: AsyncSession,
    key: Mapped[UUID],
    value: Mapped[UUID],
    keys: Collection[UUID],
) -> defaultdict[UUID, list[UUID]]:
    rows = await session.execute(select(key, value).where(key.in_(keys)))
    return _group(rows)


def _group(rows: Iterable[tuple[UUID, UUID]]) -> defaultdict[UUID, list[UUID]]:
    grouped: defaultdict[UUID, list[UUID]] = defaultdict(list)
    for key_id, value_id in rows:
        grouped[key_id].append(value_id)
    return grouped
