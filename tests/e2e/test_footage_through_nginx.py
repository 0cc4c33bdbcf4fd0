"""The police watch a shop's recorded footage through a real nginx gateway.

The hub runs as its own process, nginx runs ``deploy/nginx/gateway.conf.template`` and asks
the hub about every playlist and segment, and ffmpeg recorded the footage. Everything is
checked over HTTP, as a police command center's player and a shop owner would see it; the
last test reads the audit trail the story left behind.
"""

from __future__ import annotations

import re
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import httpx
import pytest
from jose import jwt

from tests.e2e.stack import PLAYLIST, Footage, Gateway
from tests.e2e.trail import Trail, all_events
from tests.hubprocess import RunningHub

pytestmark = pytest.mark.e2e

POLICE = "polrestabes_cc"
OWNER = "sinar_owner"
AUDITOR = "auditor"
LEGAL_BASIS = "LP/B/1234/XI/2026/SPKT/POLRESTABES MEDAN"
# The footage window starts a little before the recording did, as an officer would ask.
WINDOW_LEAD = timedelta(seconds=5)

TokenIn = Literal["header", "query"]


@dataclass
class Story:
    """What the tests did, by id, so the last test can find it in the audit trail."""

    police_api_token_id: str = ""
    fetched: dict[str, set[str]] = field(default_factory=dict)  # token id -> paths served
    wrong_camera_path: str = ""
    expired: tuple[str, str] = ("", "")  # token id, path refused after expiry
    revoked: tuple[str, str, str, str] = ("", "", "", "")  # consent, request, token, path
    refused_requests: dict[str, str] = field(default_factory=dict)  # request id -> reason code

    def served(self, token: str, path: str) -> None:
        """Note that the gateway served ``path`` for ``token``."""
        self.fetched.setdefault(token_id(token), set()).add(path)


@pytest.fixture(scope="module")
def story() -> Story:
    """The module's shared notebook."""
    return Story()


@pytest.fixture(scope="module")
def legal_basis(repo_root: Path) -> str:
    """A police report number the city regulation's template accepts."""
    with (repo_root / "policies" / "city-regulation-private-cctv.toml").open("rb") as file:
        rule = tomllib.load(file)["legal_basis"]["criminal_investigation"]
    assert re.fullmatch(rule["pattern"], LEGAL_BASIS), "the policy's legal-basis rule changed"
    return LEGAL_BASIS


@pytest.fixture(scope="module")
def police(hub: RunningHub, story: Story) -> Iterator[httpx.Client]:
    """The police command center, signed in with client credentials (client_secret_basic)."""
    demo = hub.city.clients[POLICE]
    response = httpx.post(
        f"{hub.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(demo.client_id, demo.secret or ""),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"].lower() == "bearer"
    token = response.json()["access_token"]
    story.police_api_token_id = token_id(token)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=hub.url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def owner(hub: RunningHub) -> Iterator[httpx.Client]:
    """Toko Sinar Jaya's owner."""
    with hub.client(OWNER) as client:
        yield client


@pytest.fixture(scope="module")
def media(gateway: Gateway) -> Iterator[httpx.Client]:
    """A video player: talks only to nginx, never to the hub."""
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def window(footage: Footage) -> tuple[datetime, datetime]:
    """A footage window from just before the recording started until now."""
    start = datetime.fromtimestamp(footage.started_at, UTC) - WINDOW_LEAD
    return start, datetime.now(UTC)


@pytest.fixture(scope="module")
def sinar_front_access(
    hub: RunningHub, police: httpx.Client, legal_basis: str, window: tuple[datetime, datetime]
) -> dict[str, Any]:
    """The police's approved footage request for Toko Sinar Jaya's front camera."""
    response = request_footage(police, hub.city.cameras["sinar_front"], window, legal_basis)
    assert response.status_code == 201, response.text
    return dict(response.json())


# --- watching footage ---------------------------------------------------------------------


@pytest.mark.parametrize("token_in", ["header", "query"])
def test_police_download_every_segment_of_consented_footage(
    hub: RunningHub,
    gateway: Gateway,
    media: httpx.Client,
    footage: Footage,
    sinar_front_access: dict[str, Any],
    story: Story,
    token_in: TokenIn,
) -> None:
    camera = hub.city.cameras["sinar_front"]
    token = sinar_front_access["access_token"]

    playlist = fetch(media, camera, PLAYLIST, token, token_in)
    assert playlist.status_code == 200, playlist.text
    assert playlist.content == (footage.folder / PLAYLIST).read_bytes()
    assert playlist.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert playlist.headers["cache-control"] == "no-store"
    story.served(token, media_path(camera, PLAYLIST))

    segments = segments_of(playlist.text)
    assert segments == list(footage.segments)
    assert len(segments) >= 2
    for segment in segments:
        response = fetch(media, camera, segment, token, token_in)
        assert response.status_code == 200, f"{segment}: {response.text}"
        assert response.content == (footage.folder / segment).read_bytes()
        assert response.headers["content-type"] == "video/mp2t"
        assert response.headers["cache-control"] == "no-store"
        story.served(token, media_path(camera, segment))
    # The token may ride in the query string, but never into nginx's log.
    assert token not in (gateway.prefix / "access.log").read_text()


def test_token_for_one_camera_is_refused_on_another_cameras_footage(
    hub: RunningHub,
    media: httpx.Client,
    footage: Footage,
    sinar_front_access: dict[str, Any],
    story: Story,
) -> None:
    rejeki = hub.city.cameras["rejeki_front"]
    token = sinar_front_access["access_token"]

    for file in (PLAYLIST, footage.segments[0]):
        response = fetch(media, rejeki, file, token, "header")
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 403
    story.wrong_camera_path = media_path(rejeki, PLAYLIST)


def test_footage_without_a_token_is_refused(
    hub: RunningHub, media: httpx.Client, footage: Footage
) -> None:
    camera = hub.city.cameras["sinar_front"]

    for file in (PLAYLIST, footage.segments[0]):
        response = media.get(media_path(camera, file))
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("token_in", ["header", "query"])
def test_garbage_token_is_refused(hub: RunningHub, media: httpx.Client, token_in: TokenIn) -> None:
    camera = hub.city.cameras["sinar_front"]

    response = fetch(media, camera, PLAYLIST, "not-a-token.at-all.really", token_in)

    assert response.status_code == 401


def test_segments_outside_the_tokens_footage_window_are_refused(
    hub: RunningHub,
    police: httpx.Client,
    media: httpx.Client,
    footage: Footage,
    legal_basis: str,
) -> None:
    camera = hub.city.cameras["sinar_front"]
    recorded = datetime.fromtimestamp(footage.started_at, UTC)
    an_hour_earlier = (recorded - timedelta(hours=1), recorded - timedelta(minutes=30))
    token = request_footage(police, camera, an_hour_earlier, legal_basis).json()["access_token"]

    # The playlist is an index, not footage; every segment in it lies outside the window.
    assert fetch(media, camera, PLAYLIST, token, "header").status_code == 200
    for segment in footage.segments:
        assert fetch(media, camera, segment, token, "header").status_code == 403


def test_expired_token_is_refused(
    hub: RunningHub,
    police: httpx.Client,
    media: httpx.Client,
    legal_basis: str,
    window: tuple[datetime, datetime],
    story: Story,
) -> None:
    camera = hub.city.cameras["sinar_front"]
    response = request_footage(police, camera, window, legal_basis, token_lifetime_seconds=10)
    assert response.status_code == 201, response.text
    access = response.json()
    assert access["expires_in"] <= 10
    assert fetch(media, camera, PLAYLIST, access["access_token"], "header").status_code == 200
    story.served(access["access_token"], media_path(camera, PLAYLIST))

    expires_at = datetime.fromisoformat(access["expires_at"])
    time.sleep(max((expires_at - datetime.now(UTC)).total_seconds(), 0) + 1)

    assert fetch(media, camera, PLAYLIST, access["access_token"], "header").status_code == 401
    story.expired = (token_id(access["access_token"]), media_path(camera, PLAYLIST))


# --- refusals that explain themselves -----------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """A footage request policy refuses, and the reason code it must give."""

    camera: str
    purpose: str
    lookback_hours: float | None  # None: the recorded footage's window
    code: str  # the expected reason code, or its prefix when it ends with "_"


@pytest.mark.parametrize(
    "refusal",
    [
        Refusal("rejeki_front", "criminal_investigation", None, "no_consent"),
        Refusal("sinar_front", "public_information", None, "purpose_"),
        Refusal("sinar_front", "criminal_investigation", 100, "lookback_exceeded"),
    ],
    ids=["camera-without-consent", "purpose-outside-the-terms", "beyond-the-look-back"],
)
def test_refused_footage_request_says_why(
    hub: RunningHub,
    police: httpx.Client,
    legal_basis: str,
    window: tuple[datetime, datetime],
    story: Story,
    refusal: Refusal,
) -> None:
    camera = hub.city.cameras[refusal.camera]
    if refusal.lookback_hours is not None:
        start = datetime.now(UTC) - timedelta(hours=refusal.lookback_hours)
        window = (start, start + timedelta(hours=2))

    response = request_footage(police, camera, window, legal_basis, purpose=refusal.purpose)

    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    codes = [reason["code"] for reason in problem["reasons"]]
    assert any(code.startswith(refusal.code) for code in codes), codes
    for reason in problem["reasons"]:
        assert reason["message"].strip()
        assert reason["camera_id"] == str(camera)
    story.refused_requests[problem["request_id"]] = refusal.code


# --- the owner changes their mind ---------------------------------------------------------


def test_owner_revokes_consent_and_the_gateway_refuses_within_a_second(
    hub: RunningHub,
    owner: httpx.Client,
    police: httpx.Client,
    media: httpx.Client,
    footage: Footage,
    legal_basis: str,
    window: tuple[datetime, datetime],
    sinar_front_access: dict[str, Any],
    story: Story,
) -> None:
    # A consent of its own, on a camera no other consent covers, so the token below can only
    # rest on it and revoking it leaves the demo city's consents alone.
    parking = hub.city.cameras["sinar_parking"]
    granted = owner.post(
        "/consents",
        json={
            "grantee_party_id": str(hub.city.parties["polrestabes"]),
            "agreement_id": str(hub.city.agreements["perwal"]),
            "camera_selector": "cameras",
            "camera_ids": [str(parking)],
            "modes": ["footage"],
            "purposes": ["criminal_investigation"],
            "max_lookback_hours": 24,
        },
    )
    assert granted.status_code == 201, granted.text
    consent_id = granted.json()["id"]
    response = request_footage(police, parking, window, legal_basis)
    assert response.status_code == 201, response.text
    access = response.json()
    assert [g["consent_id"] for g in access["explanation"]["grants"]] == [consent_id]
    token = access["access_token"]
    assert fetch(media, parking, PLAYLIST, token, "header").status_code == 200
    story.served(token, media_path(parking, PLAYLIST))

    revoked = owner.post(
        f"/consents/{consent_id}/revoke", json={"reason": "Kamera parkir tidak lagi dibagikan."}
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    latency = seconds_until_refused(media, parking, token)

    assert latency < 1.0
    for segment in footage.segments:
        assert fetch(media, parking, segment, token, "query").status_code == 401
    # The demo consent the other tests rely on still holds.
    front = fetch(
        media,
        hub.city.cameras["sinar_front"],
        PLAYLIST,
        sinar_front_access["access_token"],
        "header",
    )
    assert front.status_code == 200
    story.revoked = (
        consent_id,
        access["request_id"],
        token_id(token),
        media_path(parking, PLAYLIST),
    )


# --- the audit trail ----------------------------------------------------------------------


def test_audit_trail_tells_the_story_in_order(
    hub: RunningHub, sinar_front_access: dict[str, Any], story: Story
) -> None:
    if not (
        story.fetched
        and story.wrong_camera_path
        and all(story.expired)
        and all(story.revoked)
        and story.refused_requests
    ):
        pytest.skip("reads the trail the module's other tests leave; run the whole module")
    with hub.client(AUDITOR) as auditor:
        trail = Trail(all_events(auditor))
    request_id = sinar_front_access["request_id"]
    jti = token_id(sinar_front_access["access_token"])

    # The police sign in, ask, are allowed, get a token and watch.
    issued = trail.one("oauth.token_issued", story.police_api_token_id)
    created = trail.one("access_request.created", request_id)
    decided = trail.one("access_request.decided", request_id)
    minted = trail.one("access_token.minted", jti)
    watched = trail.all("gateway.allowed", jti)
    assert decided["outcome"] == "allow"
    assert {e["details"]["path"] for e in watched} == story.fetched[jti]
    wrong_camera = trail.first("gateway.denied", jti, path=story.wrong_camera_path)
    trail.assert_in_order(issued, created, decided, minted, *watched)
    trail.assert_in_order(minted, wrong_camera)
    assert wrong_camera["details"]["camera_id"] == story.wrong_camera_path.split("/")[2]

    # An expired token names no token the gateway can trust, so the refusal names the path.
    expired_jti, expired_path = story.expired
    expired_watch = trail.one("gateway.allowed", expired_jti)
    expired = trail.first("gateway.denied", "-", path=expired_path, after=expired_watch)
    assert "expired" in str(expired["details"]["reason"]).lower()

    # The owner revokes: the consent, then every token resting on it, then the gateway says no.
    consent_id, revoked_request, revoked_jti, revoked_path = story.revoked
    granted = trail.one("consent.granted", consent_id)
    revoked_consent = trail.one("consent.revoked", consent_id)
    revoked_token = trail.one("access_token.revoked", revoked_jti)
    refused = trail.first("gateway.denied", revoked_jti, path=revoked_path)
    assert revoked_token["details"]["consent_id"] == consent_id
    assert revoked_jti in revoked_consent["details"]["revoked_tokens"]
    assert "revoked" in str(refused["details"]["reason"])
    trail.assert_in_order(
        granted,
        trail.one("access_request.decided", revoked_request),
        trail.one("access_token.minted", revoked_jti),
        trail.one("gateway.allowed", revoked_jti),
        revoked_consent,
        revoked_token,
        refused,
    )

    # Refusals are on record with their reasons, and no token was minted for them.
    for refused_request, code in story.refused_requests.items():
        decision = trail.one("access_request.decided", refused_request)
        assert decision["outcome"] == "deny"
        assert any(str(c).startswith(code) for c in decision["details"]["reasons"])
        trail.assert_in_order(trail.one("access_request.created", refused_request), decision)
    assert not [
        e
        for e in trail.events
        if e["action"] == "access_token.minted"
        and e["details"]["request_id"] in story.refused_requests
    ]


# --- helpers ------------------------------------------------------------------------------


def request_footage(
    police: httpx.Client,
    camera: UUID,
    window: tuple[datetime, datetime],
    legal_basis: str,
    *,
    purpose: str = "criminal_investigation",
    token_lifetime_seconds: int | None = None,
) -> httpx.Response:
    """Ask the hub for footage of one camera."""
    body: dict[str, object] = {
        "camera_ids": [str(camera)],
        "mode": "footage",
        "purpose": purpose,
        "legal_basis": legal_basis,
        "justification": "Pencurian sepeda motor di depan toko",
        "footage_start": window[0].isoformat(),
        "footage_end": window[1].isoformat(),
    }
    if token_lifetime_seconds is not None:
        body["token_lifetime_seconds"] = token_lifetime_seconds
    return police.post("/access-requests", json=body)


def media_path(camera: UUID, file: str) -> str:
    """Where the gateway serves a camera's footage file."""
    return f"/footage/{camera}/{file}"


def fetch(
    media: httpx.Client, camera: UUID, file: str, token: str, token_in: TokenIn
) -> httpx.Response:
    """GET a footage file through nginx, with the token as a player would send it."""
    if token_in == "header":
        return media.get(media_path(camera, file), headers={"Authorization": f"Bearer {token}"})
    return media.get(media_path(camera, file), params={"token": token})


def segments_of(playlist: str) -> list[str]:
    """The segment URIs an HLS playlist lists."""
    return [line for line in playlist.splitlines() if line and not line.startswith("#")]


def token_id(token: str) -> str:
    """A JWT's ``jti``, read without verifying it (the hub verifies; tests only look)."""
    return str(jwt.get_unverified_claims(token)["jti"])


def seconds_until_refused(media: httpx.Client, camera: UUID, token: str) -> float:
    """Poll the playlist until nginx refuses the token; how long that took."""
    started = time.monotonic()
    while time.monotonic() - started < 5:
        if fetch(media, camera, PLAYLIST, token, "header").status_code == 401:
            return time.monotonic() - started
        time.sleep(0.02)
    pytest.fail("the gateway still served footage 5 s after the consent was revoked")
