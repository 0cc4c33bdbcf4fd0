"""RFC 8414 authorization server metadata: where the hub's OAuth endpoints are, and how
clients authenticate to them."""

from __future__ import annotations

from authlib.oauth2.rfc8414 import AuthorizationServerMetadata as AuthlibServerMetadata

from sharing.federation.exchange import TOKEN_EXCHANGE
from sharing.oauth.client import CLIENT_AUTH_METHODS, CLIENT_CREDENTIALS
from sharing.oauth.rfc7523 import ASSERTION_ALGORITHMS
from sharing.oauth.schemas import AuthorizationServerMetadata
from sharing.settings import Settings
from sharing.vocabulary import Scope

TOKEN_PATH = "/oauth/token"
INTROSPECTION_PATH = "/oauth/introspect"
REVOCATION_PATH = "/oauth/revoke"
JWKS_PATH = "/.well-known/jwks.json"
METADATA_PATH = "/.well-known/oauth-authorization-server"  # section 3
AUDIT_LOG_PATH = "/audit/log"  # the audit log's checkpoint key, published beside the JWKS


def server_metadata(settings: Settings) -> AuthorizationServerMetadata:
    """This hub's section 2 metadata document."""
    issuer = settings.issuer
    return AuthorizationServerMetadata(
        issuer=issuer,
        token_endpoint=settings.token_endpoint,
        jwks_uri=issuer + JWKS_PATH,
        audit_log_uri=issuer + AUDIT_LOG_PATH,
        introspection_endpoint=issuer + INTROSPECTION_PATH,
        revocation_endpoint=issuer + REVOCATION_PATH,
        grant_types_supported=[CLIENT_CREDENTIALS, TOKEN_EXCHANGE],
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
    """Authlib's section 2 checks, allowing the empty ``response_types_supported`` that is
    true of a hub without an authorization endpoint."""

    def validate_response_types_supported(self) -> None:
        if not isinstance(self.get("response_types_supported"), list):
            raise ValueError('"response_types_supported" MUST be JSON array')
