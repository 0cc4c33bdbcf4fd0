"""The consent domain's logic: agreements, consents, revocation, and decision inputs.

Plain async functions over an ``AsyncSession``. Each change validates, writes its audit event
in the same transaction and commits. Callers may only see agreements they are party to and
consents they granted or received (a hub administrator sees everything); anything else is
answered as not found.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.access.models import AccessToken, TokenConsent
from sharing.audit.service import record
from sharing.cameras.models import Camera, CameraTag
from sharing.clock import Clock, as_utc
from sharing.consent.models import Agreement, AgreementParty, Consent, ConsentCamera
from sharing.consent.policy import (
    PUBLIC_GRANTEE,
    AgreementFacts,
    CameraFacts,
    CameraSelector,
    ConsentFacts,
    ConsentStatus,
    PolicyLibrary,
    PolicyTemplate,
)
from sharing.consent.schemas import (
    AgreementCreate,
    AgreementRead,
    ConsentCreate,
    ConsentPage,
    ConsentRead,
)
from sharing.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from sharing.parties.models import Party
from sharing.principal import Actor, Principal
from sharing.vocabulary import AgreementStatus, Scope, Visibility

TOKEN_REVOCATION_REASON = "consent revoked"


# --- agreements ---------------------------------------------------------------------------


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
    parties = await _parties_of(session, [agreement.id for agreement in agreements])
    return [_agreement_read(agreement, parties[agreement.id]) for agreement in agreements]


async def get_agreement(
    session: AsyncSession, principal: Principal, agreement_id: UUID
) -> AgreementRead:
    """One agreement, if the caller's party is party to it (or the caller administers)."""
    principal.require(Scope.CONSENT_READ)
    agreement = await session.get(Agreement, agreement_id)
    if agreement is None or not (
        principal.is_registry_admin
        or await _members_among(session, agreement_id, [principal.party_id])
    ):
        raise NotFound(f"there is no agreement {agreement_id}")
    return _agreement_read(agreement, (await _parties_of(session, [agreement_id]))[agreement_id])


def _has_party(party_id: UUID) -> ColumnElement[bool]:
    return exists().where(
        col(AgreementParty.agreement_id) == col(Agreement.id),
        col(AgreementParty.party_id) == party_id,
    )


async def _parties_of(
    session: AsyncSession, agreement_ids: Sequence[UUID]
) -> defaultdict[UUID, list[UUID]]:
    rows = await session.execute(
        select(col(AgreementParty.agreement_id), col(AgreementParty.party_id)).where(
            col(AgreementParty.agreement_id).in_(agreement_ids)
        )
    )
    parties: defaultdict[UUID, list[UUID]] = defaultdict(list)
    for agreement_id, party_id in rows:
        parties[agreement_id].append(party_id)
    return parties


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

    grantee_id = data.grantee_party_id
    members = await _members_among(
        session, data.agreement_id, [grantor_id] if grantee_id is None else [grantor_id, grantee_id]
    )
    agreement = await _agreement_for_grant(session, data.agreement_id, grantor_id in members, now)
    template = policies.get(agreement.policy_template)
    if template is None:
        raise InvalidInput(
            "agreement_id",
            f"agreement {agreement.number} names the policy template "
            f"'{agreement.policy_template}', which this hub does not have",
        )
    await _check_grantee(session, data.grantee_party_id, grantor_id, agreement, members, template)
    _check_terms(data, template)
    camera_ids = await _check_selection(session, data, grantor_id)
    valid_from = as_utc(data.valid_from) if data.valid_from else now
    valid_until = as_utc(data.valid_until) if data.valid_until else None
    if valid_until is not None and valid_until <= max(valid_from, now):
        raise InvalidInput("valid_until", "must be in the future and after valid_from")

    consent = Consent(
        grantor_party_id=grantor_id,
        grantee_party_id=data.grantee_party_id,
        agreement_id=agreement.id,
        camera_selector=data.camera_selector,
        selector_tag=data.selector_tag,
        modes=sorted(data.modes),
        purposes=sorted(data.purposes),
        max_lookback_hours=data.max_lookback_hours,
        max_window_minutes=data.max_window_minutes,
        max_token_lifetime_seconds=data.max_token_lifetime_seconds,
        valid_from=valid_from,
        valid_until=valid_until,
        status=ConsentStatus.ACTIVE,
        version=1,
        created_at=now,
    )
    session.add(consent)
    await session.flush()  # the camera rows reference the consent
    session.add_all(ConsentCamera(consent_id=consent.id, camera_id=c) for c in camera_ids)
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="consent.granted",
        object_type="consent",
        object_id=consent.id,
        details=_consent_summary(consent, camera_ids, agreement),
    )
    await session.commit()
    return _consent_read(consent, camera_ids)


async def _members_among(
    session: AsyncSession, agreement_id: UUID, party_ids: Sequence[UUID]
) -> set[UUID]:
    """Which of ``party_ids`` the agreement binds; a regulation may bind thousands of others."""
    rows = await session.execute(
        select(col(AgreementParty.party_id)).where(
            col(AgreementParty.agreement_id) == agreement_id,
            col(AgreementParty.party_id).in_(party_ids),
        )
    )
    return set(rows.scalars())


async def _agreement_for_grant(
    session: AsyncSession, agreement_id: UUID, grantor_is_party: bool, now: datetime
) -> Agreement:
    agreement = await session.get(Agreement, agreement_id)
    # One message for "no such agreement" and "not yours", so ids cannot be probed.
    if agreement is None or not grantor_is_party:
        raise InvalidInput(
            "agreement_id",
            f"agreement {agreement_id} does not exist or the grantor is not a party to it",
        )
    in_force = as_utc(agreement.valid_from) <= now and (
        agreement.valid_until is None or as_utc(agreement.valid_until) > now
    )
    if agreement.status != AgreementStatus.ACTIVE or not in_force:
        raise InvalidInput(
            "agreement_id",
            f"agreement {agreement.number} is not in force (status {agreement.status}); "
            "consent can only be granted under an active agreement",
        )
    return agreement


async def _check_grantee(
    session: AsyncSession,
    grantee_id: UUID | None,
    grantor_id: UUID,
    agreement: Agreement,
    members: set[UUID],
    template: PolicyTemplate,
) -> None:
    allowed = ", ".join(sorted(template.grantee_kinds))
    if grantee_id is None:
        if PUBLIC_GRANTEE not in template.grantee_kinds:
            raise InvalidInput(
                "grantee_party_id",
                f"the terms of {template.name} do not allow public grants; name a grantee "
                f"party of kind {allowed}",
            )
        return
    if grantee_id == grantor_id:
        raise InvalidInput("grantee_party_id", "an owner does not need consent from itself")
    grantee = await session.get(Party, grantee_id)
    if grantee is None or not grantee.active:
        raise InvalidInput("grantee_party_id", f"there is no active party {grantee_id}")
    if grantee_id not in members:
        raise InvalidInput(
            "grantee_party_id",
            f"{grantee.name} is not a party to agreement {agreement.number}",
        )
    if grantee.kind not in template.grantee_kinds:
        raise InvalidInput(
            "grantee_party_id",
            f"the terms of {template.name} allow grants to {allowed}; "
            f"{grantee.name} is of kind {grantee.kind}",
        )


def _check_terms(data: ConsentCreate, template: PolicyTemplate) -> None:
    """Modes, purposes and limits may only narrow the template's terms."""
    for field, asked, allowed in (
        ("modes", data.modes, template.modes),
        ("purposes", data.purposes, template.purposes),
    ):
        outside = sorted(set(asked) - set(allowed))
        if outside:
            raise InvalidInput(
                field,
                f"outside the terms of {template.name}: {', '.join(outside)}; "
                f"allowed: {', '.join(sorted(allowed))}",
            )
    for field, value, ceiling, unit in (
        ("max_lookback_hours", data.max_lookback_hours, template.max_lookback_hours, "hours"),
        ("max_window_minutes", data.max_window_minutes, template.max_window_minutes, "minutes"),
        (
            "max_token_lifetime_seconds",
            data.max_token_lifetime_seconds,
            template.max_token_lifetime_seconds,
            "seconds",
        ),
    ):
        if value is not None and value > ceiling:
            raise InvalidInput(
                field,
                f"may only narrow the terms of {template.name}, which allow at most "
                f"{ceiling} {unit}; you asked for {value}",
            )


async def _check_selection(
    session: AsyncSession, data: ConsentCreate, grantor_id: UUID
) -> list[UUID]:
    """The consent's listed cameras, after checking the selector is used consistently."""
    if data.camera_selector != CameraSelector.CAMERAS:
        if data.camera_ids:
            raise InvalidInput("camera_ids", "list cameras only with camera_selector 'cameras'")
        if data.camera_selector == CameraSelector.TAG and not data.selector_tag:
            raise InvalidInput("selector_tag", "camera_selector 'tag' needs a selector_tag")
        if data.camera_selector == CameraSelector.ALL and data.selector_tag is not None:
            raise InvalidInput("selector_tag", "give a selector_tag only with selector 'tag'")
        return []
    if data.selector_tag is not None:
        raise InvalidInput("selector_tag", "give a selector_tag only with selector 'tag'")
    camera_ids = list(dict.fromkeys(data.camera_ids))
    if not camera_ids:
        raise InvalidInput("camera_ids", "camera_selector 'cameras' needs at least one camera")
    owned = set(
        (
            await session.execute(
                select(col(Camera.id)).where(
                    col(Camera.id).in_(camera_ids), col(Camera.owner_party_id) == grantor_id
                )
            )
        ).scalars()
    )
    foreign = [camera_id for camera_id in camera_ids if camera_id not in owned]
    if foreign:
        # Same words for unknown and someone else's camera: ids cannot be probed.
        raise InvalidInput(
            "camera_ids", f"camera {foreign[0]} is not registered to the granting party"
        )
    return camera_ids


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
    cameras = await _cameras_of(session, [consent.id for consent in consents])
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
    return _consent_read(consent, (await _cameras_of(session, [consent.id]))[consent.id])


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


async def _cameras_of(
    session: AsyncSession, consent_ids: Sequence[UUID]
) -> defaultdict[UUID, list[UUID]]:
    rows = await session.execute(
        select(col(ConsentCamera.consent_id), col(ConsentCamera.camera_id)).where(
            col(ConsentCamera.consent_id).in_(consent_ids)
        )
    )
    cameras: defaultdict[UUID, list[UUID]] = defaultdict(list)
    for consent_id, camera_id in rows:
        cameras[consent_id].append(camera_id)
    return cameras


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
    return _consent_read(consent, (await _cameras_of(session, [consent.id]))[consent.id])


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


# --- what decisions and searches need -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecisionInputs:
    """Everything ``decide`` needs for some cameras and one requester.

    ``consents`` hold every status, so a revoked consent explains a refusal. To stay small,
    a consent's ``camera_ids`` and an agreement's ``party_ids`` are limited to the cameras
    and the requester the decision is about.
    """

    cameras: dict[UUID, CameraFacts]
    consents: list[ConsentFacts]
    agreements: dict[UUID, AgreementFacts]


async def decision_inputs(
    session: AsyncSession, camera_ids: Sequence[UUID], requester_party_id: UUID
) -> DecisionInputs:
    """Load the cameras, consents and agreements a decision on ``camera_ids`` needs.

    Four queries whatever the number of cameras: cameras with tags, candidate consents,
    their listed cameras, and their agreements with the requester's membership.
    """
    cameras = await _camera_facts(session, camera_ids)
    owners = {c.owner_party_id for c in cameras.values()} - {requester_party_id}
    if not owners:
        return DecisionInputs(cameras, [], {})
    tags = set().union(*(camera.tags for camera in cameras.values()))
    wanted = list(cameras)
    consents = list(
        (
            await session.execute(
                select(Consent).where(
                    col(Consent.grantor_party_id).in_(owners),
                    or_(
                        col(Consent.grantee_party_id) == requester_party_id,
                        col(Consent.grantee_party_id).is_(None),
                    ),
                    or_(
                        col(Consent.camera_selector) == CameraSelector.ALL,
                        and_(
                            col(Consent.camera_selector) == CameraSelector.TAG,
                            col(Consent.selector_tag).in_(tags),
                        ),
                        exists().where(
                            col(ConsentCamera.consent_id) == col(Consent.id),
                            col(ConsentCamera.camera_id).in_(wanted),
                        ),
                    ),
                )
            )
        ).scalars()
    )
    listed: defaultdict[UUID, set[UUID]] = defaultdict(set)
    for consent_id, camera_id in await session.execute(
        select(col(ConsentCamera.consent_id), col(ConsentCamera.camera_id)).where(
            col(ConsentCamera.consent_id).in_([c.id for c in consents]),
            col(ConsentCamera.camera_id).in_(wanted),
        )
    ):
        listed[consent_id].add(camera_id)
    agreements = await _agreement_facts(
        session, {c.agreement_id for c in consents}, requester_party_id
    )
    return DecisionInputs(
        cameras, [_consent_facts(c, frozenset(listed[c.id])) for c in consents], agreements
    )


async def _camera_facts(
    session: AsyncSession, camera_ids: Sequence[UUID]
) -> dict[UUID, CameraFacts]:
    rows = await session.execute(
        select(
            col(Camera.id),
            col(Camera.owner_party_id),
            col(Camera.status),
            col(Camera.visibility),
            col(CameraTag.tag),
        )
        .outerjoin(CameraTag, col(CameraTag.camera_id) == col(Camera.id))
        .where(col(Camera.id).in_(list(dict.fromkeys(camera_ids))))
    )
    found: dict[UUID, tuple[UUID, str, str]] = {}
    tags: defaultdict[UUID, set[str]] = defaultdict(set)
    for camera_id, owner, status, visibility, tag in rows:
        found[camera_id] = (owner, status, visibility)
        if tag is not None:
            tags[camera_id].add(tag)
    return {
        camera_id: CameraFacts(camera_id, owner, status, visibility, frozenset(tags[camera_id]))
        for camera_id, (owner, status, visibility) in found.items()
    }


async def _agreement_facts(
    session: AsyncSession, agreement_ids: set[UUID], requester_party_id: UUID
) -> dict[UUID, AgreementFacts]:
    # Joining only the requester's membership row: a city regulation may bind tens of
    # thousands of owners, and the decision only asks whether the requester is one.
    rows = await session.execute(
        select(Agreement, col(AgreementParty.party_id))
        .outerjoin(
            AgreementParty,
            and_(
                col(AgreementParty.agreement_id) == col(Agreement.id),
                col(AgreementParty.party_id) == requester_party_id,
            ),
        )
        .where(col(Agreement.id).in_(agreement_ids))
    )
    return {
        agreement.id: AgreementFacts(
            id=agreement.id,
            number=agreement.number,
            status=agreement.status,
            policy_template=agreement.policy_template,
            valid_from=as_utc(agreement.valid_from),
            valid_until=as_utc(agreement.valid_until) if agreement.valid_until else None,
            party_ids=frozenset([member]) if member is not None else frozenset(),
        )
        for agreement, member in rows
    }


def _consent_facts(consent: Consent, camera_ids: frozenset[UUID]) -> ConsentFacts:
    return ConsentFacts(
        id=consent.id,
        version=consent.version,
        grantor_party_id=consent.grantor_party_id,
        grantee_party_id=consent.grantee_party_id,
        agreement_id=consent.agreement_id,
        camera_selector=consent.camera_selector,
        selector_tag=consent.selector_tag,
        camera_ids=camera_ids,
        modes=frozenset(consent.modes),
        purposes=frozenset(consent.purposes),
        max_lookback_hours=consent.max_lookback_hours,
        max_window_minutes=consent.max_window_minutes,
        max_token_lifetime_seconds=consent.max_token_lifetime_seconds,
        valid_from=as_utc(consent.valid_from),
        valid_until=as_utc(consent.valid_until) if consent.valid_until else None,
        status=consent.status,
    )


def visible_cameras_clause(party_id: UUID, now: datetime) -> ColumnElement[bool]:
    """True for the cameras ``party_id`` may find in search.

    Its own cameras, public ones, and those covered by an active consent in force that was
    granted to the party (by list, by "all of the owner's", or by tag). A public grant does not
    make a camera findable: its owner says that with the camera's visibility.
    A correlated filter over the ``camera`` table: use it in ``select(Camera).where(...)``.
    """
    # Correlated explicitly: auto-correlation only reaches the nearest enclosing SELECT.
    listed = (
        select(col(ConsentCamera.camera_id))
        .where(
            col(ConsentCamera.consent_id) == col(Consent.id),
            col(ConsentCamera.camera_id) == col(Camera.id),
        )
        .correlate(Consent, Camera)
        .exists()
    )
    tagged = (
        select(col(CameraTag.tag))
        .where(
            col(CameraTag.camera_id) == col(Camera.id),
            col(CameraTag.tag) == col(Consent.selector_tag),
        )
        .correlate(Consent, Camera)
        .exists()
    )
    granted = (
        select(col(Consent.id))
        .where(
            col(Consent.grantor_party_id) == col(Camera.owner_party_id),
            col(Consent.grantee_party_id) == party_id,
            col(Consent.status) == ConsentStatus.ACTIVE,
            col(Consent.valid_from) <= now,
            or_(col(Consent.valid_until).is_(None), col(Consent.valid_until) > now),
            or_(
                col(Consent.camera_selector) == CameraSelector.ALL,
                and_(col(Consent.camera_selector) == CameraSelector.TAG, tagged),
                and_(col(Consent.camera_selector) == CameraSelector.CAMERAS, listed),
            ),
        )
        .correlate(Camera)
        .exists()
    )
    return or_(
        col(Camera.owner_party_id) == party_id,
        col(Camera.visibility) == Visibility.PUBLIC,
        granted,
    )
