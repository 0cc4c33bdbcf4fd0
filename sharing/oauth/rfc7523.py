"""RFC 7523 JWT client assertions: the ``private_key_jwt`` client authentication method.

A client authenticates with a short-lived JWT signed by a key of its registered JWKS
(section 2.2). The hub checks it per section 3 and accepts each assertion once (section 3,
item 7): a verified assertion is handed on as a ``UsedAssertion`` for the service to store
under a unique key, and a second use collides there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError, OAuth2Request
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from jose import jwt as jose_jwt
from jose.exceptions import JOSEError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from sharing.clock import Clock
from sharing.oauth.client import HubClient

# Asymmetric only: a client's registered JWKS holds public keys, never shared secrets.
ASSERTION_ALGORITHMS = ["ES256", "ES384", "RS256", "PS256"]
ASSERTION_LEEWAY_SECONDS = 30
# Section 3 lets a server refuse an exp unreasonably far ahead; the bound also bounds how long
# used jtis must be remembered.
ASSERTION_MAX_LIFETIME_SECONDS = 600
_MAX_JTI_LENGTH = 200  # UsedClientAssertion.jti's column width


@dataclass(frozen=True, slots=True)
class UsedAssertion:
    """A verified client assertion, to be stored so that it is never accepted again."""

    client_id: str
    jti: str
    expires_at: datetime


def claimed_client_ids(assertion: str) -> set[object]:
    """The ``sub`` and ``iss`` an assertion names, unverified: which clients to load."""
    try:
        claims = jose_jwt.get_unverified_claims(assertion)
    except JOSEError:
        return set()
    return {claims.get("sub"), claims.get("iss")}


class PrivateKeyJwt(JWTBearerClientAssertion):  # type: ignore[misc]
    """Section 2.2 client authentication with an assertion signed by the client.

    ``accept`` receives each assertion that passes every check but the replay check.
    """

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(
        self, audiences: list[str], clock: Clock, accept: Callable[[UsedAssertion], None]
    ) -> None:
        super().__init__(validate_jti=True, leeway=ASSERTION_LEEWAY_SECONDS)
        self._audiences = audiences
        self._clock = clock
        self._accept = accept

    def __call__(self, query_client: Any, request: OAuth2Request) -> HubClient | None:
        client: HubClient | None = super().__call__(query_client, request)
        claimed = request.form.get("client_id")
        if client is not None and claimed and claimed != client.client_id:
            raise InvalidClientError(description="client_id differs from the assertion's sub")
        return client

    def get_audiences(self) -> list[str]:
        return self._audiences

    def resolve_client_public_key(self, client: HubClient) -> KeySet:
        # Authlib checks the client's method only after the signature; refuse before it.
        if not client.check_endpoint_auth_method(self.CLIENT_AUTH_METHOD, "token"):
            raise InvalidClientError(description="The client does not use private_key_jwt.")
        try:
            return client.public_keys()
        except (JoseError, ValueError) as error:
            raise InvalidClientError(description="The client has no usable keys.") from error

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> dict[str, Any]:
        # Authlib's version lets joserfc pick any recommended algorithm; pin ours instead.
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ASSERTION_ALGORITHMS)
        except JoseError as error:
            raise InvalidClientError(description=error.description) from error
        self.verify_claims(token.claims)
        return token.claims

    def verify_claims(self, claims: dict[str, Any]) -> None:
        super().verify_claims(claims)
        latest = self._clock.now() + timedelta(seconds=ASSERTION_MAX_LIFETIME_SECONDS)
        if float(claims["exp"]) > latest.timestamp():
            raise InvalidClientError(description="The assertion expires too far in the future.")

    def validate_jti(self, claims: Mapping[str, Any], jti: object) -> bool:
        # Replay is refused when the service inserts the jti (a unique key) and collides.
        if not isinstance(jti, str) or not 0 < len(jti) <= _MAX_JTI_LENGTH:
            raise InvalidClientError(description="The assertion's jti is not a short string.")
        expires_at = datetime.fromtimestamp(float(claims["exp"]), UTC)
        self._accept(UsedAssertion(str(claims["sub"]), jti, expires_at))
        return True
