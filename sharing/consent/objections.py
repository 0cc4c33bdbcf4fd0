"""Objections: the owner's voice where the owner cannot revoke.

An arrangement resting on a legal obligation (UU PDP No. 27/2022 art. 20(2)(c): a city
regulation that obliges private cameras facing public space to be connected) is not the
owner's to withdraw. The owner may object instead; the objection is recorded and must be
answered, by the hub operator or by the grantee, and both sides are notified.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.service import record
from sharing.clock import Clock, as_utc
from sharing.consent.facts import ConsentStatus, LegalBasis
from sharing.consent.models import Consent, Objection
from sharing.consent.schemas import ObjectionRead
from sharing.errors import Conflict, NotFound, PermissionDenied
from sharing.parties.models import Party
from sharing.principal import Actor, Principal
from sharing.vocabulary import PartyKind, Scope
from sharing.webhooks.schemas import EventType
from sharing.webhooks.service import emit

OPEN = "open"
ANSWERED = "answered"


async def file_objection(
    session: AsyncSession, principal: Principal, consent_id: UUID, text: str, clock: Clock
) -> ObjectionRead:
    """The owner objects to an arrangement on their cameras that rests on a legal obligation.

    Only the grantor's party (or an administrator for it) may object; an arrangement the
    owner can revoke is revoked, not objected to (``Conflict``).
    """
    principal.require(Scope.CONSENT_WRITE)
    consent = await session.get(Consent, consent_id)
    if consent is None or not (
        principal.may_act_for(consent.grantor_party_id)
        or consent.grantee_party_id == principal.party_id
    ):
        raise NotFound(f"there is no consent {consent_id}")
    if not principal.may_act_for(consent.grantor_party_id):
        raise PermissionDenied("only the owner of the cameras may object to an arrangement")
    if consent.legal_basis != LegalBasis.LEGAL_OBLIGATION:
        raise Conflict(
            f"consent {consent_id} rests on {consent.legal_basis}, which its owner may end: "
            f"revoke it instead (POST /consents/{consent_id}/revoke)",
            legal_basis=consent.legal_basis,
        )
    if consent.status != ConsentStatus.ACTIVE:
        raise Conflict(f"consent {consent_id} is {consent.status}; there is nothing to object to")
    now = clock.now()
    objection = Objection(
        consent_id=consent.id, owner_party_id=consent.grantor_party_id, text=text, created_at=now
    )
    session.add(objection)
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="objection.filed",
        object_type="objection",
        object_id=objection.id,
        details={
            "consent_id": str(consent.id),
            "regulation_ref": consent.regulation_ref,
            "owner_party_id": str(consent.grantor_party_id),
        },
    )
    answerers = await _operator_parties(session)
    if consent.grantee_party_id is not None:
        answerers.add(consent.grantee_party_id)
    emit(
        session,
        party_ids=answerers | {consent.grantor_party_id},
        event_type=EventType.OBJECTION_FILED,
        payload=_payload(objection, consent),
        now=now,
    )
    await session.commit()
    return _objection_read(objection)


async def answer_objection(
    session: AsyncSession, principal: Principal, objection_id: UUID, answer: str, clock: Clock
) -> ObjectionRead:
    """The hub operator or the arrangement's grantee answers an open objection; the owner is
    notified. An objection is answered once (``Conflict`` after)."""
    principal.require(Scope.CONSENT_READ)
    objection, consent = await _visible(session, principal, objection_id, for_update=True)
    if not (principal.is_registry_admin or consent.grantee_party_id == principal.party_id):
        raise PermissionDenied("only the hub operator or the grantee may answer an objection")
    if objection.status != OPEN:
        raise Conflict(f"objection {objection_id} was already answered", status=objection.status)
    now = clock.now()
    objection.status = ANSWERED
    objection.answer = answer
    objection.answered_by = principal.subject
    objection.answered_at = now
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="objection.answered",
        object_type="objection",
        object_id=objection.id,
        details={"consent_id": str(consent.id), "owner_party_id": str(objection.owner_party_id)},
    )
    emit(
        session,
        party_ids={objection.owner_party_id, principal.party_id},
        event_type=EventType.OBJECTION_ANSWERED,
        payload={**_payload(objection, consent), "answer": answer},
        now=now,
    )
    await session.commit()
    return _objection_read(objection)


async def list_objections(
    session: AsyncSession, principal: Principal, *, status: str | None = None
) -> list[ObjectionRead]:
    """Objections concerning the caller: those its party filed as owner and those it must
    answer as grantee; every objection for the hub operator. Newest first."""
    principal.require(Scope.CONSENT_READ)
    query = select(Objection).join(Consent, col(Consent.id) == col(Objection.consent_id))
    if not principal.is_registry_admin:
        query = query.where(_concerns(principal.party_id))
    if status is not None:
        query = query.where(col(Objection.status) == status)
    rows = await session.execute(
        query.order_by(col(Objection.created_at).desc(), col(Objection.id))
    )
    return [_objection_read(objection) for objection in rows.scalars()]


async def get_objection(
    session: AsyncSession, principal: Principal, objection_id: UUID
) -> ObjectionRead:
    """One objection, for its owner, the grantee or the hub operator."""
    principal.require(Scope.CONSENT_READ)
    objection, _ = await _visible(session, principal, objection_id)
    return _objection_read(objection)


async def _visible(
    session: AsyncSession, principal: Principal, objection_id: UUID, *, for_update: bool = False
) -> tuple[Objection, Consent]:
    query = (
        select(Objection, Consent)
        .join(Consent, col(Consent.id) == col(Objection.consent_id))
        .where(col(Objection.id) == objection_id)
    )
    if not principal.is_registry_admin:
        query = query.where(_concerns(principal.party_id))
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise NotFound(f"there is no objection {objection_id}")
    return row[0], row[1]


def _concerns(party_id: UUID) -> ColumnElement[bool]:
    return or_(col(Objection.owner_party_id) == party_id, col(Consent.grantee_party_id) == party_id)


async def _operator_parties(session: AsyncSession) -> set[UUID]:
    """The command centers: the hub operator answers objections for every arrangement."""
    rows = await session.execute(
        select(col(Party.id)).where(col(Party.kind) == PartyKind.COMMAND_CENTER)
    )
    return set(rows.scalars())


def _payload(objection: Objection, consent: Consent) -> dict[str, object]:
    return {
        "objection_id": str(objection.id),
        "consent_id": str(consent.id),
        "owner_party_id": str(objection.owner_party_id),
        "grantee_party_id": str(consent.grantee_party_id) if consent.grantee_party_id else None,
        "regulation_ref": consent.regulation_ref,
        "status": objection.status,
    }


def _objection_read(objection: Objection) -> ObjectionRead:
    return ObjectionRead(
        id=objection.id,
        consent_id=objection.consent_id,
        owner_party_id=objection.owner_party_id,
        text=objection.text,
        status=ANSWERED if objection.status == ANSWERED else OPEN,
        answer=objection.answer,
        answered_by=objection.answered_by,
        answered_at=as_utc(objection.answered_at) if objection.answered_at else None,
        created_at=as_utc(objection.created_at),
    )
