"""Calls from this hub to its peer hubs: discovery, client authentication, tokens, requests.

One ``PeerClient`` per hub process, over the hub's shared ``httpx.AsyncClient``:

- ``discover(issuer)``: the peer's RFC 8414 section 3 metadata (its ``issuer`` must equal
  the URL asked, section 3.3) and its JWKS;
- ``client_assertion(audience)``: an RFC 7523 section 2.2 ``private_key_jwt`` assertion
  signed by this hub's current key;
- ``client_credentials_token(peer, scope)``: an RFC 6749 section 4.4 API token at the peer,
  cached until shortly before it expires;
- ``exchange_token(peer, subject_token, scope)``: an RFC 8693 token exchange at the peer, the
  officer's token as subject and this hub as the authenticated client (the actor);
- ``call(...)``: any other request to a peer.

Every call has the timeout ``settings.federation_timeout_seconds`` (connecting gets a fifth
of it); idempotent calls are retried at most twice, shortly, when the peer could not be
reached or answered 5xx, never after a timeout. A peer that cannot be reached,
times out, answers 5xx or answers what no hub answers raises ``PeerFailed`` (502), whose
message names the peer and what went wrong.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from sharing.clock import Clock
from sharing.errors import InvalidInput, PeerFailed
from sharing.federation.models import FederationPeer
from sharing.oauth.keys import KeyRing
from sharing.settings import Settings

METADATA_PATH = "/.well-known/oauth-authorization-server"  # RFC 8414 section 3
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"  # RFC 8693
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # RFC 8693 section 3
ASSERTION_LIFETIME = timedelta(seconds=60)
# A cached token is renewed this long before it expires, so it never dies in flight.
TOKEN_RENEWAL_MARGIN = timedelta(seconds=30)
RETRY_DELAYS_SECONDS = (0.1, 0.3)  # two retries for idempotent calls, then give up


@dataclass(frozen=True, slots=True)
class PeerDocuments:
    """What discovery read from a peer: its RFC 8414 metadata and its JWKS."""

    issuer: str
    metadata: dict[str, object]
    jwks: dict[str, object]

    @property
    def token_endpoint(self) -> str:
        """The peer's token endpoint (checked to be a string by discovery)."""
        return str(self.metadata["token_endpoint"])

    @property
    def jwks_uri(self) -> str:
        """Where the peer publishes its keys (checked to be a string by discovery)."""
        return str(self.metadata["jwks_uri"])


@dataclass(frozen=True, slots=True)
class _CachedToken:
    token: str
    renew_at: datetime


class PeerClient:
    """This hub as a client of its peers; see the module docstring."""

    def __init__(
        self, http: httpx.AsyncClient, *, settings: Settings, keyring: KeyRing, clock: Clock
    ) -> None:
        self._http = http
        self._settings = settings
        self._keyring = keyring
        self._clock = clock
        self._tokens: dict[tuple[str, str], _CachedToken] = {}
        total = settings.federation_timeout_seconds
        self._timeout = httpx.Timeout(total, connect=total / 5)

    @property
    def issuer(self) -> str:
        """This hub's issuer: ``iss`` and ``sub`` of its assertions at peers."""
        return self._settings.issuer

    def now(self) -> datetime:
        """The hub's clock, for callers that stamp what the peer answered."""
        return self._clock.now()

    # --- Discovery ----------------------------------------------------------------------

    async def discover(self, issuer: str) -> PeerDocuments:
        """Read ``issuer``'s RFC 8414 metadata and JWKS.

        Raises ``InvalidInput`` (field ``issuer``) when the metadata names another issuer,
        and ``PeerFailed`` when the peer is unreachable or answers nonsense.
        """
        issuer = issuer.rstrip("/")
        response = await self.call("GET", issuer + METADATA_PATH, idempotent=True)
        _require_ok(response, issuer, "its authorization server metadata")
        metadata = json_object(response, issuer, "its authorization server metadata")
        if metadata.get("issuer") != issuer:
            raise InvalidInput(
                "issuer",
                f"the metadata at {issuer}{METADATA_PATH} names the issuer "
                f"{metadata.get('issuer')!r}; RFC 8414 requires it to equal the URL",
            )
        for endpoint in ("token_endpoint", "jwks_uri"):
            if not isinstance(metadata.get(endpoint), str):
                raise PeerFailed(f"the hub {issuer} publishes metadata without {endpoint}")
        jwks = await self.fetch_jwks(issuer, str(metadata["jwks_uri"]))
        return PeerDocuments(issuer, metadata, jwks)

    async def fetch_jwks(self, issuer: str, jwks_uri: str) -> dict[str, object]:
        """The peer's current JWK Set, checked to be one."""
        response = await self.call("GET", jwks_uri, idempotent=True)
        _require_ok(response, issuer, "its JWKS")
        jwks = json_object(response, issuer, "its JWKS")
        keys = jwks.get("keys")
        if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) for k in keys):
            raise PeerFailed(f"the hub {issuer} publishes a JWKS without keys")
        return jwks

    # --- Client authentication and tokens -----------------------------------------------

    def client_assertion(self, audience: str) -> str:
        """An RFC 7523 assertion for ``audience`` (a peer's token endpoint): ``iss`` = ``sub``
        = this hub's issuer, a fresh ``jti``, 60 s of life, signed by the current key."""
        now = self._clock.now()
        claims = {
            "iss": self.issuer,
            "sub": self.issuer,
            "aud": audience,
            "jti": secrets.token_urlsafe(18),
            "iat": int(now.timestamp()),
            "exp": int((now + ASSERTION_LIFETIME).timestamp()),
        }
        return self._keyring.sign(claims, "JWT")

    async def client_credentials_token(self, peer: FederationPeer, scope: str) -> str:
        """An API token of ``peer`` for this hub with ``scope``, reused until near expiry."""
        key = (peer.issuer, scope)
        cached = self._tokens.get(key)
        if cached is not None and self._clock.now() < cached.renew_at:
            return cached.token
        token, expires_in = await self._token_request(
            peer, {"grant_type": "client_credentials", "scope": scope}
        )
        renew_at = self._clock.now() + timedelta(seconds=expires_in) - TOKEN_RENEWAL_MARGIN
        self._tokens[key] = _CachedToken(token, renew_at)
        return token

    def forget_tokens(self, peer: FederationPeer) -> None:
        """Drop cached tokens of ``peer`` (it refused one, or was suspended here)."""
        for key in [k for k in self._tokens if k[0] == peer.issuer]:
            del self._tokens[key]

    async def exchange_token(
        self, peer: FederationPeer, subject_token: str, scope: str = "access:request"
    ) -> str:
        """RFC 8693: trade an officer's API token of this hub for a token of ``peer`` that
        acts for the officer, with this hub as the actor. Never cached: each forwarded call
        proves the officer's token is still good here."""
        form = {
            "grant_type": TOKEN_EXCHANGE_GRANT,
            "subject_token": subject_token,
            "subject_token_type": ACCESS_TOKEN_TYPE,
            "scope": scope,
        }
        token, _ = await self._token_request(peer, form)
        return token

    async def _token_request(
        self, peer: FederationPeer, form: Mapping[str, str]
    ) -> tuple[str, float]:
        endpoint = str(peer.server_metadata.get("token_endpoint", ""))
        if not endpoint:
            raise PeerFailed(f"the hub {peer.issuer} has no token endpoint on record")

        def authenticated_form() -> dict[str, str]:
            # A fresh assertion per attempt: the peer accepts each jti only once.
            return {
                **form,
                "client_id": self.issuer,
                "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": self.client_assertion(endpoint),
            }

        response = await self._send(
            "POST",
            endpoint,
            lambda: {"data": authenticated_form()},
            idempotent=True,  # a token request changes nothing a retry could double
        )
        body = json_object(response, peer.issuer, "its token endpoint")
        if response.status_code != 200:
            raise PeerFailed(
                f"the hub {peer.issuer} refused this hub a token: "
                f"{body.get('error')}: {body.get('error_description', '')}".rstrip(": "),
                peer_status=response.status_code,
                peer_error=body.get("error"),
            )
        token, expires_in = body.get("access_token"), body.get("expires_in", 60)
        if not isinstance(token, str) or not isinstance(expires_in, int | float):
            raise PeerFailed(f"the hub {peer.issuer} answered a token response without a token")
        return token, float(expires_in)

    # --- Requests -----------------------------------------------------------------------

    async def call(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        json: object = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool,
    ) -> httpx.Response:
        """Send one request to a peer and return its response if below 500.

        ``token`` goes in ``Authorization: Bearer``. Idempotent calls are retried at most
        twice on connection failures and 5xx; then, or at once for other calls and after any
        timeout, ``PeerFailed`` is raised. 4xx responses are returned for the caller to relay.
        """
        sent_headers = dict(headers or {})
        if token is not None:
            sent_headers["Authorization"] = f"Bearer {token}"
        kwargs: dict[str, Any] = {"headers": sent_headers}
        if json is not None:
            kwargs["json"] = json
        return await self._send(method, url, lambda: kwargs, idempotent=idempotent)

    async def _send(
        self,
        method: str,
        url: str,
        build: Callable[[], dict[str, Any]],
        *,
        idempotent: bool,
    ) -> httpx.Response:
        delays = RETRY_DELAYS_SECONDS if idempotent else ()
        for retry in range(len(delays) + 1):
            try:
                response = await self._http.request(method, url, timeout=self._timeout, **build())
            except httpx.TimeoutException as exc:
                # Not retried: a hub that let the whole timeout pass is hung or swamped, and
                # an officer is waiting; one timeout is the most a peer may cost them.
                failure = f"did not answer within {self._settings.federation_timeout_seconds} s"
                raise PeerFailed(f"the hub {_origin(url)} {failure}", url=url) from exc
            except httpx.HTTPError as exc:
                failure = f"could not be reached ({type(exc).__name__}: {exc})"
                cause: Exception = exc
            else:
                if response.status_code < 500:
                    return response
                failure = f"answered {response.status_code} to {method} {url}"
                cause = PeerFailed(failure)
            if retry < len(delays):
                await asyncio.sleep(delays[retry])
        raise PeerFailed(f"the hub {_origin(url)} {failure}", url=url) from cause


def json_object(response: httpx.Response, peer: str, what: str) -> dict[str, Any]:
    """The JSON object a peer answered, or ``PeerFailed`` naming what was expected."""
    try:
        body = response.json()
    except ValueError as exc:
        raise PeerFailed(
            f"the hub {peer} answered {what} with something that is not JSON "
            f"(HTTP {response.status_code})"
        ) from exc
    if not isinstance(body, dict):
        raise PeerFailed(f"the hub {peer} answered {what} with JSON that is not an object")
    return body


def _require_ok(response: httpx.Response, peer: str, what: str) -> None:
    if response.status_code != 200:
        raise PeerFailed(
            f"the hub {peer} answered {response.status_code} for {what} at {response.url}; "
            "is this a hub's issuer URL?",
            peer_status=response.status_code,
        )


def _origin(url: str) -> str:
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"
