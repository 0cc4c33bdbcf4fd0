"""The access broker over HTTP: officers ask, policy decides, reasons are readable."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.access.models import AccessToken, TokenConsent
from sharing.audit.models import AuditEvent
from tests.hubprocess import RunningHub

LEGAL_BASIS = "LP/B/1234/XI/2026/SPKT"


def footage_request(camera: object, hours_back: float = 1, **extra: Any) -> dict[str, Any]:
    end = datetime.now(UTC) - timedelta(minutes=1)
    return {
        "camera_ids": [str(camera)],
        "mode": "footage",
        "purpose": "criminal_investigation",
        "legal_basis": LEGAL_BASIS,
        "justification": "pencurian sepeda motor di depan toko",
        "footage_start": (end - timedelta(hours=hours_back)).isoformat(),
        "footage_end": end.isoformat(),
        **extra,
    }


def test_police_gets_footage_token_for_consented_shop_camera(hub: RunningHub) -> None:
    with hub.client("polrestabes_cc") as police:
        response = police.post(
            "/access-requests", json=footage_request(hub.city.cameras["sinar_front"])
        )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "approved"
    assert body["audience"] == hub.settings.gateway_audience
    assert body["camera_ids"] == [str(hub.city.cameras["sinar_front"])]
    assert 0 < body["expires_in"] <= hub.settings.access_token_max_lifetime_seconds
    grants = body["explanation"]["grants"]
    assert grants[0]["consent_id"] == str(hub.city.consents["sinar_to_polrestabes"])


def test_police_is_refused_a_camera_whose_owner_granted_nothing(hub: RunningHub) -> None:
    with hub.client("polrestabes_cc") as police:
        response = police.post(
            "/access-requests", json=footage_request(hub.city.cameras["rejeki_front"])
        )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "/problems/access-denied"
    assert [r["code"] for r in problem["reasons"]] == ["no_consent"]
    assert problem["reasons"][0]["message"]
    assert problem["request_id"]


def test_refusal_lists_every_reason_of_every_camera(hub: RunningHub) -> None:
    cameras = [hub.city.cameras["rejeki_front"], hub.city.cameras["sinar_parking"]]
    with hub.client("polrestabes_cc") as police:
        response = police.post(
            "/access-requests",
            json={**footage_request(cameras[0]), "camera_ids": [str(c) for c in cameras]},
        )
    assert response.status_code == 403
    refused = {r["camera_id"] for r in response.json()["reasons"]}
    assert refused == {str(c) for c in cameras}


def test_refused_request_can_be_read_back_with_its_explanation(hub: RunningHub) -> None:
    with hub.client("polrestabes_cc") as police:
        denied = police.post(
            "/access-requests",
            json=footage_request(hub.city.cameras["sinar_front"], hours_back=100),
        )
        assert denied.status_code == 403
        codes = [r["code"] for r in denied.json()["reasons"]]
        assert "lookback_exceeded" in codes
        stored = police.get(f"/access-requests/{denied.json()['request_id']}")
    assert stored.status_code == 200
    assert stored.json()["status"] == "denied"
    assert [r["code"] for r in stored.json()["explanation"]["reasons"]] == codes


def test_another_party_cannot_read_a_police_request(hub: RunningHub) -> None:
    with hub.client("polrestabes_cc") as police:
        request_id = police.post(
            "/access-requests", json=footage_request(hub.city.cameras["sinar_front"])
        ).json()["request_id"]
    with hub.client("sinar_owner") as owner:
        assert owner.get(f"/access-requests/{request_id}").status_code == 404


def test_owner_without_access_scope_cannot_request_access(hub: RunningHub) -> None:
    with hub.client("rejeki_owner") as owner:
        response = owner.post(
            "/access-requests", json=footage_request(hub.city.cameras["sinar_front"])
        )
    assert response.status_code == 403
    assert response.json()["type"] == "/problems/forbidden"


def test_footage_without_a_window_is_invalid_input(hub: RunningHub) -> None:
    with hub.client("polrestabes_cc") as police:
        response = police.post(
            "/access-requests",
            json={
                "camera_ids": [str(hub.city.cameras["sinar_front"])],
                "mode": "footage",
                "purpose": "criminal_investigation",
            },
        )
    assert response.status_code in (400, 422)
    assert "footage_start" in response.json()["detail"]


def test_unknown_purpose_is_rejected_naming_the_field(hub: RunningHub) -> None:
    with hub.client("polrestabes_cc") as police:
        response = police.post(
            "/access-requests",
            json={
                "camera_ids": [str(hub.city.cameras["sinar_front"])],
                "mode": "live",
                "purpose": "curiosity",
            },
        )
    assert response.status_code in (400, 422)
    assert any(e["field"] == "purpose" for e in response.json()["errors"])


def test_unauthenticated_request_gets_problem_401(hub: RunningHub) -> None:
    with hub.anonymous() as anonymous:
        response = anonymous.post("/access-requests", json={})
    assert response.status_code == 401
    assert response.json()["type"] == "/problems/unauthenticated"


def test_minted_token_is_recorded_with_its_consents_and_audited(hub: RunningHub) -> None:
    with hub.client("polrestabes_cc") as police:
        body = police.post(
            "/access-requests", json=footage_request(hub.city.cameras["sinar_front"])
        ).json()

    async def rows(session: AsyncSession) -> tuple[list[str], list[str]]:
        request_id = uuid.UUID(body["request_id"])
        token = (
            await session.execute(
                select(AccessToken).where(col(AccessToken.request_id) == request_id)
            )
        ).scalar_one()
        consents = await session.scalars(
            select(col(TokenConsent.consent_id)).where(col(TokenConsent.jti) == token.jti)
        )
        actions = await session.scalars(
            select(col(AuditEvent.action))
            .where(col(AuditEvent.object_id).in_([body["request_id"], token.jti]))
            .order_by(col(AuditEvent.id))
        )
        return [str(c) for c in consents], list(actions)

    consent_ids, actions = hub.query(rows)
    assert consent_ids == [str(hub.city.consents["sinar_to_polrestabes"])]
    assert actions == ["access_request.created", "access_request.decided", "access_token.minted"]
