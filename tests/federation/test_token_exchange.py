"""RFC 8693 token exchange at the home hub: a peer hub trades its officer's token for ours.

The city hub is the home hub; the Polda hub is the peer that exchanges. Assertions and
subject tokens are signed with the Polda hub's own keys, read from its database.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, cast

import httpx
import pytest
from jose import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.models import AuditEvent
from sharing.clock import SystemClock
from sharing.federation.exchange import ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE
from sharing.oauth.keys import KeyRing
from sharing.oauth.schemas import CLIENT_ASSERTION_TYPE
from tests.federation.conftest import HubPair
from tests.hubprocess import RunningHub

OFFICER = "polda_cc"


def keyring_of(hub: RunningHub) -> KeyRing:
    """``hub``'s signing keys, read from its database, to sign as that hub would."""
    ring = KeyRing(hub.settings, SystemClock())
    hub.query(ring.load)
    return ring


def assertion(ring: KeyRing, issuer: str, audience: str) -> str:
    now = int(time.time())
    claims = {"iss": issuer, "sub": issuer, "aud": audience, "jti": uuid.uuid4().hex}
    return ring.sign(claims | {"iat": now, "exp": now + 60})


def exchange(pair: HubPair, subject: str, **form: str) -> httpx.Response:
    """The Polda hub's token exchange request at the city hub."""
    home, peer = pair.city, pair.polda
    body = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": subject,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "client_id": peer.url,
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion(keyring_of(peer), peer.url, home.settings.token_endpoint),
        **form,
    }
    return httpx.post(home.settings.token_endpoint, data=body, timeout=10)


def officer_claims(pair: HubPair) -> dict[str, Any]:
    """Claims of a valid officer token of the Polda hub, to be varied and signed."""
    now, peer = int(time.time()), pair.polda
    return {
        "iss": peer.url,
        "aud": peer.url,
        "sub": str(peer.city.members["polda_desk"]),
        "client_id": peer.city.clients[OFFICER].client_id,
        "party": str(peer.city.parties["polda"]),
        "scope": "registry:read consent:read access:request",
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }


def events(hub: RunningHub, action: str) -> list[AuditEvent]:
    async def load(session: AsyncSession) -> list[AuditEvent]:
        query = select(AuditEvent).where(col(AuditEvent.action) == action)
        return list((await session.execute(query)).scalars())

    return hub.query(load)


def test_metadata_offers_token_exchange(hub_pair: HubPair) -> None:
    metadata = httpx.get(f"{hub_pair.city.url}/.well-known/oauth-authorization-server").json()
    assert TOKEN_EXCHANGE in metadata["grant_types_supported"]


def test_peer_exchanges_its_officers_token_for_a_short_token_naming_the_chain(
    hub_pair: HubPair,
) -> None:
    home, peer = hub_pair.city, hub_pair.polda
    officer_token = peer.token(OFFICER)
    response = exchange(hub_pair, officer_token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "access:request"
    assert 0 < body["expires_in"] <= 300
    home_keys = httpx.get(f"{home.url}/.well-known/jwks.json").json()
    claims = jwt.decode(body["access_token"], home_keys, audience=home.url, issuer=home.url)
    assert jwt.get_unverified_header(body["access_token"])["typ"] == "at+jwt"
    officer = str(peer.city.members["polda_desk"])
    assert claims["sub"] == officer
    assert claims["client_id"] == peer.url
    assert claims["act"] == {"sub": peer.url}
    assert claims["origin"] == {
        "iss": peer.url,
        "sub": officer,
        "party": str(peer.city.parties["polda"]),
        "client_id": peer.city.clients[OFFICER].client_id,
    }
    assert claims["party"] == str(home.city.parties["polda"])  # the peer's party here
    assert claims["exp"] - claims["iat"] <= 300

    [exchanged] = [e for e in events(home, "oauth.token_exchanged") if e.object_id == claims["jti"]]
    assert exchanged.actor_client_id == peer.url
    assert exchanged.actor_party_id == str(home.city.parties["polda"])
    assert exchanged.details["on_behalf_of"] == {
        "hub": peer.url,
        "subject": officer,
        "party_id": str(peer.city.parties["polda"]),
        "client_id": peer.city.clients[OFFICER].client_id,
    }
    subject_jti = jwt.get_unverified_claims(officer_token)["jti"]
    assert exchanged.details["subject_token_id"] == subject_jti


def test_exchanged_token_acts_at_the_home_hub_and_its_audit_names_the_officer(
    hub_pair: HubPair,
) -> None:
    home, peer = hub_pair.city, hub_pair.polda
    token = exchange(hub_pair, peer.token(OFFICER)).json()["access_token"]
    belawan = home.city.cameras["dishub_belawan"]
    with httpx.Client(base_url=home.url, headers={"Authorization": f"Bearer {token}"}) as http:
        response = http.post(
            "/access-requests",
            json={
                "camera_ids": [str(belawan)],
                "mode": "live",
                "purpose": "public_order",
                "legal_basis": "SPRIN/77/XI/2026",
                "justification": "pengamanan unjuk rasa di pelabuhan",
            },
        )
    assert response.status_code == 201, response.text
    request_id = response.json()["request_id"]
    decided_id = int(response.headers["Sharing-Audit-Event"])

    async def request_events(session: AsyncSession) -> list[AuditEvent]:
        query = select(AuditEvent).where(col(AuditEvent.object_id) == request_id)
        return list((await session.execute(query)).scalars())

    recorded = {e.action: e for e in home.query(request_events)}
    assert recorded["access_request.decided"].id == decided_id
    for event in recorded.values():
        assert event.actor_party_id == str(home.city.parties["polda"])
        chain = cast(dict[str, Any], event.details["on_behalf_of"])
        assert chain["hub"] == peer.url
        assert chain["subject"] == str(peer.city.members["polda_desk"])


def test_exchanged_token_can_be_introspected_and_revoked_by_the_peer(hub_pair: HubPair) -> None:
    home, peer = hub_pair.city, hub_pair.polda
    token = exchange(hub_pair, peer.token(OFFICER)).json()["access_token"]
    ring = keyring_of(peer)

    def call(path: str) -> httpx.Response:
        form = {
            "token": token,
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": assertion(ring, peer.url, home.settings.token_endpoint),
        }
        return httpx.post(f"{home.url}{path}", data=form, timeout=10)

    introspected = call("/oauth/introspect").json()
    assert introspected["active"] is True
    assert introspected["act"] == {"sub": peer.url}
    assert call("/oauth/revoke").status_code == 200
    assert call("/oauth/introspect").json() == {"active": False}
    refused = httpx.get(f"{home.url}/access-requests", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401


Change = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        pytest.param(lambda c: c | {"iss": "http://127.0.0.1:9"}, "invalid_grant", id="issuer"),
        pytest.param(lambda c: c | {"exp": int(time.time()) - 5}, "invalid_grant", id="expired"),
        pytest.param(lambda c: c | {"aud": "http://other.hub"}, "invalid_grant", id="audience"),
        pytest.param(lambda c: c | {"scope": "registry:read"}, "invalid_grant", id="scope"),
        pytest.param(lambda c: c | {"act": {"sub": "http://x"}}, "invalid_grant", id="chained"),
    ],
)
def test_subject_tokens_the_peer_did_not_issue_for_itself_are_invalid_grants(
    hub_pair: HubPair, change: Change, error: str
) -> None:
    subject = keyring_of(hub_pair.polda).sign(change(officer_claims(hub_pair)), "at+jwt")
    response = exchange(hub_pair, subject)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error


def test_a_valid_hand_signed_subject_token_is_accepted(hub_pair: HubPair) -> None:
    # The refusals above differ from this only by the changed claim.
    subject = keyring_of(hub_pair.polda).sign(officer_claims(hub_pair), "at+jwt")
    assert exchange(hub_pair, subject).status_code == 200


def test_subject_token_of_the_home_hub_itself_is_refused(hub_pair: HubPair) -> None:
    response = exchange(hub_pair, hub_pair.city.token("polrestabes_cc"))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_subject_token_without_rfc9068_type_is_refused(hub_pair: HubPair) -> None:
    subject = keyring_of(hub_pair.polda).sign(officer_claims(hub_pair), "JWT")
    response = exchange(hub_pair, subject)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("form", "error"),
    [
        pytest.param({"subject_token_type": "urn:x"}, "invalid_request", id="token-type"),
        pytest.param({"subject_token": ""}, "invalid_request", id="no-subject"),
        pytest.param({"actor_token": "abc"}, "invalid_request", id="actor-token"),
        pytest.param({"scope": "registry:admin"}, "invalid_scope", id="scope"),
    ],
)
def test_malformed_exchange_requests_are_refused(
    hub_pair: HubPair, form: dict[str, str], error: str
) -> None:
    response = exchange(hub_pair, hub_pair.polda.token(OFFICER), **form)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error


def test_a_client_that_is_not_a_peer_may_not_exchange(hub_pair: HubPair) -> None:
    home = hub_pair.city
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": hub_pair.polda.token(OFFICER),
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": home.client_assertion("polda_cc"),
    }
    response = httpx.post(home.settings.token_endpoint, data=form, timeout=10)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "unauthorized_client"


def test_a_suspended_peer_may_not_exchange(hub_pair: HubPair) -> None:
    admin = hub_pair.admin(hub_pair.city)
    peer_id = hub_pair.polda_at_city["id"]
    officer_token = hub_pair.polda.token(OFFICER)
    suspended = admin.post(f"/federation/peers/{peer_id}/suspend", json={"reason": "test"})
    assert suspended.status_code == 200, suspended.text
    try:
        response = exchange(hub_pair, officer_token)
        assert response.status_code in (400, 401), response.text
        assert response.json()["error"] in ("invalid_client", "unauthorized_client")
    finally:
        resumed = admin.post(f"/federation/peers/{peer_id}/resume")
        assert resumed.status_code == 200, resumed.text
    assert exchange(hub_pair, officer_token).status_code == 200


def belawan_live(home: RunningHub) -> dict[str, Any]:
    return {
        "camera_ids": [str(home.city.cameras["dishub_belawan"])],
        "mode": "live",
        "purpose": "public_order",
        "legal_basis": "SPRIN/78/XI/2026",
        "justification": "pengamanan pelabuhan",
    }


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("{peer}#12", id="not-exchanged"),
        pytest.param("http://127.0.0.1:9#12", id="another-hub"),
        pytest.param("{peer}#twelve", id="malformed"),
    ],
)
def test_origin_event_is_taken_only_from_the_hub_the_token_acts_for(
    hub_pair: HubPair, header: str
) -> None:
    home, peer = hub_pair.city, hub_pair.polda
    exchanged = exchange(hub_pair, peer.token(OFFICER)).json()["access_token"]
    token = home.token("hub_admin") if header == "{peer}#12" else exchanged
    response = httpx.post(
        f"{home.url}/access-requests",
        json=belawan_live(home),
        headers={
            "Authorization": f"Bearer {token}",
            "Sharing-Origin-Event": header.format(peer=peer.url),
        },
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "Sharing-Origin-Event"


def test_local_requests_also_name_their_decision_event(hub_pair: HubPair) -> None:
    home = hub_pair.city
    with home.client("dishub_operator") as http:  # no access:request: refused before deciding
        assert (
            "Sharing-Audit-Event"
            not in http.post("/access-requests", json=belawan_live(home)).headers
        )
    with home.client("polrestabes_cc") as police:
        refused = police.post(
            "/access-requests",
            json=belawan_live(home) | {"camera_ids": [str(home.city.cameras["rejeki_front"])]},
        )
    assert refused.status_code == 403
    denied = int(refused.headers["Sharing-Audit-Event"])
    [decided] = [e for e in events(home, "access_request.decided") if e.id == denied]
    assert decided.object_id == refused.json()["request_id"]
    assert "origin_event" not in decided.details
