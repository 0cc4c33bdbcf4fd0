"""Every grant, change and revocation yields a consent receipt the owner can download: who
allowed what to whom, under which instrument and terms, when, and how to revoke."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.models import AuditEvent
from tests.consent.test_consent_api import Shop, open_shop, register_agreement
from tests.hubprocess import RunningHub


@dataclass
class Counter:
    """A shop that grants the police, and a neighbour who must not see its receipts."""

    shop: Shop
    neighbour: Shop
    agreement: dict[str, Any]
    police_id: uuid.UUID

    def grant(self, **changes: Any) -> dict[str, Any]:
        response = self.shop.http.post(
            "/consents",
            json={
                "grantee_party_id": str(self.police_id),
                "agreement_id": self.agreement["id"],
                "camera_selector": "cameras",
                "camera_ids": [str(self.shop.camera_id)],
                "modes": ["live", "footage"],
                "purposes": ["criminal_investigation", "public_order"],
                "max_lookback_hours": 72,
                **changes,
            },
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def receipt(self, consent_id: str, **params: str) -> Any:
        return self.shop.http.get(f"/consents/{consent_id}/receipt", params=params)


@pytest.fixture(scope="module")
def counter(hub: RunningHub) -> Iterator[Counter]:
    shop, neighbour = open_shop(hub, "Toko Kuitansi"), open_shop(hub, "Toko Sebelah")
    police = hub.city.parties["polrestabes"]
    agreement = register_agreement(hub, [shop.party_id, neighbour.party_id, police])
    yield Counter(shop, neighbour, agreement, police)
    shop.http.close()
    neighbour.http.close()


def canonical_sha256(receipt: dict[str, Any]) -> str:
    body = {key: value for key, value in receipt.items() if key != "sha256"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def test_owner_downloads_a_receipt_naming_who_allowed_what_to_whom_and_how_to_revoke(
    hub: RunningHub, counter: Counter
) -> None:
    consent = counter.grant()

    response = counter.receipt(consent["id"])

    assert response.status_code == 200, response.text
    receipt = response.json()
    assert receipt["event"] == "granted"
    assert receipt["jurisdiction"] == "ID"
    assert receipt["consent_id"] == consent["id"]
    assert receipt["state"] == "active"
    assert receipt["pii_principal"]["party_id"] == str(counter.shop.party_id)
    assert receipt["pii_principal"]["name"] == "Toko Kuitansi"
    controllers = {c["role"]: c for c in receipt["pii_controllers"]}
    assert controllers["recipient"]["party_id"] == str(counter.police_id)
    assert controllers["hub_operator"]["party_id"] == str(hub.city.parties["command_center"])
    assert receipt["agreement"]["number"] == counter.agreement["number"]
    assert receipt["agreement"]["policy_template"] == "city-regulation-private-cctv"
    assert receipt["legal_basis"]["code"] == "consent"
    assert "27" in receipt["legal_basis"]["law"]
    assert receipt["legal_basis"]["revocable_by_owner"] is True
    purposes = {p["code"]: p for p in receipt["services"][0]["purposes"]}
    assert purposes["public_order"]["label_id"] == "Ketertiban umum"
    assert receipt["services"][0]["modes"] == ["footage", "live"]
    assert receipt["cameras"]["camera_ids"] == [str(counter.shop.camera_id)]
    assert receipt["conditions"]["max_lookback_hours"] == 72
    assert receipt["how_to_revoke"]["method"] == "POST"
    assert receipt["how_to_revoke"]["url"] == f"{hub.url}/consents/{consent['id']}/revoke"


def test_a_receipts_hash_is_the_sha256_of_its_canonical_json(counter: Counter) -> None:
    receipt = counter.receipt(counter.grant()["id"]).json()

    assert receipt["sha256"] == canonical_sha256(receipt)


def test_a_receipt_reads_the_same_each_time_and_the_audit_trail_holds_its_hash(
    hub: RunningHub, counter: Counter
) -> None:
    consent = counter.grant()
    first, again = counter.receipt(consent["id"]).json(), counter.receipt(consent["id"]).json()

    async def granted(session: AsyncSession) -> dict[str, object]:
        event = await session.scalar(
            select(AuditEvent).where(
                col(AuditEvent.object_id) == consent["id"],
                col(AuditEvent.action) == "consent.granted",
            )
        )
        assert event is not None
        return dict(event.details)

    assert first == again
    details = hub.query(granted)
    assert details["receipt_id"] == first["receipt_id"]
    assert details["receipt_sha256"] == first["sha256"]


def test_a_change_and_a_revocation_each_yield_their_own_receipt(counter: Counter) -> None:
    first = counter.grant()
    granted = counter.receipt(first["id"]).json()
    second = counter.shop.http.post(
        f"/consents/{first['id']}/versions",
        json={
            "grantee_party_id": str(counter.police_id),
            "agreement_id": counter.agreement["id"],
            "camera_selector": "cameras",
            "camera_ids": [str(counter.shop.camera_id)],
            "modes": ["live"],
            "purposes": ["public_order"],
        },
    ).json()
    changed = counter.receipt(second["id"]).json()
    superseded = counter.receipt(first["id"]).json()
    counter.shop.http.post(f"/consents/{second['id']}/revoke", json={"reason": "cukup"})
    revoked = counter.receipt(second["id"]).json()

    assert [r["event"] for r in (granted, changed, superseded, revoked)] == [
        "granted",
        "changed",
        "superseded",
        "revoked",
    ]
    assert len({r["receipt_id"] for r in (granted, changed, superseded, revoked)}) == 4
    assert changed["consent_version"] == 2
    assert changed["lineage_id"] == first["id"]
    assert revoked["state"] == "revoked"
    assert revoked["revocation_reason"] == "cukup"


def test_owner_reads_the_receipt_as_text_on_a_phone(counter: Counter) -> None:
    consent = counter.grant()

    response = counter.receipt(consent["id"], format="text")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "BUKTI PERSETUJUAN / CONSENT RECEIPT" in text
    assert "Toko Kuitansi" in text
    assert "Ketertiban umum / Public order" in text
    assert f"/consents/{consent['id']}/revoke" in text
    assert counter.receipt(consent["id"]).json()["sha256"] in text


def test_grantee_and_hub_operator_read_a_receipt_but_another_owner_cannot(
    hub: RunningHub, counter: Counter
) -> None:
    consent = counter.grant()

    with hub.client("polrestabes_cc") as police:
        by_grantee = police.get(f"/consents/{consent['id']}/receipt")
    with hub.client("hub_admin") as admin:
        by_operator = admin.get(f"/consents/{consent['id']}/receipt")
    by_neighbour = counter.neighbour.http.get(f"/consents/{consent['id']}/receipt")

    assert by_grantee.status_code == 200
    assert by_operator.status_code == 200
    assert by_neighbour.status_code == 404


def test_an_unknown_receipt_format_is_refused_naming_the_parameter(counter: Counter) -> None:
    response = counter.receipt(counter.grant()["id"], format="pdf")

    assert response.status_code in (400, 422)
    assert "format" in response.text


def test_an_obligations_receipt_says_how_to_object_instead_of_how_to_revoke(
    hub: RunningHub, counter: Counter
) -> None:
    with hub.client("hub_admin") as admin:
        imposed = admin.post(
            "/consents",
            json={
                "grantor_party_id": str(counter.shop.party_id),
                "grantee_party_id": str(counter.police_id),
                "agreement_id": counter.agreement["id"],
                "camera_selector": "all",
                "modes": ["live"],
                "purposes": ["public_order"],
                "legal_basis": "legal_obligation",
                "regulation_ref": "Perwal Medan No. 12 Tahun 2024 Pasal 7",
            },
        ).json()

    receipt = counter.receipt(imposed["id"]).json()

    assert receipt["legal_basis"]["code"] == "legal_obligation"
    assert receipt["legal_basis"]["regulation_ref"] == "Perwal Medan No. 12 Tahun 2024 Pasal 7"
    assert receipt["legal_basis"]["revocable_by_owner"] is False
    assert receipt["how_to_revoke"]["url"].endswith(f"/consents/{imposed['id']}/objections")
    assert receipt["cameras"]["selector"] == "all"
