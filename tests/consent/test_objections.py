"""An owner cannot revoke an arrangement the law imposes, but may object; the objection is
recorded, and the hub operator or the grantee must answer it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.consent.test_consent_api import (
    Shop,
    audit_actions,
    field_errors,
    notifications,
    open_shop,
    register_agreement,
    subscribe,
)
from tests.hubprocess import RunningHub

REGULATION = "Perwal Medan No. 12 Tahun 2024 Pasal 7"


@dataclass
class Street:
    """A shop whose camera the regulation obliges to share with the police, and a neighbour."""

    shop: Shop
    neighbour: Shop
    agreement_id: str
    police_id: uuid.UUID

    def terms(self, **changes: Any) -> dict[str, Any]:
        return {
            "grantor_party_id": str(self.shop.party_id),
            "grantee_party_id": str(self.police_id),
            "agreement_id": self.agreement_id,
            "camera_selector": "cameras",
            "camera_ids": [str(self.shop.camera_id)],
            "modes": ["live"],
            "purposes": ["public_order"],
            "legal_basis": "legal_obligation",
            "regulation_ref": REGULATION,
            **changes,
        }


@pytest.fixture(scope="module")
def street(hub: RunningHub) -> Iterator[Street]:
    shop, neighbour = open_shop(hub, "Toko Keberatan"), open_shop(hub, "Toko Diam")
    police = hub.city.parties["polrestabes"]
    agreement = register_agreement(hub, [shop.party_id, neighbour.party_id, police])
    yield Street(shop, neighbour, agreement["id"], police)
    shop.http.close()
    neighbour.http.close()


def impose(hub: RunningHub, street: Street) -> dict[str, Any]:
    with hub.client("hub_admin") as admin:
        response = admin.post("/consents", json=street.terms())
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def object_to(street: Street, consent_id: str, text: str = "Kamera menghadap ke dalam") -> Any:
    return street.shop.http.post(f"/consents/{consent_id}/objections", json={"text": text})


def test_owner_objects_and_the_hub_operator_answers(hub: RunningHub, street: Street) -> None:
    imposed = impose(hub, street)

    filed = object_to(street, imposed["id"])
    assert filed.status_code == 201, filed.text
    objection = filed.json()
    with hub.client("hub_admin") as admin:
        answered = admin.post(
            f"/objections/{objection['id']}/answer",
            json={"answer": "Sudut kamera akan disesuaikan dalam 7 hari."},
        )

    assert objection["status"] == "open"
    assert objection["owner_party_id"] == str(street.shop.party_id)
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "answered"
    assert answered.json()["answer"] == "Sudut kamera akan disesuaikan dalam 7 hari."
    assert answered.json()["answered_at"] is not None
    mine = street.shop.http.get(f"/objections/{objection['id']}").json()
    assert mine["answer"] == "Sudut kamera akan disesuaikan dalam 7 hari."
    assert audit_actions(hub, objection["id"]) == ["objection.filed", "objection.answered"]


def test_the_grantee_may_answer_an_objection(hub: RunningHub, street: Street) -> None:
    objection = object_to(street, impose(hub, street)["id"]).json()

    with hub.client("polrestabes_cc") as police:
        to_answer = police.get("/objections", params={"status": "open"}).json()
        answered = police.post(
            f"/objections/{objection['id']}/answer", json={"answer": "Diterima, kami tinjau."}
        )

    assert objection["id"] in [o["id"] for o in to_answer]
    assert answered.status_code == 200, answered.text


def test_an_objection_is_answered_once(hub: RunningHub, street: Street) -> None:
    objection = object_to(street, impose(hub, street)["id"]).json()
    with hub.client("hub_admin") as admin:
        first = admin.post(f"/objections/{objection['id']}/answer", json={"answer": "Ya."})
        second = admin.post(f"/objections/{objection['id']}/answer", json={"answer": "Lagi."})

    assert first.status_code == 200
    assert second.status_code == 409


def test_the_owner_cannot_answer_their_own_objection(hub: RunningHub, street: Street) -> None:
    objection = object_to(street, impose(hub, street)["id"]).json()

    response = street.shop.http.post(
        f"/objections/{objection['id']}/answer", json={"answer": "Saya setuju dengan diri saya"}
    )

    assert response.status_code == 403


def test_another_owner_can_neither_see_nor_answer_an_objection(
    hub: RunningHub, street: Street
) -> None:
    imposed = impose(hub, street)
    objection = object_to(street, imposed["id"]).json()

    read = street.neighbour.http.get(f"/objections/{objection['id']}")
    answer = street.neighbour.http.post(
        f"/objections/{objection['id']}/answer", json={"answer": "bukan urusan saya"}
    )
    listed = street.neighbour.http.get("/objections").json()
    filed = street.neighbour.http.post(
        f"/consents/{imposed['id']}/objections", json={"text": "ikut keberatan"}
    )

    assert read.status_code == 404
    assert answer.status_code == 404
    assert objection["id"] not in [o["id"] for o in listed]
    assert filed.status_code == 404


def test_the_owner_lists_the_objections_they_filed(hub: RunningHub, street: Street) -> None:
    objection = object_to(street, impose(hub, street)["id"]).json()

    listed = street.shop.http.get("/objections").json()

    assert objection["id"] in [o["id"] for o in listed]


def test_a_consent_the_owner_may_revoke_is_revoked_not_objected_to(
    hub: RunningHub, street: Street
) -> None:
    consent = street.shop.http.post(
        "/consents", json=street.terms(legal_basis="consent", regulation_ref=None)
    ).json()

    response = object_to(street, consent["id"])

    assert response.status_code == 409
    assert "revoke" in response.json()["detail"]


def test_an_objection_needs_its_text(hub: RunningHub, street: Street) -> None:
    response = street.shop.http.post(
        f"/consents/{impose(hub, street)['id']}/objections", json={"text": ""}
    )

    assert response.status_code == 422
    assert field_errors(response) == ["text"]


def test_the_hub_operator_and_grantee_are_told_of_an_objection_and_the_owner_of_the_answer(
    hub: RunningHub, street: Street
) -> None:
    owner_hooks = subscribe(hub, street.shop.party_id)
    police_hooks = subscribe(hub, street.police_id)
    operator_hooks = subscribe(hub, hub.city.parties["command_center"])
    objection = object_to(street, impose(hub, street)["id"]).json()
    with hub.client("hub_admin") as admin:
        admin.post(f"/objections/{objection['id']}/answer", json={"answer": "Ditinjau."})

    def told(subscription: uuid.UUID) -> list[str]:
        return [
            event
            for event, payload in notifications(hub, subscription)
            if payload.get("objection_id") == objection["id"]
        ]

    assert told(police_hooks) == ["objection.filed"]
    assert told(operator_hooks) == ["objection.filed", "objection.answered"]
    assert told(owner_hooks) == ["objection.filed", "objection.answered"]
