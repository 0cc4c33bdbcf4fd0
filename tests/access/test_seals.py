"""Sealed accesses over HTTP: the owner sees at once that one happened and when it will be
disclosed; a supervisor extends it on the record; release or the date discloses everything
with the same leaf hash. Each test builds its own town under the private CCTV regulation
(seals of up to 30 days, officers as commitments)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.models import AccessSeal, AuditEvent
from sharing.audit.report import access_report
from sharing.clock import FrozenClock
from sharing.consent.templates import (
    PLAIN_DISCLOSURE,
    DisclosureTerms,
    PolicyFileError,
    load_policy_library,
    strictest_disclosure,
)
from sharing.principal import Principal
from sharing.settings import DEFAULT_POLICY_DIR
from sharing.webhooks.models import WebhookDelivery
from tests.access.town import Town, town_fixture
from tests.audit.test_access_report import check_proof, report
from tests.hubprocess import RunningHub

MAX_SEAL_DAYS = 30  # policies/city-regulation-private-cctv.toml [disclosure]


@pytest.fixture
def town(hub: RunningHub) -> Iterator[Town]:
    """A fresh town for each test."""
    yield from town_fixture(hub, "Segel")


def sealed_request(town: Town, until: datetime, **changes: Any) -> dict[str, Any]:
    response = town.officer.http.post(
        "/access-requests", json=town.live_request(sealed_until=until.isoformat(), **changes)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def owner_entry(town: Town, event_id: int | None = None) -> dict[str, Any]:
    """The town owner's only report entry (or the one of ``event_id``)."""
    entries = report(town.owner.http)
    if event_id is not None:
        entries = [e for e in entries if e["event_id"] == event_id]
    [entry] = entries
    return entry


def seal_of(hub: RunningHub, request_id: str) -> AccessSeal | None:
    async def load(session: AsyncSession) -> AccessSeal | None:
        return await session.get(AccessSeal, uuid.UUID(request_id))

    return hub.query(load)


def seal_events(hub: RunningHub, request_id: str) -> list[AuditEvent]:
    async def load(session: AsyncSession) -> list[AuditEvent]:
        rows = await session.scalars(
            select(AuditEvent)
            .where(
                col(AuditEvent.object_id) == request_id,
                col(AuditEvent.action).like("access_seal.%"),
            )
            .order_by(col(AuditEvent.id))
        )
        return list(rows)

    return hub.query(load)


def test_owner_sees_a_sealed_access_at_once_but_none_of_its_details(
    hub: RunningHub, town: Town
) -> None:
    town.grant()
    until = datetime.now(UTC) + timedelta(days=10)
    granted = sealed_request(town, until)

    entry = owner_entry(town)
    assert entry["sealed"] is True
    assert datetime.fromisoformat(entry["disclose_by"]) == until
    assert entry["camera_id"] == str(town.camera_id)
    hidden = (
        "request_id",
        "requester_party_id",
        "requester_unit",
        "mode",
        "purpose",
        "outcome",
        "footage_start",
        "case_reference_commitment",
        "officer_member_id",
        "officer_commitment",
        "leaf",
    )
    assert all(entry[key] is None for key in hidden), entry
    check_proof(hub, entry)  # the proof holds for the hash alone
    assert granted["request_id"] not in json.dumps(report(town.owner.http))
    explanation = town.owner.http.get(f"/access-requests/{granted['request_id']}/explanation")
    assert explanation.status_code == 404
    assert seal_of(hub, granted["request_id"]) is not None


def test_extending_needs_a_supervisor_and_is_recorded(hub: RunningHub, town: Town) -> None:
    town.grant()
    granted = sealed_request(town, datetime.now(UTC) + timedelta(days=5))
    extensions = f"/access-requests/{granted['request_id']}/seal/extensions"
    later = datetime.now(UTC) + timedelta(days=20)
    body = {"sealed_until": later.isoformat(), "reason": "tersangka belum tertangkap"}

    assert town.officer.http.post(extensions, json=body).status_code == 403
    assert town.owner.http.post(extensions, json=body).status_code in (403, 404)
    too_long = {**body, "sealed_until": (later + timedelta(days=MAX_SEAL_DAYS)).isoformat()}
    assert town.supervisor.http.post(extensions, json=too_long).status_code == 422
    earlier = {**body, "sealed_until": (datetime.now(UTC) + timedelta(days=1)).isoformat()}
    assert town.supervisor.http.post(extensions, json=earlier).status_code == 422

    extended = town.supervisor.http.post(extensions, json=body)
    assert extended.status_code == 201, extended.text
    assert datetime.fromisoformat(extended.json()["sealed_until"]) == later
    [event] = seal_events(hub, granted["request_id"])
    assert event.action == "access_seal.extended"
    assert event.actor_member_id == str(town.supervisor.member_id)
    assert datetime.fromisoformat(str(event.details["sealed_until"])) == later
    assert event.details["reason"] == body["reason"]
    entry = owner_entry(town)
    assert entry["sealed"] is True
    assert datetime.fromisoformat(entry["disclose_by"]) == later


def test_release_discloses_everything_with_the_same_leaf_hash(hub: RunningHub, town: Town) -> None:
    town.grant()
    granted = sealed_request(town, datetime.now(UTC) + timedelta(days=10))
    sealed = owner_entry(town)
    release = f"/access-requests/{granted['request_id']}/seal/release"
    assert town.owner.http.post(release, json={"reason": "x"}).status_code in (403, 404)

    released = town.officer.http.post(release, json={"reason": "perkara P21"})
    assert released.status_code == 200, released.text
    assert released.json()["sealed"] is False
    assert town.officer.http.post(release, json={"reason": "again"}).status_code == 409

    disclosed = owner_entry(town, sealed["event_id"])
    assert disclosed["sealed"] is False
    assert disclosed["leaf_hash"] == sealed["leaf_hash"]
    assert disclosed["request_id"] == granted["request_id"]
    assert disclosed["requester_party_id"] == str(town.police_id)
    assert disclosed["outcome"] == "allow"
    assert disclosed["officer_commitment"]
    assert disclosed["case_reference_commitment"]
    assert check_proof(hub, disclosed) == base64.b64decode(sealed["leaf_hash"])
    assert [e.action for e in seal_events(hub, granted["request_id"])] == ["access_seal.released"]


def test_details_appear_when_the_date_passes(hub: RunningHub, town: Town) -> None:
    town.grant()
    until = datetime.now(UTC) + timedelta(days=1)
    sealed_request(town, until)
    sealed = owner_entry(town)
    owner = Principal(
        party_id=town.shop_id,
        client_id="test-owner",
        member_id=town.owner.member_id,
        scopes=frozenset({"audit:read"}),
        token_id="test",
    )

    async def read_at(moment: datetime, session: AsyncSession) -> list[tuple[bool, bytes]]:
        page = await access_report(session, owner, settings=hub.settings, clock=FrozenClock(moment))
        return [(item.sealed, item.proof.leaf_hash) for item in page.items]

    assert hub.query(lambda s: read_at(until - timedelta(seconds=1), s)) == [
        (True, base64.b64decode(sealed["leaf_hash"]))
    ]
    assert hub.query(lambda s: read_at(until + timedelta(seconds=1), s)) == [
        (False, base64.b64decode(sealed["leaf_hash"]))
    ]


def test_sealing_is_refused_where_the_terms_or_the_request_do_not_allow_it(
    hub: RunningHub, town: Town
) -> None:
    town.grant(requires_owner_approval=True)
    soon = datetime.now(UTC) + timedelta(days=3)

    def refused(body: dict[str, Any], client: Any = None) -> str:
        response = (client or town.officer.http).post("/access-requests", json=body)
        assert response.status_code == 422, response.text
        [error] = response.json()["errors"]
        assert error["field"] == "sealed_until"
        return str(error["message"])

    assert "approval" in refused(town.live_request(sealed_until=soon.isoformat()))
    beyond = datetime.now(UTC) + timedelta(days=MAX_SEAL_DAYS + 1)
    assert "at most 30 days" in refused(town.live_request(sealed_until=beyond.isoformat()))
    past = datetime.now(UTC) - timedelta(minutes=1)
    assert "future" in refused(town.live_request(sealed_until=past.isoformat()))
    public = {
        "camera_ids": [str(hub.city.cameras["dishub_gatsu"])],
        "mode": "live",
        "purpose": "public_information",
        "sealed_until": soon.isoformat(),
    }
    with hub.client("polrestabes_cc") as police:
        assert "do not allow sealing" in refused(public, police)
    with hub.client("psc119_cc") as emergency_service:
        gate = {
            "camera_ids": [str(hub.city.cameras["rw05_gate"])],
            "mode": "live",
            "purpose": "emergency_response",
            "sealed_until": soon.isoformat(),
        }
        assert "police" in refused(gate, emergency_service)

    async def count(session: AsyncSession) -> int:
        rows = await session.scalars(
            select(AuditEvent).where(
                col(AuditEvent.actor_party_id) == str(town.police_id),
                col(AuditEvent.action) == "access_request.created",
            )
        )
        return len(list(rows))

    assert hub.query(count) == 0  # a refused seal records no request at all


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ('officer_identity = "hidden"', "disclosure.officer_identity"),
        ("max_seal_days = -1", "disclosure.max_seal_days"),
        ("max_seal_days = 400", "disclosure.max_seal_days"),
        ("seal_forever = true", "disclosure.seal_forever"),
    ],
)
def test_bad_disclosure_terms_stop_the_hub(tmp_path: Path, table: str, field: str) -> None:
    (tmp_path / "terms.toml").write_text(TEMPLATE + f"\n[disclosure]\n{table}\n")
    with pytest.raises(PolicyFileError) as raised:
        load_policy_library(tmp_path)
    assert raised.value.field == field


def test_shipped_terms_and_the_strictest_of_several() -> None:
    library = load_policy_library(DEFAULT_POLICY_DIR)
    terms = {template.name: template.disclosure for template in library.all()}
    assert terms["city-regulation-private-cctv"].max_seal_days == MAX_SEAL_DAYS
    assert terms["mou-pemkot-polda"].hides_officer
    assert terms["public-cameras"] == PLAIN_DISCLOSURE
    both = strictest_disclosure([terms["mou-pemkot-polda"], terms["city-regulation-private-cctv"]])
    assert both == DisclosureTerms(officer_identity="commitment", max_seal_days=MAX_SEAL_DAYS)
    mixed = strictest_disclosure([terms["mou-pemkot-polda"], terms["public-cameras"]])
    assert mixed == PLAIN_DISCLOSURE
    assert strictest_disclosure([]) == PLAIN_DISCLOSURE


TEMPLATE = """\
name = "terms"
instrument_kind = "cooperation_agreement"
description = "Test terms."
modes = ["live"]
purposes = ["public_order"]
grantee_kinds = ["police"]
max_lookback_hours = 0
max_window_minutes = 0
max_token_lifetime_seconds = 600

[title]
id = "Perjanjian uji"
en = "Test agreement"
"""


def test_no_webhook_tells_the_owner_of_a_sealed_access(hub: RunningHub, town: Town) -> None:
    town.grant()
    subscribed = town.owner.http.post(
        "/webhooks", json={"url": "http://127.0.0.1:9/hooks", "event_types": ["*"]}
    )
    assert subscribed.status_code == 201, subscribed.text
    subscription = uuid.UUID(subscribed.json()["id"])
    sealed_request(town, datetime.now(UTC) + timedelta(days=2))

    async def deliveries(session: AsyncSession) -> list[str]:
        rows = await session.scalars(
            select(col(WebhookDelivery.event_type)).where(
                col(WebhookDelivery.subscription_id) == subscription
            )
        )
        return list(rows)

    assert hub.query(deliveries) == []


def test_a_request_that_waited_is_reported_at_each_decision(hub: RunningHub, town: Town) -> None:
    town.grant(requires_owner_approval=True)
    waiting = town.officer.http.post("/access-requests", json=town.live_request())
    assert waiting.status_code == 202, waiting.text
    [task] = waiting.json()["approvals"]
    approved = town.owner.http.post(f"/approvals/{task['id']}/approve")
    assert approved.status_code == 200, approved.text

    first, second = report(town.owner.http)
    assert [first["outcome"], second["outcome"]] == ["needs_approval", "allow"]
    assert first["request_id"] == second["request_id"] == waiting.json()["request_id"]
    # The same request, the same commitments; the approver is named in the leaf, the
    # officer is not.
    assert first["case_reference_commitment"] == second["case_reference_commitment"]
    assert first["officer_commitment"] == second["officer_commitment"]
    assert json.loads(base64.b64decode(first["leaf"]))["actor_member_id"] is None
    leaf = json.loads(base64.b64decode(second["leaf"]))
    assert leaf["actor_member_id"] == str(town.owner.member_id)
    for entry in (first, second):
        check_proof(hub, entry)


def test_a_request_refused_by_a_revocation_is_reported_with_its_context(
    hub: RunningHub, town: Town
) -> None:
    consent = town.grant(requires_owner_approval=True)
    waiting = town.officer.http.post("/access-requests", json=town.live_request())
    assert waiting.status_code == 202, waiting.text
    revoked = town.owner.http.post(
        f"/consents/{consent['id']}/revoke", json={"reason": "kamera dipindah"}
    )
    assert revoked.status_code == 200, revoked.text

    first, second = report(town.owner.http)
    assert first["request_id"] == second["request_id"] == waiting.json()["request_id"]
    assert [first["outcome"], second["outcome"]] == ["needs_approval", "deny"]
    # The cascade's refusal says who asked, how and why, like any decision.
    assert second["mode"] == "live"
    assert second["purpose"] == "criminal_investigation"
    assert second["case_reference_commitment"] == first["case_reference_commitment"]
    check_proof(hub, second)
