"""Requests that wait for an owner's or a supervisor's approval, over HTTP.

Each test builds its own town (a shop, a police unit, an agreement), so the consents it grants
decide its requests alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from standardwebhooks import Webhook

from sharing.access.models import AccessRequest, ApprovalTask
from sharing.access.sweep import expire_overdue_requests
from sharing.audit.models import AuditEvent
from sharing.clock import FrozenClock
from tests.access.town import Town, town_fixture
from tests.hubprocess import RunningHub
from tests.webhooks.receiver import receiving


@pytest.fixture
def town(hub: RunningHub) -> Iterator[Town]:
    """A fresh town for each test."""
    yield from town_fixture(hub, "Approval")


def request_pending(town: Town, **changes: Any) -> dict[str, Any]:
    response = town.officer.http.post("/access-requests", json=town.live_request(**changes))
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "pending"
    return body


def gateway_check(hub: RunningHub, uri: str, token: str) -> httpx.Response:
    return httpx.get(
        f"{hub.url}/gateway/auth",
        headers={"X-Original-URI": uri, "Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_owner_approves_and_police_fetches_a_token_the_gateway_accepts(
    hub: RunningHub, town: Town
) -> None:
    town.grant(requires_owner_approval=True)
    pending = request_pending(town)
    [awaited] = pending["approvals"]
    assert awaited["kind"] == "owner"
    assert awaited["approver_party_id"] == str(town.shop_id)
    assert awaited["camera_ids"] == [str(town.camera_id)]
    request_id = pending["request_id"]
    assert town.officer.http.get(f"/access-requests/{request_id}/token").status_code == 409

    listed = town.owner.http.get("/approvals", params={"status": "pending"})
    assert listed.status_code == 200, listed.text
    [task] = [item for item in listed.json()["items"] if item["request_id"] == request_id]
    assert task["purpose"] == "criminal_investigation"
    assert task["requester_party_id"] == str(town.police_id)

    approved = town.owner.http.post(f"/approvals/{task['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["request_status"] == "approved"
    assert approved.json()["approval"]["status"] == "approved"

    fetched = town.officer.http.get(f"/access-requests/{request_id}/token")
    assert fetched.status_code == 200, fetched.text
    token = fetched.json()
    assert token["camera_ids"] == [str(town.camera_id)]
    assert (
        gateway_check(hub, f"/live/{town.camera_id}/index.m3u8", token["access_token"]).status_code
        == 204
    )
    again = town.officer.http.get(f"/access-requests/{request_id}/token").json()
    assert again["expires_at"] == token["expires_at"]  # fetching never extends the token
    assert town.officer.http.get(f"/access-requests/{request_id}").json()["status"] == "approved"


def test_approver_is_notified_by_a_signed_webhook(hub: RunningHub, town: Town) -> None:
    town.grant(requires_owner_approval=True)
    with receiving() as receiver:
        subscribed = town.owner.http.post(
            "/webhooks", json={"url": receiver.url, "event_types": ["approval.requested"]}
        )
        assert subscribed.status_code == 201, subscribed.text
        pending = request_pending(town)
        [delivery] = receiver.wait_for(1)  # sent by the hub's own background worker
        town.owner.http.delete(f"/webhooks/{subscribed.json()['id']}")
    Webhook(subscribed.json()["secret"]).verify(delivery.body, delivery.headers)  # raises if bad
    assert delivery.event["type"] == "approval.requested"
    assert delivery.event["data"]["request_id"] == pending["request_id"]
    assert delivery.event["data"]["approval_id"] == pending["approvals"][0]["id"]


def test_owner_refuses_and_the_request_is_denied_with_the_reason(
    hub: RunningHub, town: Town
) -> None:
    town.grant(requires_owner_approval=True)
    pending = request_pending(town)
    task_id = pending["approvals"][0]["id"]
    reason = "Kamera ini tidak mengarah ke lokasi kejadian."

    refused = town.owner.http.post(f"/approvals/{task_id}/refuse", json={"reason": reason})
    assert refused.status_code == 200, refused.text
    assert refused.json()["request_status"] == "denied"

    request = town.officer.http.get(f"/access-requests/{pending['request_id']}").json()
    assert request["status"] == "denied"
    [refusal] = [r for r in request["explanation"]["reasons"] if r["code"] == "owner_refused"]
    assert reason in refusal["message"]
    assert (
        town.officer.http.get(f"/access-requests/{pending['request_id']}/token").status_code == 409
    )
    assert town.owner.http.post(f"/approvals/{task_id}/approve").status_code == 409


def test_refusal_needs_a_reason(town: Town) -> None:
    town.grant(requires_owner_approval=True)
    task_id = request_pending(town)["approvals"][0]["id"]
    response = town.owner.http.post(f"/approvals/{task_id}/refuse", json={"reason": ""})
    assert response.status_code == 422
    assert any(error["field"] == "reason" for error in response.json()["errors"])


def test_another_party_cannot_see_or_decide_an_owners_approval(hub: RunningHub, town: Town) -> None:
    town.grant(requires_owner_approval=True)
    task_id = request_pending(town)["approvals"][0]["id"]
    with hub.client("rejeki_owner") as stranger:
        assert stranger.post(f"/approvals/{task_id}/approve").status_code == 404
        listed = stranger.get("/approvals").json()["items"]
    assert task_id not in [item["id"] for item in listed]
    assert town.officer.http.post(f"/approvals/{task_id}/approve").status_code == 404


def test_supervisor_inside_the_requesting_party_approves(hub: RunningHub, town: Town) -> None:
    town.grant(requires_supervisor_approval=True)
    pending = request_pending(town)
    [awaited] = pending["approvals"]
    assert awaited["kind"] == "supervisor"
    assert awaited["approver_party_id"] == str(town.police_id)

    # The officer who asked may see the task but not approve it; the owner is not asked.
    assert town.officer.http.post(f"/approvals/{awaited['id']}/approve").status_code == 403
    assert town.owner.http.post(f"/approvals/{awaited['id']}/approve").status_code == 404

    approved = town.supervisor.http.post(f"/approvals/{awaited['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["request_status"] == "approved"
    assert approved.json()["approval"]["decided_by"] == str(town.supervisor.member_id)
    fetched = town.officer.http.get(f"/access-requests/{pending['request_id']}/token")
    assert fetched.status_code == 200, fetched.text


def test_both_owner_and_supervisor_must_approve_before_a_token_exists(town: Town) -> None:
    town.grant(requires_owner_approval=True, requires_supervisor_approval=True)
    pending = request_pending(town)
    tasks = {item["kind"]: item["id"] for item in pending["approvals"]}
    assert set(tasks) == {"owner", "supervisor"}

    first = town.owner.http.post(f"/approvals/{tasks['owner']}/approve")
    assert first.json()["request_status"] == "pending"
    assert (
        town.officer.http.get(f"/access-requests/{pending['request_id']}/token").status_code == 409
    )
    last = town.supervisor.http.post(f"/approvals/{tasks['supervisor']}/approve")
    assert last.json()["request_status"] == "approved"


def test_requester_withdraws_a_pending_request(hub: RunningHub, town: Town) -> None:
    town.grant(requires_owner_approval=True)
    pending = request_pending(town)
    request_id, task_id = pending["request_id"], pending["approvals"][0]["id"]

    with hub.client("polrestabes_cc") as other_police:
        assert other_police.post(f"/access-requests/{request_id}/withdraw").status_code == 404
    withdrawn = town.officer.http.post(f"/access-requests/{request_id}/withdraw")
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"

    assert town.officer.http.post(f"/access-requests/{request_id}/withdraw").status_code == 409
    assert town.owner.http.post(f"/approvals/{task_id}/approve").status_code == 409
    tasks = town.owner.http.get("/approvals", params={"status": "cancelled"}).json()["items"]
    assert task_id in [item["id"] for item in tasks]


def test_unanswered_request_expires_when_its_time_runs_out(hub: RunningHub, town: Town) -> None:
    town.grant(requires_owner_approval=True)
    pending = request_pending(town)
    request_id, task_id = uuid.UUID(pending["request_id"]), uuid.UUID(pending["approvals"][0]["id"])
    deadline = datetime.fromisoformat(pending["pending_until"])
    assert deadline > datetime.now(UTC)

    def sweep(at: datetime) -> int:
        async def run(session: AsyncSession) -> int:
            return await expire_overdue_requests(session, clock=FrozenClock(at))

        return hub.query(run)

    async def states(session: AsyncSession) -> tuple[str, str, list[str]]:
        request = await session.get(AccessRequest, request_id)
        task = await session.get(ApprovalTask, task_id)
        actions = await session.scalars(
            select(col(AuditEvent.action)).where(col(AuditEvent.object_id) == str(request_id))
        )
        assert request is not None
        assert task is not None
        return request.status, task.status, list(actions)

    sweep(deadline - timedelta(seconds=1))  # not yet
    assert hub.query(states)[:2] == ("pending", "pending")
    assert sweep(deadline + timedelta(seconds=1)) >= 1
    status, task_status, actions = hub.query(states)
    assert (status, task_status) == ("expired", "expired")
    assert "access_request.expired" in actions
    assert town.officer.http.get(f"/access-requests/{request_id}").json()["status"] == "expired"
    assert town.owner.http.post(f"/approvals/{task_id}/approve").status_code == 409
