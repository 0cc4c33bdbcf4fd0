"""The Merkle log over the audit events: leaf encoding, appends, and group commit.

Every event becomes a leaf the moment it is flushed, inside the transaction that records it:
a ``before_flush`` hook locks the log's head row, gives each new event the next leaf index
as its id, stores the nodes the leaves complete and moves the head. The lock is held until
that transaction commits, so leaf order is commit order and an event is in the tree exactly
when it is durable. Events with no other change to ride on (the gateway's verdicts) go
through ``AuditAppender``, which commits a burst of them in one transaction and answers each
caller only after that commit.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import rfc8785
from sqlalchemy import Table, event, insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from sharing.audit import merkle
from sharing.audit.models import AuditEvent, AuditEventCamera, AuditLogHead, MerkleNode
from sharing.clock import as_utc

_PENDING_KEY = "sharing.audit.pending"
_EVENTS: Table = AuditEvent.__table__  # type: ignore[attr-defined]
_HEAD: Table = AuditLogHead.__table__  # type: ignore[attr-defined]
_NODES: Table = MerkleNode.__table__  # type: ignore[attr-defined]
_CAMERAS: Table = AuditEventCamera.__table__  # type: ignore[attr-defined]

# Taking the head row for update is the log's lock on both databases: PostgreSQL locks the
# row, SQLite takes its one write lock. RETURNING reads the head as of that lock.
_LOCK_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(size=_HEAD.c.size)
    .returning(_HEAD.c.size, _HEAD.c.frontier)
)


class LogNotInitialised(RuntimeError):
    """The database has no log head row: it was not created by the migrations."""


def timestamp_text(moment: datetime) -> str:
    """An event's time as it appears in its leaf: UTC, microseconds, ``Z``."""
    return as_utc(moment).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(slots=True)
class EventDraft:
    """An event's columns before it has its place in the log, for the appender.

    The appender inserts rows without the ORM, and building a SQLModel object costs more
    than appending it (about 45 µs against 60 µs), so events bound for it are plain data.
    """

    occurred_at: datetime
    action: str
    actor_party_id: str | None
    actor_member_id: str | None
    actor_client_id: str | None
    object_type: str
    object_id: str
    purpose: str | None
    outcome: str
    details: dict[str, object]
    id: int | None = None


def leaf_fields(audit_event: AuditEvent | EventDraft) -> dict[str, object]:
    """What an event's leaf commits to: every column but the id, which is the leaf's
    position in the tree and so is committed to by the tree itself."""
    return {
        "occurred_at": timestamp_text(audit_event.occurred_at),
        "action": audit_event.action,
        "actor_party_id": audit_event.actor_party_id,
        "actor_member_id": audit_event.actor_member_id,
        "actor_client_id": audit_event.actor_client_id,
        "object_type": audit_event.object_type,
        "object_id": audit_event.object_id,
        "purpose": audit_event.purpose,
        "outcome": audit_event.outcome,
        "details": audit_event.details,
    }


def leaf_bytes(audit_event: AuditEvent | EventDraft) -> bytes:
    """The leaf: the event's fields as RFC 8785 canonical JSON."""
    return canonical_json(leaf_fields(audit_event))


# RFC 8785 numbers are IEEE doubles: integers beyond this are refused, not rounded.
_LARGEST_EXACT_INTEGER = 2**53 - 1
# Past this many values the check gives up (to rfc8785), so a cyclic value cannot hang it.
_PLAIN_CHECK_LIMIT = 10_000


def canonical_json(value: object) -> bytes:
    """``value`` as RFC 8785 canonical JSON, byte for byte what ``rfc8785.dumps`` writes.

    Every leaf is encoded on the append path, and ``rfc8785`` is pure Python. For the values
    events hold (ASCII strings, safe integers, booleans, null, objects and arrays of them) the
    standard library's C encoder writes the same bytes: keys sorted by code point equal keys
    sorted by UTF-16 unit when they are ASCII, and both escape only ``"``, ``\\`` and control
    characters, in the same forms. Anything else (floats, non-ASCII text, large integers,
    subclasses such as enums) goes to ``rfc8785``, which formats or refuses it as the RFC says.
    """
    if _is_plain(value):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return rfc8785.dumps(value)  # type: ignore[arg-type]


def _is_plain(value: object) -> bool:
    """Whether the standard encoder writes ``value`` exactly as RFC 8785 does (see above).
    Exact types only: a subclass (an enum, say) is left to ``rfc8785`` to judge."""
    waiting = [value]
    for _ in range(_PLAIN_CHECK_LIMIT):
        if not waiting:
            return True
        item = waiting.pop()
        if item is None or isinstance(item, bool):
            continue
        if isinstance(item, str):
            if type(item) is not str or not item.isascii():
                return False
        elif isinstance(item, int):
            if (
                type(item) is not int
                or not -_LARGEST_EXACT_INTEGER <= item <= _LARGEST_EXACT_INTEGER
            ):
                return False
        elif isinstance(item, dict):
            if type(item) is not dict:
                return False
            for key, inner in item.items():
                if type(key) is not str or not key.isascii():
                    return False
                waiting.append(inner)
        elif type(item) is list or type(item) is tuple:
            waiting.extend(item)
        else:
            return False
    return False


@dataclass(slots=True)
class PendingEvent:
    """An event recorded in a session and not yet flushed, with the cameras it concerns."""

    audit_event: AuditEvent | EventDraft
    camera_ids: tuple[str, ...] = ()


def note_pending(session: AsyncSession, pending: PendingEvent) -> None:
    """Queue an event added to ``session`` for its leaf index at the next flush."""
    queue: list[PendingEvent] = session.sync_session.info.setdefault(_PENDING_KEY, [])
    queue.append(pending)


@event.listens_for(Session, "before_flush")
def _append_pending_events(session: Session, _context: Any, _instances: Any) -> None:
    """Give the events about to be inserted their leaf indices, in the order recorded.
    Runs in SQLAlchemy's greenlet, so it may execute statements synchronously."""
    queued: list[PendingEvent] = session.info.pop(_PENDING_KEY, [])
    pending = [item for item in queued if item.audit_event in session.new]
    if pending:
        _append(session, pending)


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _refuse_rewriting_history(_mapper: Any, _connection: Any, target: AuditEvent) -> None:
    raise RuntimeError(f"audit event {target.id} is in the log and cannot change")


@event.listens_for(Session, "after_soft_rollback")
def _forget_pending_events(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING_KEY, None)


def _append(session: Session, pending: Sequence[PendingEvent]) -> None:
    """Append ``pending`` to the log inside the session's transaction."""
    head = session.execute(_LOCK_HEAD).one_or_none()
    if head is None:
        raise LogNotInitialised("the audit log head is missing; run `sharing migrate`")
    frontier = merkle.Frontier.from_bytes(head.size, head.frontier)
    nodes: list[dict[str, object]] = []
    links: list[dict[str, object]] = []
    for item in pending:
        item.audit_event.id = frontier.size
        for level, index, digest in frontier.append(merkle.leaf_hash(leaf_bytes(item.audit_event))):
            nodes.append({"level": level, "idx": index, "hash": digest})
        links.extend({"camera_id": c, "event_id": item.audit_event.id} for c in item.camera_ids)
    session.execute(insert(_NODES), nodes)
    if links:
        session.execute(insert(_CAMERAS), links)
    session.execute(
        update(_HEAD)
        .where(_HEAD.c.id == 1)
        .values(size=frontier.size, root=frontier.root(), frontier=frontier.to_bytes())
    )


@dataclass(slots=True)
class _Waiting:
    pending: PendingEvent
    done: asyncio.Future[int]


class AuditAppender:
    """Group commit for events that are the whole change (e.g. a gateway verdict).

    ``append`` returns only once its event is committed. The first caller while no batch is
    being written starts one; everyone who arrives while it commits goes into the next, so
    a burst of a thousand verdicts costs a handful of transactions, not a thousand.
    """

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], max_batch: int = 5000
    ) -> None:
        self.sessionmaker = sessionmaker
        self.max_batch = max_batch
        self._queue: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def append(self, audit_event: EventDraft, camera_ids: Iterable[str] = ()) -> int:
        """Record ``audit_event``; returns its id once it is durable."""
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(PendingEvent(audit_event, tuple(camera_ids)), done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_batches())
        return await done

    async def _write_batches(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            try:
                await self._write([w.pending for w in batch])
            except Exception as exc:  # every caller in the batch learns it was not recorded
                for waiting in batch:
                    if not waiting.done.done():
                        waiting.done.set_exception(exc)
                continue
            for waiting in batch:
                if not waiting.done.done():
                    waiting.done.set_result(int(waiting.pending.audit_event.id or 0))

    async def _write(self, batch: Sequence[PendingEvent]) -> None:
        async with self.sessionmaker() as session:
            await session.run_sync(_append, batch)
            await session.execute(insert(_EVENTS), [_row(item.audit_event) for item in batch])
            await session.commit()


def _row(audit_event: AuditEvent | EventDraft) -> dict[str, object]:
    return {
        "id": audit_event.id,
        "occurred_at": audit_event.occurred_at,
        "action": audit_event.action,
        "actor_party_id": audit_event.actor_party_id,
        "actor_member_id": audit_event.actor_member_id,
        "actor_client_id": audit_event.actor_client_id,
        "object_type": audit_event.object_type,
        "object_id": audit_event.object_id,
        "purpose": audit_event.purpose,
        "outcome": audit_event.outcome,
        "details": audit_event.details,
    }


def new_event(
    *,
    at: datetime,
    actor_party_id: str | None,
    actor_member_id: str | None,
    actor_client_id: str | None,
    action: str,
    object_type: str,
    object_id: object,
    outcome: str,
    purpose: str | None,
    details: Mapping[str, object] | None,
) -> EventDraft:
    """An event for ``AuditAppender.append``."""
    return EventDraft(
        occurred_at=at,
        action=action,
        actor_party_id=actor_party_id,
        actor_member_id=actor_member_id,
        actor_client_id=actor_client_id,
        object_type=object_type,
        object_id=str(object_id),
        purpose=purpose,
        outcome=outcome,
        details=dict(details or {}),
    )
