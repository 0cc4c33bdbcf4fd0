"""The gateway check, called the way nginx's auth_request calls it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.access.test_access_requests import footage_request
from tests.hubprocess import RunningHub


def mint(hub: RunningHub, body: dict[str, Any]) -> dict[str, Any]:
    with hub.client("polrestabes_cc") as police:
        response = police.post("/access-requests", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def check(hub: RunningHub, uri: str, token: str | None = None) -> httpx.Response:
    headers = {"X-Original-URI": uri}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.get(f"{hub.url}/gateway/auth", headers=headers, timeout=10)


def test_footage_token_opens_playlist_and_segments_inside_its_window(hub: RunningHub) -> None:
    camera = hub.city.cameras["sinar_front"]
    granted = mint(hub, footage_request(camera))
    token = granted["access_token"]
    inside = int(datetime.fromisoformat(granted["footage_start"]).timestamp()) + 60
    assert check(hub, f"/footage/{camera}/index.m3u8", token).status_code == 204
    assert check(hub, f"/footage/{camera}/{inside}.ts", token).status_code == 204
    assert check(hub, f"/footage/{camera}/{inside}.ts?token={token}").status_code == 204


def test_segment_outside_the_window_is_forbidden(hub: RunningHub) -> None:
    camera = hub.city.cameras["sinar_front"]
    granted = mint(hub, footage_request(camera))
    before = int(datetime.fromisoformat(granted["footage_start"]).timestamp()) - 3600
    response = check(hub, f"/footage/{camera}/{before}.ts", granted["access_token"])
    assert response.status_code == 403
    assert "window" in response.json()["detail"]


def test_token_does_not_open_another_camera_or_mode(hub: RunningHub) -> None:
    camera = hub.city.cameras["sinar_front"]
    token = mint(hub, footage_request(camera))["access_token"]
    other = hub.city.cameras["sinar_back"]
    assert check(hub, f"/footage/{other}/index.m3u8", token).status_code == 403
    assert check(hub, f"/live/{camera}/index.m3u8", token).status_code == 403


def test_missing_or_forged_token_is_unauthorized(hub: RunningHub) -> None:
    camera = hub.city.cameras["sinar_front"]
    assert check(hub, f"/footage/{camera}/index.m3u8").status_code == 401
    assert check(hub, f"/footage/{camera}/index.m3u8", "not.a.jwt").status_code == 401
    api_token = hub.token("polrestabes_cc")  # right signer, wrong audience
    assert check(hub, f"/footage/{camera}/index.m3u8", api_token).status_code == 401


def test_token_revoked_by_its_requester_stops_at_once(hub: RunningHub) -> None:
    camera = hub.city.cameras["sinar_front"]
    token = mint(hub, {"camera_ids": [str(camera)], "mode": "live", "purpose": "public_order"})[
        "access_token"
    ]
    assert check(hub, f"/live/{camera}/index.m3u8", token).status_code == 204
    demo = hub.city.clients["polrestabes_cc"]
    revoked = httpx.post(
        f"{hub.url}/oauth/revoke",
        data={"token": token},
        auth=(demo.client_id, demo.secret or ""),
        timeout=10,
    )
    assert revoked.status_code == 200
    assert check(hub, f"/live/{camera}/index.m3u8", token).status_code == 401


def test_every_verdict_is_audited(hub: RunningHub) -> None:
    camera = hub.city.cameras["sinar_front"]
    granted = mint(hub, footage_request(camera))
    check(hub, f"/footage/{camera}/index.m3u8", granted["access_token"])
    check(hub, f"/footage/{hub.city.cameras['sinar_back']}/index.m3u8", granted["access_token"])
    with hub.client("auditor") as auditor:
        events = auditor.get(
            "/audit/events", params={"action": ["gateway.allowed", "gateway.denied"], "limit": 1000}
        ).json()["items"]
    mine = [e for e in events if e["details"].get("request_id") == granted["request_id"]]
    assert [e["action"] for e in mine[-2:]] == ["gateway.allowed", "gateway.denied"]
    assert all(granted["access_token"] not in json.dumps(e) for e in mine)


def test_live_window_claims_are_absent_and_expiry_is_short(hub: RunningHub) -> None:
    camera = hub.city.cameras["dishub_gatsu"]
    granted = mint(
        hub,
        {
            "camera_ids": [str(camera)],
            "mode": "live",
            "purpose": "traffic_management",
            "token_lifetime_seconds": 60,
        },
    )
    assert granted["footage_start"] is None
    expires = datetime.fromisoformat(granted["expires_at"])
    assert expires - datetime.now(UTC) <= timedelta(seconds=61)
