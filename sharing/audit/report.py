"""The owners' access report, and the openings of the commitments in it.

An owner lists every decision on an access to their cameras, each with an inclusion proof in
a signed checkpoint and the leaf itself, so they can check without trusting the hub that the
entry is what the log holds. Sealed accesses are listed too, with only what may be shown
until their date (``sharing.access.seals``); nothing is left out. The police, who hold the
openings of the commitments in their requests' events, disclose them to a named auditor
party, which reads and checks them here. Owners never read openings.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.access.disclosure import REPORTED_ACTIONS, created_event_id
from sharing.access.seals import is_sealed, seals_of
from sharing.audit.checkpoints import checkpoint_covering
from sharing.audit.commitments import Opening
from sharing.audit.log import leaf_bytes
from sharing.audit.models import (
    AccessSeal,
    AuditDisclosure,
    AuditEvent,
    AuditEventCamera,
    AuditOpening,
)
from sharing.audit.proofs import leaves_and_inclusion_paths
from sharing.audit.service import record
from sharing.cameras.models import Camera
from sharing.clock import Clock, as_utc
from sharing.crypto import SecretBox
from sharing.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from sharing.parties.models import Party
from sharing.principal import Actor, Principal
from sharing.settings import Settings
from sharing.vocabulary import Scope

_ENDED = {"access_request.expired": "expired", "access_request.withdrawn": "withdrawn"}


@dataclass(frozen=True, slots=True)
class Proof:
    """Where an event sits in a signed checkpoint."""

    leaf_index: int
    leaf_hash: bytes
    tree_size: int
    path: list[bytes]
    checkpoint: str


@dataclass(frozen=True, slots=True)
class ReportItem:
    """One entry: an event on one camera, whether it is sealed, and its proof."""

    event: AuditEvent
    camera_id: str
    seal: AccessSeal | None
    sealed: bool
    proof: Proof

    @property
    def outcome(self) -> str:
        """What the event says happened to the request."""
        return _ENDED.get(self.event.action, self.event.outcome)

    @property
    def leaf(self) -> bytes:
        """The event's leaf bytes."""
        return leaf_bytes(self.event)


@dataclass(frozen=True, slots=True)
class Report:
    """A page of a party's access report."""

    party_id: uuid.UUID
    items: list[ReportItem]
    next_after: int | None


async def access_report(
    session: AsyncSession,
    principal: Principal,
    *,
    settings: Settings,
    clock: Clock,
    party_id: uuid.UUID | None = None,
    camera_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: int = -1,
    limit: int = 100,
) -> Report:
    """The accesses to the cameras of the caller's party (or of ``party_id``, for registry
    admins), in log order after event ``after``; ``limit`` counts events."""
    principal.require(Scope.AUDIT_READ)
    owner = _owner(principal, party_id)
    cameras = await _cameras_of(session, owner, camera_id)
    if not cameras:
        return Report(owner, [], None)
    linked = (
        select(col(AuditEventCamera.event_id))
        .join(AuditEvent, col(AuditEvent.id) == col(AuditEventCamera.event_id))
        .where(
            col(AuditEventCamera.camera_id).in_(cameras),
            col(AuditEvent.action).in_(REPORTED_ACTIONS),
            col(AuditEvent.id) > after,
        )
    )
    if since is not None:
        linked = linked.where(col(AuditEvent.occurred_at) >= since)
    if until is not None:
        linked = linked.where(col(AuditEvent.occurred_at) < until)
    event_ids = list(
        (
            await session.scalars(
                linked.distinct().order_by(col(AuditEventCamera.event_id)).limit(limit)
            )
        ).all()
    )
    if not event_ids:
        return Report(owner, [], None)
    items = await _items(session, event_ids, cameras, settings=settings, clock=clock)
    return Report(owner, items, event_ids[-1] if len(event_ids) == limit else None)


async def disclose_opening(
    session: AsyncSession,
    principal: Principal,
    event_id: int,
    field: str,
    auditor_party_id: uuid.UUID,
    *,
    clock: Clock,
    settings: Settings,
) -> tuple[AuditDisclosure, str]:
    """The holder of a commitment's opening (the requesting party) discloses it to a named
    auditor party; returns the disclosure and the commitment. Audited as
    ``audit_opening.disclosed``. Disclosing twice to the same party changes nothing."""
    principal.require(Scope.ACCESS_REQUEST)
    event, opening_row = await _opening_of(session, event_id, field)
    if opening_row.holder_party_id != principal.party_id:
        raise NotFound(f"no {field} opening of event {event_id}")
    commitment = _commitment_in(event, field)
    opening = Opening.unseal(SecretBox(settings), opening_row.opening_encrypted)
    if opening.commitment != commitment:
        raise Conflict(f"the stored opening does not open event {event_id}'s {field}")
    await _check_auditor(session, event, auditor_party_id, holder=principal.party_id)
    existing = await session.get(AuditDisclosure, (event_id, field, auditor_party_id))
    if existing is not None:
        return existing, commitment
    now = clock.now()
    disclosure = AuditDisclosure(
        event_id=event_id,
        field=field,
        auditor_party_id=auditor_party_id,
        disclosed_by=principal.subject,
        disclosed_at=now,
    )
    session.add(disclosure)
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="audit_opening.disclosed",
        object_type="audit_event",
        object_id=event_id,
        details={
            "event_id": event_id,
            "field": field,
            "commitment": commitment,
            "auditor_party_id": str(auditor_party_id),
        },
    )
    await session.commit()
    return disclosure, commitment


async def disclosed_openings(
    session: AsyncSession, principal: Principal, event_id: int, *, settings: Settings
) -> list[tuple[AuditDisclosure, str, Opening]]:
    """The openings of ``event_id`` disclosed to the caller's party, with the commitment
    each opens; 404 when none was."""
    principal.require(Scope.AUDIT_READ)
    disclosures = list(
        (
            await session.scalars(
                select(AuditDisclosure)
                .where(
                    col(AuditDisclosure.event_id) == event_id,
                    col(AuditDisclosure.auditor_party_id) == principal.party_id,
                )
                .order_by(col(AuditDisclosure.field))
            )
        ).all()
    )
    if not disclosures:
        raise NotFound(f"no opening of event {event_id} was disclosed to your party")
    box = SecretBox(settings)
    opened = []
    for disclosure in disclosures:
        event, row = await _opening_of(session, event_id, disclosure.field)
        opening = Opening.unseal(box, row.opening_encrypted)
        opened.append((disclosure, _commitment_in(event, disclosure.field), opening))
    return opened


# --- Private ------------------------------------------------------------------------------


def _owner(principal: Principal, party_id: uuid.UUID | None) -> uuid.UUID:
    if party_id is None or party_id == principal.party_id:
        return principal.party_id
    if not principal.is_registry_admin:
        raise PermissionDenied("only registry admins may read another party's access report")
    return party_id


async def _cameras_of(
    session: AsyncSession, owner: uuid.UUID, camera_id: uuid.UUID | None
) -> list[str]:
    query = select(col(Camera.id)).where(col(Camera.owner_party_id) == owner)
    if camera_id is not None:
        query = query.where(col(Camera.id) == camera_id)
    cameras = [str(camera) for camera in await session.scalars(query)]
    if camera_id is not None and not cameras:
        raise NotFound(f"no camera {camera_id} of this party")
    return cameras


async def _items(
    session: AsyncSession,
    event_ids: list[int],
    cameras: list[str],
    *,
    settings: Settings,
    clock: Clock,
) -> list[ReportItem]:
    events = {
        int(event.id or 0): event
        for event in await session.scalars(
            select(AuditEvent).where(col(AuditEvent.id).in_(event_ids))
        )
    }
    links: dict[int, list[str]] = defaultdict(list)
    for link_event, link_camera in await session.execute(
        select(col(AuditEventCamera.event_id), col(AuditEventCamera.camera_id))
        .where(
            col(AuditEventCamera.event_id).in_(event_ids),
            col(AuditEventCamera.camera_id).in_(cameras),
        )
        .order_by(col(AuditEventCamera.event_id), col(AuditEventCamera.camera_id))
    ):
        links[int(link_event)].append(str(link_camera))
    request_ids = {_request_id(event) for event in events.values()}
    seals = await seals_of(session, {r for r in request_ids if r is not None})
    checkpoint = await checkpoint_covering(session, settings, clock, max(event_ids))
    proven = await leaves_and_inclusion_paths(session, event_ids, checkpoint.tree_size)
    now = clock.now()
    items: list[ReportItem] = []
    for event_id in event_ids:
        event = events[event_id]
        request_id = _request_id(event)
        seal = seals.get(request_id) if request_id is not None else None
        leaf_hash, path = proven[event_id]
        assert leaf_hash is not None  # a reported event's leaf is in the tree it is proven in
        proof = Proof(
            leaf_index=event_id,
            leaf_hash=leaf_hash,
            tree_size=checkpoint.tree_size,
            path=path,
            checkpoint=checkpoint.note,
        )
        items.extend(
            ReportItem(event, camera, seal, is_sealed(seal, now), proof)
            for camera in links[event_id]
        )
    return items


def _request_id(event: AuditEvent) -> uuid.UUID | None:
    raw = event.details.get("request_id")
    try:
        return uuid.UUID(str(raw)) if raw is not None else None
    except ValueError:
        return None


async def _opening_of(
    session: AsyncSession, event_id: int, field: str
) -> tuple[AuditEvent, AuditOpening]:
    """The event and the stored opening of its ``field`` commitment (kept on its request's
    created event, whose commitment every later event of the request repeats)."""
    event = await session.get(AuditEvent, event_id)
    request_id = event.details.get("request_id") if event is not None else None
    origin = await created_event_id(session, str(request_id)) if request_id else None
    row = await session.get(AuditOpening, (origin, field)) if origin is not None else None
    if event is None or row is None or event.details.get(f"{field}_commitment") is None:
        raise NotFound(f"no {field} opening of event {event_id}")
    return event, row


def _commitment_in(event: AuditEvent, field: str) -> str:
    return str(event.details[f"{field}_commitment"])


async def _check_auditor(
    session: AsyncSession, event: AuditEvent, auditor_party_id: uuid.UUID, *, holder: uuid.UUID
) -> None:
    auditor = await session.get(Party, auditor_party_id)
    if auditor is None or not auditor.active:
        raise InvalidInput("auditor_party_id", "no active party with this id")
    if auditor_party_id == holder:
        raise InvalidInput("auditor_party_id", "name a party other than your own")
    cameras = event.details.get("camera_ids")
    camera_ids = [uuid.UUID(str(c)) for c in cameras] if isinstance(cameras, list) else []
    owners = set(
        await session.scalars(
            select(col(Camera.owner_party_id)).where(col(Camera.id).in_(camera_ids))
        )
    )
    if auditor_party_id in owners:
        raise InvalidInput(
            "auditor_party_id", "an owner of the access's cameras never reads its openings"
        )


def seal_date(item: ReportItem) -> datetime | None:
    """The date a sealed item's details are disclosed by."""
    return as_utc(item.seal.sealed_until) if item.sealed and item.seal is not None else None
