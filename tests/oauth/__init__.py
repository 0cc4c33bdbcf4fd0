"""Tests of the authorization server, and the few calls its stories share."""

from __future__ import annotations

from typing import Any

import httpx
from jose import jwt

from tests.hubprocess import RunningHub

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def client_auth(hub: RunningHub, name: str) -> tuple[dict[str, str], tuple[str, str] | None]:
    """How demo client ``name`` authenticates: extra form fields and HTTP Basic credentials."""
    demo = hub.city.clients[name]
    if demo.private_jwk is not None:
        form = {
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": hub.client_assertion(name),
        }
        return form, None
    return {}, (demo.client_id, demo.secret or "")


def request_token(
    hub: RunningHub, *, auth: tuple[str, str] | None = None, **form: str
) -> httpx.Response:
    """POST a client credentials token request; ``form`` adds fields or replaces the grant."""
    data = {"grant_type": "client_credentials", **form}
    return httpx.post(f"{hub.url}/oauth/token", data=data, auth=auth, timeout=10)


def post_as(hub: RunningHub, name: str, path: str, form: dict[str, str]) -> httpx.Response:
    """POST ``form`` to an OAuth endpoint, authenticated as demo client ``name``."""
    extra, auth = client_auth(hub, name)
    return httpx.post(f"{hub.url}{path}", data=form | extra, auth=auth, timeout=10)


def introspect(hub: RunningHub, name: str, token: str) -> dict[str, Any]:
    """What the introspection endpoint tells demo client ``name`` about ``token``."""
    response = post_as(hub, name, "/oauth/introspect", {"token": token})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def revoke(hub: RunningHub, name: str, token: str) -> httpx.Response:
    """Ask the revocation endpoint, as demo client ``name``, to revoke ``token``."""
    return post_as(hub, name, "/oauth/revoke", {"token": token})


def fresh_token(hub: RunningHub, name: str) -> str:
    """A token of its own for a test that will revoke it (``hub.token`` caches its tokens)."""
    return hub.token(name, scope=hub.city.clients[name].scopes)


def claims_of(token: str) -> dict[str, Any]:
    """A token's claims, unverified: for reading what the hub put in, not for trusting it."""
    claims: dict[str, Any] = jwt.get_unverified_claims(token)
    return claims


def header_of(token: str) -> dict[str, Any]:
    """A token's JOSE header, unverified."""
    header: dict[str, Any] = jwt.get_unverified_header(token)
    return header
