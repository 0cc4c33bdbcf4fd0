"""Access tokens: minted from an allowing decision, handed to the requester, and nothing else.

A token is minted once, when its request is allowed (at once, or at its last approval), and
recorded by its ``jti``; its claims follow from that record and the request. The requester of
an approved request fetches it later by signing those same recorded claims again: the same
``jti``, issue and expiry times, cameras and window, so fetching never extends or widens
access, and no signed token is kept at rest (docs/decisions/0009-token-hand-over.md).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.access.disclosure import RequestAudit, request_audit
from sharing.access.models import AccessRequest, AccessToken, TokenConsent
from sharing.access.schemas import RequestStatus
from sharing.clock import Clock, as_utc
from sharing.consent.facts import Decision
from sharing.errors import Conflict, NotFound
from sharing.oauth.keys import KeyRing
from sharing.principal import Actor, Principal
from sharing.settings import Settings
from sharing.vocabulary import Mode, Scope

ACCESS_TOKEN_TYPE = "JWT"


@dataclass(frozen=True, slots=True)
class MintedToken:
    """A signed access token and the record kept of it."""

    jwt: str
    record: AccessToken


def mint_access_token(
    session: AsyncSession,
    request: AccessRequest,
    decision: Decision,
    *,
    audit: RequestAudit,
    actor: Actor,
    now: datetime,
    keyring: KeyRing,
    settings: Settings,
) -> MintedToken:
    """Sign a short-lived gateway token for an allowed request and record it.

    The token names the requester (``sub``); ``actor`` is who caused the minting (the
    requester, or the approver who gave the last approval).
    """
    if not decision.allowed:
        raise ValueError("a token is minted only from an allowing decision")
    jti = secrets.token_urlsafe(16)
    camera_ids = [str(grant.camera_id) for grant in decision.grants]
    token = AccessToken(
        jti=jti,
        request_id=request.id,
        audience=settings.gateway_audience,
        mode=request.mode,
        camera_ids=camera_ids,
        footage_start=request.footage_start,
        footage_end=request.footage_end,
        expires_at=now + timedelta(seconds=decision.token_lifetime_seconds),
        created_at=now,
    )
    session.add(token)
    consent_ids = decision.consent_ids
    session.add_all(TokenConsent(jti=jti, consent_id=consent_id) for consent_id in consent_ids)
    audit.record(
        session,
        at=now,
        actor=actor,
        action="access_token.minted",
        object_type="access_token",
        object_id=jti,
        purpose=request.purpose,
        details={
            "camera_ids": camera_ids,
            "expires_at": token.expires_at.isoformat(),
            "consent_ids": sorted(str(c) for c in consent_ids),
        },
    )
    return MintedToken(jwt=_sign(request, token, keyring, settings), record=token)


async def fetch_token(
    session: AsyncSession,
    principal: Principal,
    request_id: uuid.UUID,
    *,
    clock: Clock,
    keyring: KeyRing,
    settings: Settings,
) -> tuple[AccessRequest, MintedToken]:
    """The token of the caller's approved request, signed from its record.

    Only the requesting party may fetch it (others get 404); a request that is not approved,
    or whose token was revoked or has expired, is a ``Conflict``. Audited as
    ``access_token.fetched``.
    """
    principal.require(Scope.ACCESS_REQUEST)
    request = await session.get(AccessRequest, request_id)
    if request is None or request.requester_party_id != principal.party_id:
        raise NotFound(f"no access request {request_id}")
    if request.status != RequestStatus.APPROVED:
        raise Conflict(
            f"the access request is {request.status}; only an approved request has a token",
            request_status=request.status,
        )
    token = await session.scalar(
        select(AccessToken)
        .where(col(AccessToken.request_id) == request.id)
        .order_by(col(AccessToken.created_at).desc())
        .limit(1)
    )
    if token is None:
        raise Conflict("the approved request has no token on record")
    now = clock.now()
    if token.revoked_at is not None:
        raise Conflict(
            f"the token was revoked: {token.revocation_reason or 'no reason recorded'}",
            jti=token.jti,
        )
    if as_utc(token.expires_at) <= now:
        raise Conflict("the token has expired; make a new request", jti=token.jti)
    audit = await request_audit(session, request)
    audit.record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="access_token.fetched",
        object_type="access_token",
        object_id=token.jti,
        purpose=request.purpose,
    )
    await session.commit()
    return request, MintedToken(jwt=_sign(request, token, keyring, settings), record=token)


def _sign(request: AccessRequest, token: AccessToken, keyring: KeyRing, settings: Settings) -> str:
    """The token's claims, all derived from its record, signed with the current key."""
    issued = int(as_utc(token.created_at).timestamp())
    claims: dict[str, object] = {
        "iss": settings.issuer,
        "aud": token.audience,
        "sub": str(request.requester_member_id or request.requester_client_id),
        "client_id": request.requester_client_id,
        "jti": token.jti,
        "iat": issued,
        "nbf": issued,
        "exp": int(as_utc(token.expires_at).timestamp()),
        "req": str(request.id),
        "cams": list(token.camera_ids),
        "mode": token.mode,
        "purpose": request.purpose,
    }
    if token.mode == Mode.FOOTAGE and token.footage_start and token.footage_end:
        claims["win"] = {
            "start": int(as_utc(token.footage_start).timestamp()),
            "end": int(as_utc(token.footage_end).timestamp()),
        }
    return keyring.sign(claims, token_type=ACCESS_TOKEN_TYPE)
