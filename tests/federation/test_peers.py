"""Peers: registration by discovery, status, suspension, key rotation, a peer that is down."""

from __future__ import annotations

import argparse
import asyncio
import socket
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.models import AuditEvent
from sharing.clock import SystemClock
from sharing.errors import PeerFailed
from sharing.federation.cli import run_federation_command
from sharing.federation.client import PeerClient
from sharing.federation.models import FederationPeer
from sharing.oauth.keys import KeyRing
from sharing.parties.models import OAuthClient
from sharing.principal import Actor
from tests.federation.conftest import (
    HubPair,
    as_peer,
    federated_pair,
    peer_row,
    register_peer,
)
from tests.hubprocess import RunningHub, demo_hub, free_port


def test_registration_reads_each_peers_metadata_and_keys_and_makes_it_a_client(
    hub_pair: HubPair,
) -> None:
    city, polda = hub_pair.city, hub_pair.polda
    polda_keys = polda.anonymous().get("/.well-known/jwks.json").json()
    record = hub_pair.polda_at_city

    assert record["issuer"] == polda.url
    assert record["status"] == "active"
    assert record["party_id"] == str(city.city.parties["polda"])
    assert record["token_endpoint"] == f"{polda.url}/oauth/token"
    assert record["key_ids"] == [key["kid"] for key in polda_keys["keys"]]
    assert hub_pair.city_at_polda["issuer"] == city.url

    async def client_row(session: AsyncSession) -> OAuthClient | None:
        return await session.get(OAuthClient, polda.url)

    client = city.query(client_row)
    assert client is not None
    assert client.auth_method == "private_key_jwt"
    assert client.party_id == city.city.parties["polda"]
    assert client.jwks == polda_keys
    assert set(client.scopes.split()) == {"federation:peer", "access:request", "registry:read"}
    assert _events(city, "federation.peer_registered", record["id"])


def test_registering_the_same_peer_twice_is_a_conflict(hub_pair: HubPair) -> None:
    response = hub_pair.admin(hub_pair.city).post(
        "/federation/peers",
        json={
            "issuer": hub_pair.polda.url,
            "party_id": str(hub_pair.city.city.parties["polda"]),
            "agreement_id": str(hub_pair.city.city.agreements["mou"]),
        },
    )
    assert response.status_code == 409, response.text


def test_an_unreachable_peer_is_a_clear_502_and_registers_nothing(hub_pair: HubPair) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    response = _register(hub_pair.city, nowhere)
    elapsed = time.monotonic() - started

    assert response.status_code == 502, response.text
    problem = response.json()
    assert problem["type"] == "/problems/peer-failed"
    assert nowhere in problem["detail"]
    assert "could not be reached" in problem["detail"]
    assert elapsed < hub_pair.city.settings.federation_timeout_seconds
    peers = hub_pair.admin(hub_pair.city).get("/federation/peers").json()
    assert nowhere not in [peer["issuer"] for peer in peers]


def test_a_peer_that_accepts_but_never_answers_costs_one_timeout(
    hub_pair: HubPair,
) -> None:
    settings = hub_pair.polda.settings.model_copy(update={"federation_timeout_seconds": 0.5})
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections (the kernel does) and never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"

        async def discover() -> float:
            keyring = KeyRing(settings, SystemClock())
            async with httpx.AsyncClient() as http:
                peer = PeerClient(http, settings=settings, keyring=keyring, clock=SystemClock())
                started = time.monotonic()
                with pytest.raises(PeerFailed, match=r"did not answer within 0.5 s"):
                    await peer.discover(url)
                return time.monotonic() - started

        elapsed = asyncio.run(discover())
    # One attempt of 0.5 s: a timeout is not retried.
    assert 0.5 <= elapsed < 1.2


def test_metadata_naming_another_issuer_is_refused(hub_pair: HubPair) -> None:
    # The Polda hub answers its metadata at localhost too, but names 127.0.0.1 as issuer.
    alias = hub_pair.polda.url.replace("127.0.0.1", "localhost")
    response = _register(hub_pair.city, alias)

    assert response.status_code == 422, response.text
    assert "names the issuer" in response.json()["detail"]
    assert hub_pair.polda.url in response.json()["detail"]


def test_a_url_that_is_not_a_hub_is_a_clear_502(hub_pair: HubPair) -> None:
    # The city hub answers /health, but its metadata path under /health is a 404 problem.
    response = _register(hub_pair.city, hub_pair.polda.url + "/health")

    assert response.status_code == 502, response.text
    assert "answered 404 for its authorization server metadata" in response.json()["detail"]


def test_bad_input_is_422_and_only_admins_may_register(hub_pair: HubPair) -> None:
    city = hub_pair.city
    assert _register(city, "not a url").status_code == 422
    unbound = _register(city, hub_pair.polda.url + "/x", party="shop_sinar")
    assert unbound.status_code == 422
    assert "does not bind" in unbound.json()["detail"]
    officer = city.client("polrestabes_cc")
    assert officer.get("/federation/peers").status_code == 403
    as_officer = officer.post(
        "/federation/peers",
        json={
            "issuer": hub_pair.polda.url + "/y",
            "party_id": str(city.city.parties["polda"]),
            "agreement_id": str(city.city.agreements["mou"]),
        },
    )
    assert as_officer.status_code == 403
    assert city.anonymous().get("/federation/peers").status_code == 401


def test_status_view_shows_sync_latency_and_remote_cameras(hub_pair: HubPair) -> None:
    synced = hub_pair.sync_city_at_polda()
    assert synced.status_code == 200, synced.text

    status = (
        hub_pair.admin(hub_pair.polda)
        .get(f"/federation/peers/{hub_pair.city_at_polda['id']}")
        .json()
    )
    assert status["last_sync_at"] is not None
    assert status["last_latency_ms"] > 0
    assert status["remote_cameras"] == synced.json()["remote_cameras"] > 0
    assert status["catalog_etag"].startswith('"')
    assert status["last_error"] is None
    listed = hub_pair.admin(hub_pair.polda).get("/federation/peers").json()
    assert [peer["issuer"] for peer in listed] == [hub_pair.city.url]


def test_cli_lists_and_shows_status(hub_pair: HubPair, capsys: pytest.CaptureFixture[str]) -> None:
    hub_pair.sync_city_at_polda()
    settings = hub_pair.polda.settings

    assert run_federation_command(settings, _args("list")) == 0
    assert hub_pair.city.url in capsys.readouterr().out
    assert run_federation_command(settings, _args("status", url=hub_pair.city.url)) == 0
    out = capsys.readouterr().out
    for shown in ("last sync: 20", "latency:", "remote cameras: 8", "last error: none"):
        assert shown in out
    assert run_federation_command(settings, _args("status", url="http://nowhere")) == 1


def test_suspending_a_peer_stops_its_access_and_sync_until_resumed(tmp_path: Path) -> None:
    with federated_pair(tmp_path) as pair:
        city, polda = pair.city, pair.polda
        token = as_peer(polda, lambda peer: _catalog_token(peer, city))
        assert _catalog(city, token).status_code == 200
        peer_id = pair.polda_at_city["id"]

        suspended = pair.admin(city).post(
            f"/federation/peers/{peer_id}/suspend", json={"reason": "MoU under review"}
        )
        assert suspended.status_code == 200, suspended.text
        assert suspended.json()["status"] == "suspended"

        assert _catalog(city, token).status_code == 401  # its token stopped at once
        refused = pair.sync_city_at_polda()  # the Polda hub cannot get a token any more
        assert refused.status_code == 502
        assert "refused this hub a token" in refused.json()["detail"]
        assert pair.admin(city).post(f"/federation/peers/{peer_id}/sync").status_code == 409
        assert _events(city, "federation.peer_suspended", peer_id)

        resumed = pair.admin(city).post(f"/federation/peers/{peer_id}/resume")
        assert resumed.status_code == 200, resumed.text
        assert pair.sync_city_at_polda().status_code == 200
        assert _events(city, "federation.peer_resumed", peer_id)


def test_a_peers_key_rotation_is_followed_without_restart(tmp_path: Path) -> None:
    with federated_pair(tmp_path) as pair:
        city, polda = pair.city, pair.polda
        _registered_a_while_ago(city, polda.url)
        old_kid = pair.polda_at_city["key_ids"][0]

        new_kid = polda.query(lambda session: _rotate(polda, session))
        assert new_kid != old_kid

        _wait_until_published(polda, new_kid)  # the running Polda hub reloads its keys
        # A fresh process of the Polda hub (the CLI) signs with its new key at once.
        assert run_federation_command(polda.settings, _args("sync", url=city.url)) == 0
        row = peer_row(city, polda.url)
        keys = row.jwks["keys"]
        assert isinstance(keys, list)
        assert new_kid in [key["kid"] for key in keys]
        assert _events(city, "federation.peer_keys_refreshed", pair.polda_at_city["id"])


def test_a_peer_that_is_down_records_its_error_and_the_others_still_sync(
    tmp_path: Path,
) -> None:
    with federated_pair(tmp_path, federation_sync_seconds=0.5) as pair:
        polda = pair.polda
        binjai_folder = tmp_path / "binjai"
        binjai_folder.mkdir()
        with demo_hub(f"sqlite+aiosqlite:///{binjai_folder / 'hub.db'}") as binjai:
            binjai_at_polda = register_peer(polda, binjai, "pemkot", "mou", "Pemkot Binjai")
        # Binjai's process has stopped; the Polda hub's loop keeps syncing every 0.5 s. (A
        # round while Binjai still ran may have recorded another error first: Binjai never
        # registered the Polda, so it refused the token.)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            peers = {p["issuer"]: p for p in pair.admin(polda).get("/federation/peers").json()}
            down, city = peers[binjai.url], peers[pair.city.url]
            unreachable = "could not be reached" in (down["last_error"] or "")
            if unreachable and city["last_sync_at"] and city["remote_cameras"]:
                break
            time.sleep(0.2)
        assert down["id"] == binjai_at_polda["id"]
        assert "could not be reached" in down["last_error"]
        assert down["last_error_at"] is not None
        assert down["last_sync_at"] is None
        assert city["last_error"] is None
        assert city["remote_cameras"] > 0
        started = time.monotonic()
        direct = pair.admin(polda).post(f"/federation/peers/{down['id']}/sync")
        assert direct.status_code == 502
        assert time.monotonic() - started < 3  # refused connections fail fast, retries short


# --- helpers --------------------------------------------------------------------------------


def _register(at: RunningHub, issuer: str, party: str = "polda") -> httpx.Response:
    return at.client("hub_admin").post(
        "/federation/peers",
        json={
            "issuer": issuer,
            "party_id": str(at.city.parties[party]),
            "agreement_id": str(at.city.agreements["mou"]),
        },
    )


async def _catalog_token(peer: PeerClient, home: RunningHub) -> str:
    documents = await peer.discover(home.url)
    row = FederationPeer(
        issuer=home.url,
        name="home",
        party_id=home.city.parties["polda"],
        agreement_id=home.city.agreements["mou"],
        server_metadata=documents.metadata,
        jwks=documents.jwks,
        jwks_fetched_at=SystemClock().now(),
        created_at=SystemClock().now(),
    )
    return await peer.client_credentials_token(row, "federation:peer")


def _catalog(home: RunningHub, token: str, **headers: str) -> httpx.Response:
    return httpx.get(
        f"{home.url}/federation/catalog",
        headers={"Authorization": f"Bearer {token}", **headers},
        timeout=10,
    )


def _events(hub: RunningHub, action: str, object_id: str) -> list[dict[str, Any]]:
    async def load(session: AsyncSession) -> list[dict[str, Any]]:
        rows = await session.scalars(
            select(AuditEvent).where(
                col(AuditEvent.action) == action, col(AuditEvent.object_id) == str(object_id)
            )
        )
        return [{"actor": row.actor_client_id, "details": row.details} for row in rows]

    return hub.query(load)


def _registered_a_while_ago(at: RunningHub, issuer: str) -> None:
    """Age the cached keys past the 10 s refresh guard, as if registered long ago."""

    async def age(session: AsyncSession) -> None:
        await session.execute(
            update(FederationPeer)
            .where(col(FederationPeer.issuer) == issuer)
            .values(jwks_fetched_at=SystemClock().now() - timedelta(minutes=5))
        )
        await session.commit()

    at.query(age)


async def _rotate(hub: RunningHub, session: AsyncSession) -> str:
    keyring = KeyRing(hub.settings, SystemClock())
    await keyring.load(session)
    return await keyring.rotate(session, Actor.system("test"))


def _wait_until_published(hub: RunningHub, kid: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        keys = hub.anonymous().get("/.well-known/jwks.json").json()["keys"]
        if kid in [key["kid"] for key in keys]:
            return
        time.sleep(0.1)
    raise AssertionError(f"{hub.url} never published {kid}")


def _args(command: str, **values: Any) -> argparse.Namespace:
    defaults: dict[str, Any] = {"url": None, "reason": None}
    return argparse.Namespace(federation_command=command, **{**defaults, **values})
