"""HTTP endpoints of the camera registry. Thin: each hands its input to the service.

Which cameras a caller may see is the consent domain's rule; ``provide_visible_to`` asks it
here, at the edge, so the registry's service stays below consent in the layering.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TypeAlias

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, Parameter
from sqlalchemy import ColumnElement

from sharing.cameras import search as camera_search
from sharing.cameras import service
from sharing.cameras.schemas import (
    MAX_RADIUS_M,
    TAG_PATTERN,
    CameraCreate,
    CameraPage,
    CameraRead,
    CameraSearch,
    CameraStatus,
    CameraUpdate,
)
from sharing.consent.decision_inputs import requester_ancestors, visible_cameras_clause
from sharing.dependencies import ClockDep, PrincipalDep, SessionDep, SettingsDep
from sharing.federation.remote_search import search_with_remote
from sharing.openapi import problem_responses
from sharing.parties.schemas import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from sharing.vocabulary import Visibility

CAMERA_ID = "/{camera_id:uuid}"

VisibleToDep: TypeAlias = NamedDependency[ColumnElement[bool] | None]
"""``visible_to``: what ``provide_visible_to`` answers for the caller."""


async def provide_visible_to(
    principal: PrincipalDep, clock: ClockDep, session: SessionDep
) -> ColumnElement[bool] | None:
    """The condition on ``Camera`` rows the caller may see; ``None`` (all) for admins.

    Consents granted to a party "and its sub-units" reach the caller through its ancestors.
    """
    if principal.is_registry_admin:
        return None
    ancestors = await requester_ancestors(session, principal.party_id)
    return visible_cameras_clause(principal.party_id, clock.now(), ancestor_ids=ancestors)


class CameraController(Controller):
    """The camera registry: register, search, read and change cameras."""

    path = "/cameras"
    tags = ("cameras",)
    dependencies: Mapping[str, Provide] = {"visible_to": Provide(provide_visible_to)}

    @post(
        "/",
        summary="Register a camera",
        description="Register a camera for the caller's party (admins may name another owner). "
        "The stream source is write-only: stored encrypted, never returned. Needs "
        "`registry:write`. Audited as `camera.registered`.",
        responses=problem_responses(400, 401, 403, 422),
    )
    async def register_camera(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        settings: SettingsDep,
        data: JSONBody[CameraCreate],
    ) -> CameraRead:
        """Register a camera."""
        return await service.register_camera(session, principal, data, clock, settings)

    @get(
        "/",
        summary="Search cameras",
        description="Cameras the caller may see (its own, public ones, and ones consented to "
        "its party), filtered and paged, ordered by name then id. A bounding box needs all four "
        "of min_lat, min_lon, max_lat, max_lon. A radius search needs all three of near_lat, "
        "near_lon and radius_m (1 to 50,000 m): it keeps the cameras within that distance of "
        "the point (great-circle), orders them nearest first and gives each its `distance_m`; "
        "it combines with every other filter. Needs `registry:read`.",
        responses=problem_responses(400, 401, 403, 422),
    )
    async def search_cameras(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        visible_to: VisibleToDep,
        owner_party_id: uuid.UUID | None = Parameter(
            default=None, description="Only cameras of this party."
        ),
        tag: str | None = Parameter(
            default=None,
            pattern=TAG_PATTERN,
            max_length=50,
            description="Only cameras with this tag.",
        ),
        city: str | None = Parameter(default=None, max_length=100, description="City or regency."),
        district: str | None = Parameter(default=None, max_length=100, description="District."),
        village: str | None = Parameter(default=None, max_length=100, description="Village."),
        rw: str | None = Parameter(default=None, max_length=10, description="Neighbourhood (RW)."),
        visibility: Visibility | None = Parameter(default=None, description="Visibility."),
        status: CameraStatus | None = Parameter(default=None, description="Camera status."),
        min_lat: float | None = Parameter(
            default=None, ge=-90, le=90, description="Bounding box: southern latitude."
        ),
        min_lon: float | None = Parameter(
            default=None, ge=-180, le=180, description="Bounding box: western longitude."
        ),
        max_lat: float | None = Parameter(
            default=None, ge=-90, le=90, description="Bounding box: northern latitude."
        ),
        max_lon: float | None = Parameter(
            default=None, ge=-180, le=180, description="Bounding box: eastern longitude."
        ),
        near_lat: float | None = Parameter(
            default=None, ge=-90, le=90, description="Radius search: the point's latitude."
        ),
        near_lon: float | None = Parameter(
            default=None, ge=-180, le=180, description="Radius search: the point's longitude."
        ),
        radius_m: int | None = Parameter(
            default=None,
            ge=1,
            le=MAX_RADIUS_M,
            description="Radius search: how far from the point, in metres.",
        ),
        limit: int = Parameter(
            default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Page size."
        ),
        offset: int = Parameter(default=0, ge=0, description="How many cameras to skip."),
        include_remote: bool = Parameter(
            default=False,
            description="Also list the cameras peer hubs' catalogs share with this hub, each "
            "with its `home_hub`; filters a remote camera cannot meet (owner, area, "
            "visibility) leave them out.",
        ),
    ) -> CameraPage:
        """Search cameras."""
        search = CameraSearch(
            owner_party_id=owner_party_id,
            tag=tag,
            city=city,
            district=district,
            village=village,
            rw=rw,
            visibility=visibility,
            status=status,
            bbox=camera_search.bounding_box(min_lat, min_lon, max_lat, max_lon),
            near=camera_search.near_point(near_lat, near_lon, radius_m),
            limit=limit,
            offset=offset,
        )
        if include_remote:
            return await search_with_remote(session, principal, search, visible_to)
        return await camera_search.search_cameras(session, principal, search, visible_to)

    @get(
        CAMERA_ID,
        summary="Read a camera",
        description="One camera the caller may see; 404 for cameras it may not see. Never "
        "includes the stream source. Needs `registry:read`.",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def get_camera(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        visible_to: VisibleToDep,
        camera_id: FromPath[uuid.UUID],
    ) -> CameraRead:
        """Read a camera."""
        return await service.get_camera(session, principal, camera_id, visible_to)

    @patch(
        CAMERA_ID,
        summary="Change a camera",
        description="Change a camera's name, address, tags, visibility, retention, status or "
        "stream source. Only its owner party (or an admin); others get 403, or 404 if they may "
        "not see it. Needs `registry:write`. Audited as `camera.updated` with the names of the "
        "changed fields.",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def update_camera(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        settings: SettingsDep,
        visible_to: VisibleToDep,
        camera_id: FromPath[uuid.UUID],
        data: JSONBody[CameraUpdate],
    ) -> CameraRead:
        """Change a camera."""
        return await service.update_camera(
            session, principal, camera_id, data, clock, settings, visible_to
        )
