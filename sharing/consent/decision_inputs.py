"""The facts consent decisions and camera search need, loaded from the database.

``decision_inputs`` gathers what ``sharing.consent.policy.decide`` reads for some cameras and
one requester; ``visible_cameras_clause`` is camera search's filter of the cameras a party
may find.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, Select, and_, bindparam, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from sharing.cameras.models import Camera, CameraTag
from sharing.clock import as_utc
from sharing.consent.facts import (
    AgreementFacts,
    CameraFacts,
    CameraSelector,
    ConsentFacts,
    ConsentStatus,
    GranteeScope,
    RequestFacts,
)
from sharing.consent.links import consent_cameras
from sharing.consent.models import Agreement, AgreementParty, Consent, ConsentCamera
from sharing.emergency.models import EmergencySuspension
from sharing.parties.models import Party
from sharing.vocabulary import Visibility

# Grantee scopes that do not name the requester: the decision works out whether they reach it.
_UNNAMED_SCOPES = (GranteeScope.PUBLIC, GranteeScope.AGREEMENT_PARTIES)


@dataclass(frozen=True, slots=True)
class DecisionInputs:
    """Everything ``decide`` needs for some cameras and one requester.

    ``consents`` hold every status but ``superseded`` (the lineage's newest version speaks for
    it), so a revoked consent explains a refusal. To stay small, a consent's ``camera_ids``
    and an agreement's ``party_ids`` are limited to the cameras, and to the requester and its
    ancestors, the decision is about. ``requester_ancestor_ids`` belong in the request's
    facts: ``request_facts`` puts them there.
    """

    cameras: dict[UUID, CameraFacts]
    consents: list[ConsentFacts]
    agreements: dict[UUID, AgreementFacts]
    requester_ancestor_ids: frozenset[UUID] = frozenset()

    def request_facts(self, request: RequestFacts) -> RequestFacts:
        """``request`` with the requester's ancestors these inputs loaded."""
        return replace(request, requester_ancestor_ids=self.requester_ancestor_ids)


async def decision_inputs(
    session: AsyncSession, camera_ids: Sequence[UUID], requester_party_id: UUID
) -> DecisionInputs:
    """Load the cameras, consents and agreements a decision on ``camera_ids`` needs.

    Five queries whatever the number of cameras: cameras with tags, the requester's
    ancestors, candidate consents, their listed cameras, and their agreements with the
    memberships of the requester and its ancestors and the requester's suspended emergency
    rights.
    """
    cameras = await _camera_facts(session, camera_ids)
    ancestors = await requester_ancestors(session, requester_party_id)
    owners = {c.owner_party_id for c in cameras.values()} - {requester_party_id}
    if not owners:
        return DecisionInputs(cameras, [], {}, ancestors)
    tags = set().union(*(camera.tags for camera in cameras.values()))
    wanted = list(cameras)
    consents = list(
        (
            await session.execute(
                _CANDIDATE_CONSENTS,
                {
                    "owners": list(owners),
                    "requester": requester_party_id,
                    "ancestors": list(ancestors),
                    "tags": list(tags),
                    "wanted": wanted,
                },
            )
        ).scalars()
    )
    listed = await consent_cameras(session, [c.id for c in consents], among=wanted)
    agreements = await agreement_facts(
        session, {c.agreement_id for c in consents}, requester_party_id, ancestors
    )
    return DecisionInputs(
        cameras,
        [consent_facts(c, frozenset(listed[c.id])) for c in consents],
        agreements,
        ancestors,
    )


async def requester_ancestors(session: AsyncSession, party_id: UUID) -> frozenset[UUID]:
    """The parties above ``party_id`` (its parent, the parent's parent, ...), in one query."""
    rows = await session.execute(_ANCESTORS, {"party_id": party_id})
    return frozenset(rows.scalars()) - {party_id}


def granted_to_requester() -> ColumnElement[bool]:
    """Consents whose grantee scope may reach the ``requester`` (the decision makes sure)."""
    grantee = col(Consent.grantee_party_id)
    return or_(
        grantee == bindparam("requester"),
        grantee.is_(None),
        col(Consent.grantee_scope).in_(_UNNAMED_SCOPES),
        and_(
            col(Consent.grantee_scope) == GranteeScope.PARTY_AND_SUBUNITS,
            grantee.in_(bindparam("ancestors", expanding=True)),
        ),
    )


def _ancestors_query() -> Select[UUID]:
    parent = aliased(Party)
    chain = (
        select(col(Party.parent_id).label("id"))
        .where(col(Party.id) == bindparam("party_id"))
        .cte("ancestors", recursive=True)
    )
    # UNION, not UNION ALL: a cycle in bad data ends the recursion instead of looping.
    chain = chain.union(select(col(parent.parent_id)).join(chain, col(parent.id) == chain.c.id))
    return select(chain.c.id).where(chain.c.id.is_not(None))


# The per-request queries are built once, with bound parameters, rather than per call:
# building a statement and its cache key cost more CPU than SQLite running it (~1 ms for the
# recursive CTE alone), and a statement object memoizes its cache key. Expanding parameters
# keep one compiled form for IN lists of any length, the empty list included.
_ANCESTORS = _ancestors_query()

_CANDIDATE_CONSENTS = select(Consent).where(
    col(Consent.grantor_party_id).in_(bindparam("owners", expanding=True)),
    col(Consent.status) != ConsentStatus.SUPERSEDED,
    granted_to_requester(),
    or_(
        col(Consent.camera_selector) == CameraSelector.ALL,
        and_(
            col(Consent.camera_selector) == CameraSelector.TAG,
            col(Consent.selector_tag).in_(bindparam("tags", expanding=True)),
        ),
        exists().where(
            col(ConsentCamera.consent_id) == col(Consent.id),
            col(ConsentCamera.camera_id).in_(bindparam("wanted", expanding=True)),
        ),
    ),
)

_CAMERA_FACTS = (
    select(
        col(Camera.id),
        col(Camera.owner_party_id),
        col(Camera.status),
        col(Camera.visibility),
        col(CameraTag.tag),
    )
    .outerjoin(CameraTag, col(CameraTag.camera_id) == col(Camera.id))
    .where(col(Camera.id).in_(bindparam("camera_ids", expanding=True)))
)

# Joining only the membership rows of the requester and its ancestors: a city regulation
# may bind tens of thousands of owners, and the decision only asks about these.
_AGREEMENT_FACTS = (
    select(
        Agreement,
        col(AgreementParty.party_id),
        exists()
        .where(
            col(EmergencySuspension.agreement_id) == col(Agreement.id),
            col(EmergencySuspension.party_id) == bindparam("requester"),
            col(EmergencySuspension.restored_at).is_(None),
        )
        .label("suspended"),
    )
    .outerjoin(
        AgreementParty,
        and_(
            col(AgreementParty.agreement_id) == col(Agreement.id),
            col(AgreementParty.party_id).in_(bindparam("members", expanding=True)),
        ),
    )
    .where(col(Agreement.id).in_(bindparam("agreement_ids", expanding=True)))
)


async def _camera_facts(
    session: AsyncSession, camera_ids: Sequence[UUID]
) -> dict[UUID, CameraFacts]:
    rows = await session.execute(_CAMERA_FACTS, {"camera_ids": list(dict.fromkeys(camera_ids))})
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


async def agreement_facts(
    session: AsyncSession,
    agreement_ids: set[UUID],
    requester_party_id: UUID,
    ancestors: frozenset[UUID],
) -> dict[UUID, AgreementFacts]:
    """The facts of ``agreement_ids`` as seen by the requester (and its ancestors)."""
    rows = await session.execute(
        _AGREEMENT_FACTS,
        {
            "requester": requester_party_id,
            "members": [requester_party_id, *ancestors],
            "agreement_ids": list(agreement_ids),
        },
    )
    found: dict[UUID, tuple[Agreement, bool]] = {}
    members: defaultdict[UUID, set[UUID]] = defaultdict(set)
    for agreement, member, is_suspended in rows:
        found[agreement.id] = (agreement, bool(is_suspended))
        if member is not None:
            members[agreement.id].add(member)
    return {
        agreement_id: AgreementFacts(
            id=agreement.id,
            number=agreement.number,
            status=agreement.status,
            policy_template=agreement.policy_template,
            valid_from=as_utc(agreement.valid_from),
            valid_until=as_utc(agreement.valid_until) if agreement.valid_until else None,
            party_ids=frozenset(members[agreement_id]),
            emergency_suspended=is_suspended,
        )
        for agreement_id, (agreement, is_suspended) in found.items()
    }


def consent_facts(consent: Consent, camera_ids: frozenset[UUID]) -> ConsentFacts:
    """The decision's view of a consent row and the cameras it lists."""
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
        grantee_scope=consent.grantee_scope,
        legal_basis=consent.legal_basis,
        hours_start=consent.hours_start,
        hours_end=consent.hours_end,
        days_of_week=(
            frozenset(consent.days_of_week) if consent.days_of_week is not None else None
        ),
        timezone=consent.timezone,
        requires_owner_approval=consent.requires_owner_approval,
        requires_supervisor_approval=consent.requires_supervisor_approval,
        lineage_id=consent.lineage_id,
        regulation_ref=consent.regulation_ref,
    )


def visible_cameras_clause(
    party_id: UUID, now: datetime, *, ancestor_ids: Collection[UUID] = ()
) -> ColumnElement[bool]:
    """True for the cameras ``party_id`` may find in search.

    Its own cameras, public ones, and those covered by an active consent in force that
    reaches the party (by list, by "all of the owner's", or by tag): granted to it, to every
    party of an agreement binding it, or to one of ``ancestor_ids`` (see
    ``requester_ancestors``) and its sub-units. A public grant does not make a camera
    findable: its owner says that with the camera's visibility.
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
            _reaching(party_id, ancestor_ids),
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


def _reaching(party_id: UUID, ancestor_ids: Collection[UUID]) -> ColumnElement[bool]:
    """Consents (other than public ones) whose grantee scope reaches ``party_id``."""
    grantee, scope = col(Consent.grantee_party_id), col(Consent.grantee_scope)
    bound = (
        select(col(AgreementParty.party_id))
        .where(
            col(AgreementParty.agreement_id) == col(Consent.agreement_id),
            col(AgreementParty.party_id) == party_id,
        )
        .correlate(Consent)
        .exists()
    )
    reaching = [
        and_(grantee == party_id, scope != GranteeScope.AGREEMENT_PARTIES),
        and_(scope == GranteeScope.AGREEMENT_PARTIES, bound),
    ]
    if ancestor_ids:
        reaching.append(
            and_(scope == GranteeScope.PARTY_AND_SUBUNITS, grantee.in_(list(ancestor_ids)))
        )
    return or_(*reaching)
