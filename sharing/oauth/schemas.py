"""Wire shapes of the authorization server's endpoints.

Request bodies are ``application/x-www-form-urlencoded`` forms (RFC 6749 section 4.4.2,
RFC 7662 section 2.1, RFC 7009 section 2.1). Every field is optional here on purpose: a
missing parameter is reported by the OAuth machinery as an RFC 6749 section 5.2 error, which
is what OAuth clients parse, rather than as a problem document.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

_ASSERTION_EXAMPLE = "eyJhbGciOiJFUzI1NiIsImtpZCI6InBvbGRhLTEifQ.eyJpc3MiOiJwb2xkYV9jYyJ9.c2ln"


class ClientAssertionForm(BaseModel):
    """Client authentication fields of RFC 7521 section 4.2 (``private_key_jwt``)."""

    model_config = ConfigDict(extra="ignore")

    client_id: str | None = Field(
        default=None,
        max_length=100,
        description="The client's id. Optional; if sent it must equal the assertion's subject.",
        examples=["polda_cc"],
    )
    client_assertion_type: str | None = Field(
        default=None,
        description="Set to the JWT bearer assertion type when authenticating with a JWT.",
        examples=[CLIENT_ASSERTION_TYPE],
    )
    client_assertion: str | None = Field(
        default=None,
        description=(
            "A JWT signed with a key in the client's registered JWKS (RFC 7523 section 3): "
            "iss and sub are the client id, aud is the issuer or the token endpoint URL, "
            "a unique jti, and a short exp. Each assertion is accepted once."
        ),
        examples=[_ASSERTION_EXAMPLE],
    )


class TokenRequest(ClientAssertionForm):
    """An RFC 6749 section 4.4.2 client credentials access token request."""

    grant_type: str | None = Field(
        default=None,
        description="'client_credentials', or for peer hubs "
        "'urn:ietf:params:oauth:grant-type:token-exchange'.",
        examples=["client_credentials"],
    )
    scope: str | None = Field(
        default=None,
        max_length=500,
        description=(
            "Space-separated scopes, a subset of the client's registered scopes. "
            "Omit to receive all of the client's scopes."
        ),
        examples=["registry:read consent:read"],
    )
    subject_token: str | None = Field(
        default=None,
        description="Token exchange (RFC 8693 section 2.1): the peer hub's access token of the "
        "officer it acts for.",
        examples=["eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJqdGkiOiJhYmMifQ.c2ln"],
    )
    subject_token_type: str | None = Field(
        default=None,
        description="Token exchange: must be 'urn:ietf:params:oauth:token-type:access_token'.",
        examples=["urn:ietf:params:oauth:token-type:access_token"],
    )
    requested_token_type: str | None = Field(
        default=None,
        description="Token exchange: optional; only access tokens are issued.",
        examples=["urn:ietf:params:oauth:token-type:access_token"],
    )
    actor_token: str | None = Field(
        default=None,
        description="Token exchange: not accepted; the authenticated peer hub is the actor.",
    )


class TokenForm(ClientAssertionForm):
    """A request about one token: introspection (RFC 7662) or revocation (RFC 7009)."""

    token: str | None = Field(
        default=None,
        description="The token: an API access token or a gateway access token.",
        examples=["eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJqdGkiOiJhYmMifQ.c2ln"],
    )
    token_type_hint: str | None = Field(
        default=None,
        description="Optional hint; only 'access_token' is meaningful at this hub.",
        examples=["access_token"],
    )


class TokenResponse(BaseModel):
    """An RFC 6749 section 5.1 successful token response."""

    access_token: str = Field(
        description="An RFC 9068 JWT access token (header typ 'at+jwt') for this hub's API.",
        examples=["eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJqdGkiOiJhYmMifQ.c2ln"],
    )
    token_type: str = Field(description="Always 'Bearer' (RFC 6750).", examples=["Bearer"])
    expires_in: int = Field(description="Lifetime in seconds.", examples=[900])
    scope: str = Field(description="The scopes granted.", examples=["registry:read"])
    issued_token_type: str | None = Field(
        default=None,
        description="Token exchange only (RFC 8693 section 2.2.1): the issued token's type.",
        examples=["urn:ietf:params:oauth:token-type:access_token"],
    )


class OAuthErrorBody(BaseModel):
    """An RFC 6749 section 5.2 error: the one error shape here that is not RFC 9457."""

    error: str = Field(
        description="invalid_request, invalid_client, invalid_grant, unauthorized_client, "
        "unsupported_grant_type, invalid_scope or unsupported_token_type.",
        examples=["invalid_client"],
    )
    error_description: str | None = Field(
        default=None,
        description="What went wrong, for the client's developer.",
        examples=["The client cannot authenticate with methods: ['client_secret_basic']"],
    )


class IntrospectionResponse(BaseModel):
    """An RFC 7662 section 2.2 introspection response.

    Inactive, unknown, expired, revoked and other clients' tokens all answer only
    ``{"active": false}``. An active gateway access token also carries its own claims
    (cameras, mode, footage window).
    """

    model_config = ConfigDict(extra="allow")

    active: bool = Field(description="Whether the token is currently valid.", examples=[True])
    scope: str | None = Field(default=None, examples=["registry:read consent:read"])
    client_id: str | None = Field(default=None, examples=["polrestabes_cc"])
    sub: str | None = Field(default=None, examples=["polrestabes_cc"])
    aud: str | list[str] | None = Field(default=None, examples=["http://127.0.0.1:8000"])
    iss: str | None = Field(default=None, examples=["http://127.0.0.1:8000"])
    exp: int | None = Field(default=None, examples=[1767225600])
    iat: int | None = Field(default=None, examples=[1767224700])
    jti: str | None = Field(default=None, examples=["q8Zb0tqSx6bW5Ck2f1n1xw"])
    token_type: str | None = Field(
        default=None, description="'Bearer' for API tokens.", examples=["Bearer"]
    )


class AuthorizationServerMetadata(BaseModel):
    """This hub's RFC 8414 section 2 authorization server metadata."""

    issuer: str = Field(description="The issuer identifier.", examples=["https://hub.example"])
    token_endpoint: str = Field(examples=["https://hub.example/oauth/token"])
    jwks_uri: str = Field(examples=["https://hub.example/.well-known/jwks.json"])
    audit_log_uri: str = Field(
        description="Not in RFC 8414: where the audit log publishes its checkpoint key, "
        "witness key and witnesses.",
        examples=["https://hub.example/audit/log"],
    )
    introspection_endpoint: str = Field(examples=["https://hub.example/oauth/introspect"])
    revocation_endpoint: str = Field(examples=["https://hub.example/oauth/revoke"])
    grant_types_supported: list[str] = Field(examples=[["client_credentials"]])
    response_types_supported: list[str] = Field(
        description="Empty: the hub has no authorization endpoint yet.", examples=[[]]
    )
    scopes_supported: list[str] = Field(examples=[["registry:read", "consent:read"]])
    token_endpoint_auth_methods_supported: list[str] = Field(
        examples=[["client_secret_basic", "private_key_jwt"]]
    )
    token_endpoint_auth_signing_alg_values_supported: list[str] = Field(
        examples=[["ES256", "RS256"]]
    )
    introspection_endpoint_auth_methods_supported: list[str] = Field(
        examples=[["client_secret_basic", "private_key_jwt"]]
    )
    introspection_endpoint_auth_signing_alg_values_supported: list[str] = Field(
        examples=[["ES256", "RS256"]]
    )
    revocation_endpoint_auth_methods_supported: list[str] = Field(
        examples=[["client_secret_basic", "private_key_jwt"]]
    )
    revocation_endpoint_auth_signing_alg_values_supported: list[str] = Field(
        examples=[["ES256", "RS256"]]
    )
    service_documentation: str = Field(
        description="The OpenAPI document of the hub's API.",
        examples=["https://hub.example/schema"],
    )


class JsonWebKeySet(BaseModel):
    """An RFC 7517 section 5 JWK Set: the hub's public signing keys, current key first."""

    keys: list[dict[str, str]] = Field(
        description="Public keys with kid, use 'sig' and alg; retired keys stay for an overlap.",
        examples=[
            [
                {
                    "kty": "EC",
                    "crv": "P-256",
                    "x": "f83O...",
                    "y": "x_FE...",
                    "kid": "Zk3vQx1d",
                    "use": "sig",
                    "alg": "ES256",
                }
            ]
        ],
    )
