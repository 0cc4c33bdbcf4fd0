"""Who is calling: the authenticated party, member and client behind an API request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sharing.errors import PermissionDenied
from sharing.vocabulary import Scope


@dataclass(frozen=True, slots=True)
class RemoteSubject:
    """The person at a peer hub for whom that hub forwards a request.

    In RFC 8693 terms the peer hub is the actor (``act``) and this is the subject: the hub
    vouches for its officer, and both are named in every audit event of the request.
    """

    hub: str  # the peer hub's issuer
    subject: str  # the ``sub`` of the officer's token at that hub
    party_id: str | None  # the officer's party (or unit) at that hub
    client_id: str | None  # the client the officer used there

    def as_details(self) -> dict[str, str | None]:
        """How audit events name the chain."""
        return {
            "hub": self.hub,
            "subject": self.subject,
            "party_id": self.party_id,
            "client_id": self.client_id,
        }


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller, as proven by a verified API access token.

    ``subject`` is the member's id when the client acts for a person, else the client id.
    """

    party_id: uuid.UUID
    client_id: str
    member_id: uuid.UUID | None
    scopes: frozenset[str]
    token_id: str
    on_behalf_of: RemoteSubject | None = None  # set when a peer hub forwards for its officer

    @property
    def subject(self) -> str:
        """The token's ``sub``: the person when there is one, else the software."""
        return str(self.member_id) if self.member_id else self.client_id

    @property
    def is_registry_admin(self) -> bool:
        """A hub operator may act on every party's registry objects."""
        return Scope.REGISTRY_ADMIN in self.scopes

    def require(self, scope: Scope) -> None:
        """Refuse unless the token carries ``scope``."""
        if scope not in self.scopes:
            raise PermissionDenied(f"this action needs the scope '{scope}'", required_scope=scope)

    def may_act_for(self, party_id: uuid.UUID) -> bool:
        """Whether the caller may read or change objects that belong to ``party_id``."""
        return party_id == self.party_id or self.is_registry_admin


@dataclass(frozen=True, slots=True)
class Actor:
    """Who an audit event names. A principal, or the hub itself for system work."""

    party_id: str | None
    member_id: str | None
    client_id: str | None
    on_behalf_of: RemoteSubject | None = None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        """The actor behind an authenticated API call."""
        return cls(
            party_id=str(principal.party_id),
            member_id=str(principal.member_id) if principal.member_id else None,
            client_id=principal.client_id,
            on_behalf_of=principal.on_behalf_of,
        )

    @classmethod
    def system(cls, name: str = "hub") -> Actor:
        """The hub acting on its own (migrations, demo loading, expiry sweeps)."""
        return cls(party_id=None, member_id=None, client_id=f"system:{name}")
