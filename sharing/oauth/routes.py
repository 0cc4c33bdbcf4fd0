"""HTTP endpoints of the authorization server: token (RFC 6749 section 4.4), introspection
(RFC 7662), revocation (RFC 7009), metadata (RFC 8414 section 3) and the JWKS (RFC 7517).

The handlers only read the form and the Authorization header and hand them to
``sharing.oauth.service``; they take no ``principal``, since clients authenticate here with
their own credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency, Provide
from litestar.enums import MediaType, RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body

from sharing.dependencies import ClockDep, KeyRingDep, PeerClientDep, SessionDep, SettingsDep
from sharing.federation.peers import key_refresher
from sharing.oauth.rfc8414 import (
    INTROSPECTION_PATH,
    JWKS_PATH,
    METADATA_PATH,
    REVOCATION_PATH,
    TOKEN_PATH,
    server_metadata,
)
from sharing.oauth.schemas import (
    AuthorizationServerMetadata,
    ClientAssertionForm,
    IntrospectionResponse,
    JsonWebKeySet,
    OAuthErrorBody,
    TokenForm,
    TokenRequest,
    TokenResponse,
)
from sharing.oauth.server import ClientCall, OAuthEndpoint
from sharing.oauth.service import JWKS_MAX_AGE_SECONDS, run_endpoint
from sharing.openapi import problem_responses

TAGS = ["oauth"]

_CLIENT_AUTH = (
    "The client authenticates with HTTP Basic (`client_secret_basic`) or with a signed "
    "assertion (`private_key_jwt`, RFC 7523 section 2.2: `client_assertion_type` and "
    "`client_assertion` form fields), whichever it is registered for. "
)
_OAUTH_ERRORS = (
    "Errors use the RFC 6749 section 5.2 JSON shape (`error`, `error_description`) that OAuth "
    "clients parse, not RFC 9457 problem documents: the one documented exception at this hub."
)
_ERROR_RESPONSES = {
    400: ResponseSpec(
        OAuthErrorBody,
        description="invalid_request, invalid_client (assertion refused, replayed or expired), "
        "invalid_grant, invalid_scope, unauthorized_client, unsupported_grant_type or "
        "unsupported_token_type (RFC 6749 section 5.2).",
        generate_examples=False,
    ),
    401: ResponseSpec(
        OAuthErrorBody,
        description="invalid_client: HTTP Basic client authentication failed (RFC 6749 "
        "section 5.2), or the client is unknown or deactivated.",
        generate_examples=False,
    ),
}

_FORM = Body(media_type=RequestEncodingType.URL_ENCODED)


@dataclass(frozen=True, slots=True)
class TokenEndpoints:
    """The token, introspection and revocation endpoints, over one request's session."""

    session: SessionDep
    settings: SettingsDep
    clock: ClockDep
    keyring: KeyRingDep
    peer_client: PeerClientDep

    async def answer(
        self,
        endpoint: OAuthEndpoint,
        request: Request[Any, Any, Any],
        form: ClientAssertionForm,
    ) -> Response[dict[str, object]]:
        """Run ``endpoint`` on the form and the Authorization header; return its response."""
        fields = {name: value for name, value in form.model_dump().items() if value is not None}
        call = ClientCall(form=fields, authorization=request.headers.get("authorization"))
        result = await run_endpoint(
            endpoint,
            self.session,
            call,
            settings=self.settings,
            clock=self.clock,
            keyring=self.keyring,
            refresh_peer_keys=key_refresher(self.peer_client),
        )
        return Response(
            result.body,
            status_code=result.status_code,
            headers=result.headers,
            media_type=MediaType.JSON,
        )


def _oauth_post(path: str, *, summary: str, description: str, success: ResponseSpec) -> post:
    """The route decorator of an endpoint where clients post a form with their credentials."""
    return post(
        path,
        status_code=200,
        summary=summary,
        description=description + _CLIENT_AUTH + _OAUTH_ERRORS,
        tags=TAGS,
        security=[{}],  # no bearer token: clients authenticate with their own credentials
        # 422 is Litestar's form validation (a field too long, a repeated field): a problem body.
        responses={200: success, **_ERROR_RESPONSES, **problem_responses(422)},
        dependencies={"endpoints": Provide(TokenEndpoints, sync_to_thread=False)},
    )


@_oauth_post(
    TOKEN_PATH,
    summary="Issue an API access token (client credentials, token exchange)",
    description=(
        "RFC 6749 section 4.4 client credentials grant. Returns an RFC 9068 JWT access token "
        "for this hub's API, signed with the key published in the JWKS. The scope is a subset "
        "of the client's registered scopes; without `scope` the client gets all of them. "
        "A peer hub (`private_key_jwt`, client id = its issuer) may instead use the RFC 8693 "
        "token exchange grant `urn:ietf:params:oauth:grant-type:token-exchange` with its "
        "officer's access token as `subject_token`: the answer is a token of at most 300 s "
        "with `act` naming the peer and `origin` the officer, scope `access:request`. "
    ),
    success=ResponseSpec(
        TokenResponse,
        description="The access token (RFC 6749 section 5.1).",
        generate_examples=False,
    ),
)
async def token(
    request: Request[Any, Any, Any],
    data: Annotated[TokenRequest, _FORM],
    endpoints: NamedDependency[TokenEndpoints],
) -> Response[dict[str, object]]:
    """Issue an API token to an authenticated client."""
    return await endpoints.answer("token", request, data)


@_oauth_post(
    INTROSPECTION_PATH,
    summary="Introspect a token",
    description=(
        "RFC 7662 token introspection, for API access tokens and gateway access tokens. A "
        "client may introspect the tokens issued to it and the access tokens it requested; a "
        "client with scope `registry:admin` may introspect any. Unknown, expired, revoked and "
        'other clients\' tokens all answer `{"active": false}`. '
    ),
    success=ResponseSpec(
        IntrospectionResponse,
        description="Whether the token is active, and its claims if it is (RFC 7662 section 2.2).",
        generate_examples=False,
    ),
)
async def introspect(
    request: Request[Any, Any, Any],
    data: Annotated[TokenForm, _FORM],
    endpoints: NamedDependency[TokenEndpoints],
) -> Response[dict[str, object]]:
    """Tell an authenticated client whether a token is active."""
    return await endpoints.answer("introspection", request, data)


@_oauth_post(
    REVOCATION_PATH,
    summary="Revoke a token",
    description=(
        "RFC 7009 token revocation. A client revokes an API token issued to it, or a gateway "
        "access token it requested (the gateway then refuses it). Unknown, malformed and "
        "expired tokens answer 200 as well, as RFC 7009 section 2.2 requires; another "
        "client's token answers invalid_grant. "
    ),
    success=ResponseSpec(None, description="Revoked, or nothing to revoke."),
)
async def revoke(
    request: Request[Any, Any, Any],
    data: Annotated[TokenForm, _FORM],
    endpoints: NamedDependency[TokenEndpoints],
) -> Response[dict[str, object]]:
    """Revoke one of the authenticated client's tokens."""
    return await endpoints.answer("revocation", request, data)


@get(
    METADATA_PATH,
    summary="Authorization server metadata",
    description=(
        "RFC 8414 section 3 metadata: endpoints, grant types, client authentication methods "
        "and algorithms, scopes. Peers and clients discover the hub from it."
    ),
    tags=TAGS,
    security=[{}],  # public: discovery needs no credentials
    cache_control=CacheControlHeader(max_age=JWKS_MAX_AGE_SECONDS, public=True),
)
async def metadata(settings: SettingsDep) -> AuthorizationServerMetadata:
    """This hub's authorization server metadata."""
    return server_metadata(settings)


@get(
    JWKS_PATH,
    summary="The hub's public signing keys",
    description=(
        "RFC 7517 JWK Set of the keys that sign the hub's API tokens and access tokens: "
        "the current key first, and retired keys during their overlap period. "
        "Cache it briefly; fetch it again on an unknown `kid`."
    ),
    tags=TAGS,
    security=[{}],  # public: discovery needs no credentials
    cache_control=CacheControlHeader(max_age=JWKS_MAX_AGE_SECONDS, public=True),
    responses={
        200: ResponseSpec(JsonWebKeySet, description="The JWK Set.", generate_examples=False)
    },
)
async def jwks(keyring: KeyRingDep) -> dict[str, list[dict[str, Any]]]:
    """The published signing keys; every node re-reads them from the database in the
    background (``SHARING_KEY_REFRESH_SECONDS``), so a rotation elsewhere shows here."""
    return keyring.jwks()


oauth_handlers: list[HTTPRouteHandler] = [token, introspect, revoke, metadata, jwks]
