"""Two real hubs on loopback, each with its own database and keys, peers of each other.

``hub_pair`` (module scope) and ``federated_pair(folder)`` (a context manager for tests
that break things) give a ``HubPair``: ``city`` is Medan's hub, ``polda`` the Polda's. Both
load the demo city into their own databases, so each has its own ids. At the city hub the
Polda hub stands for the party "polda" under the MoU; at the Polda hub the city hub stands
for the party "pemkot" under its MoU. Catalog sync is left to the tests (the loop's period
is an hour) unless ``sync_seconds`` says otherwise.

The city hub shares with the Polda's party its public traffic cameras (a public consent)
and, by a consent made here, Terminal Belawan (``dishub_belawan``) live; cameras granted
only to other parties (the shops' to Polrestabes) are not shared.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from sharing.clock import SystemClock
from sharing.db import create_engine, create_sessionmaker
from sharing.federation.client import PeerClient
from sharing.federation.models import FederationPeer
from sharing.federation.peers import peer_by_issuer
from sharing.oauth.keys import KeyRing
from tests.hubprocess import RunningHub, backend_database, demo_hub

PEER_SYNC_SECONDS_IN_TESTS = 3600.0
BELAWAN_PURPOSES = ["traffic_management", "public_order"]


@dataclass
class HubPair:
    """Medan's city hub and the Polda's hub, each registered as the other's peer."""

    city: RunningHub
    polda: RunningHub
    polda_at_city: dict[str, Any]  # the Polda hub's peer record at the city hub
    city_at_polda: dict[str, Any]  # the city hub's peer record at the Polda hub
    belawan_consent_id: str

    def admin(self, hub: RunningHub) -> httpx.Client:
        """``hub``'s operator (registry:admin)."""
        return hub.client("hub_admin")

    def sync_city_at_polda(self) -> httpx.Response:
        """Make the Polda hub sync the city hub's catalog now."""
        return self.admin(self.polda).post(
            f"/federation/peers/{self.city_at_polda['id']}/sync", json={}
        )


def register_peer(
    at: RunningHub, peer: RunningHub, party: str, agreement: str, name: str
) -> dict[str, Any]:
    """Register ``peer`` at ``at`` through the API, as ``at``'s operator."""
    response = at.client("hub_admin").post(
        "/federation/peers",
        json={
            "issuer": peer.url,
            "party_id": str(at.city.parties[party]),
            "agreement_id": str(at.city.agreements[agreement]),
            "name": name,
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def share_belawan_with_polda(city: RunningHub) -> str:
    """Dishub grants the Polda live access to Terminal Belawan, a partners-only camera."""
    response = city.client("dishub_operator").post(
        "/consents",
        json={
            "grantee_party_id": str(city.city.parties["polda"]),
            "agreement_id": str(city.city.agreements["mou"]),
            "camera_selector": "cameras",
            "camera_ids": [str(city.city.cameras["dishub_belawan"])],
            "modes": ["live"],
            "purposes": BELAWAN_PURPOSES,
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@contextmanager
def federated_pair(folder: Path, backend: str = "sqlite", **overrides: Any) -> Iterator[HubPair]:
    """Start a city hub and a Polda hub on fresh ``backend`` databases and peer them."""
    settings = {"federation_sync_seconds": PEER_SYNC_SECONDS_IN_TESTS, **overrides}
    for name in ("city", "polda"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        city_url = stack.enter_context(backend_database(backend, folder / "city"))
        polda_url = stack.enter_context(backend_database(backend, folder / "polda"))
        city = stack.enter_context(demo_hub(city_url, **settings))
        polda = stack.enter_context(demo_hub(polda_url, **settings))
        belawan = share_belawan_with_polda(city)
        polda_at_city = register_peer(city, polda, "polda", "mou", "Polda Sumut")
        city_at_polda = register_peer(polda, city, "pemkot", "mou", "Pemkot Medan")
        yield HubPair(city, polda, polda_at_city, city_at_polda, belawan)


@pytest.fixture(scope="module")
def hub_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubPair]:
    """A city hub and a Polda hub peered with each other (SQLite), shared by a module."""
    folder = tmp_path_factory.mktemp("federation")
    with federated_pair(folder) as pair:
        yield pair


def as_peer(hub: RunningHub, fn: Any) -> Any:
    """Run ``await fn(peer_client)`` with a ``PeerClient`` of ``hub``: its settings and its
    signing keys (read from its database), as the hub itself would call its peers."""

    async def run() -> Any:
        engine = create_engine(hub.settings)
        try:
            keyring = KeyRing(hub.settings, SystemClock())
            async with create_sessionmaker(engine)() as session:
                await keyring.load(session)
            async with httpx.AsyncClient() as http:
                client = PeerClient(
                    http, settings=hub.settings, keyring=keyring, clock=SystemClock()
                )
                return await fn(client)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def peer_row(at: RunningHub, issuer: str) -> FederationPeer:
    """The ``federation_peer`` row for ``issuer`` as the hub ``at`` stores it."""

    async def load(session: AsyncSession) -> FederationPeer:
        found = await peer_by_issuer(session, issuer)
        assert found is not None
        return found

    return at.query(load)


def new_folder(base: Path, name: str) -> Path:
    """A subfolder of ``base`` for one more hub's SQLite database."""
    folder = base / f"{name}-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    return folder
