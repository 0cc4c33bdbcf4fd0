"""What the audit log shows the world: its keys, its checkpoints with their cosignatures,
and inclusion and consistency proofs against those checkpoints.

Proofs are only given against checkpointed sizes: a proof is worth something to a verifier
only next to a root the log signed (and witnesses cosigned).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit import proofs
from sharing.audit.archive import archived_through
from sharing.audit.checkpoints import (
    CHECKPOINT_KEY,
    WITNESS_KEY,
    checkpoint_covering,
    latest_checkpoint,
    log_head,
    note_signer,
    published_keys,
    sign_checkpoint,
)
from sharing.audit.log_schemas import (
    AuditLogInfo,
    CheckpointPage,
    CheckpointSigned,
    CheckpointSummary,
    ConsistencyProof,
    InclusionProof,
    WitnessRead,
)
from sharing.audit.models import (
    AuditCheckpoint,
    AuditCosignature,
    AuditEvent,
    AuditEventCamera,
    AuditWitness,
)
from sharing.audit.notes import b64
from sharing.cameras.models import Camera
from sharing.clock import Clock, as_utc
from sharing.errors import Conflict, InvalidInput, NotFound
from sharing.parties.models import Party
from sharing.principal import Principal
from sharing.settings import Settings
from sharing.vocabulary import PartyKind, Scope


async def log_info(session: AsyncSession, settings: Settings, clock: Clock) -> AuditLogInfo:
    """The log's origin, keys, size and witnesses. The keys are made at first ask, so they
    can be published (and a partner can register the witness key) before any checkpoint."""
    now = clock.now()
    checkpoint_signer = await note_signer(session, settings, now, CHECKPOINT_KEY)
    witness_signer = await note_signer(session, settings, now, WITNESS_KEY)
    keys = await published_keys(session)
    size, _ = await log_head(session)
    latest = await latest_checkpoint(session)
    return AuditLogInfo(
        origin=settings.log_origin,
        checkpoint_key=checkpoint_signer.verifier.vkey(),
        witness_key=witness_signer.verifier.vkey(),
        retired_keys=[key.vkey for key in keys if key.retired_at is not None],
        tree_size=size,
        checkpoint_size=latest.tree_size if latest else None,
        witnesses=await active_witnesses(session),
    )


async def active_witnesses(session: AsyncSession) -> list[WitnessRead]:
    query = (
        select(AuditWitness)
        .where(col(AuditWitness.removed_at).is_(None))
        .order_by(col(AuditWitness.added_at), col(AuditWitness.name))
    )
    return [witness_read(row) for row in (await session.execute(query)).scalars()]


def witness_read(row: AuditWitness) -> WitnessRead:
    return WitnessRead(
        id=row.id,
        name=row.name,
        vkey=row.vkey,
        party_id=row.party_id,
        added_at=as_utc(row.added_at),
        removed_at=as_utc(row.removed_at) if row.removed_at else None,
    )


async def list_checkpoints(
    session: AsyncSession, *, before: int | None, limit: int
) -> CheckpointPage:
    """Checkpoints newest first, each with how many witnesses cosigned it."""
    cosignatures = (
        select(func.count())
        .where(col(AuditCosignature.tree_size) == col(AuditCheckpoint.tree_size))
        .scalar_subquery()
    )
    query = select(AuditCheckpoint, cosignatures)
    if before is not None:
        query = query.where(col(AuditCheckpoint.tree_size) < before)
    query = query.order_by(col(AuditCheckpoint.tree_size).desc()).limit(limit)
    rows = (await session.execute(query)).all()
    items = [
        CheckpointSummary(
            tree_size=checkpoint.tree_size,
            root_hash=b64(checkpoint.root_hash),
            signed_at=as_utc(checkpoint.signed_at),
            cosignatures=int(count),
        )
        for checkpoint, count in rows
    ]
    return CheckpointPage(
        items=items, next_before=items[-1].tree_size if len(items) == limit else None
    )


async def checkpoint_text(session: AsyncSession, tree_size: int | None) -> str:
    """The signed note of checkpoint ``tree_size`` (the latest when None) with every stored
    cosignature line appended: the C2SP form witnesses and verifiers parse."""
    found = await signed_note(session, tree_size)
    if found is None:
        raise NotFound(_no_checkpoint(tree_size))
    return found[1]


async def signed_note(session: AsyncSession, tree_size: int | None) -> tuple[int, str] | None:
    """The size and cosigned note of checkpoint ``tree_size`` (the latest when None), or
    None if there is none: the checkpoint and its cosignatures in one query."""
    size = (
        select(func.max(col(AuditCheckpoint.tree_size))).scalar_subquery()
        if tree_size is None
        else tree_size
    )
    query = (
        select(
            col(AuditCheckpoint.tree_size),
            col(AuditCheckpoint.note),
            col(AuditCosignature.signature_line),
        )
        .outerjoin(
            AuditCosignature, col(AuditCosignature.tree_size) == col(AuditCheckpoint.tree_size)
        )
        .where(col(AuditCheckpoint.tree_size) == size)
        .order_by(col(AuditCosignature.cosigned_at), col(AuditCosignature.witness_id))
    )
    rows = (await session.execute(query)).all()
    if not rows:
        return None
    lines = "".join(line for _, _, line in rows if line is not None)
    return int(rows[0][0]), rows[0][1] + lines


async def with_cosignatures(session: AsyncSession, checkpoint: AuditCheckpoint) -> str:
    query = (
        select(col(AuditCosignature.signature_line))
        .where(col(AuditCosignature.tree_size) == checkpoint.tree_size)
        .order_by(col(AuditCosignature.cosigned_at), col(AuditCosignature.witness_id))
    )
    lines = (await session.execute(query)).scalars()
    return checkpoint.note + "".join(lines)


@dataclass(frozen=True, slots=True)
class SignedNow:
    checkpoint: CheckpointSigned
    created: bool


async def sign_now(
    session: AsyncSession, principal: Principal, settings: Settings, clock: Clock
) -> SignedNow:
    """Sign a checkpoint of the head now, unless the latest one already covers it."""
    principal.require(Scope.REGISTRY_ADMIN)
    before = await latest_checkpoint(session)
    before_size = before.tree_size if before else 0
    checkpoint = await sign_checkpoint(session, settings, clock)
    if checkpoint is None:
        raise Conflict("the audit log is empty: there is nothing to sign")
    signed = CheckpointSigned(
        tree_size=checkpoint.tree_size,
        root_hash=b64(checkpoint.root_hash),
        signed_at=as_utc(checkpoint.signed_at),
        note=await with_cosignatures(session, checkpoint),
    )
    return SignedNow(signed, created=checkpoint.tree_size > before_size)


async def inclusion_proof(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    clock: Clock,
    event_id: int,
    tree_size: int | None,
) -> InclusionProof:
    """Prove event ``event_id`` is leaf ``event_id`` of checkpoint ``tree_size`` (the
    latest, signed now if the event is newer). Only for callers who may see the event; an
    archived event's leaf only for those who read everything (see docs/audit-verification.md)."""
    principal.require(Scope.AUDIT_READ)
    archived = await _archived_if_provable(session, principal, event_id)
    size, note = await _checkpoint_covering(session, settings, clock, event_id, tree_size)
    leaf, path = await proofs.leaf_and_inclusion_path(session, event_id, size)
    if leaf is None:  # an event without its leaf: the tree in the database was damaged
        raise Conflict(f"the log holds no leaf for event {event_id}")
    return InclusionProof(
        log_id=settings.log_origin,
        tree_size=size,
        leaf_index=event_id,
        inclusion_path=[b64(digest) for digest in path],
        leaf_hash=b64(leaf),
        checkpoint=note,
        archived=archived,
    )


async def _archived_if_provable(session: AsyncSession, principal: Principal, event_id: int) -> bool:
    """NotFound unless the caller may have event ``event_id``'s proof; then whether the event
    is archived. What decides is read in one query, as proofs are asked for often."""
    facts = select(
        exists().where(col(AuditEvent.id) == event_id),
        select(col(AuditEvent.actor_party_id))
        .where(col(AuditEvent.id) == event_id)
        .scalar_subquery(),
        _party_kind(principal).scalar_subquery(),
    )
    stored, actor_party_id, kind = (await session.execute(facts)).one()
    everything = _reads_everything(principal, kind)
    if stored:
        if everything or actor_party_id == str(principal.party_id):
            return False
        if await _concerns_cameras_of(session, principal, event_id):
            return False
    elif everything and event_id < await archived_through(session):
        return True
    raise NotFound(f"no audit event {event_id}")


async def _checkpoint_covering(
    session: AsyncSession, settings: Settings, clock: Clock, event_id: int, tree_size: int | None
) -> tuple[int, str]:
    if tree_size is None:
        latest = await signed_note(session, None)
        if latest is not None and latest[0] > event_id:
            return latest
        signed = await checkpoint_covering(session, settings, clock, event_id)
        return signed.tree_size, await with_cosignatures(session, signed)
    if tree_size <= event_id:
        raise InvalidInput(
            "tree_size", f"event {event_id} is only in trees of {event_id + 1} leaves or more"
        )
    found = await signed_note(session, tree_size)
    if found is None:
        raise NotFound(_no_checkpoint(tree_size))
    return found


async def _concerns_cameras_of(session: AsyncSession, principal: Principal, event_id: int) -> bool:
    """Whether the event concerns a camera the caller's party owns."""
    linked = select(col(AuditEventCamera.camera_id)).where(
        col(AuditEventCamera.event_id) == event_id
    )
    camera_ids = [_uuid(text) for text in (await session.execute(linked)).scalars()]
    owned = select(col(Camera.id)).where(
        col(Camera.id).in_([c for c in camera_ids if c is not None]),
        col(Camera.owner_party_id) == principal.party_id,
    )
    return (await session.execute(owned.limit(1))).first() is not None


def _uuid(text: str) -> uuid.UUID | None:
    # The links are kept as text (they are written before any foreign row could be checked).
    try:
        return uuid.UUID(str(text))
    except ValueError:
        return None


async def reads_everything(session: AsyncSession, principal: Principal) -> bool:
    """Whether the caller reads every event: registry admins and the hub operator's own
    party (kind ``command_center``, e.g. its inspectorate)."""
    if principal.is_registry_admin:
        return True
    return _reads_everything(principal, await session.scalar(_party_kind(principal)))


def _party_kind(principal: Principal) -> Select[Any]:
    return select(col(Party.kind)).where(col(Party.id) == principal.party_id)


def _reads_everything(principal: Principal, party_kind: object) -> bool:
    return principal.is_registry_admin or party_kind == PartyKind.COMMAND_CENTER


async def consistency_proof(
    session: AsyncSession, settings: Settings, first: int, second: int
) -> ConsistencyProof:
    """Prove checkpoint ``first`` is a prefix of checkpoint ``second``."""
    if first > second:
        raise InvalidInput("first", "must not be larger than second")
    for size in {first, second}:
        if await session.get(AuditCheckpoint, size) is None:
            raise NotFound(_no_checkpoint(size))
    path = await proofs.consistency_path(session, first, second)
    return ConsistencyProof(
        log_id=settings.log_origin,
        tree_size_1=first,
        tree_size_2=second,
        consistency_path=[b64(digest) for digest in path],
    )


def _no_checkpoint(tree_size: int | None) -> str:
    if tree_size is None:
        return "no checkpoint has been signed yet"
    return f"no checkpoint of size {tree_size}; GET /audit/checkpoints lists them"
