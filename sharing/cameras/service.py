"""The camera registry: registration, reads and changes (search is in ``search``).

Plain async functions over a session. Which cameras a caller may see is not decided here:
callers pass ``visible_to``, a SQL condition on ``Camera`` built by the consent domain (or
``None`` for hub administrators, who see every camera). Keeping that rule out of this module
keeps the registry below consent in the layering.

A camera's stream source is encrypted with ``SecretBox`` before it is stored and is never
returned, logged or audited: reads only say whether one is set.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable

from pydantic import SecretStr
from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.service import record
from sharing.cameras.models import Camera, CameraTag
from sharing.cameras.schemas import (
    CameraCreate,
    CameraLocation,
    CameraRead,
    CameraStatus,
    CameraUpdate,
)
from sharing.clock import Clock, as_utc
from sharing.crypto import SecretBox
from sharing.errors import InvalidInput, NotFound, PermissionDenied
from sharing.parties.models import Party
from sharing.principal import Actor, Principal
from sharing.settings import Settings
from sharing.vocabulary import Scope, Visibility

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
    return camera_read(camera, data.tags)


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
    return camera_read(camera, (await tags_of(session, [camera.id]))[camera.id])


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
    tags = (await tags_of(session, [camera.id]))[camera.id]
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
    return camera_read(camera, tags)


async def tags_of(
    session: AsyncSession, camera_ids: Iterable[uuid.UUID]
) -> defaultdict[uuid.UUID, list[str]]:
    """Each camera's tags, sorted, in one query (a page's worth of ids at a time)."""
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


def camera_read(camera: Camera, tags: Iterable[str], distance: float | None = None) -> CameraRead:
    """The read shape of a camera row, with its tags and, for a radius search, its distance."""
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


# --- Private ------------------------------------------------------------------------------


def _require_write(principal: Principal) -> None:
    if not principal.is_registry_admin:
        principal.require(Scope.REGISTRY_WRITE)


def _no_such_camera(camera_id: uuid.UUID) -> NotFound:
    return NotFound("no such camera", camera_id=str(camera_id))


def _seal(settings: Settings, source: SecretStr | None) -> str:
    """Encrypt a stream source for storage; empty when there is none."""
    return "" if source is None else SecretBox(settings).encrypt(source.get_secret_value())


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


async def _replace_tags(session: AsyncSession, camera_id: uuid.UUID, tags: list[str]) -> None:
    await session.execute(delete(CameraTag).where(col(CameraTag.camera_id) == camera_id))
    session.add_all(CameraTag(camera_id=camera_id, tag=tag) for tag in tags)
