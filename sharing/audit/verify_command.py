"""``sharing audit verify BUNDLE``: check an exported bundle offline."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sharing.audit.notes import NoteError
from sharing.audit.verify import BundleError, VerificationReport, verify_bundle
from sharing.settings import Settings

HELP = "verify an audit bundle offline: signatures, leaf hashes, consistency, every event"
_SHOWN_PROBLEMS = 50


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = HELP + ". Exit status 0 only when everything verifies."
    parser.add_argument("bundle", type=Path, help="the bundle directory")
    parser.add_argument(
        "--log-key",
        action="append",
        default=[],
        metavar="VKEY",
        help="the log's published verifier key (or a file holding it); repeat for old keys. "
        "Without it the bundle's own keys are trusted on first use",
    )
    parser.add_argument(
        "--witness",
        action="append",
        default=[],
        metavar="VKEY",
        help="a witness key that must have cosigned at least one checkpoint; repeatable",
    )
    parser.add_argument(
        "--archive",
        action="append",
        default=[],
        type=Path,
        metavar="BUNDLE",
        help="an archive bundle of a range this bundle lists as archived, checked alongside",
    )
    parser.add_argument("--workers", type=int, help="processes for the events (default: auto)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(_settings: Settings, args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        report = verify_bundle(
            args.bundle,
            log_keys=args.log_key,
            witness_keys=args.witness,
            archives=args.archive,
            workers=args.workers,
        )
    except (BundleError, NoteError, OSError) as exc:  # not a bundle, or a bad key given
        print(f"sharing audit verify: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps(report.to_json() | {"seconds": round(elapsed, 3)}, indent=2))
    else:
        print(describe(report, elapsed))
    return 0 if report.ok else 1


def describe(report: VerificationReport, seconds: float) -> str:
    """The report for people."""
    lines = [
        f"bundle {report.bundle}",
        f"log {report.origin}, tree size {report.tree_size}, "
        f"{report.checkpoints_verified} checkpoints verified",
        f"events: {report.events_verified} of {report.events_checked} verified, "
        f"{report.archived_events} archived",
    ]
    lines += [
        f"  events {r.first} to {r.end - 1} are archived in bundle {r.bundle_sha256} "
        f"({r.location}){', verified alongside' if r.verified_bundle else ''}"
        for r in report.archived
    ]
    lines += [
        f"witness {name} cosigned up to size {size}" for name, size in report.witnesses.items()
    ]
    lines += [f"warning: {warning}" for warning in report.warnings]
    if report.problems:
        lines.append(f"{len(report.problems)} problems:")
        lines += [f"  - {p.message}" for p in report.problems[:_SHOWN_PROBLEMS]]
        if len(report.problems) > _SHOWN_PROBLEMS:
            lines.append(
                f"  ... and {len(report.problems) - _SHOWN_PROBLEMS} more (--json lists all)"
            )
    lines.append(f"{'OK' if report.ok else 'FAILED'} in {seconds:.1f} s")
    return "\n".join(lines)
