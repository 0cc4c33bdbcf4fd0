"""The access broker: decide a request under consent and policy, record it, mint its token.

A token is minted only from an allowing ``Decision`` (made by ``sharing.consent.policy``), so
no code path can sign access to a camera that policy did not allow.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.access.models import AccessRequest, AccessToken, TokenConsent
from sharing.access.schemas import AccessRequestCreate
from sharing.audit.service import record
from sharing.clock import Clock
from sharing.consent.decision_inputs import decision_inputs
from sharing.consent.facts import Decision, RequestFacts
from sharing.consent.policy import decide
from sharing.consent.templates import PolicyLibrary
from sharing.errors import AccessDenied, NotFound
from sharing.oauth.keys import KeyRing
from sharing.parties.models import Party
from sharing.principal import Actor, Principal
from sharing.settings import Settings
from sharing.vocabulary import Mode, Scope

ACCESS_TOKEN_TYPE = "JWT"


@dataclass(frozen=True, slots=True)
class MintedToken:
    """A signed access token and the record kept of it."""

    jwt: str
    record: AccessToken


@dataclass(frozen=True, slots=True)
class Approval:
    """An approved request with its token."""

    request: AccessRequest
    decision: Decision
    token: MintedToken


async def request_access(
    session: AsyncSession,
    principal: Principal,
    data: AccessRequestCreate,
    *,
    clock: Clock,
    policies: PolicyLibrary,
    keyring: KeyRing,
    settings: Settings,
) -> Approval:
    """Decide ``data`` for the caller; on allow mint a token, on deny raise ``AccessDenied``.

    The request, its decision and the token are recorded, with their audit events, in one
    transaction; a denial is committed before it is raised so the refusal stays on record.
    """
    principal.require(Scope.ACCESS_REQUEST)
    now = clock.now()
    requester_kind = await session.scalar(
        select(col(Party.kind)).where(col(Party.id) == principal.party_id)
    )
    facts = RequestFacts(
        requester_party_id=principal.party_id,
        requester_party_kind=str(requester_kind),
        camera_ids=tuple(data.camera_ids),
        mode=data.mode.value,
        purpose=data.purpose.value,
        legal_basis=data.legal_basis.strip(),
        footage_start=_utc(data.footage_start),
        footage_end=_utc(data.footage_end),
        requested_lifetime_seconds=data.token_lifetime_seconds,
    )
    inputs = await decision_inputs(session, data.camera_ids, principal.party_id)
    decision = decide(
        facts,
        inputs.cameras,
        inputs.consents,
        inputs.agreements,
        policies,
        now,
        settings.access_token_max_lifetime_seconds,
    )
    request = _record_request(session, principal, facts, decision, data.justification, now)
    if not decision.allowed:
        await session.commit()
        raise AccessDenied(
            "The request was refused: " + " ".join(r.message for r in decision.reasons[:3]),
            reasons=[reason.to_dict() for reason in decision.reasons],
            request_id=str(request.id),
        )
    token = mint_access_token(
        session, request, decision, principal=principal, now=now, keyring=keyring, settings=settings
    )
    await session.commit()
    return Approval(request=request, decision=decision, token=token)


def _record_request(
    session: AsyncSession,
    principal: Principal,
    facts: RequestFacts,
    decision: Decision,
    justification: str,
    now: datetime,
) -> AccessRequest:
    request = AccessRequest(
        requester_party_id=principal.party_id,
        requester_member_id=principal.member_id,
        requester_client_id=principal.client_id,
        camera_ids=[str(camera) for camera in facts.camera_ids],
        mode=facts.mode,
        purpose=facts.purpose,
        legal_basis=facts.legal_basis,
        justification=justification,
        footage_start=facts.footage_start,
        footage_end=facts.footage_end,
        status="approved" if decision.allowed else "denied",
        explanation=decision.explanation(),
        created_at=now,
    )
    session.add(request)
    actor = Actor.of(principal)
    record(
        session,
        at=now,
        actor=actor,
        action="access_request.created",
        object_type="access_request",
        object_id=request.id,
        purpose=facts.purpose,
        details={
            "camera_ids": request.camera_ids,
            "mode": facts.mode,
            "legal_basis": facts.legal_basis,
            "footage_start": _iso(facts.footage_start),
            "footage_end": _iso(facts.footage_end),
        },
    )
    record(
        session,
        at=now,
        actor=actor,
        action="access_request.decided",
        object_type="access_request",
        object_id=request.id,
        purpose=facts.purpose,
        outcome="allow" if decision.allowed else "deny",
        details={
            "reasons": [r.code for r in decision.reasons],
            "grants": [g.to_dict() for g in decision.grants],
        },
    )
    return request


def mint_access_token(
    session: AsyncSession,
    request: AccessRequest,
    decision: Decision,
    *,
    principal: Principal,
    now: datetime,
    keyring: KeyRing,
    settings: Settings,
) -> MintedToken:
    """Sign a short-lived gateway token for an allowed request and record it."""
    if not decision.allowed:
        raise ValueError("a token is minted only from an allowing decision")
    jti = secrets.token_urlsafe(16)
    expires_at = now + timedelta(seconds=decision.token_lifetime_seconds)
    camera_ids = [str(grant.camera_id) for grant in decision.grants]
    claims: dict[str, object] = {
        "iss": settings.issuer,
        "aud": settings.gateway_audience,
        "sub": principal.subject,
        "client_id": principal.client_id,
        "jti": jti,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "req": str(request.id),
        "cams": camera_ids,
        "mode": request.mode,
        "purpose": request.purpose,
    }
    if request.mode == Mode.FOOTAGE and request.footage_start and request.footage_end:
        claims["win"] = {
            "start": int(request.footage_start.timestamp()),
            "end": int(request.footage_end.timestamp()),
        }
    token = AccessToken(
        jti=jti,
        request_id=request.id,
        audience=settings.gateway_audience,
        mode=request.mode,
        camera_ids=camera_ids,
        footage_start=request.footage_start,
        footage_end=request.footage_end,
        expires_at=expires_at,
        created_at=now,
    )
    session.add(token)
    consent_ids = {grant.consent_id for grant in decision.grants if grant.consent_id is not None}
    session.add_all(TokenConsent(jti=jti, consent_id=consent_id) for consent_id in consent_ids)
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="access_token.minted",
        object_type="access_token",
        object_id=jti,
        purpose=request.purpose,
        details={
            "request_id": str(request.id),
            "camera_ids": camera_ids,
            "mode": request.mode,
            "expires_at": expires_at.isoformat(),
            "consent_ids": sorted(str(c) for c in consent_ids),
        },
    )
    return MintedToken(jwt=keyring.sign(claims, token_type=ACCESS_TOKEN_TYPE), record=token)


async def get_access_request(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID
) -> AccessRequest:
    """A past request, readable by the requesting party (and hub operators)."""
    request = await session.get(AccessRequest, request_id)
    if request is None or not principal.may_act_for(request.requester_party_id):
        raise NotFound(f"no access request {request_id}")
    return request


async def list_access_requests(
    session: AsyncSession, principal: Principal, *, status: str | None, limit: int, offset: int
) -> tuple[list[AccessRequest], int]:
    """The caller's party's requests, newest first."""
    query = select(AccessRequest)
    if not principal.is_registry_admin:
        query = query.where(col(AccessRequest.requester_party_id) == principal.party_id)
    if status is not None:
        query = query.where(col(AccessRequest.status) == status)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    page = await session.execute(
        query.order_by(col(AccessRequest.created_at).desc(), col(AccessRequest.id))
        .limit(limit)
        .offset(offset)
    )
    return list(page.scalars()), int(total or 0)


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
