"""Benchmark the audit log: durable appends per second, proofs at a million events, bundles.

In-process, on a fresh database (a SQLite file in a temporary directory, or a fresh
PostgreSQL database ``bench_<random>`` with ``--database-url``, dropped afterwards):

1. **appends**: ``--appends`` gateway-verdict-like events (each linked to a camera) from
   ``--producers`` concurrent producers through ``AuditAppender``, the group commit the
   gateway uses; an append counts once ``append`` has returned, i.e. once its batch is
   committed. Then the same number of events through ``record()`` and one commit per event
   (what each would cost without group commit), from ``RECORD_WRITERS`` concurrent writers.
   Both are checked against the log head afterwards: every counted event is in the log.
2. **fill**: loads the demo city (for an auditor's credentials), then appends until the
   log holds ``--events`` (default 1,000,000), through the appender in batches of
   ``FILL_BATCH``, signing a checkpoint halfway and one at the end.
3. **proofs**: ``--proofs`` inclusion proofs of random leaves (``inclusion_path`` read from
   the stored nodes, then ``verify_inclusion``) and as many consistency proofs from random
   older sizes to the head (``consistency_path``, then ``verify_consistency``), each timed;
   p50 and p99.
4. **bundle**: ``export_bundle`` of the whole log to a directory, then ``verify_bundle`` of
   it, each timed once.
5. **proofs over HTTP**: the hub (``create_app`` on the same database, uvicorn on a thread of
   this process, loopback) answers ``--proofs`` ``GET /audit/events/{id}/inclusion`` for
   random ids as the demo auditor, and as many ``GET /audit/consistency`` from the halfway
   checkpoint to the last, one request at a time.

Usage: ``.venv/bin/python bench/audit_log.py [--events 1000000] [--appends 20000]
[--producers 256] [--database-url URL] [--sqlite-synchronous FULL|NORMAL]``.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import platform
import random
import secrets
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script, Python puts bench/ itself on the path; the repository root is what
    # makes `bench` importable as the package mypy and ruff know it as.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import uvicorn
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bench.hub import LOOPBACK, BenchError, free_port, fresh_database, progress
from sharing.app import create_app
from sharing.audit import merkle
from sharing.audit.bundle import export_bundle, signed_sizes
from sharing.audit.checkpoints import log_head, sign_checkpoint
from sharing.audit.log import AuditAppender, EventDraft, new_event
from sharing.audit.proofs import consistency_path, inclusion_path, leaf_hash_at, root_at
from sharing.audit.service import record
from sharing.audit.verify import verify_bundle
from sharing.clock import SystemClock
from sharing.db import create_engine, create_sessionmaker, run_migrations
from sharing.demo import DemoCity, load_demo_city
from sharing.principal import Actor
from sharing.settings import Settings

DEFAULT_EVENTS = 1_000_000
DEFAULT_APPENDS = 20_000
DEFAULT_PRODUCERS = 256
DEFAULT_PROOFS = 2_000
# One commit per event needs a connection per writer: stay inside the engine's pool.
RECORD_WRITERS = 10
FILL_BATCH = 5_000
FILL_CHUNK = 50_000  # events in flight at once while filling: bounds the memory
GATEWAY = Actor.system("gateway")
CAMERAS = [f"0b7f4a3e-2a51-4c1e-9d1e-{n:012x}" for n in range(64)]


@dataclass(frozen=True, slots=True)
class Rate:
    """How many events one way of appending made durable, and in how long."""

    name: str
    events: int
    seconds: float
    cpu_seconds: float  # this process, all its threads (SQLite's too)
    transactions: int

    @property
    def per_second(self) -> float:
        return self.events / self.seconds

    @property
    def per_cpu_second(self) -> float:
        return self.events / self.cpu_seconds


@dataclass(frozen=True, slots=True)
class Latencies:
    """Timed calls of one kind, in seconds."""

    name: str
    seconds: list[float]

    def percentile_ms(self, percent: float) -> float:
        """The nearest-rank percentile, in milliseconds."""
        ordered = sorted(self.seconds)
        return ordered[max(1, math.ceil(percent / 100 * len(ordered))) - 1] * 1000


@dataclass(frozen=True, slots=True)
class Bundle:
    """Export and verification of the filled log's bundle."""

    events: int
    megabytes: float
    export_seconds: float
    verify_seconds: float
    ok: bool
    problems: int


@dataclass
class Results:
    """Everything one run measured."""

    backend: str
    synchronous: str
    rates: list[Rate]
    fill: Rate | None = None
    proofs: list[Latencies] | None = None
    bundle: Bundle | None = None
    http: list[Latencies] | None = None
    failure: str | None = None  # a later phase that failed; the earlier figures still count


@dataclass(frozen=True, slots=True)
class Options:
    """What the command line asked for."""

    events: int
    appends: int
    producers: int
    proofs: int
    database_url: str | None
    sqlite_synchronous: str | None
    seed: int


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the benchmark, print the figures."""
    options = _parse(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per proof request
    started = time.perf_counter()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-audit-log-") as tmp,
            fresh_database(Path(tmp), options.database_url) as url,
        ):
            settings = Settings(
                database_url=url,
                secret_key=secrets.token_urlsafe(32),
                issuer="http://127.0.0.1:8000",
                log_level="WARNING",
            )
            run_migrations(settings)
            results = asyncio.run(_run(settings, options, Path(tmp)))
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    _print(results, options, time.perf_counter() - started)
    return 1 if results.failure else 0


def _parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="log size to fill")
    parser.add_argument("--appends", type=int, default=DEFAULT_APPENDS, help="appends timed")
    parser.add_argument("--producers", type=int, default=DEFAULT_PRODUCERS)
    parser.add_argument("--proofs", type=int, default=DEFAULT_PROOFS, help="proofs of each kind")
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite)")
    parser.add_argument(
        "--sqlite-synchronous",
        choices=["FULL", "NORMAL"],
        help="override the hub's PRAGMA synchronous, to compare (default: the hub's)",
    )
    parser.add_argument("--seed", type=int, default=4, help="seed of the random proofs")
    args = parser.parse_args(argv)
    return Options(
        events=args.events,
        appends=args.appends,
        producers=args.producers,
        proofs=args.proofs,
        database_url=args.database_url,
        sqlite_synchronous=args.sqlite_synchronous,
        seed=args.seed,
    )


async def _run(settings: Settings, options: Options, workdir: Path) -> Results:
    engine = create_engine(settings)
    if settings.is_sqlite and options.sqlite_synchronous:
        _override_synchronous(engine, options.sqlite_synchronous)
    commits = _count_commits(engine)
    try:
        sessionmaker = create_sessionmaker(engine)
        results = Results(
            backend=engine.dialect.name, synchronous=await _synchronous(engine), rates=[]
        )
        for built_beforehand in (True, False):
            progress(f"{options.appends:,} appends, {options.producers} producers, appender")
            results.rates.append(
                await _through_appender(
                    sessionmaker,
                    options.appends,
                    options.producers,
                    commits,
                    built_beforehand=built_beforehand,
                )
            )
        progress(f"{options.appends:,} appends, {RECORD_WRITERS} writers, a commit each")
        results.rates.append(await _one_commit_each(sessionmaker, options.appends, commits))
        if options.events:
            async with sessionmaker() as session:  # an auditor to ask for proofs over HTTP
                city = await load_demo_city(session, settings, SystemClock())

            async def sign() -> None:
                await _sign(sessionmaker, settings)

            try:
                results.fill = await _fill(sessionmaker, options.events, commits, halfway=sign)
                await _sign(sessionmaker, settings)
                results.proofs = await _time_proofs(sessionmaker, options.proofs, options.seed)
                results.bundle = await _bundle(sessionmaker, workdir / "bundle")
                results.http = await _time_proofs_over_http(
                    settings, city, sessionmaker, options.proofs, options.seed
                )
            except Exception as exc:  # a minute of filling is worth printing what it measured
                results.failure = f"{type(exc).__name__}: {exc}"
        return results
    finally:
        await engine.dispose()


# -- appends --------------------------------------------------------------------------------


def _verdict(n: int) -> EventDraft:
    """An event shaped like a gateway verdict, the appender's everyday load."""
    camera = CAMERAS[n % len(CAMERAS)]
    return new_event(
        at=datetime.now(UTC),
        actor_party_id=GATEWAY.party_id,
        actor_member_id=GATEWAY.member_id,
        actor_client_id=GATEWAY.client_id,
        action="gateway.allowed",
        object_type="access_token",
        object_id=f"bench-{n:012d}",
        outcome="allow",
        purpose=None,
        details={
            "path": f"/footage/{camera}/{1_764_000_000 + n}.ts",
            "camera_id": camera,
            "request_id": f"bench-request-{n // 100}",
            "reason": "allowed",
            "claimed_jti": None,
        },
    )


@dataclass(eq=False)  # a listener must be hashable
class _Commits:
    count: int = 0

    def __call__(self, _connection: Any) -> None:
        self.count += 1


def _count_commits(engine: AsyncEngine) -> _Commits:
    commits = _Commits()
    event.listen(engine.sync_engine, "commit", commits)
    return commits


async def _through_appender(
    sessionmaker: async_sessionmaker[AsyncSession],
    count: int,
    producers: int,
    commits: _Commits,
    *,
    built_beforehand: bool,
) -> Rate:
    appender = AuditAppender(sessionmaker)
    ready = [_verdict(n) for n in range(count)] if built_beforehand else []
    numbers = iter(range(count))
    durable = 0

    async def produce() -> None:
        nonlocal durable
        for n in numbers:  # shared: each number is taken by one producer
            audit_event = ready[n] if built_beforehand else _verdict(n)
            await appender.append(audit_event, camera_ids=[CAMERAS[n % len(CAMERAS)]])
            durable += 1  # append returned: its batch is committed

    how = "events built beforehand" if built_beforehand else "each built by its producer"
    return await _timed(
        sessionmaker, f"AuditAppender, {producers} producers, {how}", durable_count=lambda: durable,
        work=lambda: asyncio.gather(*(produce() for _ in range(producers))), commits=commits,
    )  # fmt: skip


async def _one_commit_each(
    sessionmaker: async_sessionmaker[AsyncSession], count: int, commits: _Commits
) -> Rate:
    numbers = iter(range(count))
    durable = 0

    async def write() -> None:
        nonlocal durable
        for n in numbers:
            async with sessionmaker() as session:
                template = _verdict(n)
                record(
                    session,
                    at=template.occurred_at,
                    actor=GATEWAY,
                    action=template.action,
                    object_type=template.object_type,
                    object_id=template.object_id,
                    outcome=template.outcome,
                    details=template.details,
                    camera_ids=[CAMERAS[n % len(CAMERAS)]],
                )
                await session.commit()
            durable += 1

    return await _timed(
        sessionmaker, f"record() + commit, {RECORD_WRITERS} writers", durable_count=lambda: durable,
        work=lambda: asyncio.gather(*(write() for _ in range(RECORD_WRITERS))), commits=commits,
    )  # fmt: skip


async def _timed(
    sessionmaker: async_sessionmaker[AsyncSession],
    name: str,
    *,
    durable_count: Any,
    work: Any,
    commits: _Commits,
) -> Rate:
    async with sessionmaker() as session:
        size_before, _ = await log_head(session)
    commits_before = commits.count
    started, cpu_started = time.perf_counter(), time.process_time()
    await work()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    async with sessionmaker() as session:
        size_after, _ = await log_head(session)
    durable = int(durable_count())
    if size_after - size_before != durable:
        raise BenchError(
            f"{name}: {durable} appends answered, the log grew {size_after - size_before}"
        )
    return Rate(name, durable, seconds, cpu_seconds, commits.count - commits_before)


async def _fill(
    sessionmaker: async_sessionmaker[AsyncSession],
    events: int,
    commits: _Commits,
    *,
    halfway: Callable[[], Awaitable[None]],
) -> Rate:
    """Fill the log to ``events``; ``halfway`` runs once when it passes half (a checkpoint
    there gives the consistency proofs over HTTP an older signed size)."""
    async with sessionmaker() as session:
        size, _ = await log_head(session)
    appender = AuditAppender(sessionmaker, max_batch=FILL_BATCH)
    commits_before, first = commits.count, size
    started, cpu_started = time.perf_counter(), time.process_time()
    progress(f"filling the log from {size:,} to {events:,} events")
    while size < events:
        chunk = range(size, min(events, size + FILL_CHUNK))
        await asyncio.gather(*(appender.append(_verdict(n), [CAMERAS[n % 64]]) for n in chunk))
        if chunk.start < events // 2 <= chunk.stop:
            await halfway()
        size = chunk.stop
        if size % 200_000 < FILL_CHUNK:
            progress(f"  {size:,} events, {time.perf_counter() - started:.0f} s")
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return Rate(
        f"fill to {events:,}, batches of {FILL_BATCH:,}",
        events - first,
        seconds,
        cpu_seconds,
        commits.count - commits_before,
    )


async def _sign(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    async with sessionmaker() as session:
        checkpoint = await sign_checkpoint(session, settings, SystemClock())
        await session.commit()
    if checkpoint is None:
        raise BenchError("no checkpoint was signed")


# -- proofs --------------------------------------------------------------------------------


async def _time_proofs(
    sessionmaker: async_sessionmaker[AsyncSession], proofs: int, seed: int
) -> list[Latencies]:
    rng = random.Random(seed)
    async with sessionmaker() as session:
        size, root = await log_head(session)
        leaves = [rng.randrange(size) for _ in range(proofs)]
        olds = [rng.randrange(1, size) for _ in range(proofs)]
        progress(f"{proofs:,} inclusion and {proofs:,} consistency proofs at {size:,} events")
        leaf_hashes = {index: await leaf_hash_at(session, index) for index in leaves}
        old_roots = {old: await root_at(session, old) for old in olds}
        inclusion, serve, check = [], [], []
        for index in leaves:
            leaf = leaf_hashes[index]
            assert leaf is not None
            started = time.perf_counter()
            path = await inclusion_path(session, index, size)
            served = time.perf_counter()
            ok = merkle.verify_inclusion(leaf, index, size, path, root)
            done = time.perf_counter()
            if not ok:
                raise BenchError(f"the inclusion proof of leaf {index} does not verify")
            inclusion.append(done - started)
            serve.append(served - started)
            check.append(done - served)
        consistency = []
        for old in olds:
            started = time.perf_counter()
            path = await consistency_path(session, old, size)
            ok = merkle.verify_consistency(old, size, old_roots[old], root, path)
            consistency.append(time.perf_counter() - started)
            if not ok:
                raise BenchError(f"the consistency proof from {old} does not verify")
    return [
        Latencies("inclusion: inclusion_path + verify_inclusion", inclusion),
        Latencies("  of which inclusion_path (database)", serve),
        Latencies("  of which verify_inclusion", check),
        Latencies("consistency: consistency_path + verify_consistency", consistency),
    ]


# -- proofs over HTTP ----------------------------------------------------------------------


async def _time_proofs_over_http(
    settings: Settings,
    city: DemoCity,
    sessionmaker: async_sessionmaker[AsyncSession],
    proofs: int,
    seed: int,
) -> list[Latencies]:
    """The same proofs asked of the hub's API, served by uvicorn from this process."""
    rng = random.Random(seed)
    async with sessionmaker() as session:
        size, _ = await log_head(session)
        checkpoints = await signed_sizes(session)
    older = checkpoints[-2] if len(checkpoints) > 1 else checkpoints[-1]
    auditor = city.clients["auditor"]
    port = free_port()
    progress(f"{proofs:,} inclusion and consistency proofs over HTTP (GET /audit/...)")
    with _served(settings, port):
        async with httpx.AsyncClient(base_url=f"http://{LOOPBACK}:{port}", timeout=30) as client:
            token = await client.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(auditor.client_id, auditor.secret or ""),
            )
            _expect_ok(token, "an auditor's API token")
            client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            inclusion = await _time_gets(
                client, [f"/audit/events/{rng.randrange(size)}/inclusion" for _ in range(proofs)]
            )
            consistency = await _time_gets(
                client, [f"/audit/consistency?first={older}&second={size}"] * proofs
            )
    return [
        Latencies("HTTP GET /audit/events/{id}/inclusion (random ids)", inclusion),
        Latencies(f"HTTP GET /audit/consistency ({older:,} to {size:,})", consistency),
    ]


async def _time_gets(client: httpx.AsyncClient, paths: list[str]) -> list[float]:
    _expect_ok(await client.get(paths[0]), paths[0])  # warm-up, unmeasured
    seconds = []
    for path in paths:
        started = time.perf_counter()
        response = await client.get(path)
        seconds.append(time.perf_counter() - started)
        _expect_ok(response, path)
    return seconds


def _expect_ok(response: httpx.Response, what: str) -> None:
    if response.status_code != 200:
        raise BenchError(f"{what}: the hub answered {response.status_code}: {response.text[:300]}")


@contextmanager
def _served(settings: Settings, port: int) -> Iterator[None]:
    """The hub on ``settings``' database, served by uvicorn on a thread of this process."""
    config = uvicorn.Config(
        create_app(settings), host=LOOPBACK, port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="bench-hub", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise BenchError("the hub did not start")
        time.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=15)


# -- bundle --------------------------------------------------------------------------------


async def _bundle(sessionmaker: async_sessionmaker[AsyncSession], output: Path) -> Bundle:
    progress("exporting the bundle")
    started = time.perf_counter()
    async with sessionmaker() as session:
        summary = await export_bundle(session, output, SystemClock())
    exported = time.perf_counter()
    progress(f"verifying the bundle of {summary.tree_size:,} events")
    report = verify_bundle(output)
    verified = time.perf_counter()
    return Bundle(
        events=summary.events,
        megabytes=sum(f.stat().st_size for f in _files(output)) / 1e6,
        export_seconds=exported - started,
        verify_seconds=verified - exported,
        ok=report.ok,
        problems=len(report.problems),
    )


def _files(folder: Path) -> Iterator[Path]:
    return (path for path in folder.rglob("*") if path.is_file())


# -- SQLite durability ---------------------------------------------------------------------


def _override_synchronous(engine: AsyncEngine, level: str) -> None:
    def apply(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA synchronous={level}")
        cursor.close()

    # Registered after the hub's own pragmas, so it runs after them on every new connection.
    event.listen(engine.sync_engine, "connect", apply)


async def _synchronous(engine: AsyncEngine) -> str:
    async with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            level = (await connection.exec_driver_sql("PRAGMA synchronous")).scalar()
            return f"PRAGMA synchronous={_SQLITE_SYNCHRONOUS.get(int(level or 0), level)}"
        value = (await connection.exec_driver_sql("SHOW synchronous_commit")).scalar()
        return f"synchronous_commit={value}"


_SQLITE_SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


# -- output --------------------------------------------------------------------------------


def _print(results: Results, options: Options, seconds: float) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"audit log, {now}\n")
    print(
        f"machine:  nproc {os.cpu_count()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )
    print(
        f"database: {results.backend}, {results.synchronous}, fresh; in-process, one event "
        f"loop; whole run {seconds:.0f} s\n"
    )
    print(
        "| appends | events | seconds | appends/s | CPU s | appends/CPU s | transactions "
        "| events/transaction |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    rates = [*results.rates, *([results.fill] if results.fill else [])]
    for rate in rates:
        print(
            f"| {rate.name} | {rate.events:,} | {rate.seconds:.2f} | {rate.per_second:,.0f} | "
            f"{rate.cpu_seconds:.2f} | {rate.per_cpu_second:,.0f} | {rate.transactions:,} | "
            f"{rate.events / max(rate.transactions, 1):,.1f} |"
        )
    appender, one_each = results.rates[1], results.rates[2]
    print(
        f"\nappender (producers building events) / one commit each: "
        f"{appender.per_second / one_each.per_second:.1f}x appends/s, "
        f"{appender.per_cpu_second / one_each.per_cpu_second:.1f}x appends/CPU s"
    )
    if results.proofs:
        print(
            f"\n| proofs at {options.events:,} events ({options.proofs:,} each) | p50 ms | p99 ms |"
        )
        print("|---|---:|---:|")
        for timing in results.proofs:
            print(
                f"| {timing.name} | {timing.percentile_ms(50):.3f} | "
                f"{timing.percentile_ms(99):.3f} |"
            )
    if results.http:
        print("\n| proofs over HTTP, one request at a time | p50 ms | p99 ms |")
        print("|---|---:|---:|")
        for timing in results.http:
            print(
                f"| {timing.name} | {timing.percentile_ms(50):.3f} | "
                f"{timing.percentile_ms(99):.3f} |"
            )
    if results.bundle:
        bundle = results.bundle
        verdict = "ok" if bundle.ok else f"NOT OK, {bundle.problems} problems"
        print(
            f"\nbundle: {bundle.events:,} events, {bundle.megabytes:,.0f} MB; export "
            f"{bundle.export_seconds:.1f} s, verify_bundle {bundle.verify_seconds:.1f} s "
            f"({verdict})"
        )
    if results.failure:
        print(f"\nFAILED after the figures above: {results.failure}")


if __name__ == "__main__":
    sys.exit(main())
