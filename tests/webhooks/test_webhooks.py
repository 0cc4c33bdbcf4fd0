"""Parties subscribe to events and receive them signed, retried and recorded.

The quiet hub never delivers on its own during a test: each test runs the delivery pass
itself (``deliver``), at the moment it chooses, against a real HTTP receiver on loopback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks import Webhook

from sharing.clock import Clock, FrozenClock, SystemClock
from sharing.webhooks.worker import deliver_due
from tests.access.town import Town, build_town
from tests.hubprocess import RunningHub
from tests.webhooks.conftest import MAX_ATTEMPTS
from tests.webhooks.receiver import Receiver, receiving


@pytest.fixture
def town(quiet_hub: RunningHub) -> Iterator[Town]:
    """A fresh shop and police unit whose consent asks for the owner's approval."""
    town = build_town(quiet_hub, "Webhook")
    try:
        town.grant(requires_owner_approval=True)
        yield town
    finally:
        town.close()


def deliver(hub: RunningHub, clock: Clock | None = None) -> int:
    """Run one delivery pass on the hub's database, as the background worker would."""

    async def run(session: AsyncSession) -> int:
        async with httpx.AsyncClient(timeout=5) as http:
            return await deliver_due(
                session, http, clock=clock or SystemClock(), settings=hub.settings
            )

    return hub.query(run)


def later(hours: float) -> FrozenClock:
    return FrozenClock(datetime.now(UTC) + timedelta(hours=hours))


def subscribe(town: Town, receiver: Receiver, *event_types: str) -> dict[str, Any]:
    response = town.owner.http.post(
        "/webhooks", json={"url": receiver.url, "event_types": list(event_types)}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def deliveries(town: Town, subscription_id: str) -> list[dict[str, Any]]:
    response = town.owner.http.get(f"/webhooks/{subscription_id}/deliveries")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def standard_webhooks_signature(secret: str, headers: dict[str, str], body: bytes) -> str:
    """The signature as the Standard Webhooks spec defines it, computed independently."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def test_owner_receives_a_signed_approval_request(quiet_hub: RunningHub, town: Town) -> None:
    with receiving() as receiver:
        subscription = subscribe(town, receiver, "approval.requested")
        assert subscription["secret"].startswith("whsec_")
        pending = town.officer.http.post("/access-requests", json=town.live_request()).json()
        assert deliver(quiet_hub) >= 1
        [received] = receiver.wait_for(1)

    headers = received.headers
    assert headers["webhook-signature"] == standard_webhooks_signature(
        subscription["secret"], headers, received.body
    )
    Webhook(subscription["secret"]).verify(received.body, headers)  # what receivers run
    assert headers["content-type"] == "application/json"
    event = received.event
    assert event["type"] == "approval.requested"
    assert event["data"]["request_id"] == pending["request_id"]
    assert event["data"]["requester_party_id"] == str(town.police_id)
    [delivery] = deliveries(town, subscription["id"])
    assert delivery["id"] == headers["webhook-id"]
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == (
        "delivered",
        1,
        204,
    )


def test_secret_is_shown_once_and_only_the_party_reads_its_subscriptions(
    quiet_hub: RunningHub, town: Town
) -> None:
    with receiving() as receiver:
        subscription = subscribe(town, receiver, "*")
    listed = town.owner.http.get("/webhooks").json()
    assert [item["id"] for item in listed] == [subscription["id"]]
    assert "secret" not in listed[0]
    assert town.officer.http.get(f"/webhooks/{subscription['id']}/deliveries").status_code == 404
    assert town.officer.http.delete(f"/webhooks/{subscription['id']}").status_code == 404
    assert town.owner.http.delete(f"/webhooks/{subscription['id']}").status_code == 204
    assert town.owner.http.get("/webhooks").json() == []


def test_requester_is_told_only_of_the_events_it_chose(quiet_hub: RunningHub, town: Town) -> None:
    with receiving() as receiver:
        response = town.officer.http.post(
            "/webhooks",
            json={"url": receiver.url, "event_types": ["access_request.approved"]},
        )
        assert response.status_code == 201, response.text
        pending = town.officer.http.post("/access-requests", json=town.live_request()).json()
        approve = town.owner.http.post(f"/approvals/{pending['approvals'][0]['id']}/approve")
        assert approve.json()["request_status"] == "approved"
        deliver(quiet_hub)
        [received] = receiver.wait_for(1)
    # access_request.pending was not asked for, so only the approval arrived.
    assert received.event["type"] == "access_request.approved"
    assert received.event["data"]["token_url"] == f"/access-requests/{pending['request_id']}/token"


def test_failed_delivery_is_retried_later_and_then_delivered(
    quiet_hub: RunningHub, town: Town
) -> None:
    with receiving(statuses=[500, 204]) as receiver:
        subscription = subscribe(town, receiver, "approval.requested")
        town.officer.http.post("/access-requests", json=town.live_request())
        deliver(quiet_hub)
        [failed] = deliveries(town, subscription["id"])
        assert (failed["status"], failed["attempts"], failed["last_status_code"]) == (
            "pending",
            1,
            500,
        )
        assert "500" in failed["last_error"]
        assert datetime.fromisoformat(failed["next_attempt_at"]) > datetime.now(UTC)

        assert deliver(quiet_hub) == 0  # the retry is not due yet
        deliver(quiet_hub, later(hours=1))
        first, second = receiver.wait_for(2)

    assert first.headers["webhook-id"] == second.headers["webhook-id"] == failed["id"]
    [delivered] = deliveries(town, subscription["id"])
    assert (delivered["status"], delivered["attempts"], delivered["last_status_code"]) == (
        "delivered",
        2,
        204,
    )


def test_delivery_gives_up_after_the_last_attempt(quiet_hub: RunningHub, town: Town) -> None:
    with receiving(statuses=[503]) as receiver:
        subscription = subscribe(town, receiver, "approval.requested")
        town.officer.http.post("/access-requests", json=town.live_request())
        for attempt in range(MAX_ATTEMPTS):
            deliver(quiet_hub, later(hours=24 * attempt))
        assert deliver(quiet_hub, later(hours=24 * MAX_ATTEMPTS)) == 0
        assert len(receiver.wait_for(MAX_ATTEMPTS)) == MAX_ATTEMPTS

    [gave_up] = deliveries(town, subscription["id"])
    assert (gave_up["status"], gave_up["attempts"]) == ("failed", MAX_ATTEMPTS)
    assert gave_up["next_attempt_at"] is None


def test_unreachable_receiver_is_recorded_as_an_error(quiet_hub: RunningHub, town: Town) -> None:
    with receiving() as receiver:
        url = receiver.url
    # The receiver is gone: nothing listens on its port any more.
    response = town.owner.http.post(
        "/webhooks", json={"url": url, "event_types": ["approval.requested"]}
    )
    subscription_id = response.json()["id"]
    town.officer.http.post("/access-requests", json=town.live_request())
    deliver(quiet_hub)
    [failed] = deliveries(town, subscription_id)
    assert failed["status"] == "pending"
    assert failed["last_status_code"] is None
    assert failed["last_error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://hooks.example.com/x", "event_types": ["*"]}, "url"),
        ({"url": "https://user:pw@hooks.example.com/x", "event_types": ["*"]}, "url"),
        ({"url": "https://hooks.example.com/x", "event_types": ["camera.painted"]}, "event_types"),
        ({"url": "https://hooks.example.com/x", "event_types": []}, "event_types"),
    ],
)
def test_bad_subscription_is_refused_naming_the_field(
    quiet_hub: RunningHub, town: Town, body: dict[str, Any], field: str
) -> None:
    response = town.owner.http.post("/webhooks", json=body)
    assert response.status_code == 422, response.text
    assert any(error["field"].startswith(field) for error in response.json()["errors"])


def test_party_without_a_managing_scope_cannot_subscribe(quiet_hub: RunningHub) -> None:
    with quiet_hub.client("auditor") as auditor:
        response = auditor.post(
            "/webhooks", json={"url": "https://hooks.example.com/x", "event_types": ["*"]}
        )
    assert response.status_code == 403
