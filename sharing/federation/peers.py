"""Peer hubs: register them by discovery, suspend and resume them, and follow their keys.

A peer is registered at this hub as an OAuth client whose ``client_id`` is its issuer, with
``private_key_jwt`` and the keys of its JWKS, acting for the local party that stands for it.
Suspending a peer deactivates that client (its tokens stop at once) and stops syncing its
catalog and forwarding to it.

The services take an ``Actor``: the HTTP routes require ``registry:admin`` first, and the
``sharing federation`` command acts as the hub's operator on the host.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from jose import jwt as jose_jwt
from jose.exceptions import JOSEError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.service import record
from sharing.clock import Clock, as_utc
from sharing.consent.models import Agreement, AgreementParty
from sharing.errors import Conflict, InvalidInput, NotFound, PeerFailed
from sharing.federation.client import PeerClient
from sharing.federation.models import FederationPeer, RemoteCamera
from sharing.federation.schemas import PeerCreate, PeerRead
from sharing.parties.models import OAuthClient, Party
from sharing.principal import Actor
from sharing.vocabulary import AgreementStatus, Scope

log = logging.getLogger("sharing.federation")

ACTIVE = "active"
SUSPENDED = "suspended"
PEER_CLIENT_SCOPES = " ".join((Scope.FEDERATION_PEER, Scope.ACCESS_REQUEST, Scope.REGISTRY_READ))
PEER_AUTH_METHOD = "private_key_jwt"
# A forged kid must not make this hub fetch a peer's JWKS on every request.
KEY_REFRESH_INTERVAL = timedelta(seconds=10)


async def register_peer(
    session: AsyncSession, actor: Actor, data: PeerCreate, peer_client: PeerClient, clock: Clock
) -> PeerRead:
    """Discover the peer at ``data.issuer`` and register it, with its OAuth client."""
    issuer = data.issuer.rstrip("/")
    if issuer == peer_client.issuer:
        raise InvalidInput("issuer", "is this hub's own issuer")
    await _check_binding(session, data.party_id, data.agreement_id)
    if await peer_by_issuer(session, issuer) is not None:
        raise Conflict("a peer with this issuer is already registered", issuer=issuer)
    if await session.get(OAuthClient, issuer) is not None:
        raise Conflict("an OAuth client with this id (the issuer) already exists", issuer=issuer)
    documents = await peer_client.discover(issuer)
    now = clock.now()
    peer = FederationPeer(
        issuer=issuer,
        name=data.name or issuer,
        party_id=data.party_id,
        agreement_id=data.agreement_id,
        server_metadata=documents.metadata,
        jwks=documents.jwks,
        jwks_fetched_at=now,
        created_at=now,
    )
    client = OAuthClient(
        client_id=issuer,
        party_id=data.party_id,
        name=f"Peer hub {peer.name}"[:200],
        auth_method=PEER_AUTH_METHOD,
        jwks=documents.jwks,
        scopes=PEER_CLIENT_SCOPES,
        created_at=now,
    )
    session.add_all([peer, client])
    record(
        session,
        at=now,
        actor=actor,
        action="federation.peer_registered",
        object_type="federation_peer",
        object_id=peer.id,
        details={
            "issuer": issuer,
            "party_id": str(data.party_id),
            "agreement_id": str(data.agreement_id),
            "key_ids": _key_ids(documents.jwks),
            "client_id": issuer,
        },
    )
    await session.commit()
    return await peer_read(session, peer)


async def list_peers(session: AsyncSession) -> list[PeerRead]:
    """Every peer, by name, with its status."""
    peers = list(
        await session.scalars(
            select(FederationPeer).order_by(col(FederationPeer.name), col(FederationPeer.id))
        )
    )
    counts = await _remote_camera_counts(session)
    return [_read(peer, counts.get(peer.id, 0)) for peer in peers]


async def get_peer(session: AsyncSession, peer_id: uuid.UUID) -> PeerRead:
    """One peer and its status."""
    return await peer_read(session, await peer_or_404(session, peer_id))


async def suspend_peer(
    session: AsyncSession,
    actor: Actor,
    peer_id: uuid.UUID,
    reason: str | None,
    clock: Clock,
    peer_client: PeerClient | None = None,
) -> PeerRead:
    """Stop trusting a peer: its client is deactivated, syncing and forwarding stop."""
    peer = await peer_or_404(session, peer_id)
    if peer.status == SUSPENDED:
        raise Conflict("this peer is already suspended")
    now = clock.now()
    peer.status, peer.suspended_at = SUSPENDED, now
    await _set_client_active(session, peer.issuer, active=False)
    record(
        session,
        at=now,
        actor=actor,
        action="federation.peer_suspended",
        object_type="federation_peer",
        object_id=peer.id,
        details={"issuer": peer.issuer, "reason": reason},
    )
    await session.commit()
    if peer_client is not None:
        peer_client.forget_tokens(peer)
    return await peer_read(session, peer)


async def resume_peer(
    session: AsyncSession, actor: Actor, peer_id: uuid.UUID, clock: Clock
) -> PeerRead:
    """Trust a suspended peer again."""
    peer = await peer_or_404(session, peer_id)
    if peer.status == ACTIVE:
        raise Conflict("this peer is active")
    now = clock.now()
    peer.status, peer.suspended_at = ACTIVE, None
    await _set_client_active(session, peer.issuer, active=True)
    record(
        session,
        at=now,
        actor=actor,
        action="federation.peer_resumed",
        object_type="federation_peer",
        object_id=peer.id,
        details={"issuer": peer.issuer},
    )
    await session.commit()
    return await peer_read(session, peer)


async def refresh_peer_keys(
    session: AsyncSession, peer_client: PeerClient, peer: FederationPeer
) -> bool:
    """Re-read ``peer``'s JWKS (at most once per 10 s) into the peer and its OAuth client.

    Called when a peer's assertion or subject token names a ``kid`` the cached keys lack, so
    a key rotation at the peer is followed without restarts. True when the keys changed;
    a peer that cannot be reached leaves the cached keys (the token is then refused).
    """
    now = peer_client.now()
    if now - as_utc(peer.jwks_fetched_at) < KEY_REFRESH_INTERVAL:
        return False
    try:
        jwks = await peer_client.fetch_jwks(peer.issuer, _jwks_uri(peer))
    except PeerFailed as exc:
        log.warning("could not refresh the keys of %s: %s", peer.issuer, exc.detail)
        return False
    peer.jwks_fetched_at = now
    changed = jwks != peer.jwks
    if changed:
        peer.jwks = jwks
        client = await session.get(OAuthClient, peer.issuer)
        if client is not None:
            client.jwks = jwks
        record(
            session,
            at=now,
            actor=Actor.system("federation"),
            action="federation.peer_keys_refreshed",
            object_type="federation_peer",
            object_id=peer.id,
            details={"issuer": peer.issuer, "key_ids": _key_ids(jwks)},
        )
    await session.commit()
    return changed


def key_refresher(
    peer_client: PeerClient,
) -> Callable[[AsyncSession, FederationPeer], Awaitable[bool]]:
    """``refresh_peer_keys`` bound to ``peer_client``, for the authorization server."""

    async def refresh(session: AsyncSession, peer: FederationPeer) -> bool:
        return await refresh_peer_keys(session, peer_client, peer)

    return refresh


async def refresh_keys_for_assertion(
    session: AsyncSession,
    assertion: str,
    refresh: Callable[[AsyncSession, FederationPeer], Awaitable[bool]],
) -> bool:
    """If ``assertion`` (an RFC 7523 client assertion) comes from a peer and names a ``kid``
    its cached keys lack, ``refresh`` them (``key_refresher``) before Authlib checks it."""
    try:
        header = jose_jwt.get_unverified_header(assertion)
        claims = jose_jwt.get_unverified_claims(assertion)
    except JOSEError:
        return False  # malformed: verification refuses it, keys would not help
    issuer = claims.get("iss")
    if not isinstance(issuer, str):
        return False
    peer = await peer_by_issuer(session, issuer)
    if peer is None or str(header.get("kid")) in _key_ids(peer.jwks):
        return False
    return await refresh(session, peer)


async def peer_by_issuer(session: AsyncSession, issuer: str) -> FederationPeer | None:
    """The peer registered under ``issuer``, if any."""
    query = select(FederationPeer).where(col(FederationPeer.issuer) == issuer)
    return (await session.execute(query)).scalars().first()


async def peer_or_404(session: AsyncSession, peer_id: uuid.UUID) -> FederationPeer:
    """The peer with ``peer_id``, or NotFound."""
    peer = await session.get(FederationPeer, peer_id)
    if peer is None:
        raise NotFound("no such peer", peer_id=str(peer_id))
    return peer


async def peer_read(session: AsyncSession, peer: FederationPeer) -> PeerRead:
    """The read shape of a peer, with its count of remote cameras."""
    count = await session.scalar(
        select(func.count()).select_from(RemoteCamera).where(col(RemoteCamera.peer_id) == peer.id)
    )
    return _read(peer, count or 0)


# --- Private ------------------------------------------------------------------------------


async def _check_binding(
    session: AsyncSession, party_id: uuid.UUID, agreement_id: uuid.UUID
) -> None:
    party = await session.get(Party, party_id)
    if party is None or not party.active:
        raise InvalidInput("party_id", "is not an active party of this hub")
    agreement = await session.get(Agreement, agreement_id)
    if agreement is None:
        raise InvalidInput("agreement_id", "no agreement has this id")
    if agreement.status != AgreementStatus.ACTIVE:
        raise InvalidInput("agreement_id", f"the agreement is {agreement.status}, not active")
    bound = await session.get(AgreementParty, (agreement_id, party_id))
    if bound is None:
        raise InvalidInput("agreement_id", "the agreement does not bind the peer's party")


async def _set_client_active(session: AsyncSession, client_id: str, *, active: bool) -> None:
    client = await session.get(OAuthClient, client_id)
    if client is not None:
        client.active = active


async def _remote_camera_counts(session: AsyncSession) -> dict[uuid.UUID, int]:
    rows = await session.execute(
        select(col(RemoteCamera.peer_id), func.count()).group_by(col(RemoteCamera.peer_id))
    )
    return {peer_id: int(count) for peer_id, count in rows}


def _jwks_uri(peer: FederationPeer) -> str:
    uri = peer.server_metadata.get("jwks_uri")
    if not isinstance(uri, str):
        raise PeerFailed(f"the hub {peer.issuer} has no jwks_uri on record")
    return uri


def _key_ids(jwks: dict[str, Any] | dict[str, object]) -> list[str]:
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        return []
    return [str(key.get("kid")) for key in keys if isinstance(key, dict)]


def _read(peer: FederationPeer, remote_cameras: int) -> PeerRead:
    def utc(moment: datetime | None) -> datetime | None:
        return as_utc(moment) if moment is not None else None

    return PeerRead(
        id=peer.id,
        issuer=peer.issuer,
        name=peer.name,
        party_id=peer.party_id,
        agreement_id=peer.agreement_id,
        status=peer.status,
        token_endpoint=str(peer.server_metadata.get("token_endpoint", "")),
        jwks_fetched_at=as_utc(peer.jwks_fetched_at),
        key_ids=_key_ids(peer.jwks),
        last_sync_at=utc(peer.last_sync_at),
        last_error=peer.last_error,
        last_error_at=utc(peer.last_error_at),
        last_latency_ms=peer.last_latency_ms,
        catalog_etag=peer.catalog_etag,
        remote_cameras=remote_cameras,
        created_at=as_utc(peer.created_at),
        suspended_at=utc(peer.suspended_at),
    )
