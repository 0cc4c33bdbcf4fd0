"""Catalog sync: fetch each active peer's catalog and keep its remote cameras here.

Each sync authenticates at the peer (client credentials, scope ``federation:peer``), asks
for the catalog with ``If-None-Match`` (the ETag last stored), and on a new catalog replaces
the peer's ``remote_camera`` rows in one transaction. Every attempt updates the peer's
status: ``last_sync_at`` and ``catalog_etag`` on success, ``last_error`` and
``last_error_at`` on failure, ``last_latency_ms`` always. The loop syncs every peer
concurrently, each in its own session, so one failing or slow peer never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from pydantic import ValidationError
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from sharing.audit.service import record
from sharing.errors import Conflict, PeerFailed
from sharing.federation.client import PeerClient, json_object
from sharing.federation.models import FederationPeer, RemoteCamera
from sharing.federation.peers import ACTIVE, peer_or_404, peer_read
from sharing.federation.schemas import Catalog, SyncResult
from sharing.principal import Actor
from sharing.settings import Settings
from sharing.vocabulary import Scope

log = logging.getLogger("sharing.federation.sync")

CATALOG_PATH = "/federation/catalog"
_MAX_ERROR_LENGTH = 500  # FederationPeer.last_error's column width


async def sync_peer(
    session: AsyncSession, peer_client: PeerClient, peer_id: uuid.UUID
) -> SyncResult:
    """Sync one active peer's catalog now; ``PeerFailed`` (recorded on the peer) if it fails."""
    peer = await peer_or_404(session, peer_id)
    if peer.status != ACTIVE:
        raise Conflict("this peer is suspended; resume it to sync")
    started = time.perf_counter()
    try:
        catalog, etag = await _fetch_catalog(peer_client, peer)
    except PeerFailed as exc:
        peer.last_error = exc.detail[:_MAX_ERROR_LENGTH]
        peer.last_error_at = peer_client.now()
        peer.last_latency_ms = _elapsed_ms(started)
        await session.commit()
        raise
    latency = _elapsed_ms(started)
    now = peer_client.now()
    if catalog is not None:
        await session.execute(delete(RemoteCamera).where(col(RemoteCamera.peer_id) == peer.id))
        rows = [
            {
                "peer_id": peer.id,
                "camera_id": str(camera.id),
                "name": camera.name,
                "latitude": camera.latitude,
                "longitude": camera.longitude,
                "tags": camera.tags,
                "modes": [str(mode) for mode in camera.modes],
                "synced_at": now,
            }
            for camera in catalog.cameras
        ]
        if rows:
            await session.execute(insert(RemoteCamera), rows)
        peer.catalog_etag = etag
        # Only a changed catalog is an event: a peer that is down, or a 304, changes no data
        # and would otherwise add an event every period.
        record(
            session,
            at=now,
            actor=Actor.system("federation"),
            action="federation.catalog_synced",
            object_type="federation_peer",
            object_id=peer.id,
            details={"issuer": peer.issuer, "etag": etag, "cameras": len(rows)},
        )
    peer.last_sync_at, peer.last_latency_ms = now, latency
    await session.commit()
    status = await peer_read(session, peer)
    return SyncResult(
        peer_id=peer.id,
        issuer=peer.issuer,
        changed=catalog is not None,
        remote_cameras=status.remote_cameras,
        latency_ms=latency,
    )


async def sync_all_peers(
    sessionmaker: async_sessionmaker[AsyncSession], peer_client: PeerClient
) -> dict[str, SyncResult | str]:
    """Sync every active peer concurrently; each peer's result, or its error's message."""
    async with sessionmaker() as session:
        ids = list(
            await session.scalars(
                select(col(FederationPeer.id)).where(col(FederationPeer.status) == ACTIVE)
            )
        )

    async def one(peer_id: uuid.UUID) -> SyncResult | str:
        try:
            async with sessionmaker() as session:
                return await sync_peer(session, peer_client, peer_id)
        except PeerFailed as exc:
            log.warning("catalog sync failed: %s", exc.detail)
            return exc.detail
        except Exception as exc:  # one peer's surprise must not stop the others
            log.exception("catalog sync of peer %s failed", peer_id)
            return repr(exc)

    results = await asyncio.gather(*(one(peer_id) for peer_id in ids))
    return {str(peer_id): result for peer_id, result in zip(ids, results, strict=True)}


async def run_sync_loop(
    sessionmaker: async_sessionmaker[AsyncSession], peer_client: PeerClient, settings: Settings
) -> None:
    """Sync every active peer every ``settings.federation_sync_seconds``, from start-up on."""
    while True:
        try:
            await sync_all_peers(sessionmaker, peer_client)
        except Exception:  # a database blip must not end the loop; the next round retries
            log.exception("catalog sync round failed")
        await asyncio.sleep(settings.federation_sync_seconds)


async def _fetch_catalog(
    peer_client: PeerClient, peer: FederationPeer
) -> tuple[Catalog | None, str | None]:
    """The peer's catalog and its ETag, or (None, None) when it has not changed."""
    url = peer.issuer + CATALOG_PATH
    headers = {"If-None-Match": peer.catalog_etag} if peer.catalog_etag else {}
    response = None
    for attempt in range(2):
        token = await peer_client.client_credentials_token(peer, Scope.FEDERATION_PEER)
        response = await peer_client.call("GET", url, token=token, headers=headers, idempotent=True)
        if response.status_code != 401 or attempt:
            break
        peer_client.forget_tokens(peer)  # the peer forgot our token (restart, revocation)
    assert response is not None
    if response.status_code == 304:
        return None, None
    body = json_object(response, peer.issuer, "the catalog request")
    if response.status_code != 200:
        raise PeerFailed(
            f"the hub {peer.issuer} refused the catalog ({response.status_code}): "
            f"{body.get('detail', body.get('title', ''))}",
            peer_status=response.status_code,
        )
    try:
        catalog = Catalog.model_validate(body)
    except ValidationError as exc:
        raise PeerFailed(
            f"the hub {peer.issuer} answered a catalog that is not one: "
            f"{exc.error_count()} errors, first {exc.errors()[0]['loc']}"
        ) from exc
    if catalog.hub != peer.issuer:
        raise PeerFailed(f"the hub {peer.issuer} answered the catalog of {catalog.hub}")
    return catalog, response.headers.get("etag")


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
