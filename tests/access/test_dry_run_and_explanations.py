"""Asking "would this be allowed?" and "why was this decided so?" over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.access.models import AccessRequest, AccessToken, ApprovalTask
from sharing.audit.models import AuditEvent
from tests.access.town import Town, town_fixture
from tests.hubprocess import RunningHub


@pytest.fixture
def town(hub: RunningHub) -> Iterator[Town]:
    """A fresh town for each test."""
    yield from town_fixture(hub, "Explain")


def rows_of(hub: RunningHub, party_id: uuid.UUID) -> tuple[int, int, int, int]:
    """How many requests, tasks, tokens and audit events the party has caused."""

    async def count(session: AsyncSession) -> tuple[int, int, int, int]:
        mine = select(col(AccessRequest.id)).where(
            col(AccessRequest.requester_party_id) == party_id
        )
        requests = await session.scalar(select(func.count()).select_from(mine.subquery()))
        tasks = await session.scalar(
            select(func.count()).where(col(ApprovalTask.request_id).in_(mine))
        )
        tokens = await session.scalar(
            select(func.count()).where(col(AccessToken.request_id).in_(mine))
        )
        events = await session.scalar(
            select(func.count()).where(col(AuditEvent.actor_party_id) == str(party_id))
        )
        return int(requests or 0), int(tasks or 0), int(tokens or 0), int(events or 0)

    return hub.query(count)


def test_dry_run_says_approval_would_be_needed_and_records_nothing(
    hub: RunningHub, town: Town
) -> None:
    town.grant(requires_owner_approval=True)
    before = rows_of(hub, town.police_id)
    response = town.officer.http.post("/access-requests/dry-run", json=town.live_request())
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["outcome"] == "needs_approval"
    [need] = answer["approvals"]
    assert (need["kind"], need["party_id"]) == ("owner", str(town.shop_id))
    assert answer["explanation"]["grants"][0]["camera_id"] == str(town.camera_id)
    assert rows_of(hub, town.police_id) == before


def test_dry_run_allows_and_mints_nothing(hub: RunningHub, town: Town) -> None:
    town.grant()
    before = rows_of(hub, town.police_id)
    answer = town.officer.http.post("/access-requests/dry-run", json=town.live_request()).json()
    assert answer["outcome"] == "allow"
    assert answer["token_lifetime_seconds"] > 0
    assert "access_token" not in answer
    assert rows_of(hub, town.police_id) == before


def test_dry_run_lists_every_reason_of_a_refusal(town: Town) -> None:
    answer = town.officer.http.post("/access-requests/dry-run", json=town.live_request()).json()
    assert answer["outcome"] == "deny"
    assert [reason["code"] for reason in answer["reasons"]] == ["no_consent"]
    assert answer["token_lifetime_seconds"] == 0


def test_dry_run_finds_the_cameras_around_an_incident(hub: RunningHub) -> None:
    gate = hub.city.cameras["rw05_gate"]
    with hub.client("psc119_cc") as dispatcher:
        response = dispatcher.post(
            "/access-requests/dry-run",
            json={
                "mode": "live",
                "purpose": "emergency_response",
                "emergency": True,
                "incident": {"latitude": 3.5921, "longitude": 98.6498, "radius_m": 50},
            },
        )
    assert response.status_code == 200, response.text
    assert response.json()["camera_ids"][0] == str(gate)


def test_request_without_cameras_or_incident_is_invalid(town: Town) -> None:
    response = town.officer.http.post("/access-requests", json=town.live_request(camera_ids=[]))
    assert response.status_code == 422
    assert "camera_ids" in response.json()["detail"]


def test_incident_radius_is_bounded(town: Town) -> None:
    response = town.officer.http.post(
        "/access-requests/dry-run",
        json=town.live_request(incident={"latitude": 3.59, "longitude": 98.65, "radius_m": 5000}),
    )
    assert response.status_code == 422
    assert any("radius_m" in error["field"] for error in response.json()["errors"])


def test_requester_owner_and_auditor_read_why_a_request_was_decided(
    hub: RunningHub, town: Town
) -> None:
    consent = town.grant()
    granted = town.officer.http.post("/access-requests", json=town.live_request())
    assert granted.status_code == 201, granted.text
    path = f"/access-requests/{granted.json()['request_id']}/explanation"

    with hub.client("auditor") as auditor:
        readers = [town.officer.http.get(path), town.owner.http.get(path), auditor.get(path)]
    for response in readers:
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "approved"
        [grant] = body["explanation"]["grants"]
        assert (grant["consent_id"], grant["consent_version"]) == (consent["id"], 1)
    with hub.client("rejeki_owner") as stranger:
        assert stranger.get(path).status_code == 404


def test_explanation_of_a_refusal_after_approval_names_the_approver_and_reason(
    town: Town,
) -> None:
    town.grant(requires_owner_approval=True)
    pending = town.officer.http.post("/access-requests", json=town.live_request()).json()
    task_id = pending["approvals"][0]["id"]
    town.owner.http.post(f"/approvals/{task_id}/refuse", json={"reason": "Tidak relevan."})

    body = town.owner.http.get(f"/access-requests/{pending['request_id']}/explanation").json()
    assert body["status"] == "denied"
    [approval] = body["approvals"]
    assert (approval["status"], approval["reason"]) == ("refused", "Tidak relevan.")
    assert body["explanation"]["reasons"][-1]["code"] == "owner_refused"
