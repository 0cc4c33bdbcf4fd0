"""Consents: owners' grants of access to their cameras, and their revocation.

Plain async functions over an ``AsyncSession``. Each change validates, writes its audit event
in the same transaction and commits. A caller sees the consents its party granted or
received (a hub administrator sees everything); any other is answered as not found.
Revoking a consent revokes, in the same transaction, every live access token resting on it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.access.models import AccessToken, TokenConsent
from sharing.audit.service import record
from sharing.cameras.models import Camera, CameraTag
from sharing.clock import Clock, as_utc
from sharing.consent.facts import CameraSelector, ConsentStatus
from sharing.consent.grant_checks import check_grant
from sharing.consent.links import consent_cameras
from sharing.consent.models import Agreement, Consent, ConsentCamera
from sharing.consent.schemas import ConsentCreate, ConsentPage, ConsentRead
from sharing.consent.templates import PolicyLibrary
from sharing.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from sharing.parties.models import Party
from sharing.principal import Actor, Principal
from sharing.vocabulary import Scope

TOKEN_REVOCATION_REASON = "consent revoked"


# --- granting -----------------------------------------------------------------------------


async def grant_consent(
    session: AsyncSession,
    principal: Principal,
    data: ConsentCreate,
    clock: Clock,
    policies: PolicyLibrary,
) -> ConsentRead:
    """Record an owner's grant, after checking it against the agreement and its template.

    The grantor is the caller's party (an administrator may name another). The agreement
    must be active and bind the grantor and the grantee; modes, purposes and limits must lie
    within the template's terms; listed cameras must belong to the grantor.
    """
    principal.require(Scope.CONSENT_WRITE)
    now = clock.now()
    grantor_id = data.grantor_party_id or principal.party_id
    if not principal.may_act_for(grantor_id):
        raise PermissionDenied("you may only grant consent for your own party's cameras")
    if await session.get(Party, grantor_id) is None:
        raise InvalidInput("grantor_party_id", f"there is no party with the id {grantor_id}")

    checked = await check_grant(session, data, grantor_id, policies, now)

    consent_id = uuid.uuid4()
    consent = Consent(
        id=consent_id,
        lineage_id=consent_id,
        grantor_party_id=grantor_id,
        grantee_party_id=data.grantee_party_id,
        grantee_scope="party" if data.grantee_party_id else "public",
        agreement_id=checked.agreement.id,
        camera_selector=data.camera_selector,
        selector_tag=data.selector_tag,
        modes=sorted(data.modes),
        purposes=sorted(data.purposes),
        max_lookback_hours=data.max_lookback_hours,
        max_window_minutes=data.max_window_minutes,
        max_token_lifetime_seconds=data.max_token_lifetime_seconds,
        valid_from=checked.valid_from,
        valid_until=checked.valid_until,
        status=ConsentStatus.ACTIVE,
        version=1,
        created_at=now,
    )
    session.add(consent)
    await session.flush()  # the camera rows reference the consent
    session.add_all(ConsentCamera(consent_id=consent.id, camera_id=c) for c in checked.camera_ids)
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="consent.granted",
        object_type="consent",
        object_id=consent.id,
        details=_consent_summary(consent, checked.camera_ids, checked.agreement),
    )
    await session.commit()
    return _consent_read(consent, checked.camera_ids)


# --- reading ------------------------------------------------------------------------------


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
    first, optionally narrowed to a status, a grantor, a grantee or a covered camera."""
    principal.require(Scope.CONSENT_READ)
    conditions: list[ColumnElement[bool]] = []
    if not principal.is_registry_admin:
        conditions.append(
            or_(
                col(Consent.grantor_party_id) == principal.party_id,
                col(Consent.grantee_party_id) == principal.party_id,
            )
        )
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
        items=[_consent_read(consent, cameras[consent.id]) for consent in consents],
        total=total,
        limit=limit,
        offset=offset,
    )


async def get_consent(session: AsyncSession, principal: Principal, consent_id: UUID) -> ConsentRead:
    """One consent, for its grantor, its grantee or an administrator."""
    principal.require(Scope.CONSENT_READ)
    consent = await _visible_consent(session, principal, consent_id)
    return _consent_read(consent, (await consent_cameras(session, [consent.id]))[consent.id])


async def _visible_consent(
    session: AsyncSession, principal: Principal, consent_id: UUID, *, for_update: bool = False
) -> Consent:
    query = select(Consent).where(col(Consent.id) == consent_id)
    if for_update:
        query = query.with_for_update()
    consent = (await session.execute(query)).scalar_one_or_none()
    if consent is None or not (
        principal.may_act_for(consent.grantor_party_id)
        or consent.grantee_party_id == principal.party_id
    ):
        raise NotFound(f"there is no consent {consent_id}")
    return consent


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


def _consent_read(consent: Consent, camera_ids: Iterable[UUID]) -> ConsentRead:
    return ConsentRead(
        id=consent.id,
        version=consent.version,
        grantor_party_id=consent.grantor_party_id,
        grantee_party_id=consent.grantee_party_id,
        agreement_id=consent.agreement_id,
        camera_selector=CameraSelector(consent.camera_selector),
        camera_ids=sorted(camera_ids, key=str),
        selector_tag=consent.selector_tag,
        modes=consent.modes,
        purposes=consent.purposes,
        max_lookback_hours=consent.max_lookback_hours,
        max_window_minutes=consent.max_window_minutes,
        max_token_lifetime_seconds=consent.max_token_lifetime_seconds,
        valid_from=as_utc(consent.valid_from),
        valid_until=as_utc(consent.valid_until) if consent.valid_until else None,
        status=ConsentStatus(consent.status),
        revoked_at=as_utc(consent.revoked_at) if consent.revoked_at else None,
        revocation_reason=consent.revocation_reason,
        created_at=as_utc(consent.created_at),
    )


def _consent_summary(
    consent: Consent, camera_ids: Sequence[UUID], agreement: Agreement
) -> dict[str, object]:
    return {
        "grantor_party_id": str(consent.grantor_party_id),
        "grantee_party_id": str(consent.grantee_party_id) if consent.grantee_party_id else None,
        "agreement_id": str(agreement.id),
        "agreement_number": agreement.number,
        "policy_template": agreement.policy_template,
        "camera_selector": consent.camera_selector,
        "selector_tag": consent.selector_tag,
        "camera_ids": [str(camera_id) for camera_id in camera_ids],
        "modes": list(consent.modes),
        "purposes": list(consent.purposes),
        "max_lookback_hours": consent.max_lookback_hours,
        "max_window_minutes": consent.max_window_minutes,
        "max_token_lifetime_seconds": consent.max_token_lifetime_seconds,
        "valid_until": as_utc(consent.valid_until).isoformat() if consent.valid_until else None,
    }


# --- revocation ---------------------------------------------------------------------------


async def revoke_consent(
    session: AsyncSession, principal: Principal, consent_id: UUID, reason: str, clock: Clock
) -> ConsentRead:
    """Revoke a consent at once, and with it every live access token that rests on it.

    Only the grantor (or an administrator) may revoke; the grantee sees the consent but is
    refused. The consent, the tokens and their audit events change in one transaction.
    """
    principal.require(Scope.CONSENT_WRITE)
    consent = await _visible_consent(session, principal, consent_id, for_update=True)
    if not principal.may_act_for(consent.grantor_party_id):
        raise PermissionDenied("only the owner who granted a consent may revoke it")
    if consent.status == ConsentStatus.REVOKED:
        raise Conflict(f"consent {consent_id} is already revoked")

    now = clock.now()
    actor = Actor.of(principal)
    consent.status = ConsentStatus.REVOKED
    consent.revoked_at = now
    consent.revocation_reason = reason
    tokens = await _live_tokens_resting_on(session, consent.id, now)
    # The consent's event comes first: the trail reads "revoked the consent, and so these".
    record(
        session,
        at=now,
        actor=actor,
        action="consent.revoked",
        object_type="consent",
        object_id=consent.id,
        details={"reason": reason, "revoked_tokens": [token.jti for token in tokens]},
    )
    for token in tokens:
        token.revoked_at = now
        token.revocation_reason = TOKEN_REVOCATION_REASON
        record(
            session,
            at=now,
            actor=actor,
            action="access_token.revoked",
            object_type="access_token",
            object_id=token.jti,
            details={
                "reason": TOKEN_REVOCATION_REASON,
                "consent_id": str(consent.id),
                "request_id": str(token.request_id),
            },
        )
    await session.commit()
    return _consent_read(consent, (await consent_cameras(session, [consent.id]))[consent.id])


async def _live_tokens_resting_on(
    session: AsyncSession, consent_id: UUID, now: datetime
) -> list[AccessToken]:
    # Expired tokens are left alone: no gateway accepts them, and revoking them would only
    # add audit events that say nothing.
    result = await session.execute(
        select(AccessToken)
        .where(
            col(AccessToken.jti).in_(
                select(col(TokenConsent.jti)).where(col(TokenConsent.consent_id) == consent_id)
            ),
            col(AccessToken.revoked_at).is_(None),
            col(AccessToken.expires_at) > now,
        )
        .order_by(col(AccessToken.created_at), col(AccessToken.jti))
        .with_for_update()
    )
    return list(result.scalars())
