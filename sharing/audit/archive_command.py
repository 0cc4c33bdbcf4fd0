"""``sharing audit archive``: seal an old range of events into a verified bundle."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from sharing.audit.archive import ArchiveResult, archive_range
from sharing.audit.bundle import ExportError
from sharing.audit.export_command import describe
from sharing.clock import SystemClock
from sharing.db import run_with_session
from sharing.settings import Settings

HELP = "archive events up to a signed checkpoint into a verified bundle (--prune deletes them)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        HELP
        + ". The range starts where the previous archive ended. See docs/audit-verification.md."
    )
    parser.add_argument(
        "--through", type=int, required=True, metavar="SIZE", help="a signed checkpoint's size"
    )
    parser.add_argument("--output", type=Path, required=True, help="the bundle directory to create")
    parser.add_argument(
        "--location",
        help="where the bundle will be kept, as recorded in the log (default: the output path)",
    )
    parser.add_argument(
        "--prune",
        action="store_true",
        help="after the bundle verifies, delete the range's events from the database",
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        result = run_with_session(settings, lambda session: _archive(session, args))
    except ExportError as exc:
        print(f"sharing audit archive: {exc}", file=sys.stderr)
        return 1
    print(describe(result.export))
    last = result.export.tree_size - 1
    print(f"events {result.first_event_id} to {last}: the bundle verifies")
    if result.archive_id is None:
        print("nothing pruned (no --prune); the events stay in the database")
    else:
        print(
            f"pruned {result.pruned_events} events; archive {result.archive_id} recorded in the log"
        )
    return 0


async def _archive(session: AsyncSession, args: argparse.Namespace) -> ArchiveResult:
    return await archive_range(
        session,
        SystemClock(),
        args.output,
        through=args.through,
        prune=args.prune,
        location=args.location,
    )
