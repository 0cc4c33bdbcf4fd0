"""Clients get API tokens with the client credentials grant (RFC 6749 section 4.4)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from sharing.crypto import hash_client_secret, new_client_secret
from sharing.parties.models import OAuthClient, Party
from tests.hubprocess import RunningHub
from tests.oauth import claims_of, header_of, introspect, request_token


def _register_client(
    hub: RunningHub,
    *,
    client_active: bool = True,
    party_active: bool = True,
    scopes: str = "registry:read",
) -> tuple[str, str]:
    """A client of a new party, made straight in the database; returns (client id, secret)."""
    client_id, secret = f"test-{uuid.uuid4().hex[:12]}", new_client_secret()

    async def insert(session: AsyncSession) -> None:
        now = datetime.now(UTC)
        party = Party(
            name=f"Party of {client_id}", kind="business", active=party_active, created_at=now
        )
        session.add(party)
        await session.flush()
        session.add(
            OAuthClient(
                client_id=client_id,
                party_id=party.id,
                name=client_id,
                auth_method="client_secret_basic",
                secret_hash=hash_client_secret(secret),
                scopes=scopes,
                active=client_active,
                created_at=now,
            )
        )
        await session.commit()

    hub.query(insert)
    return client_id, secret


def test_officer_client_gets_a_token_that_works_on_the_api(hub: RunningHub) -> None:
    demo = hub.city.clients["polrestabes_cc"]
    response = request_token(hub, auth=(demo.client_id, demo.secret or ""))

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == hub.settings.api_token_lifetime_seconds
    assert set(body["scope"].split()) == set(demo.scopes.split())
    token = body["access_token"]
    assert header_of(token)["typ"] == "at+jwt"
    claims = claims_of(token)
    assert claims["iss"] == hub.url
    assert claims["aud"] == hub.url
    assert claims["client_id"] == demo.client_id
    assert claims["sub"] == str(hub.city.members["officer_budi"])  # the officer, not the software
    assert claims["exp"] - claims["iat"] == hub.settings.api_token_lifetime_seconds
    parties = httpx.get(f"{hub.url}/parties", headers={"Authorization": f"Bearer {token}"})
    assert parties.status_code == 200, parties.text


def test_client_may_narrow_its_token_to_some_of_its_scopes(hub: RunningHub) -> None:
    demo = hub.city.clients["polrestabes_cc"]
    response = request_token(hub, auth=(demo.client_id, demo.secret or ""), scope="registry:read")

    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "registry:read"
    assert claims_of(response.json()["access_token"])["scope"] == "registry:read"


def test_wrong_secret_is_refused_as_invalid_client(hub: RunningHub) -> None:
    demo = hub.city.clients["polrestabes_cc"]
    response = request_token(hub, auth=(demo.client_id, "not-the-secret"))

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")


def test_unknown_client_is_refused_as_invalid_client(hub: RunningHub) -> None:
    response = request_token(hub, auth=("no-such-client", "whatever"))

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_request_without_any_credentials_is_refused(hub: RunningHub) -> None:
    response = request_token(hub)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_officer_cannot_ask_for_a_scope_its_client_was_not_given(hub: RunningHub) -> None:
    demo = hub.city.clients["polrestabes_cc"]
    for scope in ("registry:write", "registry:read registry:admin", "cameras:everything"):
        response = request_token(hub, auth=(demo.client_id, demo.secret or ""), scope=scope)

        assert response.status_code == 400, scope
        assert response.json()["error"] == "invalid_scope"


def test_only_the_client_credentials_grant_is_offered(hub: RunningHub) -> None:
    demo = hub.city.clients["polrestabes_cc"]
    response = request_token(
        hub,
        auth=(demo.client_id, demo.secret or ""),
        grant_type="password",
        username="budi",
        password="x",
    )

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize(
    ("client_active", "party_active"),
    [(False, True), (True, False)],
    ids=["deactivated client", "client of a deactivated party"],
)
def test_deactivated_client_or_party_gets_no_token(
    hub: RunningHub, client_active: bool, party_active: bool
) -> None:
    client_id, secret = _register_client(
        hub, client_active=client_active, party_active=party_active
    )

    response = request_token(hub, auth=(client_id, secret))

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_software_client_without_a_member_is_its_own_subject(hub: RunningHub) -> None:
    client_id, secret = _register_client(hub, scopes="registry:read consent:read")

    response = request_token(hub, auth=(client_id, secret))

    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert claims_of(token)["sub"] == client_id
    assert introspect(hub, "hub_admin", token)["sub"] == client_id
