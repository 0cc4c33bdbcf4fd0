"""Checking the events of a bundle (``events.jsonl``) against its leaf hashes, in chunks.

Each line is ``<id> <leaf bytes>``: the bytes must hash to the leaf at that id and be RFC
8785 canonical JSON, and ids must increase. A bundle of a million events is cut into
chunks at line ends and checked by a process pool; the caller folds the tree meanwhile.
"""

from __future__ import annotations

import json
import mmap
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

import rfc8785

from sharing.audit import merkle
from sharing.audit.bundle import ARCHIVED_ACTION, EVENTS, LEAVES
from sharing.audit.verify_report import Problem, Range, VerificationReport, subtract, union

_PARALLEL_FROM_BYTES = 32 << 20  # below this, starting workers costs more than it saves
_CHUNK_BYTES = 16 << 20
_HASH = merkle.HASH_SIZE


@dataclass
class EventScan:
    """What one chunk of ``events.jsonl`` holds, checked against the leaves."""

    first_id: int | None = None
    last_id: int | None = None
    events: int = 0
    matched: int = 0
    mismatched: list[tuple[int, bytes]] = field(default_factory=list)  # (stored id, hash)
    absent: list[Range] = field(default_factory=list)  # ids skipped inside the chunk
    late: list[int] = field(default_factory=list)  # ids listed out of order: not absent
    problems: list[Problem] = field(default_factory=list)
    archive_records: list[dict[str, Any]] = field(default_factory=list)


def _chunk_bounds(path: Path, chunk_bytes: int) -> list[Range]:
    size = path.stat().st_size
    bounds: list[Range] = []
    with path.open("rb") as file:
        start = 0
        while start < size:
            file.seek(min(start + chunk_bytes, size))
            file.readline()  # to the end of the line the cut fell in
            end = min(file.tell(), size) if start + chunk_bytes < size else size
            bounds.append((start, end))
            start = end
    return bounds


def start_event_scan(
    bundle: Path, tree_size: int, workers: int | None, stack: ExitStack
) -> Callable[[], list[EventScan]]:
    """Start checking ``events.jsonl``; the returned function waits for the results."""
    events = bundle / EVENTS
    size = events.stat().st_size
    if workers is None:
        workers = (os.cpu_count() or 1) if size >= _PARALLEL_FROM_BYTES else 1
    if workers <= 1:
        return lambda: [_check_chunk(str(bundle), 0, size, tree_size)]
    chunk_bytes = max(1, min(_CHUNK_BYTES, size // (workers * 2) or 1))
    pool = stack.enter_context(ProcessPoolExecutor(workers, mp_context=_process_context()))
    futures = [
        pool.submit(_check_chunk, str(bundle), start, end, tree_size)
        for start, end in _chunk_bounds(events, chunk_bytes)
    ]
    return lambda: [future.result() for future in futures]


def _process_context() -> BaseContext:
    """Fork where there is fork: the workers touch nothing but the two files, and spawn
    would re-run the caller's main module, which scripts without a main guard cannot bear."""
    methods = get_all_start_methods()
    return get_context("fork" if "fork" in methods else "spawn")


def _check_chunk(bundle: str, start: int, end: int, tree_size: int) -> EventScan:
    """Check the event lines in bytes ``[start, end)`` of ``events.jsonl``."""
    chunk = EventScan()
    if end <= start:
        return chunk
    root = Path(bundle)
    with (
        (root / EVENTS).open("rb") as events_file,
        (root / LEAVES).open("rb") as leaves_file,
        mmap.mmap(events_file.fileno(), 0, access=mmap.ACCESS_READ) as events,
    ):
        leaves: bytes | mmap.mmap = (
            mmap.mmap(leaves_file.fileno(), 0, access=mmap.ACCESS_READ) if tree_size else b""
        )
        position = start
        while position < end:
            newline = events.find(b"\n", position, end)
            line_end = end if newline < 0 else newline
            _check_line(chunk, events[position:line_end], leaves, tree_size)
            position = line_end + 1
        if isinstance(leaves, mmap.mmap):
            leaves.close()
    return chunk


def _check_line(chunk: EventScan, line: bytes, leaves: bytes | mmap.mmap, tree_size: int) -> None:
    id_text, _, data = line.partition(b" ")
    after = f"after event {chunk.last_id}" if chunk.last_id is not None else "before any event"
    if not id_text.isdigit() or (id_text[:1] == b"0" and id_text != b"0") or not data:
        chunk.problems.append(
            Problem("bad_line", f"{EVENTS}: a line {after} is not '<id> <leaf JSON>'")
        )
        return
    event_id = int(id_text)
    chunk.events += 1
    if chunk.last_id is not None and event_id <= chunk.last_id:
        chunk.late.append(event_id)
        chunk.problems.append(
            Problem(
                "out_of_order",
                f"event {event_id} is listed after event {chunk.last_id}: ids must increase",
                event_id=event_id,
            )
        )
    else:
        if chunk.last_id is not None and event_id > chunk.last_id + 1:
            chunk.absent.append((chunk.last_id + 1, event_id))
        if chunk.first_id is None:
            chunk.first_id = event_id
        chunk.last_id = event_id
    if event_id >= tree_size:
        chunk.problems.append(
            Problem(
                "beyond_tree",
                f"event {event_id} is past the bundle's {tree_size} leaves",
                event_id=event_id,
            )
        )
        return
    digest = merkle.leaf_hash(data)
    matched = digest == leaves[event_id * _HASH : (event_id + 1) * _HASH]
    if matched:
        chunk.matched += 1
    else:
        chunk.mismatched.append((event_id, digest))
    _check_canonical(chunk, event_id, data, matched=matched)


def _check_canonical(chunk: EventScan, event_id: int, data: bytes, *, matched: bool) -> None:
    fields = canonical_json_object(data)
    if fields is None:
        chunk.problems.append(
            Problem(
                "not_canonical",
                f"event {event_id} is not an RFC 8785 canonical JSON object",
                event_id=event_id,
            )
        )
    elif matched and fields.get("action") == ARCHIVED_ACTION:
        details = fields.get("details")
        if isinstance(details, dict):
            chunk.archive_records.append(details)


class _NotPlain(ValueError):
    """The JSON holds something the standard library encodes differently from RFC 8785."""


def _refuse_number(text: str) -> object:
    raise _NotPlain(text)


def _safe_int(text: str) -> int:
    value = int(text)
    if not _INT_MIN <= value <= _INT_MAX:
        raise _NotPlain(text)
    return value


def _json_number(text: str) -> int | float:
    """An integer literal as RFC 8785 reads it: a double, exact only up to 2**53."""
    value = int(text)
    return value if _INT_MIN <= value <= _INT_MAX else float(value)


_INT_MAX = 2**53 - 1
_INT_MIN = -_INT_MAX
_PLAIN_DECODER = json.JSONDecoder(
    parse_float=_refuse_number, parse_int=_safe_int, parse_constant=_refuse_number
)
_PLAIN_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)
_ASTRAL = re.compile(rb"[\xf0-\xf4]")  # lead bytes of 4-byte UTF-8: sorted apart in UTF-16


def canonical_json_object(data: bytes) -> dict[str, Any] | None:
    """The JSON object ``data`` holds if ``data`` is its RFC 8785 form, else None.

    The pure-Python RFC 8785 encoder costs five times the C one of the standard library,
    whose output is identical for JSON without floats, integers past 2**53 or characters
    outside the BMP (the only differences: number formatting and UTF-16 key order). Plain
    JSON takes the fast path; anything else, or any mismatch, gets the real encoder.
    """
    try:
        text = data.decode()
        fields = _PLAIN_DECODER.decode(text)
        plain = text.isascii() or not _ASTRAL.search(data)
        if plain and _PLAIN_ENCODER.encode(fields).encode() == data:
            return fields if isinstance(fields, dict) else None
    except (ValueError, RecursionError):  # _NotPlain, bad UTF-8 or JSON, lone surrogates
        pass
    try:
        fields = json.loads(data, parse_int=_json_number)
        canonical = isinstance(fields, dict) and rfc8785.dumps(fields) == data
    except (ValueError, RecursionError):  # rfc8785.CanonicalizationError is a ValueError
        return None
    return fields if canonical else None


def merge_scans(
    report: VerificationReport, chunks: Sequence[EventScan], tree_size: int
) -> tuple[list[Range], list[tuple[int, bytes]], list[dict[str, Any]]]:
    """Every id no line holds, every event whose hash is not its leaf's, and the logged
    archive records, across all chunks."""
    absent: list[Range] = []
    late: list[int] = []
    mismatched: list[tuple[int, bytes]] = []
    records: list[dict[str, Any]] = []
    last = -1
    for chunk in chunks:
        report.problems.extend(chunk.problems)
        mismatched.extend(chunk.mismatched)
        records.extend(chunk.archive_records)
        late.extend(chunk.late)
        if chunk.first_id is None or chunk.last_id is None:
            continue
        if chunk.first_id <= last:
            late.append(chunk.first_id)
            report.problems.append(
                Problem(
                    "out_of_order",
                    f"event {chunk.first_id} is listed after event {last}: ids must increase",
                    event_id=chunk.first_id,
                )
            )
        elif chunk.first_id > last + 1:
            absent.append((last + 1, min(chunk.first_id, tree_size)))
        absent.extend(chunk.absent)
        last = max(last, chunk.last_id)
    if last + 1 < tree_size:
        absent.append((last + 1, tree_size))
    return subtract(union(absent), ((i, i + 1) for i in late)), mismatched, records
