"""Authlib's view of a client registered at the hub (RFC 6749 section 2)."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import ClientMixin
from joserfc.jwk import KeySet

from sharing.crypto import client_secret_matches
from sharing.parties.models import OAuthClient
from sharing.principal import Actor
from sharing.vocabulary import Scope

CLIENT_CREDENTIALS = "client_credentials"
# RFC 6749 section 2.3.1 and RFC 7523 section 2.2; each client is registered for one of them.
CLIENT_AUTH_METHODS = ["client_secret_basic", "private_key_jwt"]


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
