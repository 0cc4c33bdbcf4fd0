"""Accountable emergency access over HTTP: every emergency access opens a review for the owner,
a second person (the requesting party's supervisor) ratifies it within 24 hours, what is not
ratified is flagged in the owner's report, and repeated unratified use suspends the party's
emergency right under the agreement until an operator restores it.

Each test stages its own emergency service, owner, camera and agreement, so that flags and
suspensions never touch the demo city or another test.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.access.models import AccessRequest
from sharing.audit.models import AuditEvent
from sharing.clock import FrozenClock
from sharing.consent.facts import Decision, Grant
from sharing.consent.models import Agreement, AgreementParty, Consent
from sharing.emergency.models import EmergencyReview
from sharing.emergency.service import open_reviews
from sharing.emergency.sweep import flag_overdue_reviews
from tests.hubprocess import RunningHub

INCIDENT = (3.5921, 98.6498)
RESPONDER_SCOPES = ["registry:read", "consent:read", "access:request"]
OWNER_SCOPES = ["registry:read", "registry:write", "consent:read", "consent:write"]


@dataclass
class Person:
    """A member of a staged party and an HTTP client acting for them."""

    member_id: uuid.UUID
    http: httpx.Client


@dataclass
class Scene:
    """One emergency service, one camera owner with a camera, and the agreement between them."""

    responder_party: uuid.UUID
    owner_party: uuid.UUID
    agreement: uuid.UUID
    camera: uuid.UUID
    dispatcher: Person  # an officer: makes requests, may not ratify
    supervisor: Person  # makes the requests in these tests, so may not ratify them
    second_supervisor: Person  # the second person who may ratify
    owner: Person


def stage(hub: RunningHub) -> Scene:
    """Register a fresh emergency service and owner through the API, with their people."""
    suffix = uuid.uuid4().hex[:8]
    with hub.client("hub_admin") as admin:
        responder = _created(
            admin.post("/parties", json={"name": f"Damkar uji {suffix}", "kind": "emergency"})
        )
        owner = _created(
            admin.post("/parties", json={"name": f"Toko uji {suffix}", "kind": "business"})
        )
        dispatcher = _person(hub, admin, responder["id"], "officer", RESPONDER_SCOPES)
        supervisor = _person(hub, admin, responder["id"], "supervisor", RESPONDER_SCOPES)
        second = _person(hub, admin, responder["id"], "supervisor", RESPONDER_SCOPES)
        owner_person = _person(hub, admin, owner["id"], "owner", OWNER_SCOPES)
    camera = _created(
        owner_person.http.post(
            "/cameras",
            json={"name": "Kamera uji darurat", "latitude": INCIDENT[0], "longitude": INCIDENT[1]},
        )
    )
    responder_id, owner_id = uuid.UUID(responder["id"]), uuid.UUID(owner["id"])
    agreement = hub.query(_agreement_between(responder_id, owner_id, suffix))
    return Scene(
        responder_party=responder_id,
        owner_party=owner_id,
        agreement=agreement,
        camera=uuid.UUID(camera["id"]),
        dispatcher=dispatcher,
        supervisor=supervisor,
        second_supervisor=second,
        owner=owner_person,
    )


def emergency_access(hub: RunningHub, scene: Scene) -> dict[str, Any]:
    """Record an emergency access by the scene's supervisor, as the access broker does when
    the agreement's emergency clause allows it, and return the review it opened (as the owner
    reads it)."""

    async def allow(session: AsyncSession) -> uuid.UUID:
        now = datetime.now(UTC)
        request = AccessRequest(
            requester_party_id=scene.responder_party,
            requester_member_id=scene.supervisor.member_id,
            requester_client_id="staged-supervisor",
            camera_ids=[str(scene.camera)],
            mode="live",
            purpose="emergency_response",
            status="approved",
            explanation={},
            emergency=True,
            incident_latitude=INCIDENT[0],
            incident_longitude=INCIDENT[1],
            incident_radius_m=300,
            decided_at=now,
            created_at=now,
        )
        session.add(request)
        grant = Grant(scene.camera, None, None, scene.agreement, "emergency", emergency=True)
        decision = Decision("allow", (grant,), (), 300, decided_at=now)
        [review] = await open_reviews(
            session, request=request, decision=decision, now=now, settings=hub.settings
        )
        await session.commit()
        return review.id

    review_id = hub.query(allow)
    response = scene.owner.http.get(f"/emergency-reviews/{review_id}")
    assert response.status_code == 200, response.text
    review: dict[str, Any] = response.json()
    return review


def make_overdue(hub: RunningHub, review_id: str) -> None:
    """Move a review's due time into the past, as if 24 hours had gone by without a word."""

    async def backdate(session: AsyncSession) -> None:
        await session.execute(
            update(EmergencyReview)
            .where(col(EmergencyReview.id) == uuid.UUID(review_id))
            .values(due_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        await session.commit()

    hub.query(backdate)


def sweep(hub: RunningHub) -> None:
    """Run the overdue sweep now, as the hub's background loop does."""
    clock = FrozenClock(datetime.now(UTC))

    async def run(session: AsyncSession) -> None:
        await flag_overdue_reviews(session, clock.now(), hub.settings)

    hub.query(run)


def test_an_emergency_access_opens_a_review_for_the_owner_due_in_24_hours(
    hub: RunningHub,
) -> None:
    scene = stage(hub)
    review = emergency_access(hub, scene)
    mine = scene.supervisor.http.get("/emergency-reviews").json()
    owners = scene.owner.http.get("/emergency-reviews", params={"status": "open"}).json()
    created = datetime.fromisoformat(review["created_at"])
    assert datetime.fromisoformat(review["due_at"]) - created == timedelta(hours=24)
    assert (review["status"], review["flagged"]) == ("open", False)
    assert review["owner_party_id"] == str(scene.owner_party)
    assert review["requester_party_id"] == str(scene.responder_party)
    assert review["agreement_id"] == str(scene.agreement)
    assert review["access"]["camera_ids"] == [str(scene.camera)]
    assert review["access"]["purpose"] == "emergency_response"
    assert [item["id"] for item in mine["items"]] == [review["id"]]
    assert [item["id"] for item in owners["items"]] == [review["id"]]
    assert _audited(hub, review["id"], "emergency_review.opened")


def test_an_emergency_request_through_the_broker_is_allowed_without_the_owner_and_reviewed(
    hub: RunningHub,
) -> None:
    scene = stage(hub)
    hub.query(_consent_needing_owner_approval(scene))
    body = {
        "mode": "live",
        "purpose": "emergency_response",
        "emergency": True,
        "incident": {"latitude": INCIDENT[0], "longitude": INCIDENT[1], "radius_m": 50},
        "camera_ids": [str(scene.camera)],
        "justification": "Kebakaran ruko, laporan 119",
    }
    allowed = scene.supervisor.http.post("/access-requests", json=body)
    routine = scene.supervisor.http.post("/access-requests", json={**body, "emergency": False})
    assert allowed.status_code == 201, allowed.text
    assert routine.status_code == 202, routine.text  # without the emergency, the owner decides
    reviews = scene.owner.http.get("/emergency-reviews").json()["items"]
    assert [review["request_id"] for review in reviews] == [allowed.json()["request_id"]]
    assert reviews[0]["access"]["camera_ids"] == [str(scene.camera)]


def test_a_suspended_party_is_refused_emergency_access_until_restored(hub: RunningHub) -> None:
    scene = stage(hub)
    hub.query(_consent_needing_owner_approval(scene))
    for _ in range(3):
        make_overdue(hub, emergency_access(hub, scene)["id"])
    sweep(hub)
    body = {
        "mode": "live",
        "purpose": "emergency_response",
        "emergency": True,
        "camera_ids": [str(scene.camera)],
    }
    refused = scene.dispatcher.http.post("/access-requests", json=body)
    [suspension] = scene.supervisor.http.get("/emergency-suspensions").json()
    with hub.client("hub_admin") as admin:
        admin.post(f"/emergency-suspensions/{suspension['id']}/restore")
    allowed_again = scene.dispatcher.http.post("/access-requests", json=body)
    assert refused.status_code == 403, refused.text
    assert "emergency_right_suspended" in [r["code"] for r in refused.json()["reasons"]]
    assert allowed_again.status_code == 201, allowed_again.text


def test_only_a_second_person_with_a_supervisor_role_ratifies(hub: RunningHub) -> None:
    scene = stage(hub)
    review = emergency_access(hub, scene)
    ratify = f"/emergency-reviews/{review['id']}/ratify"
    by_officer = scene.dispatcher.http.post(ratify)
    by_requesting_supervisor = scene.supervisor.http.post(ratify)
    by_owner = scene.owner.http.post(ratify)
    by_second_supervisor = scene.second_supervisor.http.post(ratify)
    again = scene.second_supervisor.http.post(ratify)
    assert by_officer.status_code == 403, by_officer.text
    assert by_requesting_supervisor.status_code == 403, by_requesting_supervisor.text
    assert by_owner.status_code == 403, by_owner.text
    assert by_second_supervisor.status_code == 200, by_second_supervisor.text
    ratified = by_second_supervisor.json()
    assert ratified["status"] == "ratified"
    assert ratified["ratified_by"] == str(scene.second_supervisor.member_id)
    assert again.status_code == 409
    assert _audited(hub, review["id"], "emergency_review.ratified")


def test_owner_closes_a_ratified_review_but_not_one_still_awaiting_its_supervisor(
    hub: RunningHub,
) -> None:
    scene = stage(hub)
    review = emergency_access(hub, scene)
    close = f"/emergency-reviews/{review['id']}/close"
    note = {"note": "Diperiksa: sesuai laporan kejadian."}
    too_early = scene.owner.http.post(close, json=note)
    scene.second_supervisor.http.post(f"/emergency-reviews/{review['id']}/ratify")
    by_requester = scene.supervisor.http.post(close, json=note)
    by_owner = scene.owner.http.post(close, json=note)
    assert too_early.status_code == 409, too_early.text
    assert by_requester.status_code == 403, by_requester.text
    assert by_owner.status_code == 200, by_owner.text
    assert (by_owner.json()["status"], by_owner.json()["closing_note"]) == ("closed", note["note"])
    assert _audited(hub, review["id"], "emergency_review.closed")


def test_another_owner_can_neither_see_nor_close_the_review(hub: RunningHub) -> None:
    scene = stage(hub)
    review = emergency_access(hub, scene)
    make_overdue(hub, review["id"])
    sweep(hub)
    with hub.client("rejeki_owner") as stranger:
        read = stranger.get(f"/emergency-reviews/{review['id']}")
        closed = stranger.post(f"/emergency-reviews/{review['id']}/close", json={"note": "x"})
        listed = stranger.get("/emergency-reviews", params={"limit": 200}).json()
    assert read.status_code == 404
    assert closed.status_code == 404
    assert review["id"] not in [item["id"] for item in listed["items"]]


def test_unratified_access_is_flagged_in_the_owners_report_and_the_third_suspends_the_right(
    hub: RunningHub,
) -> None:
    scene = stage(hub)
    reviews = [emergency_access(hub, scene) for _ in range(3)]
    for review in reviews[:2]:
        make_overdue(hub, review["id"])
    sweep(hub)
    report = scene.owner.http.get("/emergency-reviews", params={"flagged": "true"}).json()
    suspended_after_two = scene.supervisor.http.get("/emergency-suspensions").json()
    make_overdue(hub, reviews[2]["id"])
    sweep(hub)
    suspensions = scene.supervisor.http.get("/emergency-suspensions").json()
    assert sorted(item["id"] for item in report["items"]) == sorted(r["id"] for r in reviews[:2])
    assert all(item["flagged"] and item["status"] == "open" for item in report["items"])
    assert suspended_after_two == []
    [suspension] = suspensions
    assert suspension["party_id"] == str(scene.responder_party)
    assert suspension["agreement_id"] == str(scene.agreement)
    assert suspension["active"] is True
    assert _audited(hub, reviews[0]["id"], "emergency_review.flagged")
    assert _audited(hub, suspension["id"], "emergency.right_suspended")
    # Flagged now, the owner may close it without waiting for a ratification.
    closed = scene.owner.http.post(
        f"/emergency-reviews/{reviews[0]['id']}/close", json={"note": "Tidak diratifikasi."}
    )
    assert closed.status_code == 200, closed.text


def test_operator_restores_a_suspended_emergency_right(hub: RunningHub) -> None:
    scene = stage(hub)
    for _ in range(3):
        make_overdue(hub, emergency_access(hub, scene)["id"])
    sweep(hub)
    [suspension] = scene.supervisor.http.get("/emergency-suspensions").json()
    restore = f"/emergency-suspensions/{suspension['id']}/restore"
    by_suspended_party = scene.supervisor.http.post(restore)
    with hub.client("rejeki_owner") as stranger:
        by_stranger = stranger.post(restore)
    with hub.client("hub_admin") as admin:
        by_operator = admin.post(restore)
        again = admin.post(restore)
        active = admin.get("/emergency-suspensions", params={"active": "true"}).json()
    assert by_suspended_party.status_code == 403
    assert by_stranger.status_code == 404
    assert by_operator.status_code == 200, by_operator.text
    restored = by_operator.json()
    assert restored["active"] is False
    assert restored["restored_by"] == str(hub.city.members["cc_operator"])
    assert again.status_code == 409
    assert suspension["id"] not in [item["id"] for item in active]
    # The slate is clean: one more unratified access does not suspend the right again.
    make_overdue(hub, emergency_access(hub, scene)["id"])
    sweep(hub)
    assert [s["active"] for s in scene.supervisor.http.get("/emergency-suspensions").json()] == [
        False
    ]


def test_bad_review_filters_are_refused_naming_the_field(hub: RunningHub) -> None:
    with hub.client("rw05_owner") as owner:
        response = owner.get("/emergency-reviews", params={"status": "forgotten"})
    assert response.status_code == 422
    assert "status" in [error["field"] for error in response.json()["errors"]]


# --- Staging ------------------------------------------------------------------------------


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _person(
    hub: RunningHub, admin: httpx.Client, party_id: str, role: str, scopes: list[str]
) -> Person:
    member = _created(
        admin.post(f"/parties/{party_id}/members", json={"name": f"Uji {role}", "role": role})
    )
    client = _created(
        admin.post(
            f"/parties/{party_id}/clients",
            json={
                "name": f"client of {member['id']}",
                "member_id": member["id"],
                "auth_method": "client_secret_basic",
                "scopes": scopes,
            },
        )
    )
    token = httpx.post(
        f"{hub.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=10,
    )
    assert token.status_code == 200, token.text
    http = httpx.Client(
        base_url=hub.url,
        timeout=10,
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
    )
    return Person(member_id=uuid.UUID(member["id"]), http=http)


def _agreement_between(
    responder: uuid.UUID, owner: uuid.UUID, suffix: str
) -> Callable[[AsyncSession], Awaitable[uuid.UUID]]:
    async def insert(session: AsyncSession) -> uuid.UUID:
        now = datetime.now(UTC)
        agreement = Agreement(
            kind="regulation",
            number=f"Perwal uji {suffix}",
            title="Pemanfaatan CCTV untuk tanggap darurat (uji)",
            status="active",
            policy_template="city-regulation-private-cctv",
            document_sha256=hashlib.sha256(suffix.encode()).hexdigest(),
            valid_from=now - timedelta(days=1),
            created_at=now,
        )
        session.add(agreement)
        await session.flush()
        session.add_all(
            AgreementParty(agreement_id=agreement.id, party_id=party)
            for party in (responder, owner)
        )
        await session.commit()
        return agreement.id

    return insert


def _consent_needing_owner_approval(
    scene: Scene,
) -> Callable[[AsyncSession], Awaitable[None]]:
    """The owner's consent to the emergency service: live, for emergencies, each request
    approved by the owner, which the agreement's emergency clause lets an emergency skip."""

    async def insert(session: AsyncSession) -> None:
        now = datetime.now(UTC)
        consent_id = uuid.uuid4()
        session.add(
            Consent(
                id=consent_id,
                lineage_id=consent_id,
                grantor_party_id=scene.owner_party,
                grantee_party_id=scene.responder_party,
                agreement_id=scene.agreement,
                camera_selector="all",
                modes=["live"],
                purposes=["emergency_response"],
                requires_owner_approval=True,
                valid_from=now - timedelta(hours=1),
                created_at=now,
            )
        )
        await session.commit()

    return insert


def _audited(hub: RunningHub, object_id: str, action: str) -> bool:
    async def find(session: AsyncSession) -> bool:
        found = await session.scalar(
            select(col(AuditEvent.id)).where(
                col(AuditEvent.object_id) == object_id, col(AuditEvent.action) == action
            )
        )
        return found is not None

    return hub.query(find)
