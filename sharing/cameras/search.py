"""Camera search: filters, bounding boxes and radius searches over the registry.

Which cameras a caller may see is not decided here: callers pass ``visible_to``, a SQL
condition on ``Camera`` built by the consent domain (or ``None`` for hub administrators).

A radius search must answer on a city's 20,000 cameras without weighing each of them in
Python. The database orders and counts by a planar stand-in for the distance (degrees of
latitude and of longitude scaled to the circle's latitude), which it can evaluate; that
stand-in is within known factors of the true (haversine) distance over the circle's
bounding box, so only the cameras whose place in the answer those factors leave in doubt
(a thin ring at the circle's edge, and a few just past the requested page) travel to Python
for the exact distance. The result is the same as measuring every camera exactly.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.cameras.models import Camera, CameraTag
from sharing.cameras.schemas import (
    BoundingBox,
    CameraPage,
    CameraSearch,
    CameraStatus,
    NearPoint,
)
from sharing.cameras.service import camera_read, tags_of
from sharing.errors import InvalidInput
from sharing.principal import Principal
from sharing.vocabulary import Scope

EARTH_RADIUS_M = 6_371_008.8
"""The mean Earth radius (IUGG); haversine distances on it are within 0.5 % of WGS 84's."""

# Slack on the planar bounds for the database's and Python's float rounding (~1e-15).
_ROUNDING = 1e-9
# Rows a radius search fetches past its page, so ties within the key's error come along.
_PAGE_SLACK = 16


def bounding_box(
    min_lat: float | None, min_lon: float | None, max_lat: float | None, max_lon: float | None
) -> BoundingBox | None:
    """Build a search rectangle from its four query parameters: all of them or none."""
    corners = {"min_lat": min_lat, "min_lon": min_lon, "max_lat": max_lat, "max_lon": max_lon}
    given = {name: value for name, value in corners.items() if value is not None}
    if not given:
        return None
    missing = [name for name in corners if name not in given]
    if missing:
        raise InvalidInput(missing[0], "a bounding box needs min_lat, min_lon, max_lat, max_lon")
    box = BoundingBox(given["min_lat"], given["min_lon"], given["max_lat"], given["max_lon"])
    if box.min_lat > box.max_lat:
        raise InvalidInput("min_lat", "must not exceed max_lat")
    if box.min_lon > box.max_lon:
        raise InvalidInput("min_lon", "must not exceed max_lon")
    return box


def near_point(
    near_lat: float | None, near_lon: float | None, radius_m: int | None
) -> NearPoint | None:
    """Build a radius search's circle from its three query parameters: all of them or none."""
    if near_lat is None and near_lon is None and radius_m is None:
        return None
    if near_lat is None or near_lon is None or radius_m is None:
        given = {"near_lat": near_lat, "near_lon": near_lon, "radius_m": radius_m}
        missing = [name for name, value in given.items() if value is None]
        raise _missing_together(missing, "a radius search needs near_lat, near_lon and radius_m")
    return NearPoint(near_lat, near_lon, radius_m)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle (haversine) distance in metres between two WGS 84 points."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    half_dphi = (phi2 - phi1) / 2
    half_dlambda = math.radians(lon2 - lon1) / 2
    h = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


async def search_cameras(
    session: AsyncSession,
    principal: Principal,
    search: CameraSearch,
    visible_to: ColumnElement[bool] | None,
) -> CameraPage:
    """One page of the cameras the caller may see that match ``search``.

    Ordered by name then id; with ``search.near``, nearest first (then by id) and each item
    carries its ``distance_m``.
    """
    principal.require(Scope.REGISTRY_READ)
    conditions = _search_conditions(search)
    if visible_to is not None:
        conditions.append(visible_to)
    if search.near is not None:
        return await _search_near(session, search, search.near, conditions)
    total = await _count(session, search, conditions)
    cameras = list(
        await session.scalars(
            select(Camera)
            .where(*conditions)
            .order_by(col(Camera.name), col(Camera.id))
            .limit(search.limit)
            .offset(search.offset)
        )
    )
    tags = await tags_of(session, [camera.id for camera in cameras])
    return CameraPage(
        items=[camera_read(camera, tags[camera.id]) for camera in cameras],
        total=total,
        limit=search.limit,
        offset=search.offset,
    )


async def cameras_within(
    session: AsyncSession, *, latitude: float, longitude: float, radius_m: int, limit: int = 50
) -> list[uuid.UUID]:
    """The active cameras within ``radius_m`` metres of a point, nearest first, at most ``limit``.

    Not narrowed to what anyone may see: the emergency flow asks policy about each camera
    after finding them, and policy refuses the ones no consent or term covers.
    """
    near = NearPoint(latitude, longitude, radius_m)
    conditions = [col(Camera.status) == CameraStatus.ACTIVE]
    page = await _nearest_page(session, near, conditions, offset=0, limit=limit)
    return [camera_id for _, camera_id in page]


# --- Private ------------------------------------------------------------------------------


def _missing_together(missing: Sequence[str], message: str) -> InvalidInput:
    """A 422 whose ``errors`` name every missing parameter of a group, not only the first."""
    error = InvalidInput(missing[0], message)
    error.detail = f"{', '.join(missing)}: {message}"
    error.extensions["errors"] = [{"field": name, "message": message} for name in missing]
    return error


async def _count(
    session: AsyncSession, search: CameraSearch, conditions: Sequence[ColumnElement[bool]]
) -> int:
    """How many cameras match: from the tag index alone when the tag is the only filter.

    A tag matches a quarter of a city; counting it through ``camera`` probes a row per match,
    while ``camera_tag`` holds one row per (camera, tag) and its tag index answers at once.
    """
    if search.tag is not None and len(conditions) == 1:
        query = select(func.count()).select_from(CameraTag).where(col(CameraTag.tag) == search.tag)
    else:
        query = select(func.count()).select_from(Camera).where(*conditions)
    return await session.scalar(query) or 0


async def _search_near(
    session: AsyncSession,
    search: CameraSearch,
    near: NearPoint,
    conditions: list[ColumnElement[bool]],
) -> CameraPage:
    """A radius search's page, nearest first, with the count of every camera in the circle."""
    page = await _nearest_page(session, near, conditions, search.offset, search.limit)
    total = await _count_within(session, near, conditions)
    ids = [camera_id for _, camera_id in page]
    rows = await session.scalars(select(Camera).where(col(Camera.id).in_(ids))) if ids else ()
    cameras = {camera.id: camera for camera in rows}
    tags = await tags_of(session, ids)
    return CameraPage(
        items=[
            camera_read(cameras[camera_id], tags[camera_id], distance)
            for distance, camera_id in page
        ],
        total=total,
        limit=search.limit,
        offset=search.offset,
    )


@dataclass(frozen=True, slots=True)
class _Planar:
    """A circle's planar stand-in for the distance, and how far it may stray from the truth.

    ``key`` is Δlat² + (cos(lat₀)·Δlon)² in squared degrees, for the camera row. Over the
    circle's bounding box, ``low · key ≤ 4·h ≤ high · key`` holds (h the haversine term,
    in squared degrees), because sin²(x/2) lies between (x/2)²·(1 - x²/12) and (x/2)² and
    the cosine of a latitude in the box between those of its extremes. Distance grows with
    h, so a camera is surely inside when ``high · key ≤ 4·h(radius)``, surely outside when
    ``low · key > 4·h(radius)``, and of two cameras, the one whose key exceeds the other's
    by more than ``high / low`` is the farther.
    """

    key: ColumnElement[float]
    low: float
    high: float
    limit: float  # 4·h(radius), in squared degrees

    @classmethod
    def of(cls, near: NearPoint, dlat: float, dlon: float) -> _Planar:
        """The stand-in for a circle whose bounding box has these half-sizes in degrees."""
        cos_centre = math.cos(math.radians(near.latitude))
        farthest = min(90.0, abs(near.latitude) + dlat)
        nearest = max(0.0, abs(near.latitude) - dlat)
        low = min(
            1 - math.radians(dlat) ** 2 / 12,
            math.cos(math.radians(farthest)) / cos_centre * (1 - math.radians(dlon) ** 2 / 12),
        )
        high = max(1.0, math.cos(math.radians(nearest)) / cos_centre)
        latitude, longitude = col(Camera.latitude), col(Camera.longitude)
        key = (latitude - near.latitude) * (latitude - near.latitude) + cos_centre**2 * (
            longitude - near.longitude
        ) * (longitude - near.longitude)
        half_angle = near.radius_m / EARTH_RADIUS_M / 2
        limit = 4 * math.degrees(math.sin(half_angle)) ** 2
        return cls(key, low * (1 - _ROUNDING), high * (1 + _ROUNDING), limit)

    def surely_inside(self) -> ColumnElement[bool]:
        """Cameras inside the circle whatever the stand-in's error."""
        return self.key <= self.limit / self.high

    def maybe_inside(self) -> ColumnElement[bool]:
        """Cameras the stand-in cannot rule out of the circle."""
        return self.key <= self.limit / self.low


async def _nearest_page(
    session: AsyncSession,
    near: NearPoint,
    conditions: Sequence[ColumnElement[bool]],
    offset: int,
    limit: int,
) -> list[tuple[float, uuid.UUID]]:
    """(distance, id) of the page of cameras in the circle, nearest first, then by id.

    The database ranks the cameras by the planar key and sends the page's worth and a few
    more. A camera can come before the page's last one by true distance only if its key is
    at most ``high / low`` times that one's (a hair's breadth), so when the rows sent reach
    past that, they hold the whole page; otherwise, rarely, every such camera is fetched.
    """
    box, planar = _box_around(near)
    if planar is None:
        return (await _measure(session, near, [*conditions, *box]))[offset : offset + limit]
    wanted = offset + limit
    rows = list(
        await session.execute(
            select(col(Camera.id), col(Camera.latitude), col(Camera.longitude), planar.key)
            .where(*conditions, *box, planar.maybe_inside())
            .order_by(planar.key)
            .limit(wanted + _PAGE_SLACK)
        )
    )
    last_needed = rows[wanted - 1][3] if len(rows) >= wanted else None
    complete = len(rows) < wanted + _PAGE_SLACK or (
        last_needed is not None
        and last_needed <= planar.limit / planar.high
        and rows[-1][3] > last_needed * planar.high / planar.low
    )
    if not complete:
        reach = [planar.maybe_inside()]
        if last_needed is not None and last_needed <= planar.limit / planar.high:
            reach.append(planar.key <= last_needed * planar.high / planar.low)
        return (await _measure(session, near, [*conditions, *box, *reach]))[offset:wanted]
    hits = [
        (distance_m(near.latitude, near.longitude, latitude, longitude), camera_id)
        for camera_id, latitude, longitude, _ in rows
    ]
    return sorted(hit for hit in hits if hit[0] <= near.radius_m)[offset:wanted]


async def _count_within(
    session: AsyncSession, near: NearPoint, conditions: Sequence[ColumnElement[bool]]
) -> int:
    """How many cameras matching ``conditions`` lie in the circle.

    The database counts those surely inside and those it cannot rule out in one pass; only
    when they differ is the ring between them fetched and measured in Python.
    """
    box, planar = _box_around(near)
    if planar is None:
        return len(await _measure(session, near, [*conditions, *box]))
    surely = case((planar.surely_inside(), 1), else_=0)
    maybe, inside = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(surely), 0)).where(
                *conditions, *box, planar.maybe_inside()
            )
        )
    ).one()
    if maybe == inside:  # no camera in the ring: the usual case for a street-level circle
        return int(inside)
    ring = [~planar.surely_inside(), planar.maybe_inside()]
    return int(inside) + len(await _measure(session, near, [*conditions, *box, *ring]))


async def _measure(
    session: AsyncSession, near: NearPoint, conditions: Sequence[ColumnElement[bool]]
) -> list[tuple[float, uuid.UUID]]:
    """(distance, id) of the cameras matching ``conditions`` inside the circle, nearest first.

    Only three columns travel; the haversine distance drops what lies outside the circle.
    """
    rows = await session.execute(
        select(col(Camera.id), col(Camera.latitude), col(Camera.longitude)).where(*conditions)
    )
    hits = [
        (distance_m(near.latitude, near.longitude, latitude, longitude), camera_id)
        for camera_id, latitude, longitude in rows
    ]
    return sorted((d, camera_id) for d, camera_id in hits if d <= near.radius_m)


def _box_around(near: NearPoint) -> tuple[list[ColumnElement[bool]], _Planar | None]:
    """Conditions for the smallest latitude/longitude box holding the circle, and its stand-in.

    The longitude half-width is the circle's tangent meridians' (J. Matuschek, "Finding
    points within a distance of a latitude/longitude"); a circle reaching a pole spans
    every longitude, and one crossing the antimeridian needs two longitude ranges. Neither
    has a planar stand-in (longitudes there do not subtract), so their cameras are all
    measured in Python, as they are rare.
    """
    angular = near.radius_m / EARTH_RADIUS_M
    dlat = math.degrees(angular)
    lat_range = col(Camera.latitude).between(near.latitude - dlat, near.latitude + dlat)
    if abs(near.latitude) + dlat >= 90:
        return [lat_range], None
    dlon = math.degrees(math.asin(math.sin(angular) / math.cos(math.radians(near.latitude))))
    west, east = near.longitude - dlon, near.longitude + dlon
    longitude = col(Camera.longitude)
    if west < -180:
        return [lat_range, or_(longitude >= west + 360, longitude <= east)], None
    if east > 180:
        return [lat_range, or_(longitude >= west, longitude <= east - 360)], None
    planar = _Planar.of(near, dlat, dlon)
    # A box wide enough to leave the stand-in no lower bound is measured in Python too.
    return [lat_range, longitude.between(west, east)], planar if planar.low > 0 else None


def _search_conditions(search: CameraSearch) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if search.owner_party_id is not None:
        conditions.append(col(Camera.owner_party_id) == search.owner_party_id)
    if search.tag is not None:
        conditions.append(
            exists().where(
                col(CameraTag.camera_id) == col(Camera.id), col(CameraTag.tag) == search.tag
            )
        )
    area = (
        (Camera.city, search.city),
        (Camera.district, search.district),
        (Camera.village, search.village),
        (Camera.rw, search.rw),
    )
    conditions.extend(col(column) == value for column, value in area if value is not None)
    if search.visibility is not None:
        conditions.append(col(Camera.visibility) == search.visibility)
    if search.status is not None:
        conditions.append(col(Camera.status) == search.status)
    if search.bbox is not None:
        box = search.bbox
        conditions.append(col(Camera.latitude).between(box.min_lat, box.max_lat))
        conditions.append(col(Camera.longitude).between(box.min_lon, box.max_lon))
    return conditions
