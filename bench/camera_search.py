"""Benchmark camera search at city size: 20,000 cameras, in-process, through the service.

Migrates a fresh SQLite database in a temporary directory, bulk-inserts a city's worth of
cameras (owners, tags, administrative areas, spread over Medan's extent) and times searches
through ``sharing.cameras.search``: radius searches (with and without other filters and as a
police party that sees only what it may), ``cameras_within`` for the emergency flow, and the
tag, area and bounding-box filters beside them. Each search runs ``--queries`` times at
random points, after a few unmeasured warm-up runs, and the table gives p50 and p99.

Usage: ``.venv/bin/python bench/camera_search.py [--cameras 20000] [--queries 300]``.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import platform
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script, Python puts bench/ itself on the path; the repository root is what
    # makes `bench` importable as the package mypy and ruff know it as.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sharing.cameras.models import Camera, CameraTag
from sharing.cameras.schemas import BoundingBox, CameraSearch, NearPoint
from sharing.cameras.search import cameras_within, search_cameras
from sharing.consent.decision_inputs import visible_cameras_clause
from sharing.db import create_engine, create_sessionmaker, refresh_statistics, run_migrations
from sharing.parties.models import Party
from sharing.principal import Principal
from sharing.settings import Settings
from sharing.vocabulary import Scope

# Medan's extent, roughly 22 km north-south by 19 km east-west.
SOUTH, NORTH, WEST, EAST = 3.48, 3.68, 98.58, 98.75
DISTRICTS = [f"Medan {name}" for name in ("Petisah", "Sunggal", "Timur", "Baru", "Kota")] + [
    f"Kecamatan {n:02d}" for n in range(1, 17)
]
TAGS = ["traffic", "storefront", "gate", "parking", "street", "indoor", "warehouse", "flood"]
VISIBILITIES = ["private"] * 7 + ["partners"] * 2 + ["public"]
OWNERS = 2_000
WARMUP_RUNS = 5
METRES_PER_DEGREE = 111_195.0

Search = Callable[[AsyncSession, random.Random], Awaitable[int]]
"""Runs one search at a random place and returns how many cameras it found."""


@dataclass(frozen=True, slots=True)
class Timing:
    """What one kind of search measured."""

    name: str
    latencies: list[float]
    found: list[int]

    def percentile_ms(self, percent: float) -> float:
        """The nearest-rank percentile of the latencies, in milliseconds."""
        ordered = sorted(self.latencies)
        return ordered[max(1, math.ceil(percent / 100 * len(ordered))) - 1] * 1000


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the benchmark, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cameras", type=int, default=20_000, help="cameras to load")
    parser.add_argument("--queries", type=int, default=300, help="timed runs of each search")
    parser.add_argument("--seed", type=int, default=27, help="seed of the city and the points")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-camera-search-") as tmp:
        settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp}/hub.db", log_level="WARNING")
        started = time.perf_counter()
        run_migrations(settings)
        timings, load_seconds = asyncio.run(
            _run(settings, args.cameras, args.queries, random.Random(args.seed))
        )
    _print_table(timings, args.cameras, args.queries, load_seconds, time.perf_counter() - started)
    return 0


async def _run(
    settings: Settings, cameras: int, queries: int, rng: random.Random
) -> tuple[list[Timing], float]:
    engine = create_engine(settings)
    try:
        sessions = create_sessionmaker(engine)
        async with sessions() as session:
            started = time.perf_counter()
            police = await _load_city(session, cameras, rng)
            load_seconds = time.perf_counter() - started
        await refresh_statistics(engine)  # as the hub does when it starts
        timings = []
        for name, search in _searches(police).items():
            async with sessions() as session:
                timings.append(await _time(name, search, session, queries, rng))
        return timings, load_seconds
    finally:
        await engine.dispose()


async def _load_city(session: AsyncSession, cameras: int, rng: random.Random) -> uuid.UUID:
    """Bulk-insert the owners and cameras (with tags); return a police party's id."""
    now = datetime.now(UTC)
    police = uuid.uuid4()
    owners = [uuid.uuid4() for _ in range(OWNERS)]
    await session.execute(
        insert(Party),
        [{"id": police, "name": "Polrestabes (bench)", "kind": "police", "created_at": now}]
        + [
            {"id": owner, "name": f"Owner {n}", "kind": "business", "created_at": now}
            for n, owner in enumerate(owners)
        ],
    )
    rows: list[dict[str, object]] = []
    tags: list[dict[str, object]] = []
    for n in range(cameras):
        camera_id = uuid.uuid4()
        rows.append(
            {
                "id": camera_id,
                "owner_party_id": rng.choice(owners),
                "name": f"Camera {n:05d}",
                "latitude": rng.uniform(SOUTH, NORTH),
                "longitude": rng.uniform(WEST, EAST),
                "city": "Medan",
                "district": rng.choice(DISTRICTS),
                "village": f"Kelurahan {rng.randrange(150):03d}",
                "rw": f"{rng.randrange(1, 15):02d}",
                "visibility": rng.choice(VISIBILITIES),
                "status": "active" if rng.random() < 0.95 else "maintenance",
                "created_at": now,
                "updated_at": now,
            }
        )
        tags.extend({"camera_id": camera_id, "tag": tag} for tag in rng.sample(TAGS, 2))
    await session.execute(insert(Camera), rows)
    await session.execute(insert(CameraTag), tags)
    await session.commit()
    return police


def _searches(police: uuid.UUID) -> dict[str, Search]:
    admin = Principal(uuid.uuid4(), "bench", None, frozenset(Scope), "bench")
    officer = Principal(police, "bench-police", None, frozenset({Scope.REGISTRY_READ}), "bench")

    async def run(session: AsyncSession, search: CameraSearch, principal: Principal = admin) -> int:
        visible = None if principal is admin else visible_cameras_clause(police, _now())
        return (await search_cameras(session, principal, search, visible)).total

    def near(rng: random.Random, radius_m: int) -> NearPoint:
        return NearPoint(rng.uniform(SOUTH, NORTH), rng.uniform(WEST, EAST), radius_m)

    def box(rng: random.Random, side_m: float) -> BoundingBox:
        lat, lon = rng.uniform(SOUTH, NORTH), rng.uniform(WEST, EAST)
        half = side_m / 2 / METRES_PER_DEGREE
        return BoundingBox(lat - half, lon - half, lat + half, lon + half)

    async def within(session: AsyncSession, rng: random.Random) -> int:
        point = near(rng, 500)
        found = await cameras_within(
            session, latitude=point.latitude, longitude=point.longitude, radius_m=500
        )
        return len(found)

    return {
        "radius 500 m": lambda s, rng: run(s, CameraSearch(near=near(rng, 500))),
        "radius 2 km": lambda s, rng: run(s, CameraSearch(near=near(rng, 2_000))),
        "radius 10 km": lambda s, rng: run(s, CameraSearch(near=near(rng, 10_000))),
        "radius 500 m + tag": lambda s, rng: run(
            s, CameraSearch(near=near(rng, 500), tag=rng.choice(TAGS))
        ),
        "radius 500 m, as police": lambda s, rng: run(
            s, CameraSearch(near=near(rng, 500)), officer
        ),
        "cameras_within 500 m": within,
        "tag": lambda s, rng: run(s, CameraSearch(tag=rng.choice(TAGS))),
        "area (district)": lambda s, rng: run(s, CameraSearch(district=rng.choice(DISTRICTS))),
        "area (district + RW)": lambda s, rng: run(
            s, CameraSearch(district=rng.choice(DISTRICTS), rw=f"{rng.randrange(1, 15):02d}")
        ),
        "bbox 1 km": lambda s, rng: run(s, CameraSearch(bbox=box(rng, 1_000))),
        "bbox 5 km": lambda s, rng: run(s, CameraSearch(bbox=box(rng, 5_000))),
    }


async def _time(
    name: str, search: Search, session: AsyncSession, queries: int, rng: random.Random
) -> Timing:
    for _ in range(WARMUP_RUNS):
        await search(session, rng)
        session.expunge_all()
    latencies, found = [], []
    for _ in range(queries):
        started = time.perf_counter()
        found.append(await search(session, rng))
        latencies.append(time.perf_counter() - started)
        session.expunge_all()  # no run answers from objects an earlier one loaded
    return Timing(name, latencies, found)


def _now() -> datetime:
    return datetime.now(UTC)


def _print_table(
    timings: list[Timing], cameras: int, queries: int, load_seconds: float, total: float
) -> None:
    print(f"camera search through the service, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print()
    print(
        f"machine:  {platform.system()} {platform.release()}, Python {platform.python_version()}"
        f", SQLite {sqlite3.sqlite_version}"
    )
    print(
        f"data:     {cameras:,} cameras (2 tags each) of {OWNERS:,} owners over "
        f"{(NORTH - SOUTH) * METRES_PER_DEGREE / 1000:.0f} x "
        f"{(EAST - WEST) * METRES_PER_DEGREE / 1000:.0f} km, bulk-loaded in {load_seconds:.1f} s"
    )
    print(
        f"method:   {queries} timed runs per search at random places after {WARMUP_RUNS} "
        f"warm-up runs; one session, its identity map cleared after each run; page size 50; "
        f"whole run {total:.0f} s"
    )
    print()
    print("| search | p50 ms | p99 ms | matches (median) |")
    print("|---|---:|---:|---:|")
    for timing in timings:
        median_found = sorted(timing.found)[len(timing.found) // 2]
        print(
            f"| {timing.name} | {timing.percentile_ms(50):.2f} | {timing.percentile_ms(99):.2f} "
            f"| {median_found:,} |"
        )


if __name__ == "__main__":
    sys.exit(main())
