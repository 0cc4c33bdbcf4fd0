"""Clients introspect (RFC 7662) and revoke (RFC 7009) their API and gateway tokens."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from sharing.access.models import AccessToken
from sharing.audit.models import AuditEvent
from sharing.audit.service import list_events
from tests.hubprocess import RunningHub
from tests.oauth import claims_of, fresh_token, introspect, post_as, revoke


def _audit_trail(hub: RunningHub, object_id: str) -> list[AuditEvent]:
    return hub.query(lambda session: list_events(session, object_id=object_id))


def _gateway_token(hub: RunningHub, requester: str) -> str:
    """A live access token the requester obtains from the access broker for a Dishub camera."""
    request = {
        "camera_ids": [str(hub.city.cameras["dishub_gatsu"])],
        "mode": "live",
        "purpose": "traffic_management",
        "legal_basis": "LP/B/77/2026/SPKT",
        "justification": "Kemacetan di simpang Gatot Subroto",
    }
    with hub.client(requester) as api:
        response = api.post("/access-requests", json=request)
    assert response.status_code == 201, response.text
    return str(response.json()["access_token"])


def test_client_sees_its_own_token_as_active(hub: RunningHub) -> None:
    token = hub.token("polrestabes_cc")

    answer = introspect(hub, "polrestabes_cc", token)

    assert answer["active"] is True
    assert answer["client_id"] == hub.city.clients["polrestabes_cc"].client_id
    assert answer["sub"] == str(hub.city.members["officer_budi"])
    assert answer["token_type"] == "Bearer"
    assert set(answer["scope"].split()) == set(hub.city.clients["polrestabes_cc"].scopes.split())
    assert answer["jti"] == claims_of(token)["jti"]


def test_polda_introspects_its_own_token_with_an_assertion(hub: RunningHub) -> None:
    assert introspect(hub, "polda_cc", hub.token("polda_cc"))["active"] is True


def test_shop_owner_cannot_introspect_the_police_token(hub: RunningHub) -> None:
    answer = introspect(hub, "sinar_owner", hub.token("polrestabes_cc"))

    assert answer == {"active": False}


def test_hub_operator_may_introspect_any_token(hub: RunningHub) -> None:
    assert introspect(hub, "hub_admin", hub.token("polrestabes_cc"))["active"] is True


def test_garbage_and_foreign_tokens_are_inactive(hub: RunningHub) -> None:
    forged = hub.client_assertion("polda_cc")  # a JWT, but not one this hub issued
    for token in ("not-a-token", forged):
        assert introspect(hub, "hub_admin", token) == {"active": False}


def test_introspection_needs_client_authentication(hub: RunningHub) -> None:
    response = httpx.post(f"{hub.url}/oauth/introspect", data={"token": hub.token("auditor")})

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_introspection_without_a_token_is_an_invalid_request(hub: RunningHub) -> None:
    response = post_as(hub, "hub_admin", "/oauth/introspect", {})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_token_type_hints_are_only_hints(hub: RunningHub) -> None:
    token = hub.token("polrestabes_cc")
    for hint in ("access_token", "refresh_token", "something_else"):
        form = {"token": token, "token_type_hint": hint}
        response = post_as(hub, "polrestabes_cc", "/oauth/introspect", form)

        assert response.status_code == 200, response.text
        assert response.json()["active"] is True


def test_client_revokes_its_token_and_the_api_refuses_it(hub: RunningHub) -> None:
    token = fresh_token(hub, "polrestabes_cc")
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{hub.url}/parties", headers=bearer).status_code == 200

    response = revoke(hub, "polrestabes_cc", token)

    assert response.status_code == 200, response.text
    refused = httpx.get(f"{hub.url}/parties", headers=bearer)
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"] == "/problems/invalid-token"
    assert introspect(hub, "polrestabes_cc", token) == {"active": False}


def test_token_issue_and_revocation_are_audited(hub: RunningHub) -> None:
    token = fresh_token(hub, "polda_cc")
    jti = claims_of(token)["jti"]
    assert revoke(hub, "polda_cc", token).status_code == 200
    assert revoke(hub, "polda_cc", token).status_code == 200  # again: nothing new happens

    events = _audit_trail(hub, jti)

    assert [event.action for event in events] == ["oauth.token_issued", "oauth.token_revoked"]
    polda = hub.city.clients["polda_cc"]
    for event in events:
        assert event.actor_client_id == polda.client_id
        assert event.actor_party_id == str(hub.city.parties["polda"])
        assert event.actor_member_id == str(hub.city.members["polda_desk"])


def test_revoking_an_unknown_token_still_answers_200(hub: RunningHub) -> None:
    response = revoke(hub, "polrestabes_cc", "no-such-token")

    assert response.status_code == 200
    assert response.json() == {}


def test_client_cannot_revoke_another_clients_token(hub: RunningHub) -> None:
    token = fresh_token(hub, "polrestabes_cc")

    response = revoke(hub, "sinar_owner", token)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert introspect(hub, "polrestabes_cc", token)["active"] is True


def test_requester_introspects_its_gateway_token_and_others_cannot(hub: RunningHub) -> None:
    token = _gateway_token(hub, "polrestabes_cc")

    answer = introspect(hub, "polrestabes_cc", token)

    assert answer["active"] is True
    assert answer["aud"] == hub.settings.gateway_audience
    assert answer["jti"] == claims_of(token)["jti"]
    assert introspect(hub, "hub_admin", token)["active"] is True
    assert introspect(hub, "polda_cc", token) == {"active": False}


def test_requester_revokes_its_gateway_token(hub: RunningHub) -> None:
    token = _gateway_token(hub, "polrestabes_cc")
    jti = str(claims_of(token)["jti"])

    assert revoke(hub, "polrestabes_cc", token).status_code == 200

    assert introspect(hub, "polrestabes_cc", token) == {"active": False}

    async def stored(session: AsyncSession) -> AccessToken | None:
        return await session.get(AccessToken, jti)

    row = hub.query(stored)
    assert row is not None
    assert row.revoked_at is not None
    assert row.revocation_reason == "revoked by client"
    revoked = [e for e in _audit_trail(hub, jti) if e.action == "access_token.revoked"]
    assert len(revoked) == 1
    assert revoked[0].actor_client_id == hub.city.clients["polrestabes_cc"].client_id
