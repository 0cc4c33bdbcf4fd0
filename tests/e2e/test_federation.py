"""Three hubs work as one network, each still deciding for its own cameras.

Pemkot Medan, Polda Sumut and Pemkot Binjai run as three ``sharing serve`` processes with
their own databases and keys (tests/e2e/federation_stack.py); nginx serves Medan's footage
and asks Medan's hub about every file. A Polda officer only ever talks to the Polda's hub,
and to Medan's nginx with the token Medan minted; everything is checked over HTTP.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from jose import jwt

from tests.e2e.federation_stack import (
    PEER_TIMEOUT_SECONDS,
    SYNC_SECONDS,
    Federation,
    HubProcess,
    consent_body,
    footage_window,
    running_federation,
    wait_for,
)
from tests.e2e.stack import (
    PLAYLIST,
    Footage,
    Gateway,
    Recording,
    StackError,
    running_gateway,
)
from tests.e2e.trail import all_events

pytestmark = pytest.mark.e2e

LEGAL_BASIS = "LP/B/77/XI/2026/SPKT/POLDA SUMATERA UTARA"
# An outage must be answered at once, not after the peer timeout's retries pile up.
QUICK_SECONDS = 2.5
REVOCATION_SECONDS = 1.0
# A hung peer is given up on after one peer timeout: timeouts are not retried
# (sharing/federation/client.py).
HUNG_PEER_SECONDS = PEER_TIMEOUT_SECONDS + 1
# A hub re-reads a peer's keys on an unknown kid at most every 10 s (docs/federation.md).
KEYS_REREAD_SECONDS = 15.0
MEDAN_CAMERAS_WITH_FOOTAGE = ("sinar_front", "sinar_parking")


@dataclass
class Story:
    """What the tests did, so the audit test can find it on both sides."""

    forwarded: dict[str, str] = field(default_factory=dict)  # Medan request id -> token
    home_events: dict[str, int] = field(default_factory=dict)  # Medan request id -> its event


@pytest.fixture(scope="module")
def story() -> Story:
    """The module's shared notebook."""
    return Story()


@pytest.fixture(scope="module")
def federation(stack_dir: Path) -> Iterator[Federation]:
    """Medan, the Polda and Binjai, seeded and peered."""
    try:
        with running_federation(stack_dir / "federation") as started:
            yield started
    except StackError as exc:
        pytest.fail(f"the federation did not start:\n{exc}", pytrace=False)


@pytest.fixture(scope="module")
def medan_footage(
    camera_recording: Recording, federation: Federation, stack_dir: Path
) -> tuple[Footage, Path]:
    """The recording, placed as footage of Medan's cameras; and the media root."""
    try:
        finished = camera_recording.finish()
    except StackError as exc:
        pytest.fail(f"the synthetic camera failed:\n{exc}", pytrace=False)
    media_root = stack_dir / "federation-media"
    for name in MEDAN_CAMERAS_WITH_FOOTAGE:
        finished.copy_for(media_root, federation.medan.cameras[name])
    return finished, media_root


@pytest.fixture(scope="module")
def footage(medan_footage: tuple[Footage, Path]) -> Footage:
    """The recorded footage Medan's nginx serves."""
    return medan_footage[0]


@pytest.fixture(scope="module")
def medan_gateway(
    federation: Federation, medan_footage: tuple[Footage, Path], stack_dir: Path
) -> Iterator[Gateway]:
    """nginx in front of Medan's footage, asking Medan's hub."""
    _, media_root = medan_footage
    try:
        with running_gateway(
            stack_dir / "federation-nginx", hub_url=federation.medan.url, media_root=media_root
        ) as ready:
            yield ready
    except StackError as exc:
        pytest.fail(f"nginx did not start:\n{exc}", pytrace=False)


@pytest.fixture(scope="module")
def player(medan_gateway: Gateway) -> Iterator[httpx.Client]:
    """The officer's video player: talks only to Medan's nginx."""
    with httpx.Client(base_url=medan_gateway.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def officer(federation: Federation) -> Iterator[httpx.Client]:
    """A Polda officer, signed in at the Polda's hub and nowhere else."""
    with federation.polda.client("officer") as client:
        yield client


@pytest.fixture(scope="module")
def window(footage: Footage) -> tuple[datetime, datetime]:
    """The footage window the officer asks for."""
    return footage_window(footage.started_at)


@pytest.fixture(scope="module")
def medan_camera_found(federation: Federation, officer: httpx.Client) -> dict[str, Any]:
    """Toko Sinar Jaya's front camera as the Polda's search shows it, once synced."""
    camera = federation.medan.cameras["sinar_front"]
    return wait_for_remote(officer, camera)


# --- finding -------------------------------------------------------------------------------


def test_polda_officer_finds_a_medan_camera_marked_with_its_home_hub(
    federation: Federation, officer: httpx.Client, medan_camera_found: dict[str, Any]
) -> None:
    medan = federation.medan

    assert medan_camera_found["home_hub"] == medan.url
    assert medan_camera_found["name"] == "Sinar Jaya - depan toko"
    # Metadata only: nothing that would reach the camera itself.
    assert not {"stream_source", "has_stream_source"} & {
        key for key, value in medan_camera_found.items() if value
    }
    listed = camera_ids(search(officer, include_remote=True))
    # Medan's cameras without a consent to the Polda stay at home.
    for unshared in ("rejeki_front", "sinar_back", "kominfo_balaikota"):
        assert str(medan.cameras[unshared]) not in listed
    # Without include_remote, the Polda's hub lists only its own cameras.
    assert str(medan.cameras["sinar_front"]) not in camera_ids(search(officer))


def test_a_binjai_camera_not_shared_with_the_polda_never_appears(
    federation: Federation, officer: httpx.Client
) -> None:
    binjai = federation.binjai
    # Binjai's catalog reaches the Polda (its shared traffic camera), so the absence below
    # is Binjai's decision, not a sync that never ran.
    traffic = wait_for_remote(officer, binjai.cameras["traffic"])
    assert traffic["home_hub"] == binjai.url

    unshared = str(binjai.cameras["shop"])
    deadline = time.monotonic() + 4 * SYNC_SECONDS + 1  # several syncs
    while time.monotonic() < deadline:
        assert unshared not in camera_ids(search(officer, include_remote=True))
        time.sleep(0.2)
    status = peer_status(federation.polda, binjai)
    assert status["remote_cameras"] == 1


# --- forwarded requests --------------------------------------------------------------------


def test_forwarded_request_gets_a_medan_token_that_streams_from_medans_nginx(
    federation: Federation,
    officer: httpx.Client,
    player: httpx.Client,
    footage: Footage,
    window: tuple[datetime, datetime],
    medan_camera_found: dict[str, Any],
    story: Story,
) -> None:
    medan = federation.medan
    camera = medan.cameras["sinar_front"]

    response = request_footage(officer, camera, window)

    assert response.status_code == 201, response.text
    access = response.json()
    token = access["access_token"]
    claims = jwt.get_unverified_claims(token)
    assert claims["iss"] == medan.url
    assert claims["aud"] == medan.settings.gateway_audience
    assert jwt.get_unverified_header(token)["kid"] in medan_key_ids(medan)
    story.forwarded[access["request_id"]] = token
    # The Polda's hub says where the answer came from, and which event of Medan's recorded it.
    assert response.headers["Sharing-Home-Hub"] == medan.url
    story.home_events[access["request_id"]] = int(response.headers["Sharing-Home-Audit-Event"])

    playlist = fetch(player, camera, PLAYLIST, token)
    assert playlist.status_code == 200, playlist.text
    assert playlist.content == (footage.folder / PLAYLIST).read_bytes()
    for segment in footage.segments:
        served = fetch(player, camera, segment, token)
        assert served.status_code == 200, f"{segment}: {served.text}"
        assert served.content == (footage.folder / segment).read_bytes()
    # The Polda's hub answers for the request it forwarded, asking Medan again.
    read = officer.get(f"/access-requests/{access['request_id']}")
    assert read.status_code == 200, read.text
    assert read.json()["id"] == access["request_id"]


def test_a_refusal_at_medan_travels_back_with_its_reasons(
    federation: Federation,
    officer: httpx.Client,
    window: tuple[datetime, datetime],
    medan_camera_found: dict[str, Any],
) -> None:
    camera = federation.medan.cameras["sinar_front"]

    response = request_footage(officer, camera, window, purpose="traffic_management")

    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    codes = [reason["code"] for reason in problem["reasons"]]
    assert any(code.startswith("purpose_") for code in codes), codes
    assert all(reason["camera_id"] == str(camera) for reason in problem["reasons"])
    # The reasons are Medan's own, as Medan's auditor reads them there.
    with federation.medan.client("auditor") as auditor:
        explained = auditor.get(f"/access-requests/{problem['request_id']}/explanation")
    assert explained.status_code == 200, explained.text
    stored_codes = [reason["code"] for reason in explained.json()["explanation"]["reasons"]]
    assert stored_codes == codes


# --- revocation ----------------------------------------------------------------------------


def test_medan_owner_revokes_and_the_polda_officers_stream_stops_within_a_second(
    federation: Federation,
    officer: httpx.Client,
    player: httpx.Client,
    footage: Footage,
    window: tuple[datetime, datetime],
) -> None:
    medan, polda = federation.medan, federation.polda
    parking = medan.cameras["sinar_parking"]
    with medan.client("sinar_owner") as owner:
        granted = owner.post(
            "/consents",
            json=consent_body(
                medan,
                grantor="shop_sinar",
                grantee="polda",
                agreement="perwal",
                cameras=["sinar_parking"],
                modes=["footage"],
                purposes=["criminal_investigation"],
                lookback_hours=24,
            ),
        )
        assert granted.status_code == 201, granted.text
        consent_id = granted.json()["id"]
        # The new consent reaches the Polda's search with the next catalog sync.
        wait_for_remote(officer, parking)
        access = request_footage(officer, parking, window)
        assert access.status_code == 201, access.text
        request_id, token = access.json()["request_id"], access.json()["access_token"]
        assert fetch(player, parking, PLAYLIST, token).status_code == 200

        revoked = owner.post(
            f"/consents/{consent_id}/revoke", json={"reason": "Kamera parkir tidak dibagikan."}
        )
        assert revoked.status_code == 200, revoked.text
        latency = seconds_until_refused(player, parking, token)

    assert latency < REVOCATION_SECONDS
    for segment in footage.segments:
        assert fetch(player, parking, segment, token).status_code == 401
    # The Polda's hub sees the new status: Medan no longer hands the token over.
    handed = officer.get(f"/access-requests/{request_id}/token")
    assert handed.status_code == 409, handed.text
    # And the camera leaves the Polda's search with the next sync.
    wait_for(
        "the revoked camera to leave the Polda's search",
        lambda: str(parking) not in camera_ids(search(officer, include_remote=True)),
    )
    assert _healthy(peer_status(polda, medan))


# --- a peer goes down ----------------------------------------------------------------------


def test_with_binjai_down_the_polda_answers_quickly_and_recovers(
    federation: Federation, officer: httpx.Client, medan_camera_found: dict[str, Any]
) -> None:
    polda, binjai = federation.polda, federation.binjai
    traffic = binjai.cameras["traffic"]
    wait_for_remote(officer, traffic)
    assert request_live_traffic(officer, traffic).status_code == 201

    binjai.stop()
    stopped_at = datetime.now(UTC)
    try:
        started = time.monotonic()
        refused = request_live_traffic(officer, traffic)
        took = time.monotonic() - started
        assert refused.status_code == 502, refused.text
        assert refused.json()["type"].endswith("/peer-failed")
        assert binjai.url in refused.json()["detail"]
        assert took < QUICK_SECONDS

        # Search goes on with what the last syncs brought, Medan's cameras included.
        started = time.monotonic()
        listed = camera_ids(search(officer, include_remote=True))
        assert time.monotonic() - started < QUICK_SECONDS
        assert str(federation.medan.cameras["sinar_front"]) in listed

        # The operator's status view says what is wrong, within a couple of sync periods.
        failing = wait_for(
            "the Polda's status view to report Binjai's outage",
            lambda: _failed_since(peer_status(polda, binjai), stopped_at),
        )
        assert failing["last_error"]
        assert binjai.url in polda.sharing("federation", "status")
    finally:
        binjai.start()
    restarted_at = datetime.now(UTC)

    wait_for(
        "the Polda's hub to sync Binjai again",
        lambda: _synced_since(peer_status(polda, binjai), restarted_at),
    )
    assert request_live_traffic(officer, traffic).status_code == 201


def test_with_binjai_hung_the_polda_gives_up_within_its_timeout(
    federation: Federation, officer: httpx.Client, medan_camera_found: dict[str, Any]
) -> None:
    polda, binjai = federation.polda, federation.binjai
    traffic = binjai.cameras["traffic"]
    wait_for_remote(officer, traffic)

    binjai.freeze()
    try:
        started = time.monotonic()
        refused = request_live_traffic(officer, traffic)
        took = time.monotonic() - started
        assert refused.status_code == 502, refused.text
        assert refused.json()["type"].endswith("/peer-failed")
        assert took < HUNG_PEER_SECONDS
        started = time.monotonic()
        assert str(federation.medan.cameras["sinar_front"]) in camera_ids(
            search(officer, include_remote=True)
        )
        assert time.monotonic() - started < QUICK_SECONDS
    finally:
        binjai.thaw()
    thawed_at = datetime.now(UTC)

    wait_for(
        "the Polda's hub to sync Binjai again",
        lambda: _synced_since(peer_status(polda, binjai), thawed_at),
    )
    assert request_live_traffic(officer, traffic).status_code == 201


# --- key rotation --------------------------------------------------------------------------


def test_forwarded_requests_keep_working_across_key_rotations(
    federation: Federation,
    officer: httpx.Client,
    player: httpx.Client,
    window: tuple[datetime, datetime],
    medan_camera_found: dict[str, Any],
    story: Story,
) -> None:
    medan, polda = federation.medan, federation.polda
    camera = medan.cameras["sinar_front"]

    medan_kid = new_kid(medan.sharing("keys", "rotate"))
    rotated_at = datetime.now(UTC)
    # Medan signs with its new key within its key refresh; its gateway accepts the token.
    token = wait_for(
        "Medan to mint with its new key",
        lambda: _token_signed_with(request_footage(officer, camera, window), medan_kid),
    )
    assert fetch(player, camera, PLAYLIST, token).status_code == 200
    # Medan's own calls to the Polda (its catalog sync) now carry the new kid, and pass.
    wait_for(
        "Medan to sync the Polda's catalog after its rotation",
        lambda: _synced_since(peer_status(medan, polda), rotated_at),
        timeout=KEYS_REREAD_SECONDS,
    )

    # The Polda rotates too: Medan reads the Polda's new key when it first meets its kid.
    polda_kid = new_kid(polda.sharing("keys", "rotate"))
    officer_token = wait_for(
        "the Polda to sign with its new key",
        lambda: _fresh_token_signed_with(polda, "officer", polda_kid),
    )
    access = wait_for(
        "Medan to accept the Polda's new key",
        lambda: _granted(request_footage(officer, camera, window, api_token=officer_token)),
        timeout=KEYS_REREAD_SECONDS,
    )
    assert fetch(player, camera, PLAYLIST, access["access_token"]).status_code == 200
    assert polda_kid in peer_status(medan, polda)["key_ids"]
    story.forwarded[access["request_id"]] = access["access_token"]


# --- audit on both sides -------------------------------------------------------------------


def test_each_hubs_audit_names_the_others_event_ids(federation: Federation, story: Story) -> None:
    if not story.forwarded:
        pytest.skip("reads the requests the module's other tests forward; run the whole module")
    medan, polda = federation.medan, federation.polda
    with polda.client("auditor") as auditor:
        polda_events = {e["id"]: e for e in all_events(auditor)}
    with medan.client("auditor") as auditor:
        medan_events = {e["id"]: e for e in all_events(auditor)}
    officer_member = str(polda.members["officer"])

    for request_id in story.forwarded:
        # Medan: the request, decided for the Polda's party on behalf of the officer, and
        # pointing at the Polda's event that forwarded it.
        at_medan = [e for e in medan_events.values() if e["object_id"] == request_id]
        assert at_medan, f"Medan recorded nothing for {request_id}"
        for event in at_medan:
            chain = event["details"].get("on_behalf_of")
            assert chain is not None, event
            assert chain["hub"] == polda.url
            assert chain["subject"] == officer_member
        origins = {
            ref
            for event in at_medan
            for ref in references(event["details"])
            if ref.startswith(f"{polda.url}#")
        }
        assert origins, f"no Medan event of {request_id} names its origin at the Polda"
        for origin in origins:
            forwarded = polda_events[int(origin.rsplit("#", 1)[1])]
            assert forwarded["action"] == "access_request.forwarded"

        # The Polda: the answer, naming its own forwarding event, Medan's request and the
        # event of Medan's decision.
        answered = [
            e
            for e in polda_events.values()
            if e["action"] == "access_request.forward_answered" and e["object_id"] == request_id
        ]
        assert len(answered) == 1, f"the Polda recorded {len(answered)} answers of {request_id}"
        details = answered[0]["details"]
        assert details["remote_request_id"] == request_id
        assert f"{polda.url}#{details['forwarded_event']}" in origins
        decided = medan_events[details["remote_event_id"]]
        assert decided["object_id"] == request_id
        assert decided["action"] == "access_request.decided"
        if request_id in story.home_events:
            assert story.home_events[request_id] == decided["id"]


# --- helpers -------------------------------------------------------------------------------


def search(client: httpx.Client, *, include_remote: bool = False) -> list[dict[str, Any]]:
    """Every camera the caller's search lists, following the pages."""
    items: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"limit": 200, "offset": len(items)}
        if include_remote:
            params["include_remote"] = "true"
        response = client.get("/cameras", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        if len(items) >= page["total"] or not page["items"]:
            return items


def camera_ids(cameras: list[dict[str, Any]]) -> set[str]:
    """The ids of ``cameras``."""
    return {str(camera["id"]) for camera in cameras}


def wait_for_remote(officer: httpx.Client, camera: UUID) -> dict[str, Any]:
    """The remote ``camera`` as the officer's search lists it, once a sync brought it."""

    def found() -> dict[str, Any] | None:
        for item in search(officer, include_remote=True):
            if item["id"] == str(camera):
                return item
        return None

    result: dict[str, Any] = wait_for(f"camera {camera} in the Polda's search", found)
    return result


def peer_status(hub: HubProcess, peer: HubProcess) -> dict[str, Any]:
    """``GET /federation/peers/{id}`` at ``hub`` for ``peer``, as its operator reads it."""
    with hub.client("hub_admin") as admin:
        response = admin.get(f"/federation/peers/{hub.peers[peer.name]}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def request_footage(
    officer: httpx.Client,
    camera: UUID,
    window: tuple[datetime, datetime],
    *,
    purpose: str = "criminal_investigation",
    api_token: str | None = None,
) -> httpx.Response:
    """Ask the Polda's hub for footage of one camera."""
    headers = {"Authorization": f"Bearer {api_token}"} if api_token else None
    body = {
        "camera_ids": [str(camera)],
        "mode": "footage",
        "purpose": purpose,
        "legal_basis": LEGAL_BASIS,
        "justification": "Pencurian kendaraan, pelaku melintas ke arah Medan",
        "footage_start": window[0].isoformat(),
        "footage_end": window[1].isoformat(),
    }
    return officer.post("/access-requests", json=body, headers=headers)


def request_live_traffic(officer: httpx.Client, camera: UUID) -> httpx.Response:
    """Ask the Polda's hub to watch a traffic camera live."""
    body = {
        "camera_ids": [str(camera)],
        "mode": "live",
        "purpose": "traffic_management",
        "justification": "Arus mudik di perbatasan Binjai",
    }
    return officer.post("/access-requests", json=body)


def fetch(player: httpx.Client, camera: UUID, file: str, token: str) -> httpx.Response:
    """GET a footage file through Medan's nginx with a bearer token."""
    return player.get(f"/footage/{camera}/{file}", headers={"Authorization": f"Bearer {token}"})


def seconds_until_refused(player: httpx.Client, camera: UUID, token: str) -> float:
    """Poll the playlist until nginx refuses the token; how long that took."""
    started = time.monotonic()
    while time.monotonic() - started < 5:
        if fetch(player, camera, PLAYLIST, token).status_code == 401:
            return time.monotonic() - started
        time.sleep(0.02)
    pytest.fail("Medan's gateway still served footage 5 s after the consent was revoked")


def medan_key_ids(medan: HubProcess) -> set[str]:
    """The kids Medan's JWKS publishes."""
    jwks = httpx.get(f"{medan.url}/.well-known/jwks.json", timeout=10)
    assert jwks.status_code == 200, jwks.text
    return {key["kid"] for key in jwks.json()["keys"]}


def new_kid(output: str) -> str:
    """The kid ``sharing keys rotate`` printed."""
    found = re.search(r"new current signing key: (\S+)", output)
    assert found, output
    return found.group(1)


def references(details: Any) -> set[str]:
    """Every string inside an audit event's details, however nested."""
    if isinstance(details, str):
        return {details}
    if isinstance(details, dict):
        return set().union(*(references(value) for value in details.values()))
    if isinstance(details, list):
        return set().union(*(references(value) for value in details))
    return set()


def _granted(response: httpx.Response) -> dict[str, Any] | None:
    """The body of a 201; None for a refusal by a peer that does not know a key yet."""
    if response.status_code == 201:
        return dict(response.json())
    assert response.status_code in (401, 502), response.text
    return None


def _token_signed_with(response: httpx.Response, kid: str) -> str | None:
    assert response.status_code == 201, response.text
    token = str(response.json()["access_token"])
    return token if jwt.get_unverified_header(token)["kid"] == kid else None


def _fresh_token_signed_with(hub: HubProcess, client: str, kid: str) -> str | None:
    token = hub.fresh_token(client)
    return token if jwt.get_unverified_header(token)["kid"] == kid else None


def _failed_since(status: dict[str, Any], moment: datetime) -> dict[str, Any] | None:
    at = status.get("last_error_at")
    return status if at and datetime.fromisoformat(at) > moment else None


def _healthy(status: dict[str, Any]) -> bool:
    """The peer's last sync succeeded, whatever failed before it."""
    synced, failed = status.get("last_sync_at"), status.get("last_error_at")
    return synced is not None and (failed is None or failed < synced)


def _synced_since(status: dict[str, Any], moment: datetime) -> dict[str, Any] | None:
    at = status.get("last_sync_at")
    return status if at and datetime.fromisoformat(at) > moment else None
