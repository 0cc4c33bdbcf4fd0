"""The Polda's command center authenticates with signed assertions (RFC 7523 section 2.2)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk, jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.oauth.models import UsedClientAssertion
from sharing.oauth.rfc7523 import ASSERTION_LEEWAY_SECONDS
from sharing.oauth.service import forget_spent_assertions
from tests.hubprocess import RunningHub
from tests.oauth import CLIENT_ASSERTION_TYPE, claims_of, request_token

POLDA = "polda_cc"


def _exchange(
    hub: RunningHub, assertion: str, auth: tuple[str, str] | None = None, **form: str
) -> httpx.Response:
    """Ask for a token with ``assertion`` as the client's credentials."""
    return request_token(
        hub,
        auth=auth,
        client_assertion_type=CLIENT_ASSERTION_TYPE,
        client_assertion=assertion,
        **form,
    )


def _assert_refused(response: httpx.Response) -> None:
    assert response.status_code in (400, 401), response.text
    assert response.json()["error"] == "invalid_client"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _assertion_claims(hub: RunningHub) -> dict[str, Any]:
    client_id, now = hub.city.clients[POLDA].client_id, int(time.time())
    return {
        "iss": client_id,
        "sub": client_id,
        "aud": hub.settings.token_endpoint,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }


def _public_jwk(hub: RunningHub) -> dict[str, Any]:
    private_jwk = hub.city.clients[POLDA].private_jwk
    assert private_jwk is not None
    return {k: v for k, v in private_jwk.items() if k != "d"}


def test_polda_signs_an_assertion_and_gets_a_token(hub: RunningHub) -> None:
    response = _exchange(hub, hub.client_assertion(POLDA))

    assert response.status_code == 200, response.text
    claims = claims_of(response.json()["access_token"])
    assert claims["client_id"] == hub.city.clients[POLDA].client_id
    assert claims["sub"] == str(hub.city.members["polda_desk"])


def test_assertion_may_name_the_issuer_as_its_audience(hub: RunningHub) -> None:
    response = _exchange(hub, hub.client_assertion(POLDA, aud=hub.url))

    assert response.status_code == 200, response.text


def test_replayed_assertion_is_refused(hub: RunningHub) -> None:
    assertion = hub.client_assertion(POLDA)
    assert _exchange(hub, assertion).status_code == 200

    _assert_refused(_exchange(hub, assertion))


def test_assertion_for_another_audience_is_refused(hub: RunningHub) -> None:
    assertion = hub.client_assertion(POLDA, aud="https://hub.polda-sumut.example/oauth/token")

    _assert_refused(_exchange(hub, assertion))


def test_expired_assertion_is_refused(hub: RunningHub) -> None:
    now = int(time.time())
    assertion = hub.client_assertion(POLDA, iat=now - 600, exp=now - 300)

    _assert_refused(_exchange(hub, assertion))


def test_assertion_valid_for_a_day_is_refused(hub: RunningHub) -> None:
    assertion = hub.client_assertion(POLDA, exp=int(time.time()) + 86_400)

    _assert_refused(_exchange(hub, assertion))


def test_assertion_together_with_a_secret_is_refused(hub: RunningHub) -> None:
    demo = hub.city.clients["polrestabes_cc"]
    response = _exchange(hub, hub.client_assertion(POLDA), auth=(demo.client_id, demo.secret or ""))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_assertion_without_jti_is_refused(hub: RunningHub) -> None:
    claims = _assertion_claims(hub)
    del claims["jti"]
    private_jwk = hub.city.clients[POLDA].private_jwk
    assert private_jwk is not None
    assertion = jwt.encode(
        claims, private_jwk, algorithm="ES256", headers={"kid": private_jwk["kid"]}
    )

    _assert_refused(_exchange(hub, assertion))


def test_unsigned_assertion_is_refused(hub: RunningHub) -> None:
    header = {"alg": "none", "typ": "JWT", "kid": _public_jwk(hub)["kid"]}
    unsigned = (
        f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_assertion_claims(hub)).encode())}."
    )

    _assert_refused(_exchange(hub, unsigned))


@pytest.mark.parametrize("secret_form", ["pem", "jwk_json"])
def test_assertion_hmac_signed_with_the_public_key_is_refused(
    hub: RunningHub, secret_form: str
) -> None:
    # The classic algorithm confusion: HS256 keyed with the client's *public* key.
    public_jwk = _public_jwk(hub)
    secret = (
        jwk.construct(public_jwk, "ES256").to_pem()
        if secret_form == "pem"
        else json.dumps(public_jwk).encode()
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": public_jwk["kid"]}
    signing_input = (
        f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_assertion_claims(hub)).encode())}"
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()

    _assert_refused(_exchange(hub, f"{signing_input}.{_b64(signature)}"))


def test_assertion_signed_by_another_key_is_refused(hub: RunningHub) -> None:
    impostor_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assertion = jwt.encode(
        _assertion_claims(hub),
        impostor_pem.decode(),
        algorithm="ES256",
        headers={"kid": _public_jwk(hub)["kid"]},
    )

    _assert_refused(_exchange(hub, assertion))


def test_assertion_for_one_client_cannot_claim_another_client_id(hub: RunningHub) -> None:
    other = hub.city.clients["polrestabes_cc"].client_id

    _assert_refused(_exchange(hub, hub.client_assertion(POLDA), client_id=other))


def test_secret_client_cannot_authenticate_with_an_assertion(hub: RunningHub) -> None:
    # polrestabes_cc is registered for client_secret_basic; the polda key can't speak for it.
    other = hub.city.clients["polrestabes_cc"].client_id

    _assert_refused(_exchange(hub, hub.client_assertion(POLDA, iss=other, sub=other)))


def test_assertion_client_cannot_fall_back_to_a_secret(hub: RunningHub) -> None:
    polda = hub.city.clients[POLDA].client_id
    _assert_refused(request_token(hub, auth=(polda, "guess")))


def test_replay_records_are_forgotten_only_once_the_assertion_is_spent(hub: RunningHub) -> None:
    claims = _assertion_claims(hub)
    assert _exchange(hub, hub.client_assertion(POLDA, **claims)).status_code == 200
    spent_at = datetime.fromtimestamp(claims["exp"], UTC) + timedelta(
        seconds=2 * ASSERTION_LEEWAY_SECONDS + 1
    )

    def recorded(session: AsyncSession) -> Awaitable[object]:
        return session.scalar(
            select(col(UsedClientAssertion.jti)).where(
                col(UsedClientAssertion.jti) == claims["jti"]
            )
        )

    hub.query(lambda session: forget_spent_assertions(session, datetime.now(UTC)))
    assert hub.query(recorded) == claims["jti"]  # still presentable: the replay guard stays
    hub.query(lambda session: forget_spent_assertions(session, spent_at))
    assert hub.query(recorded) is None
