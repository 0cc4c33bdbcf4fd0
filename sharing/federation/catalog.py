"""The catalog this hub publishes to a peer, and remote cameras in this hub's search.

``GET /federation/catalog`` lists, for the calling peer's party, the cameras this hub's
consents and agreements share with it: those the party may find in search (the consent
domain's ``visible_cameras_clause``) with at least one mode that an active consent in force
reaching the party, its active agreement and that agreement's template all allow. The
consent rules are the decision's own (``sharing.consent.policy`` and ``conditions``); only
conditions that depend on the request (purpose, hours, footage window, legal basis) are left
to the decision the peer's forwarded request will get. Metadata only, never a stream source.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.cameras.models import Camera, CameraTag
from sharing.cameras.schemas import (
    CameraStatus,
)
from sharing.consent.conditions import check_agreement, check_consent_state, is_public

# The decision's own rules, reused rather than restated (they are module-private there).
from sharing.consent.decision_inputs import (
    agreement_facts,
    consent_facts,
    granted_to_requester,
    requester_ancestors,
)
from sharing.consent.facts import CameraFacts, ConsentFacts, ConsentStatus, RequestFacts
from sharing.consent.links import consent_cameras
from sharing.consent.models import Consent
from sharing.consent.policy import consent_covers, consent_reaches
from sharing.consent.templates import PolicyLibrary
from sharing.errors import PermissionDenied
from sharing.federation.peers import ACTIVE, peer_by_issuer
from sharing.parties.models import Party
from sharing.principal import Principal
from sharing.vocabulary import Mode, Scope, Visibility

_ORDER = (Mode.FOOTAGE, Mode.LIVE)


async def catalog_for_caller(
    session: AsyncSession, principal: Principal, policies: PolicyLibrary, issuer: str, now: datetime
) -> tuple[bytes, str]:
    """The catalog for the calling peer (an active peer's client with ``federation:peer``),
    as the exact JSON body and its strong ETag (the body's SHA-256)."""
    principal.require(Scope.FEDERATION_PEER)
    peer = await peer_by_issuer(session, principal.client_id)
    if peer is None or peer.status != ACTIVE:
        raise PermissionDenied("only an active peer hub may read the catalog")
    catalog = await build_catalog(session, peer.party_id, policies, issuer, now)
    body = json.dumps(catalog, separators=(",", ":"), sort_keys=True).encode()
    return body, f'"{hashlib.sha256(body).hexdigest()}"'


async def build_catalog(
    session: AsyncSession, party_id: uuid.UUID, policies: PolicyLibrary, issuer: str, now: datetime
) -> dict[str, object]:
    """The cameras this hub shares with ``party_id``, ordered by id, as the JSON document
    ``Catalog`` describes (built as plain data: 20,000 models cost a tenth of a second).

    Each consent is judged once, not once per camera: which modes it offers the party does
    not depend on the camera; its selector then says which of its owner's active cameras it
    covers. A public grant only shares cameras their owner made public, as in search
    (``visible_cameras_clause``).
    """
    party = await session.get(Party, party_id)
    if party is None or not party.active:
        return {"hub": issuer, "cameras": []}
    ancestors = await requester_ancestors(session, party_id)
    offers = await _offers(session, party, ancestors, policies, now)
    shared: list[dict[str, object]] = []
    for camera in await _active_cameras_of(session, set(offers) - {party_id}):
        modes: set[str] = set()
        public_camera = camera.facts.visibility == Visibility.PUBLIC
        for offer in offers[camera.facts.owner_party_id]:
            if (public_camera or not offer.public) and consent_covers(offer.consent, camera.facts):
                modes |= offer.modes
        if modes:
            shared.append(
                {
                    "id": str(camera.facts.id),
                    "name": camera.name,
                    "latitude": camera.latitude,
                    "longitude": camera.longitude,
                    "tags": sorted(camera.facts.tags),
                    "modes": [str(mode) for mode in _ORDER if mode in modes],
                }
            )
    return {"hub": issuer, "cameras": shared}


@dataclass(frozen=True, slots=True)
class _Offer:
    """A consent that reaches the party, the modes it offers, and whether it is public (then
    it only shares cameras their owner made public, as in search)."""

    consent: ConsentFacts
    modes: frozenset[str]
    public: bool


@dataclass(frozen=True, slots=True)
class _Camera:
    facts: CameraFacts
    name: str
    latitude: float
    longitude: float


async def _active_cameras_of(session: AsyncSession, owners: set[uuid.UUID]) -> list[_Camera]:
    """The active cameras of ``owners`` with their tags, by id."""
    found: dict[uuid.UUID, tuple[Any, ...]] = {}
    tags: dict[uuid.UUID, set[str]] = {}
    owner_list = list(owners)
    # Core rows, not ORM ones: a catalog of 20,000 cameras spends most of its time here.
    connection = await session.connection()
    for start in range(0, len(owner_list), _OWNERS_PER_QUERY):
        rows = await connection.execute(
            _ACTIVE_CAMERAS, {"owners": owner_list[start : start + _OWNERS_PER_QUERY]}
        )
        for camera_id, name, latitude, longitude, owner, visibility, tag in rows:
            found[camera_id] = (name, latitude, longitude, owner, visibility)
            camera_tags = tags.setdefault(camera_id, set())
            if tag is not None:
                camera_tags.add(tag)
    return [
        _Camera(
            CameraFacts(cid, owner, CameraStatus.ACTIVE, visibility, frozenset(tags[cid])),
            name,
            latitude,
            longitude,
        )
        for cid, (name, latitude, longitude, owner, visibility) in sorted(found.items())
    ]


# Owners are bound as parameters; PostgreSQL allows 32,767 per statement.
_OWNERS_PER_QUERY = 5_000
_ACTIVE_CAMERAS = (
    select(
        col(Camera.id),
        col(Camera.name),
        col(Camera.latitude),
        col(Camera.longitude),
        col(Camera.owner_party_id),
        col(Camera.visibility),
        col(CameraTag.tag),
    )
    .outerjoin(CameraTag, col(CameraTag.camera_id) == col(Camera.id))
    .where(
        col(Camera.owner_party_id).in_(bindparam("owners", expanding=True)),
        col(Camera.status) == CameraStatus.ACTIVE,
    )
)


async def _offers(
    session: AsyncSession,
    party: Party,
    ancestors: frozenset[uuid.UUID],
    policies: PolicyLibrary,
    now: datetime,
) -> dict[uuid.UUID, list[_Offer]]:
    """By owner: each consent that reaches the party and passes the decision's state and
    agreement checks, with the modes it and its template allow."""
    rows = list(
        await session.scalars(
            select(Consent).where(
                col(Consent.status) == ConsentStatus.ACTIVE,
                granted_to_requester(),
            ),
            {"requester": party.id, "ancestors": list(ancestors)},
        )
    )
    listed = await consent_cameras(session, [row.id for row in rows])
    agreements = await agreement_facts(
        session, {row.agreement_id for row in rows}, party.id, ancestors
    )
    request = RequestFacts(
        requester_party_id=party.id,
        requester_party_kind=party.kind,
        camera_ids=(),
        mode=Mode.LIVE,
        purpose="",
        legal_basis="",
        footage_start=None,
        footage_end=None,
        requested_lifetime_seconds=None,
        requester_ancestor_ids=ancestors,
    )
    offers: dict[uuid.UUID, list[_Offer]] = {}
    for row in rows:
        consent = consent_facts(row, frozenset(listed[row.id]))
        if not consent_reaches(consent, request, agreements):
            continue
        agreement = agreements.get(consent.agreement_id)
        template = policies.get(agreement.policy_template) if agreement else None
        failures: list[str] = []

        def fail(code: str, _message: str, _rule: str, failures: list[str] = failures) -> None:
            failures.append(code)

        check_consent_state(consent, now, fail)
        check_agreement(request, consent, agreement, template, now, fail)
        if failures or template is None:
            continue
        modes = consent.modes & {str(mode) for mode in template.modes}
        if modes:
            offer = _Offer(consent, modes, is_public(consent))
            offers.setdefault(consent.grantor_party_id, []).append(offer)
    return offers
