"""What the audit events of one access request say, and what they only commit to.

Every event of a request (created, decided, refused, expired, withdrawn, token minted and
fetched) carries the request's *context*: who asked (party, unit, the unit's parent), which
cameras, how, for which footage window and purpose, and whether it was an emergency, so that
each decision event is a self-contained entry of the owners' access report. The context is
fixed when the request is created and written into its ``access_request.created`` event;
later events copy it from there, so every event of a request tells the same story.

The case reference (the request's ``legal_basis``) never enters a leaf in plaintext: the
context carries its salted commitment (``sharing.audit.commitments``). Where the terms say
``officer_identity = "commitment"``, the requesting officer is a commitment too, and events
the officer caused name no member (``actor_member_id`` is None). The openings are stored
once, on the created event, for the requesting party.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.access.models import AccessRequest
from sharing.audit.commitments import CASE_REFERENCE, OFFICER, Opening, store_opening
from sharing.audit.models import AuditEvent
from sharing.audit.service import record
from sharing.clock import as_utc
from sharing.consent.decision_inputs import DecisionInputs
from sharing.consent.facts import Decision
from sharing.consent.templates import (
    PLAIN_DISCLOSURE,
    DisclosureTerms,
    PolicyLibrary,
    strictest_disclosure,
)
from sharing.crypto import SecretBox
from sharing.parties.models import Party
from sharing.principal import Actor
from sharing.settings import Settings

CREATED = "access_request.created"
REPORTED_ACTIONS = (
    "access_request.decided",
    "access_request.refused",
    "access_request.expired",
    "access_request.withdrawn",
)
"""The events an owner's access report lists: every decision on a request, and how a
request that waited ended."""


def disclosure_terms(
    decision: Decision, inputs: DecisionInputs, policies: PolicyLibrary
) -> DisclosureTerms:
    """The disclosure terms of a decided request: the strictest of the templates its grants
    rest on or, when nothing was granted, of every template the candidate consents fall
    under."""
    granted = {g.agreement_id for g in decision.grants if g.agreement_id is not None}
    agreements = granted if decision.grants else set(inputs.agreements)
    terms = []
    for agreement_id in agreements:
        facts = inputs.agreements.get(agreement_id)
        template = policies.get(facts.policy_template) if facts is not None else None
        if template is not None:
            terms.append(template.disclosure)
    return strictest_disclosure(terms)


@dataclass(frozen=True, slots=True)
class RequestAudit:
    """How events of one request are recorded: its context, and whose identity it hides."""

    request_id: uuid.UUID
    requester_member_id: str | None
    context: Mapping[str, object]
    hides_officer: bool

    @property
    def camera_ids(self) -> tuple[str, ...]:
        """The cameras the request is about: every event of it is linked to them."""
        cameras = self.context.get("camera_ids")
        return tuple(str(c) for c in cameras) if isinstance(cameras, list) else ()

    def leaf_actor(self, actor: Actor) -> Actor:
        """``actor`` as the leaf names it: the requesting officer unnamed if terms say so."""
        if self.hides_officer and actor.member_id == self.requester_member_id:
            return replace(actor, member_id=None)
        return actor

    def record(
        self,
        session: AsyncSession,
        *,
        at: datetime,
        actor: Actor,
        action: str,
        object_type: str = "access_request",
        object_id: object = None,
        outcome: str = "success",
        purpose: str | None = None,
        details: Mapping[str, object] | None = None,
    ) -> AuditEvent:
        """Record an event of the request with its context, linked to its cameras."""
        return record(
            session,
            at=at,
            actor=self.leaf_actor(actor),
            action=action,
            object_type=object_type,
            object_id=self.request_id if object_id is None else object_id,
            outcome=outcome,
            purpose=purpose,
            details={**self.context, **(details or {})},
            camera_ids=self.camera_ids,
        )


async def open_request_audit(
    session: AsyncSession,
    request: AccessRequest,
    *,
    terms: DisclosureTerms,
    actor: Actor,
    now: datetime,
    settings: Settings,
    incident: Mapping[str, object] | None,
    sealed_until: datetime | None = None,
    origin_event: str | None = None,
) -> RequestAudit:
    """Record ``access_request.created`` with the request's context and commitments, and
    keep the openings for the requesting party. ``origin_event`` names the event of a peer
    hub that forwarded the request (``<issuer>#<event id>``); every event of it carries it."""
    party = await session.get(Party, request.requester_party_id)
    openings: dict[str, Opening] = {}
    if request.legal_basis:
        openings[CASE_REFERENCE] = Opening.fresh(request.legal_basis)
    officer = str(request.requester_member_id) if request.requester_member_id else None
    hides_officer = terms.hides_officer and officer is not None
    if hides_officer and officer is not None:
        openings[OFFICER] = Opening.fresh(officer)
    context: dict[str, object] = {
        "request_id": str(request.id),
        "requester_party_id": str(request.requester_party_id),
        "requester_unit": party.name if party is not None else None,
        "requester_parent_party_id": str(party.parent_id) if party and party.parent_id else None,
        "camera_ids": list(request.camera_ids),
        "mode": request.mode,
        "purpose": request.purpose,
        "footage_start": _iso(request.footage_start),
        "footage_end": _iso(request.footage_end),
        "emergency": request.emergency,
        "case_reference_commitment": _commitment(openings.get(CASE_REFERENCE)),
        "officer_member_id": None if hides_officer else officer,
        "officer_commitment": _commitment(openings.get(OFFICER)),
        "disclosure": terms.model_dump(),
        "sealed_until": _iso(sealed_until),
    }
    if origin_event is not None:
        context["origin_event"] = origin_event
    audit = RequestAudit(request.id, officer, context, hides_officer)
    created = audit.record(
        session,
        at=now,
        actor=actor,
        action=CREATED,
        purpose=request.purpose,
        details={"incident": dict(incident) if incident else None},
    )
    if openings:
        await session.flush()  # the created event takes its leaf index, which keys its openings
        box = SecretBox(settings)
        for field, opening in openings.items():
            store_opening(
                session,
                box,
                event_id=int(created.id or 0),
                field=field,
                holder_party_id=request.requester_party_id,
                opening=opening,
            )
    return audit


async def request_audit(session: AsyncSession, request: AccessRequest) -> RequestAudit:
    """The audit context of a recorded request, read from its created event."""
    details = await session.scalar(
        select(col(AuditEvent.details)).where(
            col(AuditEvent.object_type) == "access_request",
            col(AuditEvent.object_id) == str(request.id),
            col(AuditEvent.action) == CREATED,
        )
    )
    officer = str(request.requester_member_id) if request.requester_member_id else None
    if not isinstance(details, dict):  # recorded before requests carried their context
        return RequestAudit(request.id, officer, _bare_context(request), hides_officer=False)
    context = {key: value for key, value in details.items() if key != "incident"}
    return RequestAudit(
        request.id, officer, context, hides_officer=context.get("officer_commitment") is not None
    )


async def created_event_id(session: AsyncSession, request_id: str) -> int | None:
    """The id of a request's created event, where its openings are kept."""
    found = await session.scalar(
        select(col(AuditEvent.id)).where(
            col(AuditEvent.object_type) == "access_request",
            col(AuditEvent.object_id) == request_id,
            col(AuditEvent.action) == CREATED,
        )
    )
    return None if found is None else int(found)


def disclosure_of(audit: RequestAudit) -> DisclosureTerms:
    """The disclosure terms a request was recorded under."""
    raw = audit.context.get("disclosure")
    return DisclosureTerms.model_validate(raw) if isinstance(raw, dict) else PLAIN_DISCLOSURE


def _bare_context(request: AccessRequest) -> dict[str, object]:
    return {
        "request_id": str(request.id),
        "requester_party_id": str(request.requester_party_id),
        "camera_ids": list(request.camera_ids),
        "mode": request.mode,
        "purpose": request.purpose,
        "footage_start": _iso(request.footage_start),
        "footage_end": _iso(request.footage_end),
        "emergency": request.emergency,
    }


def _commitment(opening: Opening | None) -> str | None:
    return opening.commitment if opening is not None else None


def _iso(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat() if moment is not None else None
