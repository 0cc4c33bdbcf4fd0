"""HTTP routes of federation: peer administration (``registry:admin``) and the catalog a
peer hub reads (``federation:peer``)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_304_NOT_MODIFIED

from sharing.dependencies import (
    ClockDep,
    PeerClientDep,
    PoliciesDep,
    PrincipalDep,
    SessionDep,
    SettingsDep,
)
from sharing.federation import peers, sync
from sharing.federation.catalog import catalog_for_caller
from sharing.federation.schemas import Catalog, PeerCreate, PeerRead, PeerSuspend, SyncResult
from sharing.openapi import problem_responses
from sharing.principal import Actor, Principal
from sharing.vocabulary import Scope

_PEER_ID = "/peers/{peer_id:uuid}"


def _admin(principal: Principal) -> Actor:
    principal.require(Scope.REGISTRY_ADMIN)
    return Actor.of(principal)


class FederationController(Controller):
    """Peer hubs and the camera catalog this hub shares with them."""

    path = "/federation"
    tags = ("federation",)

    @post(
        "/peers",
        summary="Register a peer hub",
        description="Reads the peer's RFC 8414 metadata (its issuer must equal the URL) and "
        "JWKS, and registers the peer as a private_key_jwt OAuth client of this hub acting for "
        "`party_id`, bound by `agreement_id`. An unreachable peer or one answering nonsense is "
        "502 peer-failed. Needs `registry:admin`.",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(401, 403, 409, 422, 502),
    )
    async def register_peer(
        self,
        data: JSONBody[PeerCreate],
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        peer_client: PeerClientDep,
    ) -> PeerRead:
        """Register a peer hub."""
        return await peers.register_peer(session, _admin(principal), data, peer_client, clock)

    @get(
        "/peers",
        summary="List peer hubs",
        description="Every peer with its status. Needs `registry:admin`.",
        responses=problem_responses(401, 403),
    )
    async def list_peers(self, session: SessionDep, principal: PrincipalDep) -> list[PeerRead]:
        """List peer hubs."""
        _admin(principal)
        return await peers.list_peers(session)

    @get(
        _PEER_ID,
        summary="Read a peer hub and its status",
        description="Last sync, last error and when, latency, remote cameras. "
        "Needs `registry:admin`.",
        responses=problem_responses(401, 403, 404),
    )
    async def get_peer(
        self, peer_id: FromPath[uuid.UUID], session: SessionDep, principal: PrincipalDep
    ) -> PeerRead:
        """Read a peer hub."""
        _admin(principal)
        return await peers.get_peer(session, peer_id)

    @post(
        _PEER_ID + "/suspend",
        summary="Suspend a peer hub",
        description="Deactivates the peer's client here (its tokens stop working) and stops "
        "syncing and forwarding. Needs `registry:admin`.",
        status_code=HTTP_200_OK,
        responses=problem_responses(401, 403, 404, 409),
    )
    async def suspend_peer(
        self,
        peer_id: FromPath[uuid.UUID],
        data: JSONBody[PeerSuspend],
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        peer_client: PeerClientDep,
    ) -> PeerRead:
        """Suspend a peer hub."""
        actor = _admin(principal)
        return await peers.suspend_peer(session, actor, peer_id, data.reason, clock, peer_client)

    @post(
        _PEER_ID + "/resume",
        summary="Resume a suspended peer hub",
        description="Needs `registry:admin`.",
        status_code=HTTP_200_OK,
        responses=problem_responses(401, 403, 404, 409),
    )
    async def resume_peer(
        self,
        peer_id: FromPath[uuid.UUID],
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
    ) -> PeerRead:
        """Resume a peer hub."""
        return await peers.resume_peer(session, _admin(principal), peer_id, clock)

    @post(
        _PEER_ID + "/sync",
        summary="Sync a peer's catalog now",
        description="Fetches the peer's catalog (If-None-Match its last ETag) and replaces its "
        "remote cameras here. A failure is recorded on the peer and answered 502 peer-failed. "
        "Needs `registry:admin`.",
        status_code=HTTP_200_OK,
        responses=problem_responses(401, 403, 404, 409, 502),
    )
    async def sync_peer(
        self,
        peer_id: FromPath[uuid.UUID],
        session: SessionDep,
        principal: PrincipalDep,
        peer_client: PeerClientDep,
    ) -> SyncResult:
        """Sync a peer's catalog."""
        _admin(principal)
        return await sync.sync_peer(session, peer_client, peer_id)

    @get(
        "/catalog",
        summary="The catalog shared with the calling peer hub",
        description="The cameras this hub's active consents and agreements share with the "
        "calling peer's party: metadata and the modes allowed, never stream sources. A strong "
        "ETag; If-None-Match answers 304. Needs `federation:peer` (a peer hub's client).",
        responses={
            HTTP_200_OK: ResponseSpec(Catalog, description="The catalog.", generate_examples=False),
            HTTP_304_NOT_MODIFIED: ResponseSpec(None, description="Unchanged since the ETag."),
            **problem_responses(401, 403),
        },
    )
    async def catalog(
        self,
        request: Request[Any, Any, Any],
        session: SessionDep,
        principal: PrincipalDep,
        policies: PoliciesDep,
        settings: SettingsDep,
        clock: ClockDep,
    ) -> Response[bytes]:
        """The catalog shared with the calling peer hub."""
        body, etag = await catalog_for_caller(
            session, principal, policies, settings.issuer, clock.now()
        )
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if etag in _etags(request.headers.get("if-none-match")):
            return Response(b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers)
        return Response(body, media_type="application/json", headers=headers)


def _etags(header: str | None) -> set[str]:
    """The entity tags of an If-None-Match header (RFC 9110 section 13.1.2)."""
    if not header:
        return set()
    return {tag.strip() for tag in header.split(",")}
