"""Benchmark federation: a forwarded access request beside a local one, and a catalog sync of
20,000 shared cameras.

Starts the three hubs of the federation end-to-end test (``tests/e2e/federation_stack.py``)
as real processes on loopback, each with its own SQLite database and keys: Pemkot Medan with
the demo city, Polda Sumut and Pemkot Binjai, seeded over their APIs and peered. Their
background catalog sync is slowed to once an hour so that only the syncs this script asks
for run. Then:

1. **Requests.** The same camera (Toko Sinar Jaya's front camera, live, public order, which
   Medan's policy allows at once) requested in one run, phase after phase: locally at Medan
   by the demo's Polrestabes client, then at the Polda's hub by its officer, which forwards
   it to Medan (RFC 8693 token exchange at Medan's token endpoint, the request posted to
   Medan, its answer relayed and recorded at both hubs), then locally again to show drift.
   Each phase sends ``--requests`` requests from ``--concurrency`` workers (default one at
   a time: the figure is latency, not throughput) after unmeasured warm-up requests.
2. **Catalog.** ``--cameras`` cameras (default 20,000) are bulk-inserted into Medan's
   database for its Dishub, whose one new consent (selector ``all``, under the MoU) shares
   them all with the Polda. The Polda's operator then asks for a sync
   (``POST /federation/peers/{medan}/sync``): a full sync of the new catalog, then re-syncs
   the peer answers 304 Not Modified, then a full sync again after one camera changed.

Usage: ``.venv/bin/python bench/federation.py [--requests 300] [--concurrency 1]
[--cameras 20000]``. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script, Python puts bench/ itself on the path; the repository root is what
    # makes `bench` and `tests` importable as the packages mypy and ruff know.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import insert

from bench.hub import positive_int, process_cpu_seconds, progress
from bench.load import Budget, PhaseResult, Probe, run_phase
from sharing.cameras.models import Camera, CameraTag
from sharing.db import create_engine
from sharing.settings import Settings
from tests.e2e.federation_stack import (
    Federation,
    HubProcess,
    consent_body,
    running_federation,
)
from tests.e2e.stack import StackError

CAMERA = "sinar_front"
LOCAL_CLIENT = "polrestabes_cc"
ACCESS_REQUEST: dict[str, object] = {
    "mode": "live",
    "purpose": "public_order",
    "justification": "benchmark: crowd at the storefront",
}
DEFAULT_REQUESTS = 300
DEFAULT_WARMUP_REQUESTS = 20
DEFAULT_CONCURRENCY = 1
DEFAULT_CAMERAS = 20_000
RESYNCS = 5
SEARCHES = 21
BACKGROUND_SYNC_SECONDS = 3600.0
REQUEST_TIMEOUT_SECONDS = 60.0
SYNC_TIMEOUT_SECONDS = 300.0
CHUNK_ROWS = 5_000
# Medan's extent, for the bulk cameras' positions.
SOUTH, NORTH, WEST, EAST = 3.48, 3.68, 98.58, 98.75


class BenchError(RuntimeError):
    """The benchmark cannot go on; the message says why."""


@dataclass(frozen=True, slots=True)
class Options:
    """What the command line asked for."""

    requests: int
    warmup: int
    concurrency: int
    cameras: int


@dataclass(frozen=True, slots=True)
class Sync:
    """One catalog sync the Polda's operator asked for."""

    name: str
    wall_ms: float  # the operator's POST, answered
    fetch_ms: float  # the hub's own figure: the catalog call to Medan alone
    changed: bool
    remote_cameras: int


@dataclass(frozen=True, slots=True)
class Figures:
    """Everything one run measured."""

    started_at: datetime
    requests: list[PhaseResult]
    cpu: dict[str, dict[str, float | None]]  # phase -> hub name -> CPU ms per request
    syncs: list[Sync]
    insert_seconds: float
    search_ms: dict[str, float]  # when -> p50 of the officer's search with remote cameras


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its figures; 1 if it could not run, 130 if interrupted."""
    options = _options(argv)
    started_at = datetime.now(UTC)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="sharing-bench-federation-") as workdir,
            running_federation(Path(workdir), sync_seconds=BACKGROUND_SYNC_SECONDS) as network,
        ):
            progress(
                f"hubs up: Medan {network.medan.url}, Polda {network.polda.url}, "
                f"Binjai {network.binjai.url}"
            )
            phases, cpu = asyncio.run(measure_requests(network, options))
            syncs, insert_seconds, search_ms = measure_catalog(network, options.cameras)
    except (BenchError, StackError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    figures = Figures(started_at, phases, cpu, syncs, insert_seconds, search_ms)
    print(report(figures, options))
    return 0


# --- requests --------------------------------------------------------------------------------


async def measure_requests(
    network: Federation, options: Options
) -> tuple[list[PhaseResult], dict[str, dict[str, float | None]]]:
    """Local, forwarded, local again: each phase's latencies and each hub's CPU per request."""
    medan, polda = network.medan, network.polda
    camera = str(medan.cameras[CAMERA])
    _sync(polda, medan)  # the Polda learns where the camera lives
    local = _access_probe(medan, camera, medan.fresh_token(LOCAL_CLIENT))
    forwarded = _access_probe(polda, camera, polda.fresh_token("officer"))
    limits = httpx.Limits(max_connections=options.concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT_SECONDS) as client:
        for name, probe in (("local", local), ("forwarded", forwarded)):
            first = await probe(client)
            if first.status_code != 201:
                raise BenchError(f"the {name} request answered {first.status_code}: {first.text}")
        phases: list[PhaseResult] = []
        cpu: dict[str, dict[str, float | None]] = {}
        for name, probe in (
            ("local at Medan", local),
            ("forwarded Polda -> Medan", forwarded),
            ("local at Medan (again)", local),
        ):
            result, per_hub = await _phase(name, client, probe, options, (medan, polda))
            phases.append(result)
            cpu[name] = per_hub
    return phases, cpu


def _access_probe(hub: HubProcess, camera: str, api_token: str) -> Probe:
    body = {"camera_ids": [camera], **ACCESS_REQUEST}
    headers = {"Authorization": f"Bearer {api_token}"}
    url = f"{hub.url}/access-requests"

    async def probe(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(url, json=body, headers=headers)

    return probe


async def _phase(
    name: str,
    client: httpx.AsyncClient,
    probe: Probe,
    options: Options,
    hubs: tuple[HubProcess, ...],
) -> tuple[PhaseResult, dict[str, float | None]]:
    concurrency = options.concurrency
    if options.warmup:
        await run_phase(
            name, client, probe, concurrency=concurrency, budget=Budget(600, options.warmup)
        )
    before = {hub.name: _cpu(hub) for hub in hubs}
    result = await run_phase(
        name, client, probe, concurrency=concurrency, budget=Budget(3600, options.requests)
    )
    per_hub: dict[str, float | None] = {}
    for hub in hubs:
        start, end = before[hub.name], _cpu(hub)
        per_hub[hub.name] = (
            (end - start) * 1000 / result.requests
            if start is not None and end is not None and result.requests
            else None
        )
    progress(
        f"{name}: {result.requests} requests, {result.error_count} errors in {result.elapsed:.1f} s"
    )
    return result, per_hub


def _cpu(hub: HubProcess) -> float | None:
    return process_cpu_seconds(hub.process.pid) if hub.process is not None else None


# --- catalog ---------------------------------------------------------------------------------


def measure_catalog(
    network: Federation, cameras: int
) -> tuple[list[Sync], float, dict[str, float]]:
    """Share ``cameras`` more cameras with the Polda and time the syncs that carry them, and
    the officer's search with remote cameras before and after."""
    medan, polda = network.medan, network.polda
    search_ms = {"before": _search_p50(polda)}
    progress(f"inserting {cameras:,} cameras for Medan's Dishub")
    started = time.perf_counter()
    first_camera = asyncio.run(_insert_cameras(medan, cameras))
    insert_seconds = time.perf_counter() - started
    body = consent_body(
        medan,
        grantor="dishub",
        grantee="polda",
        agreement="mou",
        cameras=[],
        modes=["live", "footage"],
        purposes=["traffic_management", "public_order"],
    )
    body |= {"camera_selector": "all", "camera_ids": []}
    with medan.client("hub_admin") as admin:
        granted = admin.post("/consents", json=body)
        if granted.status_code != 201:
            raise BenchError(f"Medan refused the Dishub's consent: {granted.text}")
    syncs = [_sync(polda, medan, "full sync")]
    syncs += [_sync(polda, medan, "re-sync, 304 Not Modified") for _ in range(RESYNCS)]
    with medan.client("hub_admin") as admin:
        renamed = admin.patch(f"/cameras/{first_camera}", json={"name": "Kamera 00001 (baru)"})
        if renamed.status_code != 200:
            raise BenchError(f"Medan refused to rename a camera: {renamed.text}")
    syncs.append(_sync(polda, medan, "full sync after one camera changed"))
    search_ms["after"] = _search_p50(polda)
    return syncs, insert_seconds, search_ms


def _search_p50(polda: HubProcess) -> float:
    """The p50, in ms, of the officer's first page of search with remote cameras."""
    latencies = []
    with polda.client("officer") as officer:
        for _ in range(SEARCHES):
            started = time.perf_counter()
            response = officer.get("/cameras", params={"include_remote": "true", "limit": 50})
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise BenchError(f"the Polda's search answered {response.status_code}")
    return statistics.median(latencies)


async def _insert_cameras(medan: HubProcess, count: int) -> uuid.UUID:
    """Bulk-insert ``count`` Dishub cameras into Medan's database; the first one's id."""
    owner = medan.parties["dishub"]
    now = datetime.now(UTC)
    ids = [uuid.uuid4() for _ in range(count)]
    cameras = [
        {
            "id": camera_id,
            "owner_party_id": owner,
            "name": f"Kamera {number:05d}",
            "latitude": SOUTH + (NORTH - SOUTH) * (number % 997) / 997,
            "longitude": WEST + (EAST - WEST) * (number % 991) / 991,
            "address": f"Jl. Contoh No. {number}",
            "province": "Sumatera Utara",
            "city": "Medan",
            "district": "Medan Petisah",
            "village": "Petisah Tengah",
            "rw": "",
            "visibility": "private",
            "retention_days": 30,
            "status": "active",
            "stream_source_encrypted": "",
            "created_at": now,
            "updated_at": now,
        }
        for number, camera_id in enumerate(ids, start=1)
    ]
    tags = [{"camera_id": camera_id, "tag": "traffic"} for camera_id in ids]
    engine = create_engine(Settings(database_url=medan.settings.database_url))
    try:
        async with engine.begin() as connection:
            for model, rows in ((Camera, cameras), (CameraTag, tags)):
                for start in range(0, len(rows), CHUNK_ROWS):
                    await connection.execute(insert(model), rows[start : start + CHUNK_ROWS])
    finally:
        await engine.dispose()
    return ids[0]


def _sync(polda: HubProcess, medan: HubProcess, name: str = "sync") -> Sync:
    """Ask the Polda's hub to sync Medan's catalog now."""
    peer = polda.peers[medan.name]
    with polda.client("hub_admin") as admin:
        started = time.perf_counter()
        response = admin.post(f"/federation/peers/{peer}/sync", timeout=SYNC_TIMEOUT_SECONDS)
        wall_ms = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise BenchError(
            f"the Polda's sync of Medan answered {response.status_code}: {response.text}"
        )
    result: dict[str, Any] = response.json()
    progress(f"{name}: {wall_ms:.0f} ms, {result['remote_cameras']:,} cameras")
    return Sync(
        name=name,
        wall_ms=wall_ms,
        fetch_ms=float(result["latency_ms"]),
        changed=bool(result["changed"]),
        remote_cameras=int(result["remote_cameras"]),
    )


# --- the report ------------------------------------------------------------------------------


def report(figures: Figures, options: Options) -> str:
    """The figures as Markdown tables, with the machine and the settings."""
    local = figures.requests[0]
    lines = [
        f"federation: forwarded requests and catalog sync, {figures.started_at:%Y-%m-%d %H:%M} UTC",
        "",
        f"machine:  {_machine()}",
        f"settings: three hub processes (one uvicorn worker each, SQLite), loopback; "
        f"{options.requests} requests per phase from {options.concurrency} worker(s) after "
        f"{options.warmup} warm-up requests",
        "",
        "| phase | requests | errors | p50 ms | p99 ms | mean ms | p50 vs local "
        "| Medan CPU ms/req | Polda CPU ms/req |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in figures.requests:
        cpu = figures.cpu[result.name]
        p50, base = result.percentile_ms(50), local.percentile_ms(50)
        mean = statistics.fmean(result.latencies) * 1000 if result.latencies else None
        cells = [
            result.name,
            str(result.requests),
            str(result.error_count),
            _ms(p50),
            _ms(result.percentile_ms(99)),
            _ms(mean),
            f"{p50 / base:.2f}x" if p50 is not None and base else "-",
            _ms(cpu.get("Pemkot Medan"), 2),
            _ms(cpu.get("Polda Sumut"), 2),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    failed = [result for result in figures.requests if result.errors]
    for result in failed:
        for kind, count in result.errors.most_common():
            lines.append(f"- {result.name}: {kind} x{count}: {result.error_samples[kind]!r}")
    lines += [
        "",
        f"catalog: {options.cameras:,} cameras bulk-inserted at Medan in "
        f"{figures.insert_seconds:.1f} s, shared with the Polda by one consent",
        "",
        "| sync | changed | remote cameras | wall ms | catalog call ms |",
        "|---|---|---:|---:|---:|",
    ]
    full = [s for s in figures.syncs if s.changed]
    resyncs = [s for s in figures.syncs if not s.changed]
    for sync in full:
        lines.append(_sync_row(sync.name, sync))
    if resyncs:
        median = sorted(resyncs, key=lambda s: s.wall_ms)[len(resyncs) // 2]
        lines.append(_sync_row(f"re-sync, 304 (median of {len(resyncs)})", median))
    lines += [
        "",
        f"the officer's search at the Polda (GET /cameras?include_remote=true&limit=50, "
        f"median of {SEARCHES}): {figures.search_ms['before']:.0f} ms before the catalog "
        f"grew, {figures.search_ms['after']:.0f} ms with {figures.syncs[-1].remote_cameras:,} "
        "remote cameras",
    ]
    return "\n".join(lines)


def _sync_row(name: str, sync: Sync) -> str:
    cells = [
        name,
        "yes" if sync.changed else "no",
        f"{sync.remote_cameras:,}",
        f"{sync.wall_ms:.0f}",
        f"{sync.fetch_ms:.0f}",
    ]
    return "| " + " | ".join(cells) + " |"


def _ms(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _machine() -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"nproc {cpus}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        + ", ".join(f"{name} {version(name)}" for name in ("litestar", "uvicorn", "httpx"))
    )


def _options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="bench/federation.py",
        description="p50/p99 latency of a forwarded access request beside a local one, and "
        "the time of a catalog sync of many shared cameras, across real hub processes.",
    )
    parser.add_argument(
        "--requests",
        type=positive_int,
        default=DEFAULT_REQUESTS,
        help=f"requests per phase (default {DEFAULT_REQUESTS})",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=DEFAULT_WARMUP_REQUESTS,
        help=f"unmeasured requests before each phase (default {DEFAULT_WARMUP_REQUESTS})",
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=DEFAULT_CONCURRENCY,
        help=f"concurrent workers (default {DEFAULT_CONCURRENCY}: latency, not throughput)",
    )
    parser.add_argument(
        "--cameras",
        type=positive_int,
        default=DEFAULT_CAMERAS,
        help=f"cameras shared for the catalog sync (default {DEFAULT_CAMERAS:,})",
    )
    args = parser.parse_args(argv)
    return Options(
        requests=args.requests,
        warmup=max(args.warmup, 0),
        concurrency=args.concurrency,
        cameras=args.cameras,
    )


if __name__ == "__main__":
    sys.exit(main())
