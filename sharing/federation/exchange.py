"""RFC 8693 token exchange at a camera's home hub: a peer hub trades its officer's token for
a short API token of this hub that acts for the peer on the officer's behalf.

The peer authenticates as its OAuth client (``private_key_jwt``, client id = its issuer) and
presents the officer's RFC 9068 token as ``subject_token``. The subject token is checked with
the peer's published keys: issued by the peer, for the peer, of type ``at+jwt``, not expired,
with scope ``access:request``, and not itself the product of an exchange. The issued token
names the officer as ``sub``, the peer as ``act`` (section 4.1) and carries the officer's
claims as ``origin``, from which ``sharing.oauth.dependencies`` builds
``Principal.on_behalf_of``.

Like the rest of the authorization server this runs in three steps: ``load_exchange_peer``
reads the peer (re-reading its keys once on an unknown ``kid``) before Authlib runs;
``TokenExchangeGrant`` decides with no I/O; ``store_exchanged_token`` persists the token with
its ``oauth.token_exchanged`` audit event.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749 import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.grants import BaseGrant, TokenEndpointMixin
from jose import jwk, jwt
from jose.exceptions import JOSEError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.service import record
from sharing.errors import InvalidInput
from sharing.federation.models import FederationPeer
from sharing.oauth.models import IssuedApiToken
from sharing.oauth.rfc7523 import ASSERTION_ALGORITHMS
from sharing.principal import Actor, Principal, RemoteSubject
from sharing.vocabulary import Scope

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
SUBJECT_TOKEN_TYPE_HEADER = "at+jwt"  # RFC 9068 section 2.1
EXCHANGED_TOKEN_MAX_SECONDS = 300
EXCHANGED_SCOPE = Scope.ACCESS_REQUEST.value
PEER_ACTIVE = "active"

PeerKeyRefresher = Callable[[AsyncSession, FederationPeer], Awaitable[bool]]
"""Re-reads a peer's JWKS (rate-limited by its owner); True when the keys changed."""


@dataclass(frozen=True, slots=True)
class ExchangePeer:
    """The peer hub a token exchange may come from, as loaded before Authlib runs."""

    issuer: str
    party_id: uuid.UUID
    active: bool
    jwks: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class ExchangedToken:
    """An API token issued by exchange, to be stored for introspection and revocation."""

    jti: str
    peer: ExchangePeer
    origin: RemoteSubject
    subject_token_id: str
    scope: str
    issued_at: datetime
    expires_at: datetime


def is_token_exchange(form: Mapping[str, str]) -> bool:
    """Whether a token request asks for an exchange."""
    return form.get("grant_type") == TOKEN_EXCHANGE


async def load_exchange_peer(
    session: AsyncSession,
    client_ids: set[str],
    subject_token: str | None,
    refresh_keys: PeerKeyRefresher | None = None,
) -> ExchangePeer | None:
    """The peer among ``client_ids`` (peers are clients under their issuer), with keys that
    know the subject token's ``kid`` if a refresh can make them."""
    if not client_ids:
        return None
    query = select(FederationPeer).where(col(FederationPeer.issuer).in_(client_ids))
    peer = (await session.execute(query)).scalars().first()
    if peer is None:
        return None
    kid = _kid_of(subject_token)
    if refresh_keys is not None and kid is not None and _key_for(peer.jwks, kid) is None:
        await refresh_keys(session, peer)
    return ExchangePeer(peer.issuer, peer.party_id, peer.status == PEER_ACTIVE, dict(peer.jwks))


def verify_subject_token(token: str, peer: ExchangePeer, now: datetime) -> dict[str, Any]:
    """The subject token's claims, or ``invalid_grant`` saying what is wrong with it."""
    try:
        header = jwt.get_unverified_header(token)
    except JOSEError as error:
        raise InvalidGrantError(description="The subject token is not a JWT.") from error
    if header.get("typ") != SUBJECT_TOKEN_TYPE_HEADER:
        raise InvalidGrantError(description="The subject token is not an RFC 9068 token.")
    public = _key_for(peer.jwks, str(header.get("kid")))
    algorithm = str(header.get("alg"))
    if public is None or algorithm not in ASSERTION_ALGORITHMS:
        raise InvalidGrantError(description="The subject token was not signed by the peer.")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            jwk.construct(dict(public), algorithm),
            algorithms=[algorithm],
            audience=peer.issuer,
            issuer=peer.issuer,
            options={"require_exp": True, "require_jti": True, "require_sub": True},
        )
    except JOSEError as error:
        raise InvalidGrantError(description=f"The subject token was refused: {error}") from error
    if float(claims["exp"]) <= now.timestamp():
        raise InvalidGrantError(description="The subject token has expired.")
    if EXCHANGED_SCOPE not in str(claims.get("scope", "")).split():
        raise InvalidGrantError(description=f"The subject token lacks scope {EXCHANGED_SCOPE}.")
    if "act" in claims:
        raise InvalidGrantError(description="A token obtained by exchange cannot be exchanged.")
    return claims


def origin_of(claims: Mapping[str, Any], peer: ExchangePeer) -> RemoteSubject:
    """The officer behind a verified subject token, as this hub names it."""
    party, client = claims.get("party"), claims.get("client_id")
    return RemoteSubject(
        hub=peer.issuer,
        subject=str(claims["sub"]),
        party_id=str(party) if party is not None else None,
        client_id=str(client) if client is not None else None,
    )


class TokenExchangeGrant(BaseGrant, TokenEndpointMixin):  # type: ignore[misc]
    """RFC 8693 section 2: an active peer trades its officer's access token for ours.

    The server must offer ``exchange_peer`` (an ``ExchangePeer`` or None), ``settings``,
    ``clock``, ``keyring`` and an ``outcome`` with an ``exchanged`` slot.
    """

    GRANT_TYPE = TOKEN_EXCHANGE
    TOKEN_ENDPOINT_AUTH_METHODS = ["private_key_jwt"]

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        peer: ExchangePeer | None = self.server.exchange_peer
        if peer is None or not peer.active or peer.issuer != client.client_id:
            raise UnauthorizedClientError(description="Only an active peer hub may exchange.")
        form = self.request.form
        if not form.get("subject_token"):
            raise InvalidRequestError(description="The 'subject_token' parameter is required.")
        if form.get("subject_token_type") != ACCESS_TOKEN_TYPE:
            raise InvalidRequestError(
                description=f"subject_token_type must be {ACCESS_TOKEN_TYPE}."
            )
        if form.get("actor_token"):
            raise InvalidRequestError(description="The authenticated peer is the actor.")
        if form.get("requested_token_type") not in (None, "", ACCESS_TOKEN_TYPE):
            raise InvalidRequestError(description="Only access tokens are issued.")
        if form.get("scope") not in (None, "", EXCHANGED_SCOPE):
            raise InvalidScopeError(description=f"An exchange grants only {EXCHANGED_SCOPE}.")
        self.request.client = client
        self.subject_claims = verify_subject_token(
            form["subject_token"], peer, self.server.clock.now()
        )

    def create_token_response(self) -> tuple[int, dict[str, object], list[tuple[str, str]]]:
        peer: ExchangePeer = self.server.exchange_peer
        claims = self.subject_claims
        issued_at: datetime = self.server.clock.now()
        subject_expiry = datetime.fromtimestamp(float(claims["exp"]), UTC)
        lifetime = min(EXCHANGED_TOKEN_MAX_SECONDS, self.server.settings.api_token_lifetime_seconds)
        expires_at = min(issued_at + timedelta(seconds=lifetime), subject_expiry)
        exchanged = ExchangedToken(
            jti=secrets.token_urlsafe(16),
            peer=peer,
            origin=origin_of(claims, peer),
            subject_token_id=str(claims["jti"]),
            scope=EXCHANGED_SCOPE,
            issued_at=issued_at,
            expires_at=expires_at,
        )
        self.server.outcome.exchanged = exchanged
        access_token = self.server.keyring.sign(
            exchanged_claims(exchanged, self.server.settings.issuer),
            token_type=SUBJECT_TOKEN_TYPE_HEADER,
        )
        body: dict[str, object] = {
            "access_token": access_token,
            "issued_token_type": ACCESS_TOKEN_TYPE,
            "token_type": "Bearer",
            "expires_in": int((expires_at - issued_at).total_seconds()),
            "scope": EXCHANGED_SCOPE,
        }
        return 200, body, self.TOKEN_RESPONSE_HEADER


def exchanged_claims(exchanged: ExchangedToken, issuer: str) -> dict[str, object]:
    """RFC 9068 claims of an exchanged token, with RFC 8693's ``act`` and the ``origin``."""
    origin = exchanged.origin
    return {
        "iss": issuer,
        "aud": issuer,
        "sub": origin.subject,
        "client_id": exchanged.peer.issuer,
        "party": str(exchanged.peer.party_id),
        "scope": exchanged.scope,
        "iat": int(exchanged.issued_at.timestamp()),
        "exp": int(exchanged.expires_at.timestamp()),
        "jti": exchanged.jti,
        "act": {"sub": exchanged.peer.issuer},
        "origin": {
            "iss": origin.hub,
            "sub": origin.subject,
            "party": origin.party_id,
            "client_id": origin.client_id,
        },
    }


def remote_subject_of(claims: Mapping[str, Any]) -> RemoteSubject | None:
    """Who a token of this hub acts for, when it was issued by exchange (``act`` present)."""
    act, origin = claims.get("act"), claims.get("origin")
    if not isinstance(act, dict) or not isinstance(origin, dict):
        return None
    party, client = origin.get("party"), origin.get("client_id")
    return RemoteSubject(
        hub=str(act.get("sub")),
        subject=str(origin.get("sub")),
        party_id=str(party) if party is not None else None,
        client_id=str(client) if client is not None else None,
    )


def store_exchanged_token(session: AsyncSession, exchanged: ExchangedToken) -> None:
    """Keep the token for introspection and revocation; audit the exchange with its chain."""
    session.add(
        IssuedApiToken(
            jti=exchanged.jti,
            client_id=exchanged.peer.issuer,
            subject=exchanged.origin.subject[:100],
            scope=exchanged.scope,
            issued_at=exchanged.issued_at,
            expires_at=exchanged.expires_at,
        )
    )
    actor = Actor(
        party_id=str(exchanged.peer.party_id),
        member_id=None,
        client_id=exchanged.peer.issuer,
        on_behalf_of=exchanged.origin,
    )
    record(
        session,
        at=exchanged.issued_at,
        actor=actor,
        action="oauth.token_exchanged",
        object_type="api_token",
        object_id=exchanged.jti,
        details={
            "scope": exchanged.scope,
            "expires_at": exchanged.expires_at.isoformat(),
            "subject_token_id": exchanged.subject_token_id,
            "act": {"sub": exchanged.peer.issuer},
        },
    )


def _kid_of(token: str | None) -> str | None:
    if not token:
        return None
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except JOSEError:
        return None
    return str(kid) if kid is not None else None


def _key_for(jwks: Mapping[str, object], kid: str) -> Mapping[str, object] | None:
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        return None
    for key in keys:
        if isinstance(key, dict) and key.get("kid") == kid:
            return key
    return None


_ORIGIN_EVENT = re.compile(r"^(https?://[^\s#]{1,300})#(\d{1,18})$")


def accepted_origin_event(header: str | None, principal: Principal) -> str | None:
    """The ``Sharing-Origin-Event`` of a forwarded request (``<issuer>#<event id>``), checked
    to name the event of the very hub the caller's exchanged token acts for."""
    if header is None:
        return None
    found = _ORIGIN_EVENT.match(header.strip())
    if found is None:
        raise InvalidInput(
            "Sharing-Origin-Event", "expected '<issuer of the forwarding hub>#<its event id>'"
        )
    hub = principal.on_behalf_of.hub if principal.on_behalf_of else None
    if found.group(1) != hub:
        raise InvalidInput(
            "Sharing-Origin-Event", "only the hub that forwards the request may name its event"
        )
    return header.strip()
