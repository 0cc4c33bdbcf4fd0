"""Remote cameras in this hub's camera search: the cameras peers' catalogs share with it.

Remote cameras of active peers are found by every caller with ``registry:read``: a peer
shares them with this hub's party there, and the home hub decides each forwarded request
itself. Filters a remote camera cannot meet (owner, area, visibility, a status other than
active) leave them out; the tag, the bounding box and the radius apply. Like local search,
the database pages and counts them: a peer may share a whole city.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import replace

from sqlalchemy import ColumnElement, String, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.cameras import search as camera_search
from sharing.cameras.schemas import (
    CameraLocation,
    CameraPage,
    CameraRead,
    CameraSearch,
    CameraStatus,
    NearPoint,
)
from sharing.clock import as_utc
from sharing.federation.models import FederationPeer, RemoteCamera
from sharing.federation.peers import ACTIVE
from sharing.principal import Principal
from sharing.vocabulary import Mode, Visibility


async def search_with_remote(
    session: AsyncSession,
    principal: Principal,
    search: CameraSearch,
    visible_to: ColumnElement[bool] | None,
) -> CameraPage:
    """Camera search with remote cameras merged in, each marked with its ``home_hub``: by
    name then id, or nearest first for a radius search; ``total`` counts both."""
    wanted = search.offset + search.limit
    first = replace(search, limit=wanted, offset=0)
    local = await camera_search.search_cameras(session, principal, first, visible_to)
    remote: list[CameraRead] = []
    remote_total = 0
    if _remote_can_match(search):
        remote, remote_total = await _remote_page(session, search, wanted)
    merged = sorted([*local.items, *remote], key=lambda item: _rank(item, search))
    return CameraPage(
        items=merged[search.offset : wanted],
        total=local.total + remote_total,
        limit=search.limit,
        offset=search.offset,
    )


def _remote_can_match(search: CameraSearch) -> bool:
    area = (search.owner_party_id, search.city, search.district, search.village, search.rw)
    return (
        all(value is None for value in area)
        and search.visibility is None
        and search.status in (None, CameraStatus.ACTIVE)
    )


def _rank(item: CameraRead, search: CameraSearch) -> tuple[float, str, str]:
    if search.near is not None:
        return (item.distance_m or 0.0, "", str(item.id))
    return (0.0, item.name, str(item.id))


async def _remote_page(
    session: AsyncSession, search: CameraSearch, wanted: int
) -> tuple[list[CameraRead], int]:
    """The first ``wanted`` matching remote cameras in search order, and how many match."""
    conditions = _conditions(search)
    query = (
        select(RemoteCamera, col(FederationPeer.issuer), col(FederationPeer.party_id))
        .join(FederationPeer, col(FederationPeer.id) == col(RemoteCamera.peer_id))
        .where(*conditions)
    )
    if search.near is None:
        total = await session.scalar(
            select(func.count())
            .select_from(RemoteCamera)
            .join(FederationPeer, col(FederationPeer.id) == col(RemoteCamera.peer_id))
            .where(*conditions)
        )
        rows = await session.execute(
            query.order_by(col(RemoteCamera.name), col(RemoteCamera.camera_id)).limit(wanted)
        )
        return [_remote_read(*row) for row in rows], total or 0
    # A radius search: the box around the circle narrows in SQL, the distance in Python.
    near = search.near
    rows = await session.execute(query.where(*_box_around(near)))
    hits = []
    for camera, issuer, party_id in rows:
        distance = camera_search.distance_m(
            near.latitude, near.longitude, camera.latitude, camera.longitude
        )
        if distance <= near.radius_m:
            hits.append((distance, camera.camera_id, camera, issuer, party_id))
    hits.sort(key=lambda hit: (hit[0], hit[1]))
    page = [_remote_read(camera, issuer, party, d) for d, _, camera, issuer, party in hits]
    return page[:wanted], len(hits)


def _conditions(search: CameraSearch) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [col(FederationPeer.status) == ACTIVE]
    if search.tag is not None:
        # Tags match TAG_PATTERN (no quotes), so the quoted tag occurs in the JSON text of
        # the list exactly when the list holds it, on SQLite and PostgreSQL alike.
        conditions.append(cast(col(RemoteCamera.tags), String).contains(f'"{search.tag}"'))
    if search.bbox is not None:
        box = search.bbox
        conditions.append(col(RemoteCamera.latitude).between(box.min_lat, box.max_lat))
        conditions.append(col(RemoteCamera.longitude).between(box.min_lon, box.max_lon))
    return conditions


def _box_around(near: NearPoint) -> list[ColumnElement[bool]]:
    """A latitude/longitude box holding the circle (every longitude near a pole or across
    the antimeridian: those rare circles are measured in Python)."""
    dlat = math.degrees(near.radius_m / camera_search.EARTH_RADIUS_M)
    box: list[ColumnElement[bool]] = [
        col(RemoteCamera.latitude).between(near.latitude - dlat, near.latitude + dlat)
    ]
    if abs(near.latitude) + dlat >= 89:
        return box
    dlon = dlat / math.cos(math.radians(abs(near.latitude) + dlat))
    if near.longitude - dlon < -180 or near.longitude + dlon > 180:
        return box
    box.append(col(RemoteCamera.longitude).between(near.longitude - dlon, near.longitude + dlon))
    return box


def _remote_read(
    camera: RemoteCamera, issuer: str, party_id: uuid.UUID, distance: float | None = None
) -> CameraRead:
    return CameraRead(
        id=uuid.UUID(camera.camera_id),
        owner_party_id=party_id,  # the local party standing for the home hub
        name=camera.name,
        location=CameraLocation(
            latitude=camera.latitude,
            longitude=camera.longitude,
            address="",
            province="",
            city="",
            district="",
            village="",
            rw="",
        ),
        tags=sorted(camera.tags),
        visibility=Visibility.PARTNERS,
        retention_days=0,
        status=CameraStatus.ACTIVE,
        created_at=as_utc(camera.synced_at),
        updated_at=as_utc(camera.synced_at),
        has_stream_source=False,
        distance_m=None if distance is None else round(distance, 1),
        home_hub=issuer,
        modes=[Mode(mode) for mode in camera.modes],
    )
