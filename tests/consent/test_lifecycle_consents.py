"""Owners change consents by new versions, state conditions and lawful bases, and every way an
arrangement ends stops the access resting on it at once: revocation, a new version, a party
deactivated."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.parties.models import Party
from tests.consent.test_consent_api import (
    Shop,
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

REGULATION = "Perwal Medan No. 12 Tahun 2024 Pasal 7"


@dataclass
class Block:
    """Two shops and a city office under one regulation with the Polda and Polrestabes."""

    sinar: Shop
    rejeki: Shop
    office: Shop  # its party is re-registered as a government agency
    agreement_id: uuid.UUID
    police_id: uuid.UUID
    polda_id: uuid.UUID

    def terms(self, **changes: Any) -> dict[str, Any]:
        return {
            "grantee_party_id": str(self.police_id),
            "agreement_id": str(self.agreement_id),
            "camera_selector": "cameras",
            "camera_ids": [str(self.sinar.camera_id)],
            "modes": ["live", "footage"],
            "purposes": ["public_order", "criminal_investigation"],
            **changes,
        }

    def grant(self, **changes: Any) -> dict[str, Any]:
        response = self.sinar.http.post("/consents", json=self.terms(**changes))
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="module")
def block(hub: RunningHub) -> Iterator[Block]:
    shops = [open_shop(hub, name) for name in ("Toko Versi", "Toko Tetangga", "Kantor Camat")]
    office = shops[2]

    async def make_government(session: AsyncSession) -> None:
        await session.execute(
            update(Party).where(col(Party.id) == office.party_id).values(kind="government")
        )
        await session.commit()

    hub.query(make_government)
    police, polda = hub.city.parties["polrestabes"], hub.city.parties["polda"]
    agreement = register_agreement(hub, [*(s.party_id for s in shops), police, polda])
    yield Block(shops[0], shops[1], office, uuid.UUID(agreement["id"]), police, polda)
    for shop in shops:
        shop.http.close()


# --- versions -----------------------------------------------------------------------------


def test_owner_changes_a_consent_by_a_new_version_and_the_old_one_is_superseded(
    block: Block,
) -> None:
    first = block.grant()

    changed = block.sinar.http.post(
        f"/consents/{first['id']}/versions", json=block.terms(modes=["live"])
    )

    assert changed.status_code == 201, changed.text
    second = changed.json()
    assert second["id"] != first["id"]
    assert second["lineage_id"] == first["lineage_id"] == first["id"]
    assert second["version"] == 2
    assert second["modes"] == ["live"]
    old = block.sinar.http.get(f"/consents/{first['id']}").json()
    assert old["status"] == "superseded"
    assert old["superseded_at"] is not None
    versions = block.sinar.http.get(f"/consents/{second['id']}/versions").json()
    assert versions["lineage_id"] == first["id"]
    assert [(v["version"], v["status"]) for v in versions["items"]] == [
        (1, "superseded"),
        (2, "active"),
    ]


def test_a_new_version_stops_the_tokens_and_requests_resting_on_the_old_one(
    hub: RunningHub, block: Block
) -> None:
    first = block.grant()
    jti = mint_token_on(hub, first["id"], block.police_id)
    request_id, task_id = pending_request_on(hub, first["id"], block.agreement_id, block.police_id)

    block.sinar.http.post(f"/consents/{first['id']}/versions", json=block.terms(modes=["live"]))

    state = stopped_state(hub, jti, request_id, task_id)
    assert state.token_revoked
    assert state.token_reason == "consent superseded by a new version"
    assert state.request_status == "denied"
    assert audit_actions(hub, first["id"]) == ["consent.granted", "consent.superseded"]


def test_a_new_version_is_checked_like_a_grant(block: Block) -> None:
    first = block.grant()

    response = block.sinar.http.post(
        f"/consents/{first['id']}/versions", json=block.terms(purposes=["public_information"])
    )

    assert response.status_code == 422
    assert field_errors(response) == ["purposes"]
    assert block.sinar.http.get(f"/consents/{first['id']}").json()["status"] == "active"


def test_only_the_grantor_changes_a_consent(hub: RunningHub, block: Block) -> None:
    first = block.grant()

    with hub.client("polrestabes_cc") as police:
        by_grantee = police.post(f"/consents/{first['id']}/versions", json=block.terms())
    by_stranger = block.rejeki.http.post(f"/consents/{first['id']}/versions", json=block.terms())
    stranger_reads = block.rejeki.http.get(f"/consents/{first['id']}/versions")

    assert by_grantee.status_code == 403
    assert by_stranger.status_code == 404
    assert stranger_reads.status_code == 404


def test_a_superseded_version_cannot_be_changed_or_revoked(block: Block) -> None:
    first = block.grant()
    block.sinar.http.post(f"/consents/{first['id']}/versions", json=block.terms())

    again = block.sinar.http.post(f"/consents/{first['id']}/versions", json=block.terms())
    revoke = block.sinar.http.post(f"/consents/{first['id']}/revoke", json={"reason": "x"})

    assert again.status_code == 409
    assert revoke.status_code == 409


# --- conditions and grantee scopes --------------------------------------------------------


def test_owner_limits_access_to_office_hours_on_weekdays_with_approvals(block: Block) -> None:
    consent = block.grant(
        hours_start=8,
        hours_end=17,
        days_of_week=[5, 1, 2, 3, 4, 1],
        timezone="Asia/Makassar",
        requires_owner_approval=True,
        requires_supervisor_approval=True,
    )

    assert (consent["hours_start"], consent["hours_end"]) == (8, 17)
    assert consent["days_of_week"] == [1, 2, 3, 4, 5]
    assert consent["timezone"] == "Asia/Makassar"
    assert consent["requires_owner_approval"] is True
    assert consent["requires_supervisor_approval"] is True


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"hours_start": 8}, "hours_end"),
        ({"hours_start": 8, "hours_end": 8}, "hours_end"),
        ({"days_of_week": [0]}, "days_of_week"),
        ({"grantee_scope": "public"}, "grantee_party_id"),
        ({"grantee_scope": "party_and_subunits", "grantee_party_id": None}, "grantee_party_id"),
        ({"legal_basis": "legal_obligation"}, "regulation_ref"),
        ({"legal_basis": "public_task"}, "legal_basis"),
        ({"legal_basis": "contract"}, "legal_basis"),
    ],
)
def test_a_grant_with_inconsistent_conditions_is_refused_naming_the_field(
    block: Block, changes: dict[str, Any], field: str
) -> None:
    response = block.sinar.http.post("/consents", json=block.terms(**changes))

    assert response.status_code == 422, response.text
    assert field_errors(response) == [field]


def test_owner_grants_to_the_polda_and_its_subunits(block: Block) -> None:
    consent = block.grant(grantee_party_id=str(block.polda_id), grantee_scope="party_and_subunits")

    assert consent["grantee_scope"] == "party_and_subunits"
    assert consent["grantee_party_id"] == str(block.polda_id)


def test_owner_grants_every_party_of_the_agreement_and_each_of_them_sees_it(
    hub: RunningHub, block: Block
) -> None:
    consent = block.grant(grantee_party_id=None, grantee_scope="agreement_parties")

    with hub.client("polda_cc") as polda:
        seen = polda.get(f"/consents/{consent['id']}")
    neighbour = block.rejeki.http.get(f"/consents/{consent['id']}")  # bound, not named

    assert consent["grantee_scope"] == "agreement_parties"
    assert consent["grantee_party_id"] is None
    assert seen.status_code == 200
    assert neighbour.status_code == 200


def test_a_party_outside_the_agreement_does_not_see_its_agreement_wide_grant(
    hub: RunningHub, block: Block
) -> None:
    consent = block.grant(grantee_party_id=None, grantee_scope="agreement_parties")

    with hub.client("rw05_owner") as outsider:
        response = outsider.get(f"/consents/{consent['id']}")

    assert response.status_code == 404


def test_a_government_office_shares_its_own_cameras_as_a_public_task(block: Block) -> None:
    response = block.office.http.post(
        "/consents",
        json=block.terms(
            camera_ids=[str(block.office.camera_id)],
            legal_basis="public_task",
            regulation_ref="UU No. 23 Tahun 2014 tentang Pemerintahan Daerah",
        ),
    )

    assert response.status_code == 201, response.text
    assert response.json()["legal_basis"] == "public_task"


# --- legal obligations --------------------------------------------------------------------


def obligation(hub: RunningHub, block: Block) -> dict[str, Any]:
    """The hub operator records that the regulation obliges the shop's camera to be shared."""
    with hub.client("hub_admin") as admin:
        response = admin.post(
            "/consents",
            json=block.terms(
                grantor_party_id=str(block.sinar.party_id),
                legal_basis="legal_obligation",
                regulation_ref=REGULATION,
            ),
        )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_owner_sees_an_obligation_on_their_camera_beside_their_consents(
    hub: RunningHub, block: Block
) -> None:
    imposed = obligation(hub, block)

    mine = block.sinar.http.get(
        "/consents", params={"grantor_party_id": str(block.sinar.party_id), "limit": 200}
    ).json()

    listed = {item["id"]: item for item in mine["items"]}
    assert listed[imposed["id"]]["legal_basis"] == "legal_obligation"
    assert listed[imposed["id"]]["regulation_ref"] == REGULATION


def test_owner_cannot_revoke_a_legal_obligation_and_is_pointed_to_objections(
    hub: RunningHub, block: Block
) -> None:
    imposed = obligation(hub, block)

    revoke = block.sinar.http.post(f"/consents/{imposed['id']}/revoke", json={"reason": "tidak"})
    change = block.sinar.http.post(f"/consents/{imposed['id']}/versions", json=block.terms())

    assert revoke.status_code == 409
    assert f"/consents/{imposed['id']}/objections" in revoke.json()["detail"]
    assert change.status_code == 409
    assert block.sinar.http.get(f"/consents/{imposed['id']}").json()["status"] == "active"


def test_hub_operator_ends_a_legal_obligation(hub: RunningHub, block: Block) -> None:
    imposed = obligation(hub, block)

    with hub.client("hub_admin") as admin:
        ended = admin.post(f"/consents/{imposed['id']}/revoke", json={"reason": "Perwal dicabut"})

    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "revoked"


# --- the revocation cascade ---------------------------------------------------------------


def test_revoking_a_consent_refuses_the_requests_waiting_on_it(
    hub: RunningHub, block: Block
) -> None:
    consent = block.grant()
    jti = mint_token_on(hub, consent["id"], block.police_id)
    request_id, task_id = pending_request_on(
        hub, consent["id"], block.agreement_id, block.police_id
    )

    block.sinar.http.post(f"/consents/{consent['id']}/revoke", json={"reason": "Toko tutup"})

    state = stopped_state(hub, jti, request_id, task_id)
    assert state.token_revoked
    assert state.request_status == "denied"
    assert state.task_status == "cancelled"


def test_revoking_a_consent_leaves_other_consents_requests_alone(
    hub: RunningHub, block: Block
) -> None:
    kept, revoked = block.grant(), block.grant()
    jti = mint_token_on(hub, kept["id"], block.police_id)
    request_id, task_id = pending_request_on(hub, kept["id"], block.agreement_id, block.police_id)

    block.sinar.http.post(f"/consents/{revoked['id']}/revoke", json={"reason": "dobel"})

    state = stopped_state(hub, jti, request_id, task_id)
    assert not state.token_revoked
    assert state.request_status == "pending"


def gateway_check(hub: RunningHub, camera_id: uuid.UUID, token: str) -> httpx.Response:
    return httpx.get(
        f"{hub.url}/gateway/auth",
        headers={
            "X-Original-URI": f"/live/{camera_id}/index.m3u8",
            "Authorization": f"Bearer {token}",
        },
        timeout=10,
    )


def test_the_gateway_refuses_a_revoked_consents_token_at_the_very_next_request(
    hub: RunningHub, block: Block, record_property: Callable[[str, object], None]
) -> None:
    kiosk = open_shop(hub, "Kios Satu Persetujuan")  # one consent: the token rests on it
    agreement = register_agreement(hub, [kiosk.party_id, block.police_id])
    consent = kiosk.http.post(
        "/consents",
        json=block.terms(
            agreement_id=agreement["id"],
            camera_ids=[str(kiosk.camera_id)],
            modes=["live"],
            purposes=["public_order"],
        ),
    ).json()
    with hub.client("polrestabes_cc") as police:
        granted = police.post(
            "/access-requests",
            json={
                "camera_ids": [str(kiosk.camera_id)],
                "mode": "live",
                "purpose": "public_order",
                "legal_basis": "",
                "justification": "keramaian di depan kios",
            },
        )
    assert granted.status_code == 201, granted.text
    token = granted.json()["access_token"]
    assert gateway_check(hub, kiosk.camera_id, token).status_code == 204

    started = time.monotonic()
    revoked = kiosk.http.post(f"/consents/{consent['id']}/revoke", json={"reason": "stop"})
    refused = gateway_check(hub, kiosk.camera_id, token)
    # Measured, not asserted: the next gateway request after the revocation is refused, so the
    # delay is one request's round trip (the issue asks for under a second).
    record_property("revocation_to_gateway_refusal_seconds", time.monotonic() - started)

    kiosk.http.close()
    assert revoked.status_code == 200
    assert refused.status_code in (401, 403)


def test_deactivating_a_party_revokes_its_consents_and_stops_its_tokens(
    hub: RunningHub, block: Block
) -> None:
    leaving = open_shop(hub, "Toko Tutup Permanen")
    police = block.police_id
    agreement = register_agreement(hub, [leaving.party_id, police])
    response = leaving.http.post(
        "/consents",
        json=block.terms(
            agreement_id=agreement["id"], camera_ids=[str(leaving.camera_id)], modes=["live"]
        ),
    )
    consent = response.json()
    jti = mint_token_on(hub, consent["id"], police)
    request_id, task_id = pending_request_on(hub, consent["id"], uuid.UUID(agreement["id"]), police)

    with hub.client("hub_admin") as admin:
        deactivated = admin.patch(f"/parties/{leaving.party_id}", json={"active": False})
        stored = admin.get(f"/consents/{consent['id']}").json()
    leaving.http.close()

    assert deactivated.status_code == 200, deactivated.text
    assert stored["status"] == "revoked"
    assert stored["revocation_reason"] == "party deactivated"
    state = stopped_state(hub, jti, request_id, task_id)
    assert state.token_revoked
    assert state.request_status == "denied"
    assert audit_actions(hub, leaving.party_id)[-1] == "party.updated"


def test_renaming_a_party_stops_nothing(hub: RunningHub, block: Block) -> None:
    consent = block.grant()
    jti = mint_token_on(hub, consent["id"], block.police_id)
    request_id, task_id = pending_request_on(
        hub, consent["id"], block.agreement_id, block.police_id
    )

    with hub.client("hub_admin") as admin:
        admin.patch(f"/parties/{block.sinar.party_id}", json={"name": "Toko Versi Baru"})

    state = stopped_state(hub, jti, request_id, task_id)
    assert not state.token_revoked
    assert state.request_status == "pending"


# --- notifications ------------------------------------------------------------------------


def test_owner_and_grantee_are_told_of_a_grant_a_change_and_a_revocation(
    hub: RunningHub, block: Block
) -> None:
    owner_hooks = subscribe(hub, block.rejeki.party_id)
    police_hooks = subscribe(hub, block.police_id)
    terms = block.terms(camera_ids=[str(block.rejeki.camera_id)])
    first = block.rejeki.http.post("/consents", json=terms).json()
    second = block.rejeki.http.post(f"/consents/{first['id']}/versions", json=terms).json()
    block.rejeki.http.post(f"/consents/{second['id']}/revoke", json={"reason": "cukup"})

    for subscription in (owner_hooks, police_hooks):
        told = [
            (event, payload["consent_id"])
            for event, payload in notifications(hub, subscription)
            if event.startswith("consent.") and payload["lineage_id"] == first["id"]
        ]
        assert told == [
            ("consent.granted", first["id"]),
            ("consent.changed", second["id"]),
            ("consent.revoked", second["id"]),
        ]
