"""Resolve the caller of an API request from its RFC 6750 bearer token (an RFC 9068 JWT)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request
from sqlalchemy import bindparam, select
from sqlmodel import col

from sharing.dependencies import KeyRingDep, SessionDep, SettingsDep
from sharing.errors import Unauthenticated
from sharing.federation.exchange import remote_subject_of
from sharing.oauth.keys import InvalidToken
from sharing.oauth.models import IssuedApiToken
from sharing.parties.models import Member, OAuthClient, Party
from sharing.principal import Principal

API_TOKEN_TYPE = "at+jwt"  # RFC 9068 section 2.1


def bearer_token(request: Request[Any, Any, Any]) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if there is one."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


# Built once with a bound parameter: constructing the statement and its cache key per request
# costs more CPU than running it, and every authenticated request runs it.
_TOKEN_STANDING = (
    select(
        col(IssuedApiToken.revoked_at),
        col(OAuthClient.active),
        col(OAuthClient.party_id),
        col(OAuthClient.member_id),
        col(Party.active),
        col(Member.active),
    )
    .join(OAuthClient, col(OAuthClient.client_id) == col(IssuedApiToken.client_id))
    .join(Party, col(Party.id) == col(OAuthClient.party_id))
    .outerjoin(Member, col(Member.id) == col(OAuthClient.member_id))
    .where(col(IssuedApiToken.jti) == bindparam("jti"))
)


async def provide_principal(
    request: Request[Any, Any, Any], session: SessionDep, keyring: KeyRingDep, settings: SettingsDep
) -> Principal:
    """Verify the API token and load who it speaks for; refuse revoked tokens and clients."""
    token = bearer_token(request)
    if token is None:
        raise Unauthenticated("send an OAuth access token: 'Authorization: Bearer <token>'")
    await keyring.refresh_for(token, session)
    claims = keyring.verify(token, audience=settings.issuer, token_type=API_TOKEN_TYPE)
    row = (await session.execute(_TOKEN_STANDING, {"jti": claims["jti"]})).first()
    if row is None:
        raise InvalidToken("the token is unknown to this hub")
    revoked_at, client_active, party_id, member_id, party_active, member_active = row
    if revoked_at is not None:
        raise InvalidToken("the token was revoked")
    if not (client_active and party_active and member_active is not False):
        raise InvalidToken("the client, its party or its member is deactivated")
    return Principal(
        party_id=uuid.UUID(str(party_id)),
        client_id=str(claims["client_id"]),
        member_id=uuid.UUID(str(member_id)) if member_id else None,
        scopes=frozenset(str(claims.get("scope", "")).split()),
        token_id=str(claims["jti"]),
        # Only this hub's exchange grant writes act and origin into a token it signs.
        on_behalf_of=remote_subject_of(claims),
    )
