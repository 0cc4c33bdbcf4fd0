"""Agreements: the legal instruments consents rest on, and the parties they bind.

Plain async functions over an ``AsyncSession``. Only a hub administrator registers, edits
or amends an agreement; a caller sees the agreements its party is party to (an
administrator sees all), and any other is answered as not found. Terms are edited only in
a draft; once active, a change is an amendment: a new draft that names the agreement it
amends and counts its version up. Moving an agreement through its life is in
``sharing.consent.agreement_life``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.service import record
from sharing.clock import Clock, as_utc
from sharing.consent.agreement_schemas import AgreementCreate, AgreementRead, AgreementTermsChange
from sharing.consent.links import agreement_parties, parties_bound
from sharing.consent.models import Agreement, AgreementParty
from sharing.consent.templates import PolicyLibrary
from sharing.errors import Conflict, InvalidInput, NotFound
from sharing.parties.models import Party
from sharing.principal import Actor, Principal
from sharing.vocabulary import AgreementStatus, Scope

_DRAFT = AgreementStatus.DRAFT
AMENDABLE = frozenset({AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED, AgreementStatus.EXPIRED})
"""Statuses an agreement can be amended from."""


@dataclass(frozen=True, slots=True)
class _Terms:
    """An agreement's terms after a change has been applied, checked together."""

    policy_template: str
    valid_from: datetime
    valid_until: datetime | None
    party_ids: list[UUID]


# --- registering, editing, amending -------------------------------------------------------


async def register_agreement(
    session: AsyncSession,
    principal: Principal,
    data: AgreementCreate,
    clock: Clock,
    policies: PolicyLibrary,
) -> AgreementRead:
    """Register a legal instrument and its parties, as a draft or already active.
    Hub administrators only."""
    principal.require(Scope.REGISTRY_ADMIN)
    terms = await _checked_terms(
        session,
        policies,
        _Terms(
            data.policy_template,
            as_utc(data.valid_from),
            as_utc(data.valid_until) if data.valid_until else None,
            list(data.party_ids),
        ),
    )
    return await _add_agreement(
        session,
        principal,
        terms,
        clock.now(),
        kind=data.kind,
        number=data.number,
        title=data.title,
        status=data.status,
        document_sha256=data.document_sha256,
    )


async def update_agreement(
    session: AsyncSession,
    principal: Principal,
    agreement_id: UUID,
    data: AgreementTermsChange,
    clock: Clock,
    policies: PolicyLibrary,
) -> AgreementRead:
    """Edit a draft agreement's terms. Once active, terms change only by amendment."""
    principal.require(Scope.REGISTRY_ADMIN)
    agreement = await agreement_for_update(session, agreement_id)
    if agreement.status != _DRAFT:
        raise Conflict(
            f"agreement {agreement.number} is {agreement.status}; its terms are fixed. "
            f"Amend it instead: POST /agreements/{agreement_id}/amendments",
            status=agreement.status,
        )
    current = (await agreement_parties(session, [agreement_id]))[agreement_id]
    terms = await _checked_terms(session, policies, _changed_terms(agreement, current, data))
    changed = _apply(agreement, data, terms)
    if terms.party_ids != current:
        await session.execute(
            delete(AgreementParty).where(col(AgreementParty.agreement_id) == agreement_id)
        )
        session.add_all(
            AgreementParty(agreement_id=agreement_id, party_id=p) for p in terms.party_ids
        )
        changed["party_ids"] = [str(p) for p in terms.party_ids]
    if changed:
        record(
            session,
            at=clock.now(),
            actor=Actor.of(principal),
            action="agreement.updated",
            object_type="agreement",
            object_id=agreement.id,
            details={"changed": changed},
        )
        await session.commit()
    return agreement_read(agreement, terms.party_ids)


async def amend_agreement(
    session: AsyncSession,
    principal: Principal,
    agreement_id: UUID,
    data: AgreementTermsChange,
    clock: Clock,
    policies: PolicyLibrary,
) -> AgreementRead:
    """Draft an amendment of an agreement in force (or suspended, or expired): a new draft
    agreement with the original's terms, changed by ``data``, naming the original and
    counting its version up. The original stays as it is until the operator ends it."""
    principal.require(Scope.REGISTRY_ADMIN)
    original = await agreement_for_update(session, agreement_id)
    if original.status not in AMENDABLE:
        hint = " Edit the draft itself with PATCH." if original.status == _DRAFT else ""
        raise Conflict(
            f"agreement {original.number} is {original.status}; only an active, suspended or "
            f"expired agreement can be amended.{hint}",
            status=original.status,
        )
    open_draft = await session.scalar(
        select(col(Agreement.id)).where(
            col(Agreement.amends_id) == agreement_id, col(Agreement.status) == _DRAFT
        )
    )
    if open_draft is not None:
        raise Conflict(
            f"amendment {open_draft} of agreement {original.number} is still a draft; edit or "
            "terminate it first",
            amendment_id=str(open_draft),
        )
    current = (await agreement_parties(session, [agreement_id]))[agreement_id]
    terms = await _checked_terms(session, policies, _changed_terms(original, current, data))
    return await _add_agreement(
        session,
        principal,
        terms,
        clock.now(),
        kind=original.kind,
        number=data.number or original.number,
        title=data.title or original.title,
        status=_DRAFT,
        document_sha256=data.document_sha256 or original.document_sha256,
        version=original.version + 1,
        amends_id=original.id,
    )


async def _add_agreement(
    session: AsyncSession,
    principal: Principal,
    terms: _Terms,
    now: datetime,
    *,
    kind: str,
    number: str,
    title: str,
    status: str,
    document_sha256: str,
    version: int = 1,
    amends_id: UUID | None = None,
) -> AgreementRead:
    """Store a new agreement on checked terms, made now by the caller, and its parties."""
    agreement = Agreement(
        kind=kind,
        number=number,
        title=title,
        status=status,
        policy_template=terms.policy_template,
        document_sha256=document_sha256,
        valid_from=terms.valid_from,
        valid_until=terms.valid_until,
        version=version,
        amends_id=amends_id,
        status_changed_at=now,
        status_changed_by=principal.subject,
        created_at=now,
    )
    party_ids = terms.party_ids
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
            "version": agreement.version,
            "amends_id": str(agreement.amends_id) if agreement.amends_id else None,
            "party_ids": [str(p) for p in party_ids],
        },
    )
    await session.commit()
    return agreement_read(agreement, party_ids)


def _changed_terms(
    agreement: Agreement, party_ids: list[UUID], data: AgreementTermsChange
) -> _Terms:
    valid_until = (
        (as_utc(data.valid_until) if data.valid_until else None)
        if "valid_until" in data.model_fields_set
        else (as_utc(agreement.valid_until) if agreement.valid_until else None)
    )
    return _Terms(
        data.policy_template or agreement.policy_template,
        as_utc(data.valid_from or agreement.valid_from),
        valid_until,
        list(data.party_ids) if data.party_ids is not None else party_ids,
    )


def _apply(agreement: Agreement, data: AgreementTermsChange, terms: _Terms) -> dict[str, object]:
    """Write the changed fields onto a draft; what changed, for the audit trail."""
    changed: dict[str, object] = {}
    for field, value in (
        ("number", data.number),
        ("title", data.title),
        ("document_sha256", data.document_sha256),
        ("policy_template", terms.policy_template),
        ("valid_from", terms.valid_from),
        ("valid_until", terms.valid_until),
    ):
        current = getattr(agreement, field)
        if isinstance(current, datetime):
            current = as_utc(current)
        if (value is not None or field == "valid_until") and value != current:
            setattr(agreement, field, value)
            changed[field] = value.isoformat() if isinstance(value, datetime) else value
    return changed


async def _checked_terms(session: AsyncSession, policies: PolicyLibrary, terms: _Terms) -> _Terms:
    if policies.get(terms.policy_template) is None:
        raise InvalidInput(
            "policy_template",
            f"there is no policy template '{terms.policy_template}'; "
            f"known templates: {', '.join(policies.names()) or 'none'}",
        )
    if terms.valid_until is not None and terms.valid_until <= terms.valid_from:
        raise InvalidInput("valid_until", "must be after valid_from")
    party_ids = list(dict.fromkeys(terms.party_ids))
    known = set(
        (await session.execute(select(col(Party.id)).where(col(Party.id).in_(party_ids)))).scalars()
    )
    missing = [party_id for party_id in party_ids if party_id not in known]
    if missing:
        raise InvalidInput("party_ids", f"there is no party with the id {missing[0]}")
    return _Terms(terms.policy_template, terms.valid_from, terms.valid_until, party_ids)


# --- reading ------------------------------------------------------------------------------


async def list_agreements(
    session: AsyncSession, principal: Principal, *, status: AgreementStatus | None = None
) -> list[AgreementRead]:
    """Agreements the caller's party is party to; every agreement for an administrator."""
    principal.require(Scope.CONSENT_READ)
    query = select(Agreement).order_by(
        col(Agreement.number), col(Agreement.version), col(Agreement.id)
    )
    if not principal.is_registry_admin:
        query = query.where(_has_party(principal.party_id))
    if status is not None:
        query = query.where(col(Agreement.status) == status)
    agreements = list((await session.execute(query)).scalars())
    parties = await agreement_parties(session, [agreement.id for agreement in agreements])
    return [agreement_read(agreement, parties[agreement.id]) for agreement in agreements]


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
    return agreement_read(
        agreement, (await agreement_parties(session, [agreement_id]))[agreement_id]
    )


async def agreement_for_update(session: AsyncSession, agreement_id: UUID) -> Agreement:
    """The agreement, locked for a change; ``NotFound`` if there is none."""
    agreement = (
        await session.execute(
            select(Agreement).where(col(Agreement.id) == agreement_id).with_for_update()
        )
    ).scalar_one_or_none()
    if agreement is None:
        raise NotFound(f"there is no agreement {agreement_id}")
    return agreement


def _has_party(party_id: UUID) -> ColumnElement[bool]:
    return exists().where(
        col(AgreementParty.agreement_id) == col(Agreement.id),
        col(AgreementParty.party_id) == party_id,
    )


def agreement_read(agreement: Agreement, party_ids: Iterable[UUID]) -> AgreementRead:
    """The API's view of an agreement and the parties it binds."""
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
        version=agreement.version,
        amends_id=agreement.amends_id,
        status_reason=agreement.status_reason,
        status_changed_at=(
            as_utc(agreement.status_changed_at) if agreement.status_changed_at else None
        ),
        status_changed_by=agreement.status_changed_by,
        created_at=as_utc(agreement.created_at),
    )
