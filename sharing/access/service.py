"""The access broker: decide a request under consent and policy, record it, and answer it.

A request is allowed at once (a token is minted), refused (``AccessDenied``), or left pending
for the approvals policy asks for (``sharing.access.pending`` opens them,
``sharing.access.approvals`` gives them). Tokens are minted only from an allowing ``Decision``
(``sharing.access.tokens``), so no code path can sign access to a camera that policy did not
allow. Dry runs decide the same way and record nothing. Reading past requests is in
``sharing.access.reads``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.access.disclosure import RequestAudit, disclosure_terms, open_request_audit
from sharing.access.models import AccessRequest, ApprovalTask
from sharing.access.pending import open_approval_tasks
from sharing.access.schemas import AccessRequestCreate, RequestStatus
from sharing.access.seals import add_seal, check_seal_wanted
from sharing.access.tokens import MintedToken, mint_access_token
from sharing.audit.models import AuditEvent
from sharing.cameras.search import cameras_within
from sharing.clock import Clock, as_utc
from sharing.consent.decision_inputs import DecisionInputs, decision_inputs
from sharing.consent.facts import Decision, RequestFacts
from sharing.consent.policy import decide
from sharing.consent.templates import PolicyLibrary
from sharing.emergency.service import open_reviews
from sharing.errors import AccessDenied
from sharing.oauth.keys import KeyRing
from sharing.parties.models import Party
from sharing.principal import Actor, Principal
from sharing.settings import Settings
from sharing.vocabulary import Scope


@dataclass(frozen=True, slots=True)
class Approval:
    """A request allowed at once, with its token."""

    request: AccessRequest
    decision: Decision
    token: MintedToken
    audit_event_id: int | None = None  # the decision's event, for a forwarding peer hub


@dataclass(frozen=True, slots=True)
class Pending:
    """A request waiting, until ``pending_until``, for the approvals in ``tasks``."""

    request: AccessRequest
    decision: Decision
    tasks: list[ApprovalTask]
    pending_until: datetime
    audit_event_id: int | None = None


class RecordedDenial(AccessDenied):
    """A refusal that is on record, with the id of the audit event of its decision."""

    def __init__(
        self,
        detail: str,
        reasons: Sequence[Mapping[str, Any]],
        request_id: str,
        audit_event_id: int | None,
    ) -> None:
        super().__init__(detail, reasons=reasons, request_id=request_id)
        self.audit_event_id = audit_event_id


async def request_access(
    session: AsyncSession,
    principal: Principal,
    data: AccessRequestCreate,
    *,
    clock: Clock,
    policies: PolicyLibrary,
    keyring: KeyRing,
    settings: Settings,
    origin_event: str | None = None,
) -> Approval | Pending:
    """Decide ``data`` for the caller: mint a token, open approval tasks, or raise
    ``RecordedDenial`` (an ``AccessDenied``).

    The request, its decision, its token or tasks, the emergency reviews and the
    notifications are recorded, with their audit events, in one transaction; a denial is
    committed before it is raised so the refusal stays on record. ``origin_event`` is the
    event of the peer hub that forwarded the request; the request's events name it.
    """
    principal.require(Scope.ACCESS_REQUEST)
    now = clock.now()
    facts, _ = await _facts_of(session, principal, data)
    decision, inputs = await _decide_with_inputs(
        session, facts, policies=policies, settings=settings, now=now
    )
    terms = disclosure_terms(decision, inputs, policies)
    sealed_until = _utc(data.sealed_until)
    if sealed_until is not None and not decision.allowed and not decision.needs_approval:
        sealed_until = None  # a refusal discloses no access: there is nothing to seal
    if sealed_until is not None:
        check_seal_wanted(
            sealed_until,
            now=now,
            terms=terms,
            decision=decision,
            requester_kind=facts.requester_party_kind,
            emergency=facts.emergency,
        )
    actor = Actor.of(principal)
    request = _new_request(principal, data, facts, decision, now, settings)
    session.add(request)
    if sealed_until is not None:
        add_seal(session, request, sealed_until, now)
    audit = await open_request_audit(
        session,
        request,
        terms=terms,
        actor=actor,
        now=now,
        settings=settings,
        incident=data.incident.model_dump() if data.incident else None,
        sealed_until=sealed_until,
        origin_event=origin_event,
    )
    decided = record_decision(session, request, decision, audit=audit, actor=actor, now=now)
    if decision.allowed:
        token = mint_access_token(
            session,
            request,
            decision,
            audit=audit,
            actor=actor,
            now=now,
            keyring=keyring,
            settings=settings,
        )
        if request.emergency:
            await open_reviews(
                session, request=request, decision=decision, now=now, settings=settings
            )
        await session.commit()
        return Approval(request, decision, token, decided.id)
    if decision.needs_approval:
        tasks = open_approval_tasks(session, request, decision, actor=actor, now=now)
        await session.commit()
        return Pending(request, decision, tasks, _deadline(now, settings), decided.id)
    await session.commit()
    raise RecordedDenial(
        "The request was refused: " + " ".join(r.message for r in decision.reasons[:3]),
        reasons=[reason.to_dict() for reason in decision.reasons],
        request_id=str(request.id),
        audit_event_id=decided.id,
    )


async def dry_run(
    session: AsyncSession,
    principal: Principal,
    data: AccessRequestCreate,
    *,
    clock: Clock,
    policies: PolicyLibrary,
    settings: Settings,
) -> tuple[Decision, tuple[uuid.UUID, ...]]:
    """What policy would decide for ``data`` now, and on which cameras. Records nothing:
    no request, no token, no audit event."""
    principal.require(Scope.ACCESS_REQUEST)
    facts, camera_ids = await _facts_of(session, principal, data)
    decision = await _decide(session, facts, policies=policies, settings=settings, now=clock.now())
    return decision, camera_ids


# Built once: every access request runs it, and building it per call costs more than running it.
_PARTY_KIND = select(col(Party.kind)).where(col(Party.id) == bindparam("party_id"))


async def request_facts(
    session: AsyncSession,
    *,
    requester_party_id: uuid.UUID,
    camera_ids: Sequence[uuid.UUID],
    mode: str,
    purpose: str,
    legal_basis: str,
    footage_start: datetime | None,
    footage_end: datetime | None,
    requested_lifetime_seconds: int | None,
    emergency: bool,
    granted_approvals: frozenset[tuple[str, uuid.UUID]] = frozenset(),
) -> RequestFacts:
    """The facts of a request as policy reads them (the requester's ancestors are added by
    the decision's inputs)."""
    kind = await session.scalar(_PARTY_KIND, {"party_id": requester_party_id})
    return RequestFacts(
        requester_party_id=requester_party_id,
        requester_party_kind=str(kind),
        camera_ids=tuple(camera_ids),
        mode=mode,
        purpose=purpose,
        legal_basis=legal_basis,
        footage_start=footage_start,
        footage_end=footage_end,
        requested_lifetime_seconds=requested_lifetime_seconds,
        emergency=emergency,
        granted_approvals=granted_approvals,
    )


async def redecide(
    session: AsyncSession,
    request: AccessRequest,
    *,
    granted_approvals: frozenset[tuple[str, uuid.UUID]],
    policies: PolicyLibrary,
    settings: Settings,
    now: datetime,
) -> Decision:
    """Decide a recorded request again, now, with the approvals given so far: consents and
    agreements may have changed while it waited."""
    facts = await request_facts(
        session,
        requester_party_id=request.requester_party_id,
        camera_ids=[uuid.UUID(camera) for camera in request.camera_ids],
        mode=request.mode,
        purpose=request.purpose,
        legal_basis=request.legal_basis,
        footage_start=as_utc(request.footage_start) if request.footage_start else None,
        footage_end=as_utc(request.footage_end) if request.footage_end else None,
        requested_lifetime_seconds=request.token_lifetime_seconds,
        emergency=request.emergency,
        granted_approvals=granted_approvals,
    )
    return await _decide(session, facts, policies=policies, settings=settings, now=now)


async def _decide(
    session: AsyncSession,
    facts: RequestFacts,
    *,
    policies: PolicyLibrary,
    settings: Settings,
    now: datetime,
) -> Decision:
    decision, _ = await _decide_with_inputs(
        session, facts, policies=policies, settings=settings, now=now
    )
    return decision


async def _decide_with_inputs(
    session: AsyncSession,
    facts: RequestFacts,
    *,
    policies: PolicyLibrary,
    settings: Settings,
    now: datetime,
) -> tuple[Decision, DecisionInputs]:
    inputs = await decision_inputs(session, facts.camera_ids, facts.requester_party_id)
    decision = decide(
        inputs.request_facts(facts),
        inputs.cameras,
        inputs.consents,
        inputs.agreements,
        policies,
        now,
        settings.access_token_max_lifetime_seconds,
    )
    return decision, inputs


async def _facts_of(
    session: AsyncSession, principal: Principal, data: AccessRequestCreate
) -> tuple[RequestFacts, tuple[uuid.UUID, ...]]:
    """The facts policy decides ``data`` on for the caller, and the cameras it asks for."""
    camera_ids = await _cameras_asked(session, data)
    facts = await request_facts(
        session,
        requester_party_id=principal.party_id,
        camera_ids=camera_ids,
        mode=data.mode.value,
        purpose=data.purpose.value,
        legal_basis=data.legal_basis.strip(),
        footage_start=_utc(data.footage_start),
        footage_end=_utc(data.footage_end),
        requested_lifetime_seconds=data.token_lifetime_seconds,
        emergency=data.emergency,
    )
    return facts, camera_ids


async def _cameras_asked(session: AsyncSession, data: AccessRequestCreate) -> tuple[uuid.UUID, ...]:
    if data.camera_ids or data.incident is None:
        return tuple(data.camera_ids)
    found = await cameras_within(
        session,
        latitude=data.incident.latitude,
        longitude=data.incident.longitude,
        radius_m=data.incident.radius_m,
    )
    return tuple(found)


def _new_request(
    principal: Principal,
    data: AccessRequestCreate,
    facts: RequestFacts,
    decision: Decision,
    now: datetime,
    settings: Settings,
) -> AccessRequest:
    pending = decision.needs_approval
    return AccessRequest(
        requester_party_id=principal.party_id,
        requester_member_id=principal.member_id,
        requester_client_id=principal.client_id,
        camera_ids=[str(camera) for camera in facts.camera_ids],
        mode=facts.mode,
        purpose=facts.purpose,
        legal_basis=facts.legal_basis,
        justification=data.justification,
        footage_start=facts.footage_start,
        footage_end=facts.footage_end,
        status=RequestStatus.PENDING
        if pending
        else (RequestStatus.APPROVED if decision.allowed else RequestStatus.DENIED),
        explanation=decision.explanation(),
        emergency=data.emergency,
        incident_latitude=data.incident.latitude if data.incident else None,
        incident_longitude=data.incident.longitude if data.incident else None,
        incident_radius_m=data.incident.radius_m if data.incident else None,
        token_lifetime_seconds=data.token_lifetime_seconds,
        pending_until=_deadline(now, settings) if pending else None,
        decided_at=None if pending else now,
        created_at=now,
    )


def record_decision(
    session: AsyncSession,
    request: AccessRequest,
    decision: Decision,
    *,
    audit: RequestAudit,
    actor: Actor,
    now: datetime,
    action: str = "access_request.decided",
) -> AuditEvent:
    """Audit a decision on ``request``: the request's context (so the event is an entry of
    its cameras' owners' reports on its own), its outcome, reasons, grants and approvals
    awaited."""
    return audit.record(
        session,
        at=now,
        actor=actor,
        action=action,
        purpose=request.purpose,
        outcome=decision.outcome,
        details={
            "reasons": [r.code for r in decision.reasons],
            "grants": [g.to_dict() for g in decision.grants],
            "approvals": [need.to_dict() for need in decision.approvals],
        },
    )


def _deadline(now: datetime, settings: Settings) -> datetime:
    return now + timedelta(seconds=settings.approval_timeout_seconds)


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None
