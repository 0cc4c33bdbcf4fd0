"""``sharing audit export``: write a bundle that anyone can verify offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from sharing.audit.bundle import ExportError, ExportSummary, export_bundle
from sharing.audit.checkpoints import sign_checkpoint
from sharing.clock import SystemClock
from sharing.db import run_with_session
from sharing.settings import Settings

HELP = "export the audit log up to a signed checkpoint as a bundle for `sharing audit verify`"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        HELP + ". Events after the chosen checkpoint are left out: no signature covers them."
    )
    parser.add_argument("--output", type=Path, required=True, help="the bundle directory to create")
    parser.add_argument(
        "--through",
        type=int,
        metavar="SIZE",
        help="end at the checkpoint of this tree size (default: the latest checkpoint)",
    )
    parser.add_argument(
        "--sign-checkpoint",
        action="store_true",
        help="sign a checkpoint of the log's head first, so the bundle holds every event",
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        summary = run_with_session(settings, lambda session: _export(session, settings, args))
    except ExportError as exc:
        print(f"sharing audit export: {exc}", file=sys.stderr)
        return 1
    print(describe(summary))
    if summary.log_size > summary.tree_size and args.through is None:
        print(
            f"{summary.log_size - summary.tree_size} events after checkpoint "
            f"{summary.tree_size} are not in the bundle: no checkpoint covers them yet "
            "(use --sign-checkpoint)"
        )
    if summary.missing_leaves:
        print(
            f"warning: {summary.missing_leaves} leaf hashes are missing from the database; "
            "the bundle will not verify",
            file=sys.stderr,
        )
    return 0


def describe(summary: ExportSummary) -> str:
    """What an export wrote, in a few lines."""
    return (
        f"wrote {summary.path}: {summary.events} events, {summary.checkpoints} checkpoints, "
        f"tree size {summary.tree_size}, {summary.archived_ranges} archived ranges\n"
        f"bundle sha256 {summary.bundle_sha256}"
    )


async def _export(
    session: AsyncSession, settings: Settings, args: argparse.Namespace
) -> ExportSummary:
    clock = SystemClock()
    if args.sign_checkpoint:
        await sign_checkpoint(session, settings, clock)
    return await export_bundle(session, args.output, clock, through=args.through)
