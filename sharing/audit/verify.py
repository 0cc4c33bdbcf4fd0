"""Offline verification of an audit bundle (``sharing.audit.bundle``): no database, no network.

What is checked, and what it proves:

1. every checkpoint's signature, by the pinned log key (or, unpinned, the bundle's own keys,
   trusted on first use), and the cosignatures of the witnesses;
2. that the leaf hashes reproduce every signed root (one streaming pass, RFC 9162), which
   makes the leaf list authentic and the checkpoints consistent with each other;
3. that every event's bytes hash to the authentic leaf at its id, are RFC 8785 canonical,
   and come in increasing id order; that no leaf lacks its event unless its range was
   archived by a logged ``audit.range.archived`` event.

Whatever fails is named: the event altered, missing or reordered, the checkpoint whose root
the leaves do not reproduce, the leaf hash rewritten. Large bundles are checked in chunks on
every core.
"""

from __future__ import annotations

import json
import mmap
import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sharing.audit import merkle
from sharing.audit.bundle import ARCHIVED_ACTION, ARCHIVES, KEYS, LEAVES, manifest_sha256
from sharing.audit.notes import NoteError
from sharing.audit.verify_checkpoints import (
    check_checkpoints,
    check_file_hashes,
    log_keys_to_trust,
    read_manifest,
    witness_keys_to_check,
)
from sharing.audit.verify_events import EventScan, merge_scans, start_event_scan
from sharing.audit.verify_report import ArchivedRange as ArchivedRange
from sharing.audit.verify_report import BundleError as BundleError
from sharing.audit.verify_report import Problem as Problem
from sharing.audit.verify_report import VerificationReport as VerificationReport
from sharing.audit.verify_report import subtract, union

_HASH = merkle.HASH_SIZE


def verify_bundle(
    path: Path | str,
    *,
    log_keys: Sequence[str] = (),
    witness_keys: Sequence[str] = (),
    archives: Sequence[Path | str] = (),
    workers: int | None = None,
) -> VerificationReport:
    """Verify the bundle at ``path``.

    ``log_keys`` pins the log's verifier keys (vkeys); without them the bundle's own keys
    are used and a warning says so. ``witness_keys`` must each have cosigned at least one
    checkpoint. ``archives`` are bundles of archived ranges, checked alongside so their
    events count as verified. ``workers`` overrides the number of processes for the events.
    """
    bundle = Path(path)
    try:
        return _verify(bundle, log_keys, witness_keys, archives, workers)
    except (NoteError, BundleError):
        raise
    except (KeyError, TypeError, ValueError) as exc:  # a file of the bundle is malformed
        raise BundleError(f"{bundle} cannot be read as an audit bundle: {exc!r}") from exc


def _verify(
    bundle: Path,
    log_keys: Sequence[str],
    witness_keys: Sequence[str],
    archives: Sequence[Path | str],
    workers: int | None,
) -> VerificationReport:
    report = VerificationReport(bundle=str(bundle))
    manifest = read_manifest(bundle)
    report.origin = str(manifest["origin"])
    report.tree_size = tree_size = int(manifest["tree_size"])
    check_file_hashes(bundle, manifest, report)
    keys = json.loads((bundle / KEYS).read_text())
    trusted = log_keys_to_trust(keys, log_keys, report)
    witnesses = witness_keys_to_check(keys, witness_keys, report)
    signed_roots = check_checkpoints(bundle, report, trusted, witnesses, bool(witness_keys))
    with ExitStack() as stack:
        leaves = _open_leaves(bundle, tree_size, report, stack)
        if leaves is None:
            return report
        scans = start_event_scan(bundle, tree_size, workers, stack)
        # The leaves are folded here while the workers read the events.
        failing = _failing_checkpoints(leaves, signed_roots, {})
        _judge(report, leaves, signed_roots, failing, scans(), _read_archives(bundle))
    for archive in archives:
        _check_archive_bundle(report, bundle, Path(archive), log_keys, witness_keys)
    return report


# -- leaves -------------------------------------------------------------------------------


def _open_leaves(
    bundle: Path, tree_size: int, report: VerificationReport, stack: ExitStack
) -> bytes | mmap.mmap | None:
    file = stack.enter_context((bundle / LEAVES).open("rb"))
    size = os.fstat(file.fileno()).st_size
    if size != tree_size * _HASH:
        report.problems.append(
            Problem(
                "bundle_file",
                f"{LEAVES} holds {size / _HASH:g} leaf hashes; the bundle's size is {tree_size}",
            )
        )
        return None
    if size == 0:
        return b""
    return stack.enter_context(mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ))


def _leaf_list(leaves: bytes | mmap.mmap, patches: dict[int, bytes]) -> Iterator[bytes]:
    for offset in range(0, len(leaves), _HASH):
        index = offset // _HASH
        yield patches[index] if index in patches else leaves[offset : offset + _HASH]


def _failing_checkpoints(
    leaves: bytes | mmap.mmap, signed_roots: dict[int, bytes], patches: dict[int, bytes]
) -> list[int]:
    roots = merkle.roots_at(_leaf_list(leaves, patches), signed_roots)
    return sorted(s for s, root in signed_roots.items() if roots.get(s) != root)


# -- judgement ----------------------------------------------------------------------------


def _judge(
    report: VerificationReport,
    leaves: bytes | mmap.mmap,
    signed_roots: dict[int, bytes],
    failing: list[int],
    scans: Sequence[EventScan],
    claims: list[ArchivedRange],
) -> None:
    """Turn what the event scans found into named problems."""
    absent, mismatched, records = merge_scans(report, scans, report.tree_size)
    report.events_checked = sum(scan.events for scan in scans)
    report.events_verified = sum(scan.matched for scan in scans)

    logged_at = _where_logged(leaves, {digest for _, digest in mismatched})
    reordered: dict[int, int] = {}  # stored id -> index it was logged at
    altered: dict[int, bytes] = {}
    for stored_id, digest in mismatched:
        elsewhere = [i for i in logged_at.get(digest, []) if i != stored_id]
        if elsewhere:
            reordered[stored_id] = elsewhere[0]
        else:
            altered[stored_id] = digest

    authentic_below = report.tree_size
    if failing:
        authentic_below = _report_rewritten_tree(report, leaves, signed_roots, failing, altered)
    for stored_id in sorted(altered):
        message = f"event {stored_id} was altered: its content does not match leaf {stored_id}"
        if stored_id >= authentic_below:
            message += " (or the stored leaf hash was: leaves from here on are not the signed ones)"
        report.problems.append(Problem("altered", message, event_id=stored_id))
    for stored_id, logged in sorted(reordered.items()):
        report.problems.append(
            Problem(
                "reordered",
                f"event stored as {stored_id} is the one logged at {logged} (reordered)",
                event_id=stored_id,
            )
        )

    report.archived, unconfirmed = _confirmed_archives(report, claims, records)
    accounted = [*report.archived, *unconfirmed]  # the unconfirmed are reported as one problem
    unaccounted = subtract(
        union([*absent, *((i, i + 1) for i in reordered)]),
        [*((r.first, r.end) for r in accounted), *((i, i + 1) for i in reordered.values())],
    )
    for first, end in unaccounted:
        message = (
            f"event {first} is missing"
            if end == first + 1
            else f"events {first} to {end - 1} are missing ({end - first} events)"
        )
        report.problems.append(Problem("missing", message, event_id=first))


def _where_logged(leaves: bytes | mmap.mmap, wanted: set[bytes]) -> dict[bytes, list[int]]:
    """The leaf indices holding each of ``wanted`` (only mismatched events are looked up)."""
    found: dict[bytes, list[int]] = {}
    if not wanted:
        return found
    for offset in range(0, len(leaves), _HASH):
        digest = leaves[offset : offset + _HASH]
        if digest in wanted:
            found.setdefault(digest, []).append(offset // _HASH)
    return found


def _report_rewritten_tree(
    report: VerificationReport,
    leaves: bytes | mmap.mmap,
    signed_roots: dict[int, bytes],
    failing: list[int],
    altered: dict[int, bytes],
) -> int:
    """Name the first checkpoint the leaves fail; returns the size below which the leaves
    are still known to be the signed ones."""
    first = failing[0]
    good_below = max((s for s in signed_roots if s < first), default=0)
    later = f"; {len(failing) - 1} later checkpoints fail too" if len(failing) > 1 else ""
    report.problems.append(
        Problem(
            "tree_rewritten",
            f"leaf hashes do not reproduce checkpoint {first}'s root (the stored tree was "
            f"rewritten): a leaf from {good_below} to {first - 1} is not the one signed{later}",
            tree_size=first,
        )
    )
    # Leaves below good_below reproduce a signed root, so events there that differ were
    # altered. Above it, if putting the events' own hashes back reproduces every root, the
    # events are the authentic ones and it is the stored leaf hashes that were rewritten.
    suspects = {index: digest for index, digest in altered.items() if index >= good_below}
    if suspects and not _failing_checkpoints(leaves, signed_roots, suspects):
        for index in sorted(suspects):
            report.problems.append(
                Problem(
                    "leaf_rewritten",
                    f"leaf hash {index} in the stored tree was rewritten; event {index} "
                    "itself matches the signed checkpoints",
                    event_id=index,
                )
            )
            del altered[index]
        report.events_verified += len(suspects)
    return good_below


def _read_archives(bundle: Path) -> list[ArchivedRange]:
    claims = [
        ArchivedRange(
            int(entry["first_event_id"]),
            int(entry["end_event_id"]),
            str(entry["bundle_sha256"]),
            str(entry.get("location", "")),
        )
        for entry in json.loads((bundle / ARCHIVES).read_text())
    ]
    return sorted(claims, key=lambda r: r.first)


def _confirmed_archives(
    report: VerificationReport, claims: list[ArchivedRange], records: list[dict[str, Any]]
) -> tuple[list[ArchivedRange], list[ArchivedRange]]:
    """The claimed archived ranges that a logged ``audit.range.archived`` event vouches for,
    and those none does. Each such event lists every range archived so far, so the latest
    one covers them all."""
    logged = {
        (int(item[0]), int(item[1]), str(item[2]))
        for record in records
        for item in record.get("archived", [])
        if isinstance(item, list) and len(item) == 3
    }
    confirmed: list[ArchivedRange] = []
    unconfirmed: list[ArchivedRange] = []
    end_so_far = 0
    for claim in claims:
        if claim.first < end_so_far or not claim.first < claim.end <= report.tree_size:
            report.problems.append(
                Problem(
                    "bad_archive",
                    f"{ARCHIVES} lists events {claim.first} to {claim.end - 1}, which overlap "
                    "another archived range or lie outside the bundle",
                    event_id=claim.first,
                )
            )
            continue
        end_so_far = claim.end
        if (claim.first, claim.end, claim.bundle_sha256) in logged:
            confirmed.append(claim)
            continue
        unconfirmed.append(claim)
        report.problems.append(
            Problem(
                "unconfirmed_archive",
                f"events {claim.first} to {claim.end - 1} are missing: {ARCHIVES} says they "
                f"were archived in bundle {claim.bundle_sha256}, but no {ARCHIVED_ACTION} event "
                "in this bundle records it",
                event_id=claim.first,
            )
        )
    return confirmed, unconfirmed


# -- archive bundles checked alongside ----------------------------------------------------


def _check_archive_bundle(
    report: VerificationReport,
    bundle: Path,
    archive: Path,
    log_keys: Sequence[str],
    witness_keys: Sequence[str],
) -> None:
    name = manifest_sha256(archive)
    ranges = [r for r in report.archived if r.bundle_sha256 == name]
    if not ranges:
        report.problems.append(
            Problem("bad_archive", f"archive {archive}: no archived range names bundle {name}")
        )
        return
    inner = verify_bundle(archive, log_keys=log_keys, witness_keys=witness_keys)
    report.problems.extend(
        Problem(p.kind, f"archive {archive}: {p.message}", p.event_id, p.tree_size)
        for p in inner.problems
    )
    prefix = inner.tree_size * _HASH
    with (bundle / LEAVES).open("rb") as ours, (archive / LEAVES).open("rb") as theirs:
        same_prefix = ours.read(prefix) == theirs.read(prefix)
    if not same_prefix:
        report.problems.append(
            Problem(
                "bad_archive",
                f"archive {archive}: its leaf hashes are not a prefix of this bundle's, so its "
                "checkpoints are not consistent with this bundle's",
            )
        )
        return
    if inner.ok:
        report.archived = [
            ArchivedRange(r.first, r.end, r.bundle_sha256, r.location, verified_bundle=True)
            if r in ranges
            else r
            for r in report.archived
        ]
