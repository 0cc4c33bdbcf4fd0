"""The camera registry: registration, search and changes.

Plain async functions over a session. Which cameras a caller may see is not decided here:
callers pass ``visible_to``, a SQL condition on ``Camera`` built by the consent domain (or
``None`` for hub administrators, who see every camera). Keeping that rule out of this module
keeps the registry below consent in the layering.

A camera's stream source is encrypted with ``SecretBox`` before it is stored and is never
returned, logged or audited: reads only say whether one is set.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence

from pydantic import SecretStr
from sqlalchemy import ColumnElement, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.service import record
from sharing.cameras.models import Camera, CameraTag
from sharing.cameras.schemas import (
    BoundingBox,
    CameraCreate,
    CameraLocation,
    CameraPage,
    CameraRead,
    CameraSearch,
    CameraStatus,
    CameraUpdate,
    NearPoint,
)
from sharing.clock import Clock, as_utc
from sharing.crypto import SecretBox
from sharing.errors import InvalidInput, NotFound, PermissionDenied
from sharing.parties.models import Party
from sharing.principal import Actor, Principal
from sharing.settings import Settings
from sharing.vocabulary import Scope, Visibility

EARTH_RADIUS_M = 6_371_008.8
"""The mean Earth radius (IUGG); haversine distances on it are within 0.5 % of WGS 84's."""

# Fields a PATCH copies onto the row as they come; tags and the stream source need more care.
_PLAIN_UPDATE_FIELDS = (
    "name",
    "address",
    "province",
    "city",
    "district",
    "village",
    "rw",
    "visibility",
    "retention_days",
    "status",
)


async def register_camera(
    session: AsyncSession,
    principal: Principal,
    data: CameraCreate,
    clock: Clock,
    settings: Settings,
) -> CameraRead:
    """Register a camera for the caller's party (admins: for any party)."""
    _require_write(principal)
    owner_id = data.owner_party_id or principal.party_id
    if not principal.may_act_for(owner_id):
        raise PermissionDenied("only a hub administrator may register cameras for another party")
    owner = await session.get(Party, owner_id)
    if owner is None or not owner.active:
        raise InvalidInput("owner_party_id", "no active party has this id")
    now = clock.now()
    camera = Camera(
        owner_party_id=owner_id,
        name=data.name,
        latitude=data.latitude,
        longitude=data.longitude,
        address=data.address,
        province=data.province,
        city=data.city,
        district=data.district,
        village=data.village,
        rw=data.rw,
        visibility=data.visibility,
        retention_days=data.retention_days,
        status=CameraStatus.ACTIVE,
        stream_source_encrypted=_seal(settings, data.stream_source),
        created_at=now,
        updated_at=now,
    )
    session.add(camera)
    await session.flush()  # the camera row must exist before its tags point at it
    session.add_all(CameraTag(camera_id=camera.id, tag=tag) for tag in data.tags)
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="camera.registered",
        object_type="camera",
        object_id=camera.id,
        details={
            "owner_party_id": str(owner_id),
            "name": camera.name,
            "visibility": camera.visibility,
            "tags": sorted(data.tags),
            "has_stream_source": bool(camera.stream_source_encrypted),
        },
    )
    await session.commit()
    return _camera_read(camera, data.tags)


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
    total = await session.scalar(select(func.count()).select_from(Camera).where(*conditions))
    cameras = list(
        await session.scalars(
            select(Camera)
            .where(*conditions)
            .order_by(col(Camera.name), col(Camera.id))
            .limit(search.limit)
            .offset(search.offset)
        )
    )
    tags = await _tags_of(session, [camera.id for camera in cameras])
    return CameraPage(
        items=[_camera_read(camera, tags[camera.id]) for camera in cameras],
        total=total or 0,
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
    hits = await _nearest(session, near, [col(Camera.status) == CameraStatus.ACTIVE])
    return [camera_id for _, camera_id in hits[:limit]]


async def get_camera(
    session: AsyncSession,
    principal: Principal,
    camera_id: uuid.UUID,
    visible_to: ColumnElement[bool] | None,
) -> CameraRead:
    """One camera, if the caller may see it; otherwise 404 as if it did not exist."""
    principal.require(Scope.REGISTRY_READ)
    query = select(Camera).where(col(Camera.id) == camera_id)
    if visible_to is not None:
        query = query.where(visible_to)
    camera = await session.scalar(query)
    if camera is None:
        raise _no_such_camera(camera_id)
    return _camera_read(camera, (await _tags_of(session, [camera.id]))[camera.id])


async def update_camera(
    session: AsyncSession,
    principal: Principal,
    camera_id: uuid.UUID,
    data: CameraUpdate,
    clock: Clock,
    settings: Settings,
    visible_to: ColumnElement[bool] | None,
) -> CameraRead:
    """Change a camera: its owner party or an admin only.

    A caller who may see the camera but does not own it gets 403; one who may not see it
    gets 404. The audit event lists the changed fields' names, never their values.
    """
    _require_write(principal)
    camera = await session.get(Camera, camera_id)
    if camera is None:
        raise _no_such_camera(camera_id)
    if not principal.may_act_for(camera.owner_party_id):
        if visible_to is not None and not await _matches(session, camera_id, visible_to):
            raise _no_such_camera(camera_id)
        raise PermissionDenied("only the camera's owner may change it")
    changed = _apply_plain_fields(camera, data)
    tags = (await _tags_of(session, [camera.id]))[camera.id]
    if data.tags is not None and set(data.tags) != set(tags):
        await _replace_tags(session, camera.id, data.tags)
        tags = data.tags
        changed.append("tags")
    if "stream_source" in data.model_fields_set:
        # Not compared with the stored value: that would mean decrypting it for nothing.
        camera.stream_source_encrypted = _seal(settings, data.stream_source)
        changed.append("stream_source")
    if changed:
        now = clock.now()
        camera.updated_at = now
        record(
            session,
            at=now,
            actor=Actor.of(principal),
            action="camera.updated",
            object_type="camera",
            object_id=camera.id,
            details={"changed": sorted(changed)},
        )
        await session.commit()
    return _camera_read(camera, tags)


# --- Private ------------------------------------------------------------------------------


def _missing_together(missing: Sequence[str], message: str) -> InvalidInput:
    """A 422 whose ``errors`` name every missing parameter of a group, not only the first."""
    error = InvalidInput(missing[0], message)
    error.detail = f"{', '.join(missing)}: {message}"
    error.extensions["errors"] = [{"field": name, "message": message} for name in missing]
    return error


async def _search_near(
    session: AsyncSession,
    search: CameraSearch,
    near: NearPoint,
    conditions: list[ColumnElement[bool]],
) -> CameraPage:
    """A radius search's page: every candidate's distance is needed to order and count them."""
    hits = await _nearest(session, near, conditions)
    page = hits[search.offset : search.offset + search.limit]
    ids = [camera_id for _, camera_id in page]
    rows = await session.scalars(select(Camera).where(col(Camera.id).in_(ids))) if ids else ()
    cameras = {camera.id: camera for camera in rows}
    tags = await _tags_of(session, ids)
    return CameraPage(
        items=[
            _camera_read(cameras[camera_id], tags[camera_id], distance)
            for distance, camera_id in page
        ],
        total=len(hits),
        limit=search.limit,
        offset=search.offset,
    )


async def _nearest(
    session: AsyncSession, near: NearPoint, conditions: Sequence[ColumnElement[bool]]
) -> list[tuple[float, uuid.UUID]]:
    """(distance, id) of the cameras matching ``conditions`` inside the circle, nearest first.

    The database narrows by the circle's bounding box on the (latitude, longitude) index;
    the haversine distance then drops the box's corners and orders what is left. Only three
    columns travel, so even a 50 km circle over a whole city stays cheap.
    """
    rows = await session.execute(
        select(col(Camera.id), col(Camera.latitude), col(Camera.longitude)).where(
            *conditions, *_box_around(near)
        )
    )
    hits = [
        (distance_m(near.latitude, near.longitude, latitude, longitude), camera_id)
        for camera_id, latitude, longitude in rows
    ]
    return sorted((d, camera_id) for d, camera_id in hits if d <= near.radius_m)


def _box_around(near: NearPoint) -> list[ColumnElement[bool]]:
    """Conditions for the smallest latitude/longitude box holding the circle.

    The longitude half-width is the circle's tangent meridians' (J. Matuschek, "Finding
    points within a distance of a latitude/longitude"); a circle reaching a pole spans
    every longitude, and one crossing the antimeridian needs two longitude ranges.
    """
    angular = near.radius_m / EARTH_RADIUS_M
    dlat = math.degrees(angular)
    lat_range = col(Camera.latitude).between(near.latitude - dlat, near.latitude + dlat)
    if abs(near.latitude) + dlat >= 90:
        return [lat_range]
    dlon = math.degrees(math.asin(math.sin(angular) / math.cos(math.radians(near.latitude))))
    west, east = near.longitude - dlon, near.longitude + dlon
    longitude = col(Camera.longitude)
    if west < -180:
        return [lat_range, or_(longitude >= west + 360, longitude <= east)]
    if east > 180:
        return [lat_range, or_(longitude >= west, longitude <= east - 360)]
    return [lat_range, longitude.between(west, east)]


def _require_write(principal: Principal) -> None:
    if not principal.is_registry_admin:
        principal.require(Scope.REGISTRY_WRITE)


def _no_such_camera(camera_id: uuid.UUID) -> NotFound:
    return NotFound("no such camera", camera_id=str(camera_id))


def _seal(settings: Settings, source: SecretStr | None) -> str:
    """Encrypt a stream source for storage; empty when there is none."""
    return "" if source is None else SecretBox(settings).encrypt(source.get_secret_value())


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


def _apply_plain_fields(camera: Camera, data: CameraUpdate) -> list[str]:
    """Copy the sent plain fields onto ``camera``; return the names of those that changed."""
    changed = []
    for field in _PLAIN_UPDATE_FIELDS:
        value = getattr(data, field)
        if field in data.model_fields_set and value != getattr(camera, field):
            setattr(camera, field, value)
            changed.append(field)
    return changed


async def _matches(
    session: AsyncSession, camera_id: uuid.UUID, condition: ColumnElement[bool]
) -> bool:
    found = await session.scalar(
        select(col(Camera.id)).where(col(Camera.id) == camera_id, condition)
    )
    return found is not None


async def _tags_of(
    session: AsyncSession, camera_ids: Iterable[uuid.UUID]
) -> defaultdict[uuid.UUID, list[str]]:
    """Each camera's tags, sorted, in one query."""
    ids = list(camera_ids)
    tags: defaultdict[uuid.UUID, list[str]] = defaultdict(list)
    if ids:
        rows = await session.execute(
            select(col(CameraTag.camera_id), col(CameraTag.tag))
            .where(col(CameraTag.camera_id).in_(ids))
            .order_by(col(CameraTag.tag))
        )
        for camera_id, tag in rows:
            tags[camera_id].append(tag)
    return tags


async def _replace_tags(session: AsyncSession, camera_id: uuid.UUID, tags: list[str]) -> None:
    await session.execute(delete(CameraTag).where(col(CameraTag.camera_id) == camera_id))
    session.add_all(CameraTag(camera_id=camera_id, tag=tag) for tag in tags)


def _camera_read(camera: Camera, tags: Iterable[str], distance: float | None = None) -> CameraRead:
    return CameraRead(
        id=camera.id,
        owner_party_id=camera.owner_party_id,
        name=camera.name,
        location=CameraLocation(
            latitude=camera.latitude,
            longitude=camera.longitude,
            address=camera.address,
            province=camera.province,
            city=camera.city,
            district=camera.district,
            village=camera.village,
            rw=camera.rw,
        ),
        tags=sorted(tags),
        visibility=Visibility(camera.visibility),
        retention_days=camera.retention_days,
        status=CameraStatus(camera.status),
        created_at=as_utc(camera.created_at),
        updated_at=as_utc(camera.updated_at),
        has_stream_source=bool(camera.stream_source_encrypted),
        distance_m=None if distance is None else round(distance, 1),
    )
