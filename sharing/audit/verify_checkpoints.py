"""Checking a bundle's manifest, keys and signed checkpoints (C2SP signed notes and
tlog-cosignature/v1 cosignatures)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sharing.audit.bundle import CHECKPOINTS, CONTENT_FILES, FORMAT, MANIFEST
from sharing.audit.notes import (
    COSIGNATURE_V1,
    NOTE_SIGNATURE,
    Checkpoint,
    NoteError,
    SignedNote,
    VerifierKey,
)
from sharing.audit.verify_report import BundleError, Problem, VerificationReport


def read_manifest(bundle: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((bundle / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BundleError(f"{bundle} is not an audit bundle: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise BundleError(f"{bundle} is not a {FORMAT} bundle (format {manifest.get('format')!r})")
    for name in CONTENT_FILES:
        if not (bundle / name).is_file():
            raise BundleError(f"{bundle} has no {name}")
    return manifest


def check_file_hashes(bundle: Path, manifest: dict[str, Any], report: VerificationReport) -> None:
    for name in CONTENT_FILES:
        digest = hashlib.sha256()
        with (bundle / name).open("rb") as file:
            while block := file.read(1 << 20):
                digest.update(block)
        if digest.hexdigest() != manifest["files"].get(name):
            report.problems.append(
                Problem(
                    "bundle_file",
                    f"{name} does not match its SHA-256 in the manifest: "
                    "the file was changed after export",
                )
            )


def _parse_key(vkey_or_file: str, kind: int, what: str) -> VerifierKey:
    text = vkey_or_file
    if "+" not in text and Path(text).is_file():  # a file holding the vkey
        text = Path(text).read_text().strip()
    key = VerifierKey.parse(text)
    if key.kind != kind:
        raise NoteError(f"{key.name} is not a {what} key")
    return key


def log_keys_to_trust(
    keys: dict[str, Any], pinned: Sequence[str], report: VerificationReport
) -> list[VerifierKey]:
    if pinned:
        trusted = [_parse_key(k, NOTE_SIGNATURE, "log") for k in pinned]
    else:
        trusted = [_parse_key(entry["vkey"], NOTE_SIGNATURE, "log") for entry in keys["log"]]
        report.warnings.append(
            "no --log-key given: the log keys in the bundle itself are trusted on first use; "
            "pin the key the hub publishes to make this verification independent of the bundle"
        )
    report.log_keys = [k.vkey() for k in trusted]
    return trusted


def witness_keys_to_check(
    keys: dict[str, Any], given: Sequence[str], report: VerificationReport
) -> list[VerifierKey]:
    if given:
        return [_parse_key(k, COSIGNATURE_V1, "witness") for k in given]
    listed = [_parse_key(entry["vkey"], COSIGNATURE_V1, "witness") for entry in keys["witnesses"]]
    if listed:
        report.warnings.append(
            "no --witness given: cosignatures are checked against the witness keys listed in "
            "the bundle"
        )
    return listed


# -- checkpoints --------------------------------------------------------------------------


def check_checkpoints(
    bundle: Path,
    report: VerificationReport,
    log_keys: Sequence[VerifierKey],
    witnesses: Sequence[VerifierKey],
    witnesses_required: bool,
) -> dict[int, bytes]:
    """Verify every checkpoint; returns the root of each one whose signature verifies."""
    roots: dict[int, bytes] = {}
    previous = 0
    with (bundle / CHECKPOINTS).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            checked = _check_checkpoint(line, number, report, log_keys, witnesses)
            if checked is None:
                continue
            if checked.size <= previous:
                report.problems.append(
                    Problem(
                        "checkpoint_order",
                        f"checkpoint {checked.size} is listed after checkpoint {previous}",
                        tree_size=checked.size,
                    )
                )
            previous = max(previous, checked.size)
            roots[checked.size] = checked.root
    report.checkpoints_verified = len(roots)
    if report.tree_size not in roots:
        report.problems.append(
            Problem(
                "uncovered",
                f"no verified checkpoint at the bundle's size {report.tree_size}: "
                "its last leaves are not proven",
                tree_size=report.tree_size,
            )
        )
    if witnesses_required:
        for key in witnesses:
            if key.name not in report.witnesses:
                report.problems.append(
                    Problem("not_witnessed", f"witness {key.name} cosigned no checkpoint here")
                )
    return roots


def _check_checkpoint(
    line: str,
    number: int,
    report: VerificationReport,
    log_keys: Sequence[VerifierKey],
    witnesses: Sequence[VerifierKey],
) -> Checkpoint | None:
    try:
        entry = json.loads(line)
        note = SignedNote.parse(entry["note"])
        checkpoint = Checkpoint.parse_body(note.body)
    except (ValueError, KeyError, TypeError) as exc:
        report.problems.append(Problem("bad_checkpoint", f"{CHECKPOINTS} line {number}: {exc}"))
        return None
    size = checkpoint.size
    if entry.get("tree_size") != size or checkpoint.origin != report.origin:
        report.problems.append(
            Problem(
                "bad_checkpoint",
                f"checkpoint {size}: its note is for {checkpoint.origin} at size {size}, "
                f"not {report.origin} at size {entry.get('tree_size')}",
                tree_size=size,
            )
        )
        return None
    if size > report.tree_size:
        report.problems.append(
            Problem(
                "bad_checkpoint", f"checkpoint {size} is past the bundle's leaves", tree_size=size
            )
        )
        return None
    if not any(_signed(note, key) for key in log_keys):
        claimed = any(
            s.name == k.name and s.key_id == k.key_id for s in note.signatures for k in log_keys
        )
        why = "signature does not verify" if claimed else "not signed by a trusted log key"
        report.problems.append(
            Problem("bad_signature", f"checkpoint {size}: {why}", tree_size=size)
        )
        return None
    for key in witnesses:
        claims = [s for s in note.signatures if s.name == key.name and s.key_id == key.key_id]
        if not claims:
            continue
        if not _signed(note, key):
            report.problems.append(
                Problem(
                    "bad_cosignature",
                    f"checkpoint {size}: cosignature by {key.name} does not verify",
                    tree_size=size,
                )
            )
        else:
            report.witnesses[key.name] = max(report.witnesses.get(key.name, 0), size)
    return checkpoint


def _signed(note: SignedNote, key: VerifierKey) -> bool:
    try:
        return note.signed_by(key) is not None
    except NoteError:  # a signature line of the wrong shape verifies nothing
        return False
