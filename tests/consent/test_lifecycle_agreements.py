"""The hub operator moves agreements through their life: draft, active, suspended, resumed,
terminated, expired; terms are fixed once active and change by amendment; an agreement that
stops takes every token and pending request resting on it down with it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from sharing.consent.agreement_life import expire_agreements
from tests.consent.test_consent_api import (
    Shop,
    agreement_body,
    audit_actions,
    field_errors,
    mint_token_on,
    notifications,
    open_shop,
    pending_request_on,
    register_agreement,
    stopped_state,
    subscribe,
)
from tests.hubprocess import RunningHub

REASON = {"reason": "Ditandatangani kedua pihak"}


@dataclass
class Office:
    """A shop under its own agreements, and the police it grants to."""

    shop: Shop
    police_id: uuid.UUID

    def parties(self) -> list[uuid.UUID]:
        return [self.shop.party_id, self.police_id]


@pytest.fixture(scope="module")
def office(hub: RunningHub) -> Iterator[Office]:
    shop = open_shop(hub, "Toko Uji Siklus")
    yield Office(shop, hub.city.parties["polrestabes"])
    shop.http.close()


def move(hub: RunningHub, agreement_id: object, action: str, reason: str = "uji") -> Any:
    with hub.client("hub_admin") as admin:
        return admin.post(f"/agreements/{agreement_id}/{action}", json={"reason": reason})


def grant_under(office: Office, agreement_id: object) -> Any:
    return office.shop.http.post(
        "/consents",
        json={
            "grantee_party_id": str(office.police_id),
            "agreement_id": str(agreement_id),
            "camera_selector": "cameras",
            "camera_ids": [str(office.shop.camera_id)],
            "modes": ["live"],
            "purposes": ["public_order"],
        },
    )


# --- draft and activation -----------------------------------------------------------------


def test_new_agreement_is_a_draft_and_no_one_can_grant_under_it(
    hub: RunningHub, office: Office
) -> None:
    with hub.client("hub_admin") as admin:
        body = agreement_body(office.parties())
        del body["status"]
        draft = admin.post("/agreements", json=body).json()

    refused = grant_under(office, draft["id"])

    assert draft["status"] == "draft"
    assert draft["version"] == 1
    assert draft["amends_id"] is None
    assert refused.status_code == 422
    assert field_errors(refused) == ["agreement_id"]


def test_hub_operator_activates_a_draft_recording_who_when_and_why(
    hub: RunningHub, office: Office
) -> None:
    draft = register_agreement(hub, office.parties(), status="draft")

    activated = move(hub, draft["id"], "activate", "Ditandatangani kedua pihak")

    assert activated.status_code == 200, activated.text
    body = activated.json()
    assert body["status"] == "active"
    assert body["status_reason"] == "Ditandatangani kedua pihak"
    assert body["status_changed_by"]
    assert body["status_changed_at"] is not None
    assert audit_actions(hub, draft["id"]) == ["agreement.registered", "agreement.status_changed"]
    assert grant_under(office, draft["id"]).status_code == 201


def test_an_agreement_cannot_be_registered_already_suspended(
    hub: RunningHub, office: Office
) -> None:
    with hub.client("hub_admin") as admin:
        response = admin.post(
            "/agreements", json=agreement_body(office.parties(), status="suspended")
        )

    assert response.status_code == 422
    assert field_errors(response) == ["status"]


def test_only_the_hub_operator_moves_an_agreement(hub: RunningHub, office: Office) -> None:
    draft = register_agreement(hub, office.parties(), status="draft")

    response = office.shop.http.post(f"/agreements/{draft['id']}/activate", json=REASON)

    assert response.status_code == 403
    with hub.client("hub_admin") as admin:
        assert admin.get(f"/agreements/{draft['id']}").json()["status"] == "draft"


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        ([], "resume"),
        ([], "suspend"),
        (["activate"], "activate"),
        (["activate"], "resume"),
        (["terminate"], "activate"),
        (["activate", "terminate"], "resume"),
    ],
)
def test_a_move_the_status_does_not_allow_conflicts(
    hub: RunningHub, office: Office, setup: list[str], action: str
) -> None:
    draft = register_agreement(hub, office.parties(), status="draft")
    for step in setup:
        assert move(hub, draft["id"], step).status_code == 200

    response = move(hub, draft["id"], action)

    assert response.status_code == 409
    assert response.json()["type"] == "/problems/conflict"


def test_a_status_change_needs_a_reason(hub: RunningHub, office: Office) -> None:
    draft = register_agreement(hub, office.parties(), status="draft")
    with hub.client("hub_admin") as admin:
        response = admin.post(f"/agreements/{draft['id']}/activate", json={})

    assert response.status_code == 422
    assert field_errors(response) == ["reason"]


def test_an_agreement_whose_validity_ended_cannot_be_activated(
    hub: RunningHub, office: Office
) -> None:
    past = datetime.now(UTC) - timedelta(days=1)
    draft = register_agreement(
        hub,
        office.parties(),
        status="draft",
        valid_from=(past - timedelta(days=30)).isoformat(),
        valid_until=past.isoformat(),
    )

    response = move(hub, draft["id"], "activate")

    assert response.status_code == 409
    assert "amend" in response.json()["detail"]


# --- terms: editable in draft, amended once active ----------------------------------------


def test_hub_operator_edits_a_drafts_terms(hub: RunningHub, office: Office) -> None:
    draft = register_agreement(hub, office.parties(), status="draft")
    with hub.client("hub_admin") as admin:
        edited = admin.patch(
            f"/agreements/{draft['id']}",
            json={"title": "Judul baru", "party_ids": [str(office.shop.party_id)]},
        )

    assert edited.status_code == 200, edited.text
    assert edited.json()["title"] == "Judul baru"
    assert edited.json()["party_ids"] == [str(office.shop.party_id)]
    assert audit_actions(hub, draft["id"])[-1] == "agreement.updated"


def test_an_active_agreements_terms_are_fixed(hub: RunningHub, office: Office) -> None:
    active = register_agreement(hub, office.parties())
    with hub.client("hub_admin") as admin:
        response = admin.patch(
            f"/agreements/{active['id']}", json={"policy_template": "public-cameras"}
        )
        unchanged = admin.get(f"/agreements/{active['id']}").json()

    assert response.status_code == 409
    assert "amendments" in response.json()["detail"]
    assert unchanged["policy_template"] == active["policy_template"]


def test_a_draft_edit_is_checked_like_a_registration(hub: RunningHub, office: Office) -> None:
    draft = register_agreement(hub, office.parties(), status="draft")
    with hub.client("hub_admin") as admin:
        response = admin.patch(
            f"/agreements/{draft['id']}", json={"policy_template": "no-such-terms"}
        )

    assert response.status_code == 422
    assert field_errors(response) == ["policy_template"]


def test_amending_an_active_agreement_drafts_a_new_version_naming_the_original(
    hub: RunningHub, office: Office
) -> None:
    active = register_agreement(hub, office.parties())
    later = (datetime.now(UTC) + timedelta(days=3650)).isoformat()
    with hub.client("hub_admin") as admin:
        amended = admin.post(f"/agreements/{active['id']}/amendments", json={"valid_until": later})
        second = admin.post(f"/agreements/{active['id']}/amendments", json={})
        original = admin.get(f"/agreements/{active['id']}").json()

    assert amended.status_code == 201, amended.text
    amendment = amended.json()
    assert amendment["status"] == "draft"
    assert amendment["amends_id"] == active["id"]
    assert amendment["version"] == active["version"] + 1
    assert amendment["number"] == active["number"]
    assert amendment["party_ids"] == active["party_ids"]
    assert amendment["valid_until"] is not None
    assert original["status"] == "active"  # the original stays in force until ended
    assert second.status_code == 409  # one open draft amendment at a time


def test_a_draft_is_edited_not_amended(hub: RunningHub, office: Office) -> None:
    draft = register_agreement(hub, office.parties(), status="draft")
    with hub.client("hub_admin") as admin:
        response = admin.post(f"/agreements/{draft['id']}/amendments", json={})

    assert response.status_code == 409
    assert "PATCH" in response.json()["detail"]


# --- stopping: suspension, termination, expiry --------------------------------------------


def test_suspending_an_agreement_stops_its_tokens_and_pending_requests_until_resumed(
    hub: RunningHub, office: Office
) -> None:
    agreement = register_agreement(hub, office.parties())
    consent = grant_under(office, agreement["id"]).json()
    jti = mint_token_on(hub, consent["id"], office.police_id)
    request_id, task_id = pending_request_on(
        hub, consent["id"], uuid.UUID(agreement["id"]), office.police_id
    )

    suspended = move(hub, agreement["id"], "suspend", "Audit kepatuhan")

    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"
    state = stopped_state(hub, jti, request_id, task_id)
    assert state.token_revoked
    assert state.request_status == "denied"
    assert state.task_status == "cancelled"
    assert "access_token.revoked" in audit_actions(hub, jti)
    assert audit_actions(hub, request_id)[-1] == "access_request.decided"
    # The consent itself waits: resuming the agreement lets it allow access again.
    assert office.shop.http.get(f"/consents/{consent['id']}").json()["status"] == "active"
    resumed = move(hub, agreement["id"], "resume", "Audit selesai")
    assert resumed.json()["status"] == "active"
    assert resumed.json()["status_reason"] == "Audit selesai"


def test_terminating_an_agreement_stops_its_tokens(hub: RunningHub, office: Office) -> None:
    agreement = register_agreement(hub, office.parties())
    consent = grant_under(office, agreement["id"]).json()
    jti = mint_token_on(hub, consent["id"], office.police_id)
    request_id, task_id = pending_request_on(
        hub, consent["id"], uuid.UUID(agreement["id"]), office.police_id
    )

    terminated = move(hub, agreement["id"], "terminate", "Perjanjian diakhiri")

    assert terminated.json()["status"] == "terminated"
    state = stopped_state(hub, jti, request_id, task_id)
    assert state.token_revoked
    assert state.token_reason is not None
    assert "terminated" in state.token_reason
    assert state.request_status == "denied"


def test_activation_and_resumption_stop_nothing(hub: RunningHub, office: Office) -> None:
    agreement = register_agreement(hub, office.parties())
    consent = grant_under(office, agreement["id"]).json()
    assert move(hub, agreement["id"], "suspend").status_code == 200
    jti = mint_token_on(hub, consent["id"], office.police_id)  # minted while suspended
    request_id, task_id = pending_request_on(
        hub, consent["id"], uuid.UUID(agreement["id"]), office.police_id
    )

    move(hub, agreement["id"], "resume")

    state = stopped_state(hub, jti, request_id, task_id)
    assert not state.token_revoked
    assert state.request_status == "pending"


def test_every_party_is_notified_when_an_agreement_changes_status(
    hub: RunningHub, office: Office
) -> None:
    agreement = register_agreement(hub, office.parties())
    subscription = subscribe(hub, office.shop.party_id)

    move(hub, agreement["id"], "suspend", "Evaluasi")

    events = [
        payload
        for event, payload in notifications(hub, subscription)
        if event == "agreement.status_changed"
    ]
    assert [(e["agreement_id"], e["from"], e["to"]) for e in events] == [
        (agreement["id"], "active", "suspended")
    ]
    assert events[0]["reason"] == "Evaluasi"


def test_expiry_sweep_marks_agreements_past_their_validity_and_stops_their_tokens(
    hub: RunningHub, office: Office
) -> None:
    ends = datetime.now(UTC) + timedelta(minutes=2)  # the test token lives ten minutes
    agreement = register_agreement(hub, office.parties(), valid_until=ends.isoformat())
    consent = grant_under(office, agreement["id"]).json()
    jti = mint_token_on(hub, consent["id"], office.police_id)
    request_id, task_id = pending_request_on(
        hub, consent["id"], uuid.UUID(agreement["id"]), office.police_id
    )

    async def sweep(session: AsyncSession) -> list[uuid.UUID]:
        return await expire_agreements(session, ends + timedelta(seconds=1))

    expired = hub.query(sweep)

    assert uuid.UUID(agreement["id"]) in expired
    with hub.client("hub_admin") as admin:
        body = admin.get(f"/agreements/{agreement['id']}").json()
    assert body["status"] == "expired"
    assert body["status_changed_by"] == "system:agreement-expiry"
    state = stopped_state(hub, jti, request_id, task_id)
    assert state.token_revoked
    assert state.request_status == "denied"


def test_expiry_sweep_leaves_agreements_in_force(hub: RunningHub, office: Office) -> None:
    agreement = register_agreement(
        hub, office.parties(), valid_until=(datetime.now(UTC) + timedelta(days=1)).isoformat()
    )

    async def sweep(session: AsyncSession) -> list[uuid.UUID]:
        return await expire_agreements(session, datetime.now(UTC))

    assert uuid.UUID(agreement["id"]) not in hub.query(sweep)
    with hub.client("hub_admin") as admin:
        assert admin.get(f"/agreements/{agreement['id']}").json()["status"] == "active"


def test_agreements_are_listed_by_status(hub: RunningHub, office: Office) -> None:
    draft = register_agreement(hub, office.parties(), status="draft")
    with hub.client("hub_admin") as admin:
        drafts = admin.get("/agreements", params={"status": "draft"}).json()

    assert draft["id"] in [a["id"] for a in drafts]
    assert {a["status"] for a in drafts} == {"draft"}
