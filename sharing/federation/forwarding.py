"""Forwarded access requests, at the requesting hub: the cameras' home hub decides.

An officer of this hub asks for cameras that a peer's catalog shares with us
(``RemoteCamera`` rows). This hub does not decide for them: it records that it forwards the
request (``access_request.forwarded``, committed first, so the forward is on record even if
the peer never answers), trades the officer's token for one of the home hub by RFC 8693
token exchange (this hub is the actor), posts the same body there with the header
``Sharing-Origin-Event`` naming its event, and relays the home hub's status and body
unchanged, adding ``Sharing-Home-Hub`` and ``Sharing-Home-Audit-Event``. It records the
answer (``access_request.forward_answered``, with the home hub's request and event ids) and
keeps a ``ForwardedRequest`` so that reads of that request id are relayed too, each after a
fresh exchange, so the officer sees approvals and revocations at home.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.service import record
from sharing.cameras.models import Camera
from sharing.clock import Clock
from sharing.errors import Conflict, InvalidInput, NotFound, PeerFailed, PermissionDenied
from sharing.federation.client import PeerClient, json_object
from sharing.federation.models import FederationPeer, ForwardedRequest, RemoteCamera
from sharing.principal import Actor, Principal
from sharing.vocabulary import Scope

ORIGIN_EVENT_HEADER = "Sharing-Origin-Event"
AUDIT_EVENT_HEADER = "Sharing-Audit-Event"
HOME_HUB_HEADER = "Sharing-Home-Hub"
HOME_AUDIT_EVENT_HEADER = "Sharing-Home-Audit-Event"
PEER_ACTIVE = "active"
_EVENT_ID = re.compile(r"^\d{1,18}$")
# Built once: every access request runs it (see _PARTY_KIND in sharing.access.service).
_LOCAL_CAMERAS = (
    select(func.count())
    .select_from(Camera)
    .where(col(Camera.id).in_(bindparam("ids", expanding=True)))
)
# What a decided request is called here, by the home hub's answer to its creation.
_CREATED_STATUS = {201: "approved", 202: "pending", 403: "denied"}


@dataclass(frozen=True, slots=True)
class Relayed:
    """The home hub's answer, to be sent to the officer as it came."""

    status_code: int
    body: dict[str, Any]
    media_type: str
    headers: dict[str, str] = field(default_factory=dict)


async def home_peer_of(
    session: AsyncSession, camera_ids: Sequence[uuid.UUID]
) -> FederationPeer | None:
    """The peer hub to forward a request for ``camera_ids`` to, or None to decide here.

    A request is forwarded when its cameras are remote; then they must all be remote cameras
    of one peer (each home hub decides for its own cameras only, and a request is all or
    nothing), else 422.
    """
    asked = {str(camera) for camera in camera_ids}
    if not asked:
        return None
    local = await session.scalar(_LOCAL_CAMERAS, {"ids": list(camera_ids)})
    if local == len(asked):
        return None  # the common case, answered by primary key alone
    remote = (
        await session.execute(
            select(col(RemoteCamera.camera_id), col(RemoteCamera.peer_id)).where(
                col(RemoteCamera.camera_id).in_(asked)
            )
        )
    ).all()
    if not remote:
        return None  # unknown cameras: the local decision refuses them with reasons
    homes = {peer_id for _, peer_id in remote}
    if len(homes) > 1 or local or {camera for camera, _ in remote} != asked:
        raise InvalidInput(
            "camera_ids",
            "cameras of one request must all be this hub's or all of one peer hub's; "
            "ask each home hub separately",
        )
    peer = await session.get(FederationPeer, homes.pop())
    if peer is None or peer.status != PEER_ACTIVE:
        raise InvalidInput("camera_ids", "the home hub of these cameras is suspended here")
    return peer


async def forward_request(
    session: AsyncSession,
    principal: Principal,
    body: Mapping[str, Any],
    peer: FederationPeer,
    *,
    subject_token: str,
    peers: PeerClient,
    clock: Clock,
) -> Relayed:
    """Forward an access request to ``peer``, the home hub of all its cameras, and relay
    its answer. ``PeerFailed`` (502) when the peer is down or answers nonsense."""
    principal.require(Scope.ACCESS_REQUEST)
    await _refuse_relaying_for_another_hub(session, principal)
    actor = Actor.of(principal)
    forward_id = uuid.uuid4()
    forwarded = record(
        session,
        at=clock.now(),
        actor=actor,
        action="access_request.forwarded",
        object_type="access_request",
        object_id=forward_id,
        purpose=str(body.get("purpose")),
        details={"forward_id": str(forward_id), "home_hub": peer.issuer, **_summary(body)},
    )
    await session.commit()
    origin_event = f"{peers.issuer}#{forwarded.id}"
    try:
        token = await peers.exchange_token(peer, subject_token)
        response = await peers.call(
            "POST",
            peer.issuer + "/access-requests",
            token=token,
            json=dict(body),
            headers={ORIGIN_EVENT_HEADER: origin_event},
            idempotent=False,  # a retry could open the request twice
        )
        relayed = _relayed(response, peer)
    except PeerFailed as failure:
        record(
            session,
            at=clock.now(),
            actor=actor,
            action="access_request.forward_failed",
            object_type="access_request",
            object_id=forward_id,
            outcome="failure",
            details={
                "forward_id": str(forward_id),
                "home_hub": peer.issuer,
                "error": failure.detail,
            },
        )
        await session.commit()
        raise
    _keep_answer(session, principal, body, peer, relayed, forward_id, forwarded.id, clock.now())
    await session.commit()
    return relayed


async def _refuse_relaying_for_another_hub(session: AsyncSession, principal: Principal) -> None:
    """A hub forwards for its own people only. A peer hub (or an officer it speaks for)
    asking here for a third hub's cameras would be answered there as this hub's party:
    its own identity laundered through ours. One hop, and only from home."""
    if principal.on_behalf_of is not None:
        raise PermissionDenied(
            "a request forwarded from another hub cannot be forwarded again; "
            "ask the cameras' home hub directly"
        )
    speaks_for_peer = await session.scalar(
        select(col(FederationPeer.id)).where(col(FederationPeer.party_id) == principal.party_id)
    )
    if speaks_for_peer is not None:
        raise PermissionDenied(
            "a peer hub cannot have this hub forward requests for it; "
            "ask the cameras' home hub directly"
        )


def _keep_answer(
    session: AsyncSession,
    principal: Principal,
    body: Mapping[str, Any],
    peer: FederationPeer,
    relayed: Relayed,
    forward_id: uuid.UUID,
    forwarded_event_id: int | None,
    now: datetime,
) -> None:
    """Record the home hub's answer and, if it opened a request there, remember it."""
    remote_id = _request_id_in(relayed.body)
    remote_event = _event_id(relayed.headers.get(HOME_AUDIT_EVENT_HEADER))
    status = _CREATED_STATUS.get(relayed.status_code) if remote_id else None
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="access_request.forward_answered",
        object_type="access_request",
        object_id=remote_id or forward_id,
        outcome="success" if relayed.status_code < 400 else "failure",
        purpose=str(body.get("purpose")),
        details={
            "forward_id": str(forward_id),
            "home_hub": peer.issuer,
            "forwarded_event": forwarded_event_id,
            "remote_request_id": remote_id,
            "remote_event_id": remote_event,
            "status_code": relayed.status_code,
            "status": status,
        },
    )
    if remote_id is None or status is None:
        return  # nothing was opened at home (malformed or unauthorized request)
    session.add(
        ForwardedRequest(
            remote_request_id=remote_id,
            peer_id=peer.id,
            requester_party_id=principal.party_id,
            requester_member_id=principal.member_id,
            requester_client_id=principal.client_id,
            camera_ids=[str(c) for c in body.get("camera_ids") or []],
            mode=str(body.get("mode"))[:16],
            purpose=str(body.get("purpose"))[:40],
            status=status,
            local_event_id=forwarded_event_id,
            remote_event_id=remote_event,
            created_at=now,
            status_checked_at=now,
        )
    )


async def relay_forwarded(
    session: AsyncSession,
    principal: Principal,
    request_id: uuid.UUID,
    suffix: str,
    *,
    subject_token: str,
    peers: PeerClient,
    clock: Clock,
) -> Relayed | None:
    """Ask the home hub again about a request this hub forwarded (``suffix`` "" for the
    request, "/token" for its token) and relay its answer; None if it was not forwarded."""
    forwarded = await session.get(ForwardedRequest, str(request_id))
    if forwarded is None:
        return None
    if not principal.may_act_for(forwarded.requester_party_id):
        raise NotFound(f"no access request {request_id}")
    principal.require(Scope.ACCESS_REQUEST)  # the home hub is asked with the officer's token
    peer = await session.get(FederationPeer, forwarded.peer_id)
    if peer is None or peer.status != PEER_ACTIVE:
        raise Conflict("the home hub of this request is suspended here")
    token = await peers.exchange_token(peer, subject_token)
    response = await peers.call(
        "GET",
        f"{peer.issuer}/access-requests/{request_id}{suffix}",
        token=token,
        idempotent=True,
    )
    relayed = _relayed(response, peer)
    seen = _status_seen(suffix, relayed, forwarded.status)
    if seen != forwarded.status:
        record(
            session,
            at=clock.now(),
            actor=Actor.of(principal),
            action="access_request.forward_status_changed",
            object_type="access_request",
            object_id=request_id,
            details={"home_hub": peer.issuer, "from": forwarded.status, "to": seen},
        )
        forwarded.status = seen
    forwarded.status_checked_at = clock.now()
    await session.commit()
    return relayed


def _relayed(response: httpx.Response, peer: FederationPeer) -> Relayed:
    body = json_object(response, peer.issuer, "a forwarded request")
    media_type = response.headers.get("content-type", "application/json").split(";")[0]
    headers = {HOME_HUB_HEADER: peer.issuer}
    event = response.headers.get(AUDIT_EVENT_HEADER)
    if event is not None and _EVENT_ID.match(event):
        headers[HOME_AUDIT_EVENT_HEADER] = event
    return Relayed(response.status_code, body, media_type, headers)


def _status_seen(suffix: str, relayed: Relayed, known: str) -> str:
    """The request's status as the home hub's answer shows it."""
    if suffix == "":
        status = relayed.body.get("status")
        return status[:16] if relayed.status_code == 200 and isinstance(status, str) else known
    if relayed.status_code == 200:
        return "approved"
    if relayed.status_code == 409 and relayed.body.get("jti"):
        return "revoked" if "revoked" in str(relayed.body.get("detail")) else "expired"
    return known


def _summary(body: Mapping[str, Any]) -> dict[str, object]:
    """What the forwarded event says about the request: never the case reference."""
    return {
        "camera_ids": [str(c) for c in body.get("camera_ids") or []],
        "mode": body.get("mode"),
        "footage_start": body.get("footage_start"),
        "footage_end": body.get("footage_end"),
        "emergency": bool(body.get("emergency", False)),
    }


def _request_id_in(body: Mapping[str, Any]) -> str | None:
    raw = body.get("request_id")
    try:
        return str(uuid.UUID(str(raw))) if raw is not None else None
    except ValueError:
        return None


def _event_id(raw: str | None) -> int | None:
    return int(raw) if raw is not None and _EVENT_ID.match(raw) else None
