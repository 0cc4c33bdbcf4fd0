"""The authorization server's service: load the rows a request needs, let Authlib decide,
persist what it decided.

Authlib's server (``sharing.oauth.server``) is synchronous and the database is only reached
asynchronously, so each request runs in three steps. First an async step loads every row
Authlib may ask for: the candidate clients and the presented token. Then Authlib decides, with
no I/O, reading those rows and collecting what must be saved in an ``Outcome``. Last an async
step persists the outcome (the used assertion, the issued token or the revocation, with its
audit event) in one transaction.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.access.models import AccessRequest, AccessToken
from sharing.audit.service import record
from sharing.clock import Clock
from sharing.federation.exchange import (
    ExchangePeer,
    PeerKeyRefresher,
    is_token_exchange,
    load_exchange_peer,
    store_exchanged_token,
)
from sharing.federation.peers import refresh_keys_for_assertion
from sharing.oauth.client import HubClient
from sharing.oauth.dependencies import API_TOKEN_TYPE
from sharing.oauth.keys import InvalidToken, KeyRing
from sharing.oauth.models import IssuedApiToken, UsedClientAssertion
from sharing.oauth.rfc7523 import ASSERTION_LEEWAY_SECONDS, UsedAssertion
from sharing.oauth.server import (
    ClientCall,
    HubAuthorizationServer,
    IssuedToken,
    OAuthEndpoint,
    OAuthResponse,
    PresentedToken,
)
from sharing.parties.models import Member, OAuthClient, Party
from sharing.settings import Settings

log = logging.getLogger("sharing.oauth")

JWKS_MAX_AGE_SECONDS = 300
GATEWAY_REVOCATION_REASON = "revoked by client"


async def run_endpoint(
    endpoint: OAuthEndpoint,
    session: AsyncSession,
    call: ClientCall,
    *,
    settings: Settings,
    clock: Clock,
    keyring: KeyRing,
    refresh_peer_keys: PeerKeyRefresher | None = None,
) -> OAuthResponse:
    """Answer a client's call to one OAuth endpoint, and persist what the answer changed.

    - ``token``: RFC 6749 section 4.4, authenticate the client and issue an API access token,
      or RFC 8693, exchange a peer hub's officer token for one of ours;
    - ``introspection``: RFC 7662 section 2, tell the client whether a token is active;
    - ``revocation``: RFC 7009 section 2, revoke a token of the client (unknown ones are fine).
    """
    # The peer first: re-reading its rotated keys also updates its client's keys.
    exchange_peer = await _load_exchange_peer(endpoint, session, call, refresh_peer_keys)
    await _follow_peer_key_rotation(session, call, refresh_peer_keys)
    clients = await _load_clients(session, call.candidate_client_ids())
    token = None
    if endpoint != "token":
        token = await _load_presented_token(
            session, call.form.get("token"), settings, clock, keyring
        )
    server = HubAuthorizationServer(settings, clock, keyring, clients, token, exchange_peer)
    return await _settle(session, server, server.respond(endpoint, call))


async def _follow_peer_key_rotation(
    session: AsyncSession, call: ClientCall, refresh_peer_keys: PeerKeyRefresher | None
) -> None:
    """Re-read a peer hub's JWKS when its client assertion names a kid we lack (the peer
    rotated its key), before its client row is loaded for Authlib."""
    assertion = call.form.get("client_assertion")
    if assertion and refresh_peer_keys is not None:
        await refresh_keys_for_assertion(session, assertion, refresh_peer_keys)


async def _load_exchange_peer(
    endpoint: OAuthEndpoint,
    session: AsyncSession,
    call: ClientCall,
    refresh_peer_keys: PeerKeyRefresher | None,
) -> ExchangePeer | None:
    """The peer hub behind a token exchange request, loaded before Authlib runs."""
    if endpoint != "token" or not is_token_exchange(call.form):
        return None
    return await load_exchange_peer(
        session, call.candidate_client_ids(), call.form.get("subject_token"), refresh_peer_keys
    )


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


async def _load_presented_token(
    session: AsyncSession, token: str | None, settings: Settings, clock: Clock, keyring: KeyRing
) -> PresentedToken | None:
    """Verify the token as an API token, else as a gateway access token, and load its row."""
    if not token:
        return None
    await keyring.refresh_for(token, session)
    now = clock.now()
    claims = _verified(keyring, token, audience=settings.issuer, token_type=API_TOKEN_TYPE)
    if claims is not None:
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
    claims = _verified(keyring, token, audience=settings.gateway_audience)
    if claims is None:
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


def _verified(
    keyring: KeyRing, token: str, *, audience: str, token_type: str | None = None
) -> dict[str, Any] | None:
    """The token's claims if it is valid for ``audience``; RFC 7662/7009 treat the rest as
    unknown tokens, not as errors."""
    try:
        return keyring.verify(token, audience=audience, token_type=token_type)
    except InvalidToken:
        return None


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
    if outcome.exchanged is not None:
        store_exchanged_token(session, outcome.exchanged)
    if outcome.revoked is not None and outcome.revoked_by is not None:
        await _store_revocation(session, outcome.revoked, outcome.revoked_by, now)
    await session.commit()
    return response


async def forget_spent_assertions(session: AsyncSession, now: datetime) -> int:
    """Delete the replay records of assertions that can no longer be presented: past their
    ``exp`` and the leeway the check allows. Returns how many were deleted."""
    horizon = now - timedelta(seconds=ASSERTION_LEEWAY_SECONDS * 2)
    result = await session.execute(
        delete(UsedClientAssertion).where(col(UsedClientAssertion.expires_at) < horizon)
    )
    await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


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
    # Only the first revocation of a token changes its row, and only that one is audited.
    if token.kind == "api":
        if await _revoke_row(session, IssuedApiToken, token.jti, revoked_at=now):
            record(
                session,
                at=now,
                actor=client.actor,
                action="oauth.token_revoked",
                object_type="api_token",
                object_id=token.jti,
            )
        return
    reason = GATEWAY_REVOCATION_REASON
    if await _revoke_row(session, AccessToken, token.jti, revoked_at=now, revocation_reason=reason):
        record(
            session,
            at=now,
            actor=client.actor,
            action="access_token.revoked",
            object_type="access_token",
            object_id=token.jti,
            details={"reason": reason, "request_id": str(token.request_id)},
        )


async def _revoke_row(
    session: AsyncSession,
    table: type[IssuedApiToken] | type[AccessToken],
    jti: str,
    **values: object,
) -> bool:
    """Set ``values`` on the token's row unless it is revoked already; True if this did it."""
    # The condition makes revocation idempotent, also against a concurrent revocation.
    statement = (
        update(table)
        .where(col(table.jti) == jti, col(table.revoked_at).is_(None))
        .values(**values)
        .returning(col(table.jti))
    )
    return (await session.execute(statement)).first() is not None
