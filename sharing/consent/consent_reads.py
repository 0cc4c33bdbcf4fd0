"""Reading consents: which ones a caller may see, and their versions and receipts.

A caller sees the consents its party granted or received, or that were granted to every
party of an agreement binding it (a hub administrator sees everything); any other is
answered as not found.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.cameras.models import Camera, CameraTag
from sharing.clock import as_utc
from sharing.consent.consent_schemas import ConsentPage, ConsentRead, ConsentVersions
from sharing.consent.facts import CameraSelector, ConsentStatus, GranteeScope, LegalBasis
from sharing.consent.links import consent_cameras
from sharing.consent.models import AgreementParty, Consent, ConsentCamera
from sharing.consent.receipt_schemas import ConsentReceipt
from sharing.consent.receipts import load_receipt
from sharing.errors import NotFound
from sharing.principal import Principal
from sharing.vocabulary import Scope


async def list_consents(
    session: AsyncSession,
    principal: Principal,
    *,
    status: ConsentStatus | None = None,
    grantor_party_id: UUID | None = None,
    grantee_party_id: UUID | None = None,
    camera_id: UUID | None = None,
    limit: int = 50,
    offset: int = 0,
) -> ConsentPage:
    """Consents the caller's party granted or received (all, for an administrator), newest
    first, optionally narrowed to a status, a grantor, a grantee or a covered camera.

    An owner sees every arrangement on its cameras, whatever its legal basis or grantee.
    """
    principal.require(Scope.CONSENT_READ)
    conditions: list[ColumnElement[bool]] = []
    if not principal.is_registry_admin:
        conditions.append(_concerns(principal.party_id))
    if status is not None:
        conditions.append(col(Consent.status) == status)
    if grantor_party_id is not None:
        conditions.append(col(Consent.grantor_party_id) == grantor_party_id)
    if grantee_party_id is not None:
        conditions.append(col(Consent.grantee_party_id) == grantee_party_id)
    if camera_id is not None:
        conditions.append(_covers_camera(camera_id))

    total = (
        await session.execute(select(func.count()).select_from(Consent).where(*conditions))
    ).scalar_one()
    consents = list(
        (
            await session.execute(
                select(Consent)
                .where(*conditions)
                .order_by(col(Consent.created_at).desc(), col(Consent.id))
                .limit(limit)
                .offset(offset)
            )
        ).scalars()
    )
    cameras = await consent_cameras(session, [consent.id for consent in consents])
    return ConsentPage(
        items=[consent_read(consent, cameras[consent.id]) for consent in consents],
        total=total,
        limit=limit,
        offset=offset,
    )


async def get_consent(session: AsyncSession, principal: Principal, consent_id: UUID) -> ConsentRead:
    """One consent, for its grantor, its grantee or an administrator."""
    principal.require(Scope.CONSENT_READ)
    consent = await visible_consent(session, principal, consent_id)
    return consent_read(consent, (await consent_cameras(session, [consent.id]))[consent.id])


async def list_consent_versions(
    session: AsyncSession, principal: Principal, consent_id: UUID
) -> ConsentVersions:
    """Every version of the arrangement ``consent_id`` belongs to, oldest first."""
    principal.require(Scope.CONSENT_READ)
    consent = await visible_consent(session, principal, consent_id)
    versions = list(
        (
            await session.execute(
                select(Consent)
                .where(col(Consent.lineage_id) == consent.lineage_id)
                .order_by(col(Consent.version), col(Consent.created_at))
            )
        ).scalars()
    )
    cameras = await consent_cameras(session, [version.id for version in versions])
    return ConsentVersions(
        lineage_id=consent.lineage_id,
        items=[consent_read(version, cameras[version.id]) for version in versions],
    )


async def get_receipt(
    session: AsyncSession, principal: Principal, consent_id: UUID, issuer: str
) -> ConsentReceipt:
    """The receipt of a consent version's latest event, for its grantor, grantee or an
    administrator."""
    principal.require(Scope.CONSENT_READ)
    consent = await visible_consent(session, principal, consent_id)
    cameras = (await consent_cameras(session, [consent.id]))[consent.id]
    return await load_receipt(session, consent, cameras, issuer)


async def visible_consent(
    session: AsyncSession, principal: Principal, consent_id: UUID, *, for_update: bool = False
) -> Consent:
    """The consent, if the caller may see it (locked for a change with ``for_update``);
    ``NotFound`` otherwise, so that a consent of others is not revealed."""
    query = select(Consent).where(col(Consent.id) == consent_id)
    if not principal.is_registry_admin:
        query = query.where(_concerns(principal.party_id))
    if for_update:
        query = query.with_for_update()
    consent = (await session.execute(query)).scalar_one_or_none()
    if consent is None:
        raise NotFound(f"there is no consent {consent_id}")
    return consent


def _concerns(party_id: UUID) -> ColumnElement[bool]:
    """Consents a party may see: granted by it, to it, or to every party of an agreement
    that binds it."""
    return or_(
        col(Consent.grantor_party_id) == party_id,
        col(Consent.grantee_party_id) == party_id,
        and_(
            col(Consent.grantee_scope) == GranteeScope.AGREEMENT_PARTIES,
            exists().where(
                col(AgreementParty.agreement_id) == col(Consent.agreement_id),
                col(AgreementParty.party_id) == party_id,
            ),
        ),
    )


def _covers_camera(camera_id: UUID) -> ColumnElement[bool]:
    """Consents that cover one camera: listed, all of its owner's, or by one of its tags."""
    owner = select(col(Camera.owner_party_id)).where(col(Camera.id) == camera_id).scalar_subquery()
    return or_(
        exists().where(
            col(ConsentCamera.consent_id) == col(Consent.id),
            col(ConsentCamera.camera_id) == camera_id,
        ),
        and_(
            col(Consent.camera_selector) == CameraSelector.ALL,
            col(Consent.grantor_party_id) == owner,
        ),
        and_(
            col(Consent.camera_selector) == CameraSelector.TAG,
            col(Consent.grantor_party_id) == owner,
            exists().where(
                col(CameraTag.camera_id) == camera_id,
                col(CameraTag.tag) == col(Consent.selector_tag),
            ),
        ),
    )


def consent_read(consent: Consent, camera_ids: Iterable[UUID]) -> ConsentRead:
    """The API's view of a consent and the cameras it lists."""
    return ConsentRead(
        id=consent.id,
        version=consent.version,
        lineage_id=consent.lineage_id,
        grantor_party_id=consent.grantor_party_id,
        grantee_party_id=consent.grantee_party_id,
        grantee_scope=GranteeScope(consent.grantee_scope),
        legal_basis=LegalBasis(consent.legal_basis),
        regulation_ref=consent.regulation_ref,
        agreement_id=consent.agreement_id,
        camera_selector=CameraSelector(consent.camera_selector),
        camera_ids=sorted(camera_ids, key=str),
        selector_tag=consent.selector_tag,
        modes=consent.modes,
        purposes=consent.purposes,
        max_lookback_hours=consent.max_lookback_hours,
        max_window_minutes=consent.max_window_minutes,
        max_token_lifetime_seconds=consent.max_token_lifetime_seconds,
        hours_start=consent.hours_start,
        hours_end=consent.hours_end,
        days_of_week=consent.days_of_week,
        timezone=consent.timezone,
        requires_owner_approval=consent.requires_owner_approval,
        requires_supervisor_approval=consent.requires_supervisor_approval,
        valid_from=as_utc(consent.valid_from),
        valid_until=_utc_or_none(consent.valid_until),
        status=ConsentStatus(consent.status),
        superseded_at=_utc_or_none(consent.superseded_at),
        revoked_at=_utc_or_none(consent.revoked_at),
        revocation_reason=consent.revocation_reason,
        created_at=as_utc(consent.created_at),
    )


def _utc_or_none(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment is not None else None
