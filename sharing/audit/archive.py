"""Archival: move an old, checkpointed range of events out of the database into a bundle.

The only way audit events ever leave the database. The range runs from the end of the
previous archive to a signed checkpoint; it is exported, the bundle is verified, and only
then (``prune``) are its rows deleted, in one transaction that also records the archive
and logs an ``audit.range.archived`` event. The Merkle nodes stay, so every proof and every
later checkpoint still verifies, and a later bundle shows the range as archived.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sharing.audit.bundle import (
    ARCHIVED_ACTION,
    ExportError,
    ExportSummary,
    archived_ranges,
    checkpoint_size_or_latest,
    export_bundle,
    log_keys,
)
from sharing.audit.models import (
    AuditArchive,
    AuditEvent,
    AuditEventCamera,
    AuditOpening,
)
from sharing.audit.service import record
from sharing.audit.verify import VerificationReport, verify_bundle
from sharing.clock import Clock
from sharing.principal import Actor

_EVENTS: Table = AuditEvent.__table__  # type: ignore[attr-defined]
_CAMERAS: Table = AuditEventCamera.__table__  # type: ignore[attr-defined]
_OPENINGS: Table = AuditOpening.__table__  # type: ignore[attr-defined]
_ARCHIVES: Table = AuditArchive.__table__  # type: ignore[attr-defined]


class ArchiveError(ExportError):
    """The range cannot be archived (not at a checkpoint, already archived, fails to verify)."""


@dataclass(frozen=True, slots=True)
class ArchiveResult:
    """The bundle written, how it verified, and the archive row if the range was pruned."""

    export: ExportSummary
    first_event_id: int
    report: VerificationReport
    archive_id: uuid.UUID | None
    pruned_events: int


async def archived_through(session: AsyncSession) -> int:
    """Where the archived ranges end: events below it are no longer in the database."""
    end = await session.scalar(select(func.max(_ARCHIVES.c.end_event_id)))
    return int(end or 0)


async def archive_range(
    session: AsyncSession,
    clock: Clock,
    output: Path,
    *,
    through: int,
    prune: bool,
    location: str | None = None,
) -> ArchiveResult:
    """Export events from the end of the last archive up to checkpoint ``through`` into
    the bundle ``output`` and verify it; with ``prune``, delete them from the database."""
    first = await archived_through(session)
    await checkpoint_size_or_latest(session, through)
    if through <= first:
        raise ArchiveError(f"events below {first} are already archived; choose a later size")
    summary = await export_bundle(session, output, clock, through=through, events_from=first)
    keys = [vkey for vkey, _, _ in await log_keys(session)]
    report = await asyncio.to_thread(verify_bundle, output, log_keys=keys)
    if not report.ok:
        raise ArchiveError(
            f"the archive bundle {output} does not verify, so nothing was pruned: "
            + "; ".join(p.message for p in report.problems[:5])
        )
    if not prune:
        return ArchiveResult(summary, first, report, None, 0)
    await session.rollback()  # end the export's read transaction; the prune is its own
    archive_id, pruned = await _prune(session, clock, summary, first, location or _absolute(output))
    return ArchiveResult(summary, first, report, archive_id, pruned)


async def _prune(
    session: AsyncSession, clock: Clock, summary: ExportSummary, first: int, location: str
) -> tuple[uuid.UUID, int]:
    end = summary.tree_size
    now = clock.now()
    archive_id = uuid.uuid4()
    archived = [
        [row["first_event_id"], row["end_event_id"], row["bundle_sha256"]]
        for row in await archived_ranges(session, first)
    ]
    archived.append([first, end, summary.bundle_sha256])
    record(
        session,
        at=now,
        actor=Actor.system("archive"),
        action=ARCHIVED_ACTION,
        object_type="audit_archive",
        object_id=archive_id,
        details={
            "first_event_id": first,
            "end_event_id": end,
            "checkpoint_size": end,
            "bundle_sha256": summary.bundle_sha256,
            "location": location,
            "events": summary.events,
            # Every range archived so far: the newest such event vouches for all of them.
            "archived": archived,
        },
    )
    await session.flush()  # appending takes the log's lock: concurrent archives queue here
    if await archived_through(session) != first:
        await session.rollback()
        raise ArchiveError("another archive of this range was made meanwhile; nothing pruned")
    # Core statements: the ORM refuses to delete audit events, on purpose.
    for table, column in ((_CAMERAS, _CAMERAS.c.event_id), (_OPENINGS, _OPENINGS.c.event_id)):
        await session.execute(delete(table).where(column >= first, column < end))
    pruned: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        delete(_EVENTS).where(_EVENTS.c.id >= first, _EVENTS.c.id < end)
    )
    session.add(
        AuditArchive(
            id=archive_id,
            first_event_id=first,
            end_event_id=end,
            checkpoint_size=end,
            bundle_sha256=summary.bundle_sha256,
            location=location,
            archived_at=now,
        )
    )
    await session.commit()
    return archive_id, int(pruned.rowcount)


def _absolute(path: Path) -> str:
    return str(path.resolve())
