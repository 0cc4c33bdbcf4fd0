"""Forwarded access requests: a Polda officer asks the Polda hub for cameras of the city hub,
which decides; answers, approvals, denials and revocations travel back unchanged.

The city hub (Medan) is the cameras' home; the Polda hub forwards. Shops of the city grant
the Polda footage and live access here, then the Polda hub syncs the city's catalog.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from jose import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.models import AuditEvent
from sharing.clock import SystemClock
from sharing.federation.client import PeerClient
from sharing.federation.models import FederationPeer, ForwardedRequest, RemoteCamera
from sharing.oauth.keys import KeyRing
from sharing.principal import Actor
from tests.federation.conftest import HubPair, as_peer, federated_pair, peer_row
from tests.hubprocess import RunningHub, free_port

OFFICER = "polda_cc"
PERWAL = "perwal"


@dataclass
class Shared:
    """The city's cameras shared with the Polda for these tests, and their consents."""

    footage_camera: str  # footage and live, at once
    approval_camera: str  # live, after the owner's approval
    revocable_camera: str  # footage, on a consent the test revokes
    revocable_consent: str


def grant(city: RunningHub, owner: str, camera: str, **terms: Any) -> str:
    body = {
        "grantee_party_id": str(city.city.parties["polda"]),
        "agreement_id": str(city.city.agreements[PERWAL]),
        "camera_selector": "cameras",
        "camera_ids": [str(city.city.cameras[camera])],
        "purposes": ["criminal_investigation"],
        **terms,
    }
    response = city.client(owner).post("/consents", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture(scope="module")
def shared(hub_pair: HubPair) -> Shared:
    city = hub_pair.city
    grant(city, "sinar_owner", "sinar_front", modes=["live", "footage"], max_lookback_hours=72)
    grant(city, "rejeki_owner", "rejeki_front", modes=["live"], requires_owner_approval=True)
    revocable = grant(city, "sinar_owner", "sinar_back", modes=["footage"])
    synced = hub_pair.sync_city_at_polda()
    assert synced.status_code == 200, synced.text
    cameras = city.city.cameras
    return Shared(
        str(cameras["sinar_front"]),
        str(cameras["rejeki_front"]),
        str(cameras["sinar_back"]),
        revocable,
    )


@pytest.fixture
def officer(hub_pair: HubPair) -> Iterator[httpx.Client]:
    with hub_pair.polda.client(OFFICER) as client:
        yield client


def footage(camera: str, hours_back: float = 1) -> dict[str, Any]:
    end = datetime.now(UTC) - timedelta(minutes=1)
    return {
        "camera_ids": [camera],
        "mode": "footage",
        "purpose": "criminal_investigation",
        "legal_basis": "LP/B/99/XI/2026/POLDA",
        "justification": "perampokan toko emas",
        "footage_start": (end - timedelta(hours=hours_back)).isoformat(),
        "footage_end": end.isoformat(),
    }


def live(camera: str) -> dict[str, Any]:
    return {
        "camera_ids": [camera],
        "mode": "live",
        "purpose": "criminal_investigation",
        "legal_basis": "LP/B/99/XI/2026/POLDA",
        "justification": "pengejaran tersangka",
    }


def events(hub: RunningHub, **where: str) -> list[AuditEvent]:
    async def load(session: AsyncSession) -> list[AuditEvent]:
        query = select(AuditEvent).order_by(col(AuditEvent.id))
        for column, value in where.items():
            query = query.where(getattr(AuditEvent, column) == value)
        return list((await session.execute(query)).scalars())

    return hub.query(load)


def event(hub: RunningHub, event_id: int) -> AuditEvent:
    async def load(session: AsyncSession) -> AuditEvent:
        found = await session.get(AuditEvent, event_id)
        assert found is not None
        return found

    return hub.query(load)


def forwarded_row(hub: RunningHub, request_id: str) -> ForwardedRequest:
    async def load(session: AsyncSession) -> ForwardedRequest:
        found = await session.get(ForwardedRequest, request_id)
        assert found is not None
        return found

    return hub.query(load)


def gateway_allows(city: RunningHub, camera: str, token: str, mode: str = "live") -> int:
    """The home hub's gateway check of ``token`` for the camera's playlist."""
    uri = f"/{mode}/{camera}/index.m3u8"
    response = httpx.get(
        f"{city.url}/gateway/auth",
        headers={"X-Original-URI": uri, "Authorization": f"Bearer {token}"},
        timeout=10,
    )
    return response.status_code


def test_allowed_footage_request_returns_the_home_hubs_gateway_token(
    hub_pair: HubPair, shared: Shared, officer: httpx.Client
) -> None:
    city, polda = hub_pair.city, hub_pair.polda
    response = officer.post("/access-requests", json=footage(shared.footage_camera))
    assert response.status_code == 201, response.text
    assert response.headers["Sharing-Home-Hub"] == city.url
    body = response.json()
    assert body["audience"] == city.settings.gateway_audience
    assert body["camera_ids"] == [shared.footage_camera]
    city_keys = httpx.get(f"{city.url}/.well-known/jwks.json").json()
    claims = jwt.decode(
        body["access_token"], city_keys, audience=city.settings.gateway_audience, issuer=city.url
    )
    assert claims["jti"]

    # The Polda hub's side: forwarded, then answered with the city's request and event ids.
    request_id = body["request_id"]
    home_event_id = int(response.headers["Sharing-Home-Audit-Event"])
    [answered] = events(polda, action="access_request.forward_answered", object_id=request_id)
    assert answered.details["remote_request_id"] == request_id
    assert answered.details["remote_event_id"] == home_event_id
    assert answered.details["status"] == "approved"
    assert answered.actor_client_id == polda.city.clients[OFFICER].client_id
    forwarded = event(polda, int(cast(int, answered.details["forwarded_event"])))
    assert forwarded.action == "access_request.forwarded"
    assert forwarded.details["home_hub"] == city.url
    assert "legal_basis" not in forwarded.details
    row = forwarded_row(polda, request_id)
    assert (row.status, row.remote_event_id, row.local_event_id) == (
        "approved",
        home_event_id,
        forwarded.id,
    )

    # The city hub's side: the decision is the event it named, and names the Polda's event.
    decided = event(city, home_event_id)
    assert decided.action == "access_request.decided"
    assert decided.object_id == request_id
    assert decided.details["origin_event"] == f"{polda.url}#{forwarded.id}"
    chain = cast(dict[str, Any], decided.details["on_behalf_of"])
    assert chain["hub"] == polda.url
    assert chain["subject"] == str(polda.city.members["polda_desk"])
    [created] = events(city, action="access_request.created", object_id=request_id)
    assert created.details["origin_event"] == f"{polda.url}#{forwarded.id}"
    assert created.actor_party_id == str(city.city.parties["polda"])


def test_denial_with_reasons_is_relayed_unchanged(
    hub_pair: HubPair, shared: Shared, officer: httpx.Client
) -> None:
    too_far_back = footage(shared.footage_camera, hours_back=100)
    response = officer.post("/access-requests", json=too_far_back)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "/problems/access-denied"
    # What the city hub itself says of the same request, asked with the same exchanged rights.
    with hub_pair.city.client("hub_admin") as admin:
        stored = admin.get(f"/access-requests/{problem['request_id']}").json()
    assert stored["status"] == "denied"
    reasons = stored["explanation"]["reasons"]
    assert [r["code"] for r in problem["reasons"]] == [r["code"] for r in reasons]
    assert problem["reasons"] == [{k: r[k] for k in problem["reasons"][0]} for r in reasons]
    row = forwarded_row(hub_pair.polda, problem["request_id"])
    assert row.status == "denied"


def test_request_awaiting_approval_is_followed_through_the_requesting_hub(
    hub_pair: HubPair, shared: Shared, officer: httpx.Client
) -> None:
    city = hub_pair.city
    response = officer.post("/access-requests", json=live(shared.approval_camera))
    assert response.status_code == 202, response.text
    pending = response.json()
    [awaited] = pending["approvals"]
    assert awaited["kind"] == "owner"
    request_id = pending["request_id"]
    not_yet = officer.get(f"/access-requests/{request_id}/token")
    assert not_yet.status_code == 409, not_yet.text
    assert officer.get(f"/access-requests/{request_id}").json()["status"] == "pending"

    with city.client("rejeki_owner") as owner:
        tasks = owner.get("/approvals", params={"status": "pending"}).json()["items"]
        [task] = [t for t in tasks if t["request_id"] == request_id]
        assert owner.post(f"/approvals/{task['id']}/approve").status_code == 200

    read = officer.get(f"/access-requests/{request_id}")
    assert read.status_code == 200, read.text
    assert read.json()["status"] == "approved"
    fetched = officer.get(f"/access-requests/{request_id}/token")
    assert fetched.status_code == 200, fetched.text
    assert fetched.headers["Sharing-Home-Hub"] == city.url
    token = fetched.json()["access_token"]
    assert gateway_allows(city, shared.approval_camera, token) == 204
    assert forwarded_row(hub_pair.polda, request_id).status == "approved"


def test_revocation_at_the_home_hub_shows_at_the_requesting_hub(
    hub_pair: HubPair, shared: Shared, officer: httpx.Client
) -> None:
    city = hub_pair.city
    response = officer.post("/access-requests", json=footage(shared.revocable_camera))
    assert response.status_code == 201, response.text
    request_id = response.json()["request_id"]
    token = response.json()["access_token"]
    assert officer.get(f"/access-requests/{request_id}/token").status_code == 200
    assert gateway_allows(city, shared.revocable_camera, token, "footage") == 204

    with city.client("sinar_owner") as owner:
        revoked = owner.post(
            f"/consents/{shared.revocable_consent}/revoke", json={"reason": "tidak lagi"}
        )
        assert revoked.status_code == 200, revoked.text

    refused = officer.get(f"/access-requests/{request_id}/token")
    assert refused.status_code == 409, refused.text
    assert gateway_allows(city, shared.revocable_camera, token, "footage") == 401
    assert "revoked" in refused.json()["detail"]
    assert forwarded_row(hub_pair.polda, request_id).status == "revoked"
    [changed] = events(
        hub_pair.polda, action="access_request.forward_status_changed", object_id=request_id
    )
    assert changed.details["to"] == "revoked"


def test_only_the_requesting_party_reads_a_forwarded_request(
    hub_pair: HubPair, shared: Shared, officer: httpx.Client
) -> None:
    response = officer.post("/access-requests", json=footage(shared.footage_camera))
    request_id = response.json()["request_id"]
    with hub_pair.polda.client("polrestabes_cc") as other:
        assert other.get(f"/access-requests/{request_id}").status_code == 404
        assert other.get(f"/access-requests/{request_id}/token").status_code == 404
    with hub_pair.polda.client("hub_admin") as admin:
        assert admin.get(f"/access-requests/{request_id}").status_code == 200


def test_a_peer_hub_cannot_have_its_own_cameras_asked_for_in_our_name(
    hub_pair: HubPair, shared: Shared
) -> None:
    # The city hub, a client of the Polda hub, asks the Polda hub for a city camera: were
    # it forwarded, the city would be answered as "the Polda" by its own consents.
    city, polda = hub_pair.city, hub_pair.polda
    polda_at_city = peer_row(city, polda.url)

    async def token(peer_client: PeerClient) -> str:
        return await peer_client.client_credentials_token(polda_at_city, "access:request")

    city_token = as_peer(city, token)
    response = httpx.post(
        f"{polda.url}/access-requests",
        json=live(shared.footage_camera),
        headers={"Authorization": f"Bearer {city_token}"},
        timeout=10,
    )

    assert response.status_code == 403, response.text
    assert "peer hub cannot have this hub forward" in response.json()["detail"]
    assert events(polda, action="access_request.forwarded", actor_client_id=city.url) == []


def test_cameras_of_two_hubs_in_one_request_are_refused(
    hub_pair: HubPair, shared: Shared, officer: httpx.Client
) -> None:
    local = str(hub_pair.polda.city.cameras["sinar_front"])
    body = footage(shared.footage_camera) | {"camera_ids": [shared.footage_camera, local]}
    response = officer.post("/access-requests", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "camera_ids"


def test_a_home_hub_that_is_down_answers_502_at_once_and_is_recorded(
    hub_pair: HubPair, shared: Shared, officer: httpx.Client
) -> None:
    polda = hub_pair.polda
    gone = f"http://127.0.0.1:{free_port()}"
    camera = add_peer_with_camera(polda, gone)
    started = time.monotonic()
    response = officer.post("/access-requests", json=footage(camera))
    elapsed = time.monotonic() - started
    assert response.status_code == 502, response.text
    assert response.json()["type"] == "/problems/peer-failed"
    assert gone in response.json()["detail"]
    assert elapsed < 2.0
    [failed] = [
        e
        for e in events(polda, action="access_request.forward_failed")
        if e.details["home_hub"] == gone
    ]
    assert failed.outcome == "failure"
    [forwarded] = [
        e
        for e in events(polda, action="access_request.forwarded")
        if e.details["forward_id"] == failed.details["forward_id"]
    ]
    assert forwarded.details["camera_ids"] == [camera]


def add_peer_with_camera(hub: RunningHub, issuer: str) -> str:
    """A peer row for ``issuer`` at ``hub`` with one remote camera, as a sync would leave it;
    for peers that could not be registered by discovery (down, or not a hub at all)."""
    camera = str(uuid.uuid4())

    async def add(session: AsyncSession) -> None:
        now = datetime.now(UTC)
        peer = FederationPeer(
            issuer=issuer,
            name="Pemkot Binjai",
            party_id=hub.city.parties["pemkot"],
            agreement_id=hub.city.agreements["mou"],
            server_metadata={"issuer": issuer, "token_endpoint": f"{issuer}/oauth/token"},
            jwks={"keys": []},
            jwks_fetched_at=now,
            created_at=now,
        )
        session.add(peer)
        await session.flush()
        session.add(
            RemoteCamera(
                peer_id=peer.id,
                camera_id=camera,
                name="Binjai - Tugu",
                latitude=3.6,
                longitude=98.48,
                tags=[],
                modes=["footage"],
                synced_at=now,
            )
        )
        await session.commit()

    hub.query(add)
    return camera


class _Nonsense(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html>It works!</html>")

    def log_message(self, *args: object) -> None:
        """Quiet."""


def test_a_home_hub_answering_nonsense_is_a_502(hub_pair: HubPair, officer: httpx.Client) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Nonsense)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        issuer = f"http://127.0.0.1:{server.server_address[1]}"
        camera = add_peer_with_camera(hub_pair.polda, issuer)
        response = officer.post("/access-requests", json=footage(camera))
    finally:
        server.shutdown()
    assert response.status_code == 502, response.text
    assert "not JSON" in response.json()["detail"]


def test_requests_keep_being_forwarded_after_the_requesting_hub_rotates_its_key(
    hub_pair: HubPair, shared: Shared
) -> None:
    city, polda = hub_pair.city, hub_pair.polda

    async def rotate(session: AsyncSession) -> str:
        ring = KeyRing(polda.settings, SystemClock())
        await ring.load(session)
        return await ring.rotate(session, Actor.system("test"))

    async def forget_last_fetch(session: AsyncSession) -> None:
        peer = await session.scalar(
            select(FederationPeer).where(col(FederationPeer.issuer) == polda.url)
        )
        assert peer is not None
        peer.jwks_fetched_at = datetime.now(UTC) - timedelta(minutes=5)
        await session.commit()

    new_kid = polda.query(rotate)
    city.query(forget_last_fetch)  # as if the city had read the Polda's keys long ago
    deadline = time.monotonic() + 10
    while httpx.get(f"{polda.url}/.well-known/jwks.json").json()["keys"][0]["kid"] != new_kid:
        assert time.monotonic() < deadline, "the Polda hub did not pick up its new key"
        time.sleep(0.1)
    token = polda.token(OFFICER, scope="access:request")
    assert jwt.get_unverified_header(token)["kid"] == new_kid
    with httpx.Client(base_url=polda.url, headers={"Authorization": f"Bearer {token}"}) as http:
        response = http.post("/access-requests", json=footage(shared.footage_camera))
    assert response.status_code == 201, response.text
    refreshed = events(city, action="federation.peer_keys_refreshed")
    assert any(new_kid in e.details["key_ids"] for e in refreshed)  # type: ignore[operator]


@pytest.mark.parametrize("backend", ["postgres"])
def test_forwarding_on_postgres(tmp_path: Path, backend: str) -> None:
    with federated_pair(tmp_path, backend) as pair:
        camera = grant(pair.city, "sinar_owner", "sinar_front", modes=["footage"])
        assert camera
        assert pair.sync_city_at_polda().status_code == 200
        sinar = str(pair.city.city.cameras["sinar_front"])
        with pair.polda.client(OFFICER) as officer:
            response = officer.post("/access-requests", json=footage(sinar))
        assert response.status_code == 201, response.text
        decided = event(pair.city, int(response.headers["Sharing-Home-Audit-Event"]))
        assert str(decided.details["origin_event"]).startswith(f"{pair.polda.url}#")
        assert forwarded_row(pair.polda, response.json()["request_id"]).status == "approved"
