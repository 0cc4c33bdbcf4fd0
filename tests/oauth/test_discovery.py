"""Peers and clients discover the hub: RFC 8414 metadata and the JWKS."""

from __future__ import annotations

import httpx

from sharing.oauth.rfc8414 import MetadataValidator
from sharing.vocabulary import Scope
from tests.hubprocess import RunningHub
from tests.oauth import header_of


def test_metadata_tells_a_peer_how_to_get_and_check_tokens(hub: RunningHub) -> None:
    response = httpx.get(f"{hub.url}/.well-known/oauth-authorization-server")

    assert response.status_code == 200
    doc = response.json()
    MetadataValidator(doc).validate()
    assert doc["issuer"] == hub.url
    assert doc["token_endpoint"] == hub.settings.token_endpoint
    assert doc["jwks_uri"] == f"{hub.url}/.well-known/jwks.json"
    assert doc["introspection_endpoint"] == f"{hub.url}/oauth/introspect"
    assert doc["revocation_endpoint"] == f"{hub.url}/oauth/revoke"
    assert doc["grant_types_supported"] == [
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    ]
    for prefix in ("token", "introspection", "revocation"):
        assert doc[f"{prefix}_endpoint_auth_methods_supported"] == [
            "client_secret_basic",
            "private_key_jwt",
        ]
        assert "ES256" in doc[f"{prefix}_endpoint_auth_signing_alg_values_supported"]
        assert "none" not in doc[f"{prefix}_endpoint_auth_signing_alg_values_supported"]
    assert set(doc["scopes_supported"]) == {scope.value for scope in Scope}


def test_jwks_publishes_the_key_that_signs_tokens(hub: RunningHub) -> None:
    kid = header_of(hub.token("auditor"))["kid"]

    response = httpx.get(f"{hub.url}/.well-known/jwks.json")

    assert response.status_code == 200
    assert "max-age=300" in response.headers["cache-control"]
    keys = response.json()["keys"]
    assert keys[0]["kid"] == kid  # the current key comes first
    for key in keys:
        assert key["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()  # public halves only
