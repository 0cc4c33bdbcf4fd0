"""The hub's OAuth 2.0 authorization server, on Authlib.

Implements:

- RFC 6749 section 4.4, the client credentials grant, with the section 5.1 token response and
  the section 5.2 error response;
- client authentication by RFC 6749 section 2.3.1 ``client_secret_basic`` and by RFC 7523
  section 2.2 ``private_key_jwt`` assertions, checked per section 3 and accepted once each
  (section 3, item 7);
- RFC 9068 JWT access tokens for the hub's API;
- RFC 7662 token introspection and RFC 7009 token revocation, for API tokens and for the
  gateway access tokens of the access broker;
- RFC 8414 section 2 authorization server metadata.

Authlib's server is synchronous and the database is only reached asynchronously, so each
request runs in three steps. First an async step loads every row Authlib may ask for: the
candidate clients and the presented token. Then Authlib decides, with no I/O, reading those
rows and collecting what must be saved in an ``Outcome``. Last an async step persists the
outcome (the used assertion, the issued token or the revocation, with its audit event) in one
transaction.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientCredentialsGrant,
    ClientMixin,
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
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata as AuthlibServerMetadata
from jose import jwt as jose_jwt
from jose.exceptions import JOSEError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.access.models import AccessRequest, AccessToken
from sharing.audit.service import record
from sharing.clock import Clock, as_utc
from sharing.crypto import client_secret_matches
from sharing.oauth.dependencies import API_TOKEN_TYPE
from sharing.oauth.keys import InvalidToken, KeyRing
from sharing.oauth.models import IssuedApiToken, UsedClientAssertion
from sharing.oauth.schemas import AuthorizationServerMetadata
from sharing.parties.models import Member, OAuthClient, Party
from sharing.principal import Actor
from sharing.settings import Settings
from sharing.vocabulary import Scope

log = logging.getLogger("sharing.oauth")

TOKEN_PATH = "/oauth/token"
INTROSPECTION_PATH = "/oauth/introspect"
REVOCATION_PATH = "/oauth/revoke"
JWKS_PATH = "/.well-known/jwks.json"
METADATA_PATH = "/.well-known/oauth-authorization-server"

CLIENT_CREDENTIALS = "client_credentials"
CLIENT_AUTH_METHODS = ["client_secret_basic", "private_key_jwt"]
# Asymmetric only: a client's registered JWKS holds public keys, never shared secrets.
ASSERTION_ALGORITHMS = ["ES256", "ES384", "RS256", "PS256"]
ASSERTION_LEEWAY_SECONDS = 30
# RFC 7523 section 3 lets a server refuse an exp unreasonably far ahead; the bound also bounds
# how long used jtis must be remembered.
ASSERTION_MAX_LIFETIME_SECONDS = 600
JWKS_MAX_AGE_SECONDS = 300
GATEWAY_REVOCATION_REASON = "revoked by client"
_MAX_ID_LENGTH = 100  # OAuthClient.client_id's column width
_MAX_JTI_LENGTH = 200  # UsedClientAssertion.jti's column width


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
            try:
                claims = jose_jwt.get_unverified_claims(assertion)
            except JOSEError:
                claims = {}
            ids |= {claims.get("sub"), claims.get("iss")}
        return {i for i in ids if isinstance(i, str) and 0 < len(i) <= _MAX_ID_LENGTH}


@dataclass(frozen=True, slots=True)
class OAuthResponse:
    """Authlib's answer: status, JSON body and headers (Content-Type is always JSON)."""

    status_code: int
    body: dict[str, object]
    headers: dict[str, str]


class HubClient(ClientMixin):  # type: ignore[misc]
    """Authlib's view of an active ``OAuthClient`` of an active party."""

    def __init__(self, row: OAuthClient) -> None:
        self.row = row
        self.scopes = tuple(row.scopes.split())

    @property
    def client_id(self) -> str:
        """The OAuth client id."""
        return self.row.client_id

    @property
    def subject(self) -> str:
        """The ``sub`` of its tokens: the member it acts for, else the client itself."""
        return str(self.row.member_id) if self.row.member_id else self.row.client_id

    @property
    def actor(self) -> Actor:
        """Who audit events about this client's own requests name."""
        member = str(self.row.member_id) if self.row.member_id else None
        return Actor(party_id=str(self.row.party_id), member_id=member, client_id=self.client_id)

    @property
    def is_registry_admin(self) -> bool:
        """Hub operators may introspect every token."""
        return Scope.REGISTRY_ADMIN in self.scopes

    def granted_scope(self, requested: str | None) -> str | None:
        """The scope to grant, or None when a requested scope is not the client's."""
        if not requested or not requested.strip():
            return " ".join(self.scopes)
        wanted = list(dict.fromkeys(requested.split()))
        return " ".join(wanted) if set(wanted) <= set(self.scopes) else None

    def public_keys(self) -> KeySet:
        """The client's registered JWKS, for its ``private_key_jwt`` assertions."""
        return KeySet.import_key_set(self.row.jwks or {"keys": []})  # type: ignore[arg-type]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        return self.granted_scope(scope) or ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return client_secret_matches(client_secret, self.row.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # One registered method per client, for the token, introspection and revocation alike.
        return method == self.row.auth_method

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == CLIENT_CREDENTIALS


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
class UsedAssertion:
    """A verified client assertion, to be stored so that it is never accepted again."""

    client_id: str
    jti: str
    expires_at: datetime


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
    """What one Authlib run decided and the async step must persist."""

    assertion: UsedAssertion | None = None
    minted: IssuedToken | None = None
    issued: IssuedToken | None = None
    revoked: PresentedToken | None = None
    revoked_by: HubClient | None = None


class PrivateKeyJwt(JWTBearerClientAssertion):  # type: ignore[misc]
    """RFC 7523 section 2.2 client authentication with an assertion signed by the client."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, audiences: list[str], clock: Clock, outcome: Outcome) -> None:
        super().__init__(validate_jti=True, leeway=ASSERTION_LEEWAY_SECONDS)
        self._audiences = audiences
        self._clock = clock
        self._outcome = outcome

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
        # Replay is refused when the async step inserts the jti (a unique key) and collides.
        if not isinstance(jti, str) or not 0 < len(jti) <= _MAX_JTI_LENGTH:
            raise InvalidClientError(description="The assertion's jti is not a short string.")
        expires_at = datetime.fromtimestamp(float(claims["exp"]), UTC)
        self._outcome.assertion = UsedAssertion(str(claims["sub"]), jti, expires_at)
        return True


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
    ) -> None:
        super().__init__(scopes_supported=[scope.value for scope in Scope])
        self.settings, self.clock, self.keyring = settings, clock, keyring
        self.clients = clients
        self.presented_token = presented_token
        self.outcome = Outcome()
        audiences = [settings.issuer, settings.token_endpoint]
        self.register_client_auth_method(
            "private_key_jwt", PrivateKeyJwt(audiences, clock, self.outcome)
        )
        self.register_grant(HubClientCredentialsGrant)
        self.register_token_generator("default", self._generate_api_token)
        self.register_endpoint(HubIntrospectionEndpoint(self))
        self.register_endpoint(HubRevocationEndpoint(self))

    def respond(
        self, endpoint: Literal["token", "introspection", "revocation"], call: ClientCall
    ) -> OAuthResponse:
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


async def issue_token(
    session: AsyncSession,
    call: ClientCall,
    *,
    settings: Settings,
    clock: Clock,
    keyring: KeyRing,
) -> OAuthResponse:
    """RFC 6749 section 4.4: authenticate the client and issue an API access token."""
    clients = await _load_clients(session, call.candidate_client_ids())
    server = HubAuthorizationServer(settings, clock, keyring, clients)
    return await _settle(session, server, server.respond("token", call))


async def introspect_token(
    session: AsyncSession,
    call: ClientCall,
    *,
    settings: Settings,
    clock: Clock,
    keyring: KeyRing,
) -> OAuthResponse:
    """RFC 7662 section 2: tell an authenticated client whether a token is active."""
    server = await _server_for_token(session, call, settings, clock, keyring)
    return await _settle(session, server, server.respond("introspection", call))


async def revoke_token(
    session: AsyncSession,
    call: ClientCall,
    *,
    settings: Settings,
    clock: Clock,
    keyring: KeyRing,
) -> OAuthResponse:
    """RFC 7009 section 2: revoke a token of the authenticated client; unknown tokens are fine."""
    server = await _server_for_token(session, call, settings, clock, keyring)
    return await _settle(session, server, server.respond("revocation", call))


def server_metadata(settings: Settings) -> AuthorizationServerMetadata:
    """This hub's RFC 8414 section 2 metadata document."""
    issuer = settings.issuer
    return AuthorizationServerMetadata(
        issuer=issuer,
        token_endpoint=settings.token_endpoint,
        jwks_uri=issuer + JWKS_PATH,
        introspection_endpoint=issuer + INTROSPECTION_PATH,
        revocation_endpoint=issuer + REVOCATION_PATH,
        grant_types_supported=[CLIENT_CREDENTIALS],
        response_types_supported=[],
        scopes_supported=[scope.value for scope in Scope],
        token_endpoint_auth_methods_supported=CLIENT_AUTH_METHODS,
        token_endpoint_auth_signing_alg_values_supported=ASSERTION_ALGORITHMS,
        introspection_endpoint_auth_methods_supported=CLIENT_AUTH_METHODS,
        introspection_endpoint_auth_signing_alg_values_supported=ASSERTION_ALGORITHMS,
        revocation_endpoint_auth_methods_supported=CLIENT_AUTH_METHODS,
        revocation_endpoint_auth_signing_alg_values_supported=ASSERTION_ALGORITHMS,
        service_documentation=issuer + "/schema",
    )


class MetadataValidator(AuthlibServerMetadata):  # type: ignore[misc]
    """Authlib's RFC 8414 checks, allowing the empty ``response_types_supported`` that is
    true of a hub without an authorization endpoint."""

    def validate_response_types_supported(self) -> None:
        if not isinstance(self.get("response_types_supported"), list):
            raise ValueError('"response_types_supported" MUST be JSON array')


async def published_keys(
    session: AsyncSession, keyring: KeyRing, clock: Clock
) -> dict[str, list[dict[str, Any]]]:
    """The JWKS, reloaded when older than its cache period so other nodes' rotations show."""
    loaded_at = keyring.loaded_at
    if loaded_at is None or clock.now() - loaded_at > timedelta(seconds=JWKS_MAX_AGE_SECONDS):
        await keyring.load(session)
    return keyring.jwks()


async def _load_clients(session: AsyncSession, client_ids: set[str]) -> dict[str, HubClient]:
    # Inactive clients, and clients of inactive parties or members, are simply not found.
    if not client_ids:
        return {}
    query = (
        select(OAuthClient)
        .join(Party, col(Party.id) == col(OAuthClient.party_id))
        .outerjoin(Member, col(Member.id) == col(OAuthClient.member_id))
        .where(
            col(OAuthClient.client_id).in_(client_ids),
            col(OAuthClient.active),
            col(Party.active),
            or_(col(OAuthClient.member_id).is_(None), col(Member.active)),
        )
    )
    rows = (await session.execute(query)).scalars()
    return {row.client_id: HubClient(row) for row in rows}


async def _server_for_token(
    session: AsyncSession, call: ClientCall, settings: Settings, clock: Clock, keyring: KeyRing
) -> HubAuthorizationServer:
    clients = await _load_clients(session, call.candidate_client_ids())
    token = await _load_presented_token(session, call.form.get("token"), settings, clock, keyring)
    return HubAuthorizationServer(settings, clock, keyring, clients, token)


async def _load_presented_token(
    session: AsyncSession, token: str | None, settings: Settings, clock: Clock, keyring: KeyRing
) -> PresentedToken | None:
    """Verify the token as an API token, else as a gateway access token, and load its row."""
    if not token:
        return None
    await keyring.refresh_for(token, session)
    now = clock.now()
    try:
        claims = keyring.verify(token, audience=settings.issuer, token_type=API_TOKEN_TYPE)
    except InvalidToken:
        pass
    else:
        api_row = await session.get(IssuedApiToken, str(claims["jti"]))
        if api_row is None:
            return None
        return PresentedToken(
            "api",
            api_row.jti,
            api_row.client_id,
            claims,
            api_row.expires_at,
            api_row.revoked_at,
            now,
        )
    try:
        claims = keyring.verify(token, audience=settings.gateway_audience)
    except InvalidToken:
        return None
    query = (
        select(AccessToken, col(AccessRequest.requester_client_id))
        .join(AccessRequest, col(AccessRequest.id) == col(AccessToken.request_id))
        .where(col(AccessToken.jti) == str(claims["jti"]))
    )
    found = (await session.execute(query)).first()
    if found is None:
        return None
    gateway_row, requester = found
    return PresentedToken(
        "gateway",
        gateway_row.jti,
        requester,
        claims,
        gateway_row.expires_at,
        gateway_row.revoked_at,
        now,
        gateway_row.request_id,
    )


async def _settle(
    session: AsyncSession, server: HubAuthorizationServer, response: OAuthResponse
) -> OAuthResponse:
    """Persist what Authlib decided, in one transaction, or refuse a replayed assertion."""
    outcome, now = server.outcome, server.clock.now()
    if outcome.assertion is not None and not await _claim_assertion(session, outcome.assertion):
        log.warning("refused a replayed assertion of %s", outcome.assertion.client_id)
        return server.refuse_replayed_assertion()
    if outcome.issued is not None:
        _store_issued_token(session, outcome.issued)
    if outcome.revoked is not None and outcome.revoked_by is not None:
        await _store_revocation(session, outcome.revoked, outcome.revoked_by, now)
    await session.commit()
    return response


async def _claim_assertion(session: AsyncSession, assertion: UsedAssertion) -> bool:
    """Insert the assertion's jti; a unique-key collision means it was used before."""
    session.add(
        UsedClientAssertion(
            client_id=assertion.client_id, jti=assertion.jti, expires_at=assertion.expires_at
        )
    )
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        return False
    return True


def _store_issued_token(session: AsyncSession, issued: IssuedToken) -> None:
    session.add(
        IssuedApiToken(
            jti=issued.jti,
            client_id=issued.client.client_id,
            subject=issued.client.subject,
            scope=issued.scope,
            issued_at=issued.issued_at,
            expires_at=issued.expires_at,
        )
    )
    record(
        session,
        at=issued.issued_at,
        actor=issued.client.actor,
        action="oauth.token_issued",
        object_type="api_token",
        object_id=issued.jti,
        details={
            "scope": issued.scope,
            "expires_at": issued.expires_at.isoformat(),
            "auth_method": issued.client.row.auth_method,
        },
    )


async def _store_revocation(
    session: AsyncSession, token: PresentedToken, client: HubClient, now: datetime
) -> None:
    # The conditional update makes revocation idempotent: only the first one is audited.
    if token.kind == "api":
        api_update = (
            update(IssuedApiToken)
            .where(col(IssuedApiToken.jti) == token.jti, col(IssuedApiToken.revoked_at).is_(None))
            .values(revoked_at=now)
            .returning(col(IssuedApiToken.jti))
        )
        if (await session.execute(api_update)).first() is not None:
            record(
                session,
                at=now,
                actor=client.actor,
                action="oauth.token_revoked",
                object_type="api_token",
                object_id=token.jti,
            )
        return
    gateway_update = (
        update(AccessToken)
        .where(col(AccessToken.jti) == token.jti, col(AccessToken.revoked_at).is_(None))
        .values(revoked_at=now, revocation_reason=GATEWAY_REVOCATION_REASON)
        .returning(col(AccessToken.jti))
    )
    if (await session.execute(gateway_update)).first() is not None:
        record(
            session,
            at=now,
            actor=client.actor,
            action="access_token.revoked",
            object_type="access_token",
            object_id=token.jti,
            details={"reason": GATEWAY_REVOCATION_REASON, "request_id": str(token.request_id)},
        )
