"""Agreements: the legal instruments consents rest on, and the parties they bind.

Plain async functions over an ``AsyncSession``. Only a hub administrator registers an
agreement; a caller sees the agreements its party is party to (an administrator sees all),
and any other is answered as not found.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.service import record
from sharing.clock import Clock, as_utc
from sharing.consent.links import agreement_parties, parties_bound
from sharing.consent.models import Agreement, AgreementParty
from sharing.consent.schemas import AgreementCreate, AgreementRead
from sharing.consent.templates import PolicyLibrary
from sharing.errors import InvalidInput, NotFound
from sharing.parties.models import Party
from sharing.principal import Actor, Principal
from sharing.vocabulary import Scope


async def register_agreement(
    session: AsyncSession,
    principal: Principal,
    data: AgreementCreate,
    clock: Clock,
    policies: PolicyLibrary,
) -> AgreementRead:
    """Register a legal instrument and its parties. Hub administrators only."""
    principal.require(Scope.REGISTRY_ADMIN)
    if policies.get(data.policy_template) is None:
        raise InvalidInput(
            "policy_template",
            f"there is no policy template '{data.policy_template}'; "
            f"known templates: {', '.join(policies.names()) or 'none'}",
        )
    valid_from = as_utc(data.valid_from)
    valid_until = as_utc(data.valid_until) if data.valid_until else None
    if valid_until is not None and valid_until <= valid_from:
        raise InvalidInput("valid_until", "must be after valid_from")
    party_ids = list(dict.fromkeys(data.party_ids))
    known = set(
        (await session.execute(select(col(Party.id)).where(col(Party.id).in_(party_ids)))).scalars()
    )
    missing = [party_id for party_id in party_ids if party_id not in known]
    if missing:
        raise InvalidInput("party_ids", f"there is no party with the id {missing[0]}")

    now = clock.now()
    agreement = Agreement(
        kind=data.kind,
        number=data.number,
        title=data.title,
        status=data.status,
        policy_template=data.policy_template,
        document_sha256=data.document_sha256,
        valid_from=valid_from,
        valid_until=valid_until,
        created_at=now,
    )
    session.add(agreement)
    await session.flush()  # the parties' rows reference the agreement
    session.add_all(AgreementParty(agreement_id=agreement.id, party_id=p) for p in party_ids)
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="agreement.registered",
        object_type="agreement",
        object_id=agreement.id,
        details={
            "number": agreement.number,
            "policy_template": agreement.policy_template,
            "status": agreement.status,
            "party_ids": [str(p) for p in party_ids],
        },
    )
    await session.commit()
    return _agreement_read(agreement, party_ids)


async def list_agreements(session: AsyncSession, principal: Principal) -> list[AgreementRead]:
    """Agreements the caller's party is party to; every agreement for an administrator."""
    principal.require(Scope.CONSENT_READ)
    query = select(Agreement).order_by(col(Agreement.number), col(Agreement.id))
    if not principal.is_registry_admin:
        query = query.where(_has_party(principal.party_id))
    agreements = list((await session.execute(query)).scalars())
    parties = await agreement_parties(session, [agreement.id for agreement in agreements])
    return [_agreement_read(agreement, parties[agreement.id]) for agreement in agreements]


async def get_agreement(
    session: AsyncSession, principal: Principal, agreement_id: UUID
) -> AgreementRead:
    """One agreement, if the caller's party is party to it (or the caller administers)."""
    principal.require(Scope.CONSENT_READ)
    agreement = await session.get(Agreement, agreement_id)
    if agreement is None or not (
        principal.is_registry_admin
        or await parties_bound(session, agreement_id, [principal.party_id])
    ):
        raise NotFound(f"there is no agreement {agreement_id}")
    return _agreement_read(
        agreement, (await agreement_parties(session, [agreement_id]))[agreement_id]
    )


def _has_party(party_id: UUID) -> ColumnElement[bool]:
    return exists().where(
        col(AgreementParty.agreement_id) == col(Agreement.id),
        col(AgreementParty.party_id) == party_id,
    )


def _agreement_read(agreement: Agreement, party_ids: Iterable[UUID]) -> AgreementRead:
    return AgreementRead(
        id=agreement.id,
        kind=agreement.kind,
        number=agreement.number,
        title=agreement.title,
        status=agreement.status,
        policy_template=agreement.policy_template,
        document_sha256=agreement.document_sha256,
        valid_from=as_utc(agreement.valid_from),
        valid_until=as_utc(agreement.valid_until) if agreement.valid_until else None,
        party_ids=sorted(party_ids, key=str),
        created_at=as_utc(agreement.created_at),
    )
