"""Three hubs as real processes, peered as docs/federation.md says: Pemkot Medan, Polda Sumut
and Pemkot Binjai, each with its own SQLite database, signing keys, issuer and port.

Medan's hub holds the demo city (``sharing demo``, which already knows "Polda Sumatera
Utara" and its MoU with the city). The Polda's and Binjai's hubs start empty; their
operator is installed with ``sharing operator`` (a command center party and its admin
client), and everything else, the operator's auditor included, is registered through each
hub's HTTP API, and the Binjai peering through the ``sharing federation`` CLI,
as their operators would. ``HubProcess.stop`` and ``start`` take one hub down and bring it
back on the same port and database, as an outage would.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, TypeVar
from uuid import UUID

import httpx

from sharing.demo import DemoCity
from sharing.settings import Settings
from tests.e2e.stack import (
    COMMAND_TIMEOUT_SECONDS,
    REPO_ROOT,
    StackError,
    _start,
    _stop,
    _tail,
    _wait_until_answers,
    hub_environment,
)
from tests.hubprocess import free_port, hub_settings

# Small enough that a test sees a catalog change, an outage and a recovery within seconds.
SYNC_SECONDS = 0.5
PEER_TIMEOUT_SECONDS = 2.0
# Each hub re-reads its own signing keys this often, so `sharing keys rotate` takes effect.
KEY_REFRESH_SECONDS = 0.5
OFFICER_SCOPES = "registry:read consent:read access:request"
AUDITOR_SCOPES = "audit:read registry:read consent:read"
T = TypeVar("T")
_SHARING = (sys.executable, "-m", "sharing.cli")
_DOCUMENT = "0" * 64
SIGNED_LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ClientSecret:
    """A ``client_secret_basic`` client's credentials."""

    client_id: str
    secret: str


@dataclass
class HubProcess:
    """One hub: its database and settings, the ids seeded into it, and (while it runs) its
    ``sharing serve`` process."""

    name: str
    folder: Path
    settings: Settings
    parties: dict[str, UUID] = field(default_factory=dict)
    agreements: dict[str, UUID] = field(default_factory=dict)
    cameras: dict[str, UUID] = field(default_factory=dict)
    consents: dict[str, UUID] = field(default_factory=dict)
    members: dict[str, UUID] = field(default_factory=dict)
    clients: dict[str, ClientSecret] = field(default_factory=dict)
    peers: dict[str, UUID] = field(default_factory=dict)  # peer hub name -> peer id here
    sync_seconds: float = SYNC_SECONDS
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)
    _tokens: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    @property
    def url(self) -> str:
        """The hub's issuer, which is also where it serves."""
        return self.settings.issuer

    @property
    def environment(self) -> dict[str, str]:
        """The environment every ``sharing`` command of this hub runs with."""
        return hub_environment(self.settings) | {
            "SHARING_FEDERATION_SYNC_SECONDS": str(self.sync_seconds),
            "SHARING_FEDERATION_TIMEOUT_SECONDS": str(PEER_TIMEOUT_SECONDS),
            "SHARING_KEY_REFRESH_SECONDS": str(KEY_REFRESH_SECONDS),
        }

    def sharing(self, *arguments: str) -> str:
        """Run ``sharing ARGUMENTS`` against this hub's database; its standard output."""
        done = subprocess.run(
            [*_SHARING, *arguments],
            cwd=REPO_ROOT,
            env=self.environment,
            capture_output=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            raise StackError(
                f"`sharing {' '.join(arguments)}` at {self.name} failed "
                f"(exit {done.returncode})\n{done.stdout.decode()}\n{done.stderr.decode()}"
            )
        return done.stdout.decode()

    def start(self) -> None:
        """Serve on the hub's port and wait for ``/health``."""
        if self.running:
            return
        log = self.folder / "serve.log"
        self._log = log.open("ab")
        port = self.url.rsplit(":", 1)[1]
        command = [*_SHARING, "serve", "--host", "127.0.0.1", "--port", port]
        self.process = _start(command, self.environment, self._log)
        _wait_until_answers(f"{self.url}/health", self.process, self.name, log)

    def stop(self) -> None:
        """Stop serving (the database stays)."""
        if self.process is not None:
            _stop(self.process)
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def freeze(self) -> None:
        """Suspend the process (SIGSTOP): it keeps its port, and the kernel still accepts
        connections for it, but nothing answers, as a hung hub."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Let a frozen process run again (SIGCONT)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    @property
    def running(self) -> bool:
        """Whether the hub's process is alive."""
        return self.process is not None and self.process.poll() is None

    def log_tail(self) -> str:
        """The end of the hub's output, for a failure message."""
        return _tail(self.folder / "serve.log")

    def token(self, client: str) -> str:
        """An API token for the seeded client ``client`` (client credentials), cached."""
        if client not in self._tokens:
            self._tokens[client] = self.fresh_token(client)
        return self._tokens[client]

    def fresh_token(self, client: str) -> str:
        """A new API token for ``client``, signed with the hub's current key."""
        credentials = self.clients[client]
        response = httpx.post(
            f"{self.url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(credentials.client_id, credentials.secret),
            timeout=10,
        )
        if response.status_code != 200:
            raise StackError(f"{self.name} refused a token for {client}: {response.text}")
        return str(response.json()["access_token"])

    def client(self, client: str) -> httpx.Client:
        """An HTTP client of this hub, signed in as ``client``."""
        return httpx.Client(
            base_url=self.url,
            timeout=10,
            headers={"Authorization": f"Bearer {self.token(client)}"},
        )


@dataclass(frozen=True, slots=True)
class Federation:
    """The three hubs, seeded and peered: Medan <-> Polda and Binjai <-> Polda."""

    medan: HubProcess
    polda: HubProcess
    binjai: HubProcess
    city: DemoCity  # Medan's demo city

    @property
    def hubs(self) -> tuple[HubProcess, ...]:
        """All three."""
        return (self.medan, self.polda, self.binjai)


@contextmanager
def running_federation(folder: Path, *, sync_seconds: float = SYNC_SECONDS) -> Iterator[Federation]:
    """Start, seed and peer the three hubs; stop them all on exit. Each syncs its peers'
    catalogs every ``sync_seconds``."""
    medan = _new_hub("Pemkot Medan", folder / "medan", sync_seconds)
    polda = _new_hub("Polda Sumut", folder / "polda", sync_seconds)
    binjai = _new_hub("Pemkot Binjai", folder / "binjai", sync_seconds)
    with ExitStack() as stack:
        for hub in (medan, polda, binjai):
            stack.callback(hub.stop)
        with ThreadPoolExecutor(max_workers=3) as pool:
            city_future = pool.submit(_install_medan, medan)
            polda_future = pool.submit(_install_operator, polda, "Command Center Polda Sumut")
            binjai_future = pool.submit(
                _install_operator, binjai, "Binjai Command Center (Diskominfo)"
            )
            city = city_future.result()
            polda_future.result()
            binjai_future.result()
        federation = Federation(medan=medan, polda=polda, binjai=binjai, city=city)
        _seed_polda(polda)
        _seed_binjai(binjai)
        _seed_medan(medan, city)
        _peer_medan_and_polda(medan, polda)
        _peer_binjai_and_polda_by_cli(binjai, polda)
        yield federation


def _new_hub(name: str, folder: Path, sync_seconds: float) -> HubProcess:
    folder.mkdir(parents=True, exist_ok=True)
    settings = hub_settings(f"sqlite+aiosqlite:///{folder / 'hub.db'}", free_port())
    return HubProcess(name=name, folder=folder, settings=settings, sync_seconds=sync_seconds)


# --- installing -----------------------------------------------------------------------------


def _install_medan(medan: HubProcess) -> DemoCity:
    credentials = medan.folder / "creds.json"
    medan.sharing("migrate")
    medan.sharing("demo", "--credentials", str(credentials))
    city = DemoCity.from_json(credentials.read_text())
    medan.parties.update(city.parties)
    medan.agreements.update(city.agreements)
    medan.cameras.update(city.cameras)
    medan.consents.update(city.consents)
    medan.members.update(city.members)
    for name, demo in city.clients.items():
        if demo.secret is not None:
            medan.clients[name] = ClientSecret(demo.client_id, demo.secret)
    medan.start()
    return city


def _install_operator(hub: HubProcess, operator_name: str) -> None:
    """Migrate, install the operator as an installer would (`sharing operator`), serve, and
    give the operator's party an auditor through the API."""
    hub.sharing("migrate")
    made = json.loads(
        hub.sharing("operator", "--party", operator_name, "--admin", f"hub_admin {hub.name}")
    )
    hub.clients["hub_admin"] = ClientSecret(made["client_id"], made["client_secret"])
    hub.parties["operator"] = UUID(made["party_id"])
    hub.start()
    _person_with_client(hub, "auditor", "operator", "auditor", AUDITOR_SCOPES)


# --- seeding over HTTP ----------------------------------------------------------------------


def _post(hub: HubProcess, path: str, body: dict[str, Any], client: str = "hub_admin") -> Any:
    with hub.client(client) as http:
        response = http.post(path, json=body)
    if response.status_code not in (200, 201):
        raise StackError(f"{hub.name}: POST {path} -> {response.status_code} {response.text}")
    return response.json()


def _party(hub: HubProcess, key: str, name: str, kind: str) -> UUID:
    hub.parties[key] = UUID(_post(hub, "/parties", {"name": name, "kind": kind})["id"])
    return hub.parties[key]


def _person_with_client(hub: HubProcess, key: str, party: str, role: str, scopes: str) -> None:
    """A member of ``party`` and a ``client_secret_basic`` client acting for them."""
    party_id = hub.parties[party]
    member = _post(hub, f"/parties/{party_id}/members", {"name": key, "role": role})
    hub.members[key] = UUID(member["id"])
    registered = _post(
        hub,
        f"/parties/{party_id}/clients",
        {
            "name": key,
            "member_id": member["id"],
            "auth_method": "client_secret_basic",
            "scopes": scopes.split(),
        },
    )
    hub.clients[key] = ClientSecret(registered["client_id"], registered["client_secret"])


def _agreement(
    hub: HubProcess, key: str, number: str, template: str, kind: str, parties: list[str]
) -> None:
    body = {
        "kind": kind,
        "number": number,
        "title": number,
        "policy_template": template,
        "document_sha256": _DOCUMENT,
        "status": "active",
        "valid_from": SIGNED_LONG_AGO.isoformat(),
        "party_ids": [str(hub.parties[p]) for p in parties],
    }
    hub.agreements[key] = UUID(_post(hub, "/agreements", body)["id"])


def _camera(
    hub: HubProcess, key: str, owner: str, name: str, at: tuple[float, float], tags: list[str]
) -> None:
    body = {
        "name": name,
        "owner_party_id": str(hub.parties[owner]),
        "latitude": at[0],
        "longitude": at[1],
        "city": "Binjai",
        "tags": tags,
        "visibility": "private",
        "stream_source": f"rtsp://10.30.0.1/{key}",
    }
    hub.cameras[key] = UUID(_post(hub, "/cameras", body)["id"])


def consent_body(
    hub: HubProcess,
    *,
    grantor: str,
    grantee: str,
    agreement: str,
    cameras: list[str],
    modes: list[str],
    purposes: list[str],
    lookback_hours: int | None = None,
) -> dict[str, Any]:
    """The body of ``POST /consents`` for the named parties, agreement and cameras."""
    body: dict[str, Any] = {
        "grantor_party_id": str(hub.parties[grantor]),
        "grantee_party_id": str(hub.parties[grantee]),
        "agreement_id": str(hub.agreements[agreement]),
        "camera_selector": "cameras",
        "camera_ids": [str(hub.cameras[c]) for c in cameras],
        "modes": modes,
        "purposes": purposes,
    }
    if lookback_hours is not None:
        body["max_lookback_hours"] = lookback_hours
    return body


def _seed_polda(polda: HubProcess) -> None:
    """The Polda's officers, and the parties and MoUs that stand for the two cities."""
    _party(polda, "polda", "Polda Sumatera Utara", "police")
    _party(polda, "medan", "Pemerintah Kota Medan", "government")
    _party(polda, "binjai", "Pemerintah Kota Binjai", "government")
    _person_with_client(polda, "officer", "polda", "officer", OFFICER_SCOPES)
    for city in ("medan", "binjai"):
        _agreement(
            polda,
            city,
            f"MoU Pemkot {city.title()} - Polda Sumut No. 7/2025",
            "mou-pemkot-polda",
            "mou",
            ["polda", city],
        )


def _seed_binjai(binjai: HubProcess) -> None:
    """A traffic camera the city shares with the Polda, and a shop camera it does not."""
    _party(binjai, "pemkot", "Pemerintah Kota Binjai", "government")
    _party(binjai, "dishub", "Dinas Perhubungan Kota Binjai", "government")
    _party(binjai, "polda", "Polda Sumatera Utara", "police")
    _party(binjai, "polres", "Polres Binjai", "police")
    _party(binjai, "shop", "Toko Makmur Jaya (Jl. Sudirman Binjai)", "business")
    _agreement(
        binjai,
        "mou",
        "MoU Pemkot Binjai - Polda Sumut No. 7/2025",
        "mou-pemkot-polda",
        "mou",
        ["pemkot", "dishub", "polda", "polres"],
    )
    _agreement(
        binjai,
        "perwal",
        "Perwal Binjai No. 3 Tahun 2025",
        "city-regulation-private-cctv",
        "regulation",
        ["shop", "polres", "polda"],
    )
    _camera(binjai, "traffic", "dishub", "Simpang Tugu Binjai", (3.6001, 98.4853), ["traffic"])
    _camera(binjai, "shop", "shop", "Toko Makmur Jaya - depan", (3.6012, 98.4870), ["storefront"])
    binjai.consents["traffic_to_polda"] = UUID(
        _post(
            binjai,
            "/consents",
            consent_body(
                binjai,
                grantor="dishub",
                grantee="polda",
                agreement="mou",
                cameras=["traffic"],
                modes=["live", "footage"],
                purposes=["traffic_management", "public_order"],
            ),
        )["id"]
    )
    # Shared with the local Polres only: the Polda's hub must never learn of it.
    binjai.consents["shop_to_polres"] = UUID(
        _post(
            binjai,
            "/consents",
            consent_body(
                binjai,
                grantor="shop",
                grantee="polres",
                agreement="perwal",
                cameras=["shop"],
                modes=["live", "footage"],
                purposes=["criminal_investigation", "public_order"],
            ),
        )["id"]
    )


def _seed_medan(medan: HubProcess, city: DemoCity) -> None:
    """Toko Sinar Jaya consents to the Polda for its front camera under the Perwal."""
    body = consent_body(
        medan,
        grantor="shop_sinar",
        grantee="polda",
        agreement="perwal",
        cameras=["sinar_front"],
        modes=["live", "footage"],
        purposes=["criminal_investigation", "public_order"],
        lookback_hours=72,
    )
    medan.consents["sinar_to_polda"] = UUID(_post(medan, "/consents", body, "sinar_owner")["id"])


# --- peering --------------------------------------------------------------------------------


def add_peer_over_http(hub: HubProcess, peer: HubProcess, party: str, agreement: str) -> UUID:
    """``POST /federation/peers`` at ``hub`` for ``peer``; the peer's id at ``hub``."""
    body = {
        "issuer": peer.url,
        "party_id": str(hub.parties[party]),
        "agreement_id": str(hub.agreements[agreement]),
        "name": peer.name,
    }
    hub.peers[peer.name] = UUID(_post(hub, "/federation/peers", body)["id"])
    return hub.peers[peer.name]


def add_peer_by_cli(hub: HubProcess, peer: HubProcess, party: str, agreement: str) -> UUID:
    """``sharing federation add-peer`` at ``hub`` for ``peer``; the peer's id at ``hub``."""
    hub.sharing(
        "federation",
        "add-peer",
        peer.url,
        "--party",
        str(hub.parties[party]),
        "--agreement",
        str(hub.agreements[agreement]),
        "--name",
        peer.name,
    )
    with hub.client("hub_admin") as http:
        listed = http.get("/federation/peers")
    if listed.status_code != 200:
        raise StackError(f"{hub.name}: GET /federation/peers -> {listed.text}")
    for row in _items(listed.json()):
        if row["issuer"] == peer.url:
            hub.peers[peer.name] = UUID(row["id"])
            return hub.peers[peer.name]
    raise StackError(f"{hub.name} does not list {peer.url} after `sharing federation add-peer`")


def _items(listing: Any) -> list[dict[str, Any]]:
    """A listing's rows, whether it is a plain list or a page with ``items``."""
    return list(listing["items"] if isinstance(listing, dict) else listing)


def _peer_medan_and_polda(medan: HubProcess, polda: HubProcess) -> None:
    add_peer_over_http(medan, polda, "polda", "mou")
    add_peer_over_http(polda, medan, "medan", "medan")


def _peer_binjai_and_polda_by_cli(binjai: HubProcess, polda: HubProcess) -> None:
    add_peer_by_cli(binjai, polda, "polda", "mou")
    add_peer_by_cli(polda, binjai, "binjai", "binjai")


# --- waiting --------------------------------------------------------------------------------


def wait_for(
    what: str, check: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.1
) -> T:
    """Call ``check()`` until it returns something truthy; that value. Fails after
    ``timeout`` seconds saying what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        time.sleep(interval)


def footage_window(started_at: float) -> tuple[datetime, datetime]:
    """A window from just before a recording started until now, as an officer asks it."""
    return datetime.fromtimestamp(started_at, UTC) - timedelta(seconds=5), datetime.now(UTC)
