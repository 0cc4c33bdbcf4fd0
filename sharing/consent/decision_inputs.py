"""The facts consent decisions and camera search need, loaded from the database.

``decision_inputs`` gathers what ``sharing.consent.policy.decide`` reads for some cameras and
one requester; ``visible_cameras_clause`` is camera search's filter of the cameras a party
may find.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.cameras.models import Camera, CameraTag
from sharing.clock import as_utc
from sharing.consent.facts import (
    AgreementFacts,
    CameraFacts,
    CameraSelector,
    ConsentFacts,
    ConsentStatus,
)
from sharing.consent.links import consent_cameras
from sharing.consent.models import Agreement, AgreementParty, Consent, ConsentCamera
from sharing.vocabulary import Visibility


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
    listed = await consent_cameras(session, [c.id for c in consents], among=wanted)
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
