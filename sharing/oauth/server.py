"""The hub's OAuth 2.0 authorization server: Authlib, adapted to one request's loaded rows.

Implements:

- RFC 6749 section 4.4, the client credentials grant, with the section 5.1 token response and
  the section 5.2 error response;
- client authentication by RFC 6749 section 2.3.1 ``client_secret_basic`` and by RFC 7523
  section 2.2 ``private_key_jwt`` assertions (``sharing.oauth.rfc7523``);
- RFC 9068 JWT access tokens for the hub's API;
- RFC 8693 token exchange for peer hubs (``sharing.federation.exchange``);
- RFC 7662 token introspection and RFC 7009 token revocation, for API tokens and for the
  gateway access tokens of the access broker.

Authlib's server is synchronous, so it does no I/O here: it reads the rows that
``sharing.oauth.service`` loaded for the request and collects what must be saved in an
``Outcome``, which the service then persists.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientCredentialsGrant,
    InsecureTransportError,
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    OAuth2Request,
    TokenMixin,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from sharing.clock import Clock, as_utc
from sharing.federation.exchange import ExchangedToken, ExchangePeer, TokenExchangeGrant
from sharing.oauth.client import CLIENT_AUTH_METHODS, HubClient
from sharing.oauth.dependencies import API_TOKEN_TYPE
from sharing.oauth.keys import KeyRing
from sharing.oauth.rfc7523 import PrivateKeyJwt, UsedAssertion, claimed_client_ids
from sharing.settings import Settings
from sharing.vocabulary import Scope

OAuthEndpoint = Literal["token", "introspection", "revocation"]
_MAX_ID_LENGTH = 100  # OAuthClient.client_id's column width


@dataclass(frozen=True, slots=True)
class ClientCall:
    """What a client sent to an OAuth endpoint, read from the HTTP request up front."""

    form: Mapping[str, str]
    authorization: str | None = None

    def candidate_client_ids(self) -> set[str]:
        """Every client id the request may authenticate as, none of them verified yet."""
        basic_id, _ = extract_basic_authorization({"Authorization": self.authorization or ""})
        ids: set[object] = {basic_id, self.form.get("client_id")}
        assertion = self.form.get("client_assertion")
        if assertion:
            ids |= claimed_client_ids(assertion)
        return {i for i in ids if isinstance(i, str) and 0 < len(i) <= _MAX_ID_LENGTH}


@dataclass(frozen=True, slots=True)
class OAuthResponse:
    """Authlib's answer: status, JSON body and headers (Content-Type is always JSON)."""

    status_code: int
    body: dict[str, object]
    headers: dict[str, str]


@dataclass
class PresentedToken(TokenMixin):  # type: ignore[misc]
    """A verified token sent to introspection or revocation, with its stored state."""

    kind: Literal["api", "gateway"]
    jti: str
    holder_client_id: str  # the client it was issued to, or that requested the access
    claims: dict[str, object]
    expires_at: datetime
    revoked_at: datetime | None
    checked_at: datetime
    request_id: uuid.UUID | None = None

    def check_client(self, client: HubClient) -> bool:
        return client.client_id == self.holder_client_id

    def is_expired(self) -> bool:
        return as_utc(self.expires_at) <= self.checked_at

    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def get_scope(self) -> str:
        return str(self.claims.get("scope", ""))

    def get_expires_in(self) -> int:
        return int((as_utc(self.expires_at) - self.checked_at).total_seconds())


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """An API token Authlib issued, to be stored for introspection and revocation."""

    client: HubClient
    jti: str
    scope: str
    issued_at: datetime
    expires_at: datetime


@dataclass
class Outcome:
    """What one Authlib run decided and the service must persist."""

    assertion: UsedAssertion | None = None
    minted: IssuedToken | None = None
    issued: IssuedToken | None = None
    revoked: PresentedToken | None = None
    revoked_by: HubClient | None = None
    exchanged: ExchangedToken | None = None

    def accept_assertion(self, assertion: UsedAssertion) -> None:
        """Keep a verified assertion; storing it is what refuses its replay."""
        self.assertion = assertion


class HubClientCredentialsGrant(ClientCredentialsGrant):  # type: ignore[misc]
    """RFC 6749 section 4.4 with the scope limited to the client's registered scopes."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def validate_requested_scope(self) -> None:
        super().validate_requested_scope()
        client: HubClient = self.request.client
        if client.granted_scope(self.request.payload.scope) is None:
            raise InvalidScopeError(description="A requested scope is not granted to this client.")


class _PresentedTokenEndpoint:
    """What introspection and revocation share: the token loaded up front, and the hint."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS
    server: HubAuthorizationServer

    def check_params(self, request: OAuth2Request, client: HubClient) -> None:
        # RFC 7662 and RFC 7009 section 2.1 let the server ignore token_type_hint; this hub
        # tells its token kinds apart by their signed audience.
        if not request.form.get("token"):
            raise InvalidRequestError(description="The 'token' parameter is required.")

    def query_token(self, token_string: str, token_type_hint: str | None) -> PresentedToken | None:
        return self.server.presented_token


class HubIntrospectionEndpoint(_PresentedTokenEndpoint, IntrospectionEndpoint):  # type: ignore[misc]
    """RFC 7662: the token's holder, or a registry admin, learns whether it is active."""

    def check_permission(self, token: PresentedToken, client: HubClient, request: Any) -> bool:
        return token.check_client(client) or client.is_registry_admin

    def introspect_token(self, token: PresentedToken) -> dict[str, object]:
        extra = {"token_type": "Bearer"} if token.kind == "api" else {}
        return {**token.claims, **extra, "active": True}


class HubRevocationEndpoint(_PresentedTokenEndpoint, RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009: a client revokes its own API tokens and the access tokens it requested."""

    def revoke_token(self, token: PresentedToken, request: OAuth2Request) -> None:
        self.server.outcome.revoked = token
        self.server.outcome.revoked_by = request.client


class _FormRequest(OAuth2Request):  # type: ignore[misc]
    def __init__(self, uri: str, call: ClientCall) -> None:
        headers = {"Authorization": call.authorization} if call.authorization else {}
        super().__init__("POST", uri, headers=headers)
        self._form = dict(call.form)
        self.payload = BasicOAuth2Payload(self._form)

    @property
    def form(self) -> dict[str, str]:
        return self._form


class HubAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    """One request's Authlib server, over the rows loaded for that request."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        keyring: KeyRing,
        clients: Mapping[str, HubClient],
        presented_token: PresentedToken | None = None,
        exchange_peer: ExchangePeer | None = None,
    ) -> None:
        super().__init__(scopes_supported=[scope.value for scope in Scope])
        self.settings, self.clock, self.keyring = settings, clock, keyring
        self.clients = clients
        self.presented_token = presented_token
        self.exchange_peer = exchange_peer  # read by TokenExchangeGrant
        self.outcome = Outcome()
        audiences = [settings.issuer, settings.token_endpoint]
        self.register_client_auth_method(
            PrivateKeyJwt.CLIENT_AUTH_METHOD,
            PrivateKeyJwt(audiences, clock, accept=self.outcome.accept_assertion),
        )
        self.register_grant(HubClientCredentialsGrant)
        self.register_grant(TokenExchangeGrant)
        self.register_token_generator("default", self._generate_api_token)
        self.register_endpoint(HubIntrospectionEndpoint(self))
        self.register_endpoint(HubRevocationEndpoint(self))

    def respond(self, endpoint: OAuthEndpoint, call: ClientCall) -> OAuthResponse:
        """Run Authlib on ``call`` for one endpoint."""
        if call.authorization and call.form.get("client_assertion"):
            error = InvalidRequestError(description="Use one client authentication method.")
            return self._error(error)
        try:
            if endpoint == "token":
                response: OAuthResponse = self.create_token_response(call)
            else:
                response = self.create_endpoint_response(endpoint, call)
        except InsecureTransportError as error:  # raised before Authlib's own error handling
            return self._error(error)
        return response

    def refuse_replayed_assertion(self) -> OAuthResponse:
        """The invalid_client answer to an assertion that was already used."""
        return self._error(InvalidClientError(description="The client assertion was used before."))

    def query_client(self, client_id: str) -> HubClient | None:
        return self.clients.get(client_id)

    def save_token(self, token: Mapping[str, object], request: OAuth2Request) -> None:
        self.outcome.issued = self.outcome.minted

    def create_oauth2_request(self, request: ClientCall) -> OAuth2Request:
        # Authlib checks the transport of this URI: the hub's public address is what counts,
        # not the plain-HTTP hop from a TLS-terminating proxy.
        return _FormRequest(self.settings.issuer, request)

    def handle_response(
        self, status: int, body: Mapping[str, object], headers: Iterable[tuple[str, str]]
    ) -> OAuthResponse:
        kept = {name: value for name, value in headers if name.lower() != "content-type"}
        return OAuthResponse(status, dict(body), kept)

    def send_signal(self, name: str, *args: object, **kwargs: object) -> None:
        """Authlib's signals have no listener here."""

    def _error(self, error: OAuth2Error) -> OAuthResponse:
        response: OAuthResponse = self.handle_error_response(None, error)
        return response

    def _generate_api_token(
        self,
        grant_type: str,
        client: HubClient,
        user: object = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = False,
    ) -> dict[str, object]:
        # RFC 9068 section 2.2 claims; the scope was checked by HubClientCredentialsGrant.
        granted = client.granted_scope(scope) or ""
        lifetime = self.settings.api_token_lifetime_seconds
        issued_at = self.clock.now()
        minted = IssuedToken(
            client,
            secrets.token_urlsafe(16),
            granted,
            issued_at,
            issued_at + timedelta(seconds=lifetime),
        )
        claims = {
            "iss": self.settings.issuer,
            "aud": self.settings.issuer,
            "sub": client.subject,
            "client_id": client.client_id,
            # The caller's party: a peer hub that receives this token in an exchange names
            # the officer's unit with it.
            "party": str(client.row.party_id),
            "scope": granted,
            "iat": int(issued_at.timestamp()),
            "exp": int(minted.expires_at.timestamp()),
            "jti": minted.jti,
        }
        self.outcome.minted = minted
        access_token = self.keyring.sign(claims, token_type=API_TOKEN_TYPE)
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": granted,
        }
