"""What verifying an audit bundle found: the report, its problems, and leaf ranges."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

Range = tuple[int, int]  # leaves [start, end)


class BundleError(ValueError):
    """The path is not a bundle this verifier can read at all."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing that does not verify. ``kind`` is stable, for programs; ``message`` is
    for people."""

    kind: str
    message: str
    event_id: int | None = None
    tree_size: int | None = None


@dataclass(frozen=True, slots=True)
class ArchivedRange:
    """Events ``[first, end)`` that live in another bundle."""

    first: int
    end: int
    bundle_sha256: str
    location: str
    verified_bundle: bool = False  # the archive bundle itself was checked alongside


@dataclass
class VerificationReport:
    """The outcome of ``verify_bundle``: ``ok`` only when nothing failed."""

    bundle: str
    origin: str = ""
    tree_size: int = 0
    events_checked: int = 0
    events_verified: int = 0
    checkpoints_verified: int = 0
    log_keys: list[str] = field(default_factory=list)
    witnesses: dict[str, int] = field(default_factory=dict)  # name -> largest size cosigned
    archived: list[ArchivedRange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def archived_events(self) -> int:
        return sum(r.end - r.first for r in self.archived)

    def of_kind(self, kind: str) -> list[Problem]:
        """The problems of one kind, in the order found."""
        return [p for p in self.problems if p.kind == kind]

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "bundle": self.bundle,
            "origin": self.origin,
            "tree_size": self.tree_size,
            "events_checked": self.events_checked,
            "events_verified": self.events_verified,
            "events_archived": self.archived_events,
            "checkpoints_verified": self.checkpoints_verified,
            "log_keys": self.log_keys,
            "witnesses": self.witnesses,
            "archived": [asdict(r) for r in self.archived],
            "warnings": self.warnings,
            "problems": [asdict(p) for p in self.problems],
        }


def union(ranges: Iterable[Range]) -> list[Range]:
    merged: list[Range] = []
    for start, end in sorted(r for r in ranges if r[0] < r[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def subtract(ranges: list[Range], holes: Iterable[Range]) -> list[Range]:
    result: list[Range] = []
    cuts = union(holes)
    for start, end in ranges:
        for cut_start, cut_end in cuts:
            if cut_end <= start or cut_start >= end:
                continue
            if cut_start > start:
                result.append((start, cut_start))
            start = max(start, cut_end)
            if start >= end:
                break
        if start < end:
            result.append((start, end))
    return result
