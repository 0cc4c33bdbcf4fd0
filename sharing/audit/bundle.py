"""Audit bundles: everything needed to check the log offline, written as one directory.

A bundle covers the log up to a signed checkpoint (its ``tree_size``) and holds:

``manifest.json``
    format, origin, tree size, counts, and the SHA-256 of every other file. Its own SHA-256
    names the bundle (an archive row records it).
``events.jsonl``
    one line per event still in the database: ``<id> <leaf bytes>``, the leaf bytes being
    ``sharing.audit.log.leaf_bytes`` of the row *as stored now*, so a row changed in the
    database exports changed bytes.
``leaves.bin``
    the stored leaf hashes (``merkle_node`` level 0), 32 bytes each, in index order.
``checkpoints.jsonl``
    every signed checkpoint up to ``tree_size``, each note with its cosignature lines.
``keys.json``
    the log's note keys (retired ones too) and the witnesses' keys.
``archives.json``
    ranges of events that were archived into other bundles and are no longer stored.

Export reads in keyset pages, so a log of millions of events streams through in constant
memory. See docs/audit-verification.md and docs/decisions/0013.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, cast

from sqlalchemy import Row, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sharing.audit import merkle
from sharing.audit.checkpoints import CHECKPOINT_KEY, log_head
from sharing.audit.log import leaf_bytes, timestamp_text
from sharing.audit.models import (
    AuditArchive,
    AuditCheckpoint,
    AuditCosignature,
    AuditEvent,
    AuditLogKey,
    AuditWitness,
    MerkleNode,
)
from sharing.audit.notes import Checkpoint, SignedNote
from sharing.clock import Clock

FORMAT = "sharing-audit-bundle/1"
MANIFEST = "manifest.json"
EVENTS = "events.jsonl"
LEAVES = "leaves.bin"
CHECKPOINTS = "checkpoints.jsonl"
KEYS = "keys.json"
ARCHIVES = "archives.json"
CONTENT_FILES = (EVENTS, LEAVES, CHECKPOINTS, KEYS, ARCHIVES)
ARCHIVED_ACTION = "audit.range.archived"

_PAGE = 5000
_EVENTS: Table = AuditEvent.__table__  # type: ignore[attr-defined]
_NODES: Table = MerkleNode.__table__  # type: ignore[attr-defined]
_CHECKPOINTS: Table = AuditCheckpoint.__table__  # type: ignore[attr-defined]
_COSIGNATURES: Table = AuditCosignature.__table__  # type: ignore[attr-defined]
_ARCHIVES: Table = AuditArchive.__table__  # type: ignore[attr-defined]
_KEYS: Table = AuditLogKey.__table__  # type: ignore[attr-defined]
_WITNESSES: Table = AuditWitness.__table__  # type: ignore[attr-defined]


class ExportError(ValueError):
    """The export cannot be made as asked (no checkpoint at that size, output exists...)."""


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export wrote."""

    path: Path
    tree_size: int
    events: int
    checkpoints: int
    archived_ranges: int
    missing_leaves: int
    log_size: int
    bundle_sha256: str


def event_line(event_id: int, leaf: bytes) -> bytes:
    """One line of ``events.jsonl``. RFC 8785 output never holds a raw newline."""
    return b"%d %s\n" % (event_id, leaf)


def manifest_sha256(bundle: Path) -> str:
    """The bundle's name: the SHA-256 of its manifest, which hashes every other file."""
    return hashlib.sha256((bundle / MANIFEST).read_bytes()).hexdigest()


class _HashingFile:
    """A file being written whose SHA-256 is kept as it grows."""

    def __init__(self, path: Path) -> None:
        self._file: IO[bytes] = path.open("wb")
        self._hash = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._hash.update(data)

    def close(self) -> str:
        self._file.close()
        return self._hash.hexdigest()


async def signed_sizes(session: AsyncSession) -> list[int]:
    """The tree sizes the log has signed checkpoints for, ascending."""
    rows = await session.execute(
        select(_CHECKPOINTS.c.tree_size).order_by(_CHECKPOINTS.c.tree_size)
    )
    return [int(size) for size in rows.scalars()]


async def checkpoint_size_or_latest(session: AsyncSession, through: int | None) -> int:
    """``through`` if a checkpoint was signed at exactly that size, else the latest signed
    size when ``through`` is None. Leaves past a checkpoint cannot be proven, so a bundle
    always ends at one."""
    if through is None:
        latest = await session.scalar(select(func.max(_CHECKPOINTS.c.tree_size)))
        if latest is None:
            raise ExportError(
                "the log has no signed checkpoint yet: run `sharing audit checkpoint`"
            )
        return int(latest)
    exists = await session.scalar(
        select(_CHECKPOINTS.c.tree_size).where(_CHECKPOINTS.c.tree_size == through)
    )
    if exists is None:
        below = await session.scalar(
            select(func.max(_CHECKPOINTS.c.tree_size)).where(_CHECKPOINTS.c.tree_size < through)
        )
        above = await session.scalar(
            select(func.min(_CHECKPOINTS.c.tree_size)).where(_CHECKPOINTS.c.tree_size > through)
        )
        nearest = ", ".join(str(s) for s in (below, above) if s is not None) or "none"
        raise ExportError(
            f"no checkpoint was signed at size {through}; a bundle must end at one "
            f"(nearest signed sizes: {nearest})"
        )
    return through


async def export_bundle(
    session: AsyncSession,
    output: Path,
    clock: Clock,
    *,
    through: int | None = None,
    events_from: int = 0,
) -> ExportSummary:
    """Write the bundle of the log up to checkpoint ``through`` (default: the latest) to
    the directory ``output``, which must not exist yet.

    ``events_from`` leaves out earlier events (an archive bundle holds only its own range;
    the leaves and checkpoints are always complete from 0, or nothing would verify).
    """
    partial = _start_directory(output)
    try:
        tree_size = await checkpoint_size_or_latest(session, through)
        log_size, _root = await log_head(session)
        origin = await _origin_at(session, tree_size)
        hashes: dict[str, str] = {}
        hashes[LEAVES], missing_leaves = await _write_leaves(session, partial / LEAVES, tree_size)
        hashes[EVENTS], events = await _write_events(
            session, partial / EVENTS, events_from, tree_size
        )
        hashes[CHECKPOINTS], checkpoints = await _write_checkpoints(
            session, partial / CHECKPOINTS, tree_size
        )
        hashes[KEYS] = _write_json(partial / KEYS, await _keys(session))
        # Read last: a range archived while this export ran is then listed, not missing.
        archives = await archived_ranges(session, tree_size)
        hashes[ARCHIVES] = _write_json(partial / ARCHIVES, archives)
        manifest = {
            "format": FORMAT,
            "origin": origin,
            "tree_size": tree_size,
            "log_size_at_export": log_size,
            "exported_at": timestamp_text(clock.now()),
            "counts": {
                "events": events,
                "leaves": tree_size,
                "checkpoints": checkpoints,
                "archived_ranges": len(archives),
            },
            "files": {name: hashes[name] for name in CONTENT_FILES},
        }
        _write_json(partial / MANIFEST, manifest)
        _finish_directory(partial, output)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return ExportSummary(
        path=output,
        tree_size=tree_size,
        events=events,
        checkpoints=checkpoints,
        archived_ranges=len(archives),
        missing_leaves=missing_leaves,
        log_size=log_size,
        bundle_sha256=manifest_sha256(output),
    )


async def _origin_at(session: AsyncSession, tree_size: int) -> str:
    """The origin the log signed its checkpoints under: the bundle is for that log, whatever
    the exporting host's settings say."""
    note = await session.scalar(
        select(_CHECKPOINTS.c.note).where(_CHECKPOINTS.c.tree_size == tree_size)
    )
    return Checkpoint.parse_body(SignedNote.parse(str(note)).body).origin


async def _write_leaves(session: AsyncSession, path: Path, tree_size: int) -> tuple[str, int]:
    """Write the stored leaf hashes; a hash missing from the table is written as zeros so
    that verification, not the export, says the tree was damaged."""
    out = _HashingFile(path)
    expected = 0
    missing = 0
    while expected < tree_size:
        query = (
            select(_NODES.c.idx, _NODES.c.hash)
            .where(_NODES.c.level == 0, _NODES.c.idx >= expected, _NODES.c.idx < tree_size)
            .order_by(_NODES.c.idx)
            .limit(_PAGE)
        )
        rows = (await session.execute(query)).all()
        if not rows:
            break
        for index, digest in rows:
            gap = int(index) - expected
            if gap:
                out.write(bytes(merkle.HASH_SIZE) * gap)
                missing += gap
            out.write(bytes(digest).ljust(merkle.HASH_SIZE, b"\0")[: merkle.HASH_SIZE])
            expected = int(index) + 1
    if expected < tree_size:
        out.write(bytes(merkle.HASH_SIZE) * (tree_size - expected))
        missing += tree_size - expected
    return out.close(), missing


async def _event_pages(
    session: AsyncSession, start: int, end: int
) -> AsyncIterator[Sequence[Row[Any]]]:
    after = start - 1
    while True:
        query = (
            select(_EVENTS)
            .where(_EVENTS.c.id > after, _EVENTS.c.id < end)
            .order_by(_EVENTS.c.id)
            .limit(_PAGE)
        )
        rows = (await session.execute(query)).all()
        if not rows:
            return
        yield rows
        after = int(rows[-1].id)


async def _write_events(session: AsyncSession, path: Path, start: int, end: int) -> tuple[str, int]:
    out = _HashingFile(path)
    count = 0
    async for rows in _event_pages(session, start, end):
        # A row carries every column the leaf reads; building ORM objects for a million
        # rows would cost more than the encoding itself.
        out.write(
            b"".join(event_line(int(row.id), leaf_bytes(cast(AuditEvent, row))) for row in rows)
        )
        count += len(rows)
    return out.close(), count


async def _write_checkpoints(session: AsyncSession, path: Path, tree_size: int) -> tuple[str, int]:
    cosignatures: dict[int, list[str]] = {}
    query = (
        select(_COSIGNATURES.c.tree_size, _COSIGNATURES.c.signature_line)
        .where(_COSIGNATURES.c.tree_size <= tree_size)
        .order_by(_COSIGNATURES.c.tree_size, _COSIGNATURES.c.witness_id)
    )
    for size, line in (await session.execute(query)).all():
        cosignatures.setdefault(int(size), []).append(line.rstrip("\n") + "\n")
    out = _HashingFile(path)
    count = 0
    after = -1
    while True:
        page = (
            select(_CHECKPOINTS.c.tree_size, _CHECKPOINTS.c.note, _CHECKPOINTS.c.signed_at)
            .where(_CHECKPOINTS.c.tree_size > after, _CHECKPOINTS.c.tree_size <= tree_size)
            .order_by(_CHECKPOINTS.c.tree_size)
            .limit(_PAGE)
        )
        rows = (await session.execute(page)).all()
        if not rows:
            break
        for size, note, signed_at in rows:
            # Cosignatures are further signature lines of the same note (C2SP tlog-cosignature).
            text = note + "".join(cosignatures.get(int(size), []))
            entry = {"tree_size": int(size), "signed_at": timestamp_text(signed_at), "note": text}
            out.write(json.dumps(entry, ensure_ascii=False).encode() + b"\n")
        count += len(rows)
        after = int(rows[-1][0])
    return out.close(), count


async def log_keys(session: AsyncSession) -> list[tuple[str, datetime, datetime | None]]:
    """The keys the log signed checkpoints with, retired ones too, oldest first: each one's
    vkey, creation and retirement."""
    query = (
        select(_KEYS.c.vkey, _KEYS.c.created_at, _KEYS.c.retired_at)
        .where(_KEYS.c.purpose == CHECKPOINT_KEY)
        .order_by(_KEYS.c.created_at)
    )
    rows = (await session.execute(query)).all()
    return [(str(vkey), created, retired) for vkey, created, retired in rows]


async def _keys(session: AsyncSession) -> dict[str, object]:
    witnesses = await session.execute(
        select(
            _WITNESSES.c.name, _WITNESSES.c.vkey, _WITNESSES.c.added_at, _WITNESSES.c.removed_at
        ).order_by(_WITNESSES.c.added_at)
    )
    return {
        "log": [
            {"vkey": vkey, "created_at": _when(created), "retired_at": _when(retired)}
            for vkey, created, retired in await log_keys(session)
        ],
        "witnesses": [
            {"name": name, "vkey": vkey, "added_at": _when(added), "removed_at": _when(removed)}
            for name, vkey, added, removed in witnesses.all()
        ],
    }


async def archived_ranges(session: AsyncSession, tree_size: int) -> list[dict[str, Any]]:
    """The ranges archived (and pruned) up to ``tree_size``, oldest first, as
    ``archives.json`` lists them."""
    query = (
        select(_ARCHIVES)
        .where(_ARCHIVES.c.end_event_id <= tree_size)
        .order_by(_ARCHIVES.c.first_event_id)
    )
    return [
        {
            "first_event_id": int(row.first_event_id),
            "end_event_id": int(row.end_event_id),
            "checkpoint_size": int(row.checkpoint_size),
            "bundle_sha256": row.bundle_sha256,
            "location": row.location,
            "archived_at": timestamp_text(row.archived_at),
        }
        for row in (await session.execute(query)).all()
    ]


def _start_directory(output: Path) -> Path:
    """The directory the bundle is written into, renamed to ``output`` once complete, so a
    half-written bundle never sits where a finished one is expected."""
    if output.exists():
        raise ExportError(f"{output} already exists; a bundle is never overwritten")
    partial = output.with_name(output.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    return partial


def _finish_directory(partial: Path, output: Path) -> None:
    partial.rename(output)


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else timestamp_text(moment)


def _write_json(path: Path, value: object) -> str:
    data = json.dumps(value, indent=2, ensure_ascii=False).encode() + b"\n"
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()
