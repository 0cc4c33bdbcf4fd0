"""Benchmark the access-token flow and the gateway check beside /health, in one run.

Starts a real hub process (a fresh SQLite database, or a fresh PostgreSQL database with
``--database-url``), loads the demo city and drives it over loopback with 32 concurrent
connections, one phase after another:

1. ``GET /health``: the trivial baseline (no authentication, no database);
2. ``POST /access-requests``: the access-token flow for a consented camera (bearer token
   check, consent and policy decision, request, token and audit rows, JWT signing);
3. ``GET /gateway/auth``: the gateway check nginx makes for every playlist and segment
   (token verification, revocation lookup, audit row), with a token minted in phase 2;
4. ``GET /health`` again, to show how far the machine drifted during the run.

With ``--city-size full`` the database holds, beside the demo city, a city of the design's
size (20,000 cameras, 50,000 owners, 200,000 consents; see ``bench/city_scale.py``), loaded
before the hub starts; ``--compare`` runs at demo size, then at full size, and prints the
full/demo ratios of the access flow's throughput and of what a request costs the hub.

Absolute figures drift from run to run on a shared machine; the ratios to phase 1, measured
in the same run against the same process, are the figures to compare.

Usage: ``.venv/bin/python bench/access_flow.py [--seconds 10] [--database-url URL]
[--city-size demo|full | --compare]`` (``make bench``). See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Literal, get_args

if __package__ in (None, ""):
    # Run as a script, Python puts bench/ itself on the path; the repository root is what
    # makes `bench` importable as the package mypy and ruff know it as.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.city_scale import CAMERAS, CONSENTS, OWNERS, LoadedCity, load_city
from bench.hub import (
    BenchError,
    RunningHub,
    log_tail,
    positive_int,
    process_cpu_seconds,
    progress,
    running_hub,
)
from bench.load import Budget, PhaseResult, Probe, run_phase
from sharing.demo import DemoCity, DemoClient

CitySize = Literal["demo", "full"]

CLIENT = "polrestabes_cc"
CAMERA = "sinar_front"
# Consent "sinar_to_polrestabes" grants Polrestabes live access to sinar_front for public
# order under the Perwal (template city-regulation-private-cctv), which asks no legal basis
# for that purpose: policy allows, so every request runs the whole flow up to signing.
ACCESS_REQUEST: dict[str, object] = {
    "mode": "live",
    "purpose": "public_order",
    "justification": "benchmark: crowd at the storefront",
}
DEFAULT_CONCURRENCY = 32
DEFAULT_SECONDS = 10.0
DEFAULT_WARMUP_SECONDS = 2.0
MAX_PHASE_SECONDS = 600.0  # the access token of phase 2 lives 30 minutes (the Perwal's cap)
REQUEST_TIMEOUT_SECONDS = 30.0
ACCESS_PHASE = "POST /access-requests"


@dataclass(frozen=True, slots=True)
class Options:
    """What the command line asked for."""

    seconds: float
    requests: int | None
    warmup: float
    concurrency: int
    database_url: str | None
    city_size: CitySize
    compare: bool

    @property
    def budget(self) -> Budget:
        """Each phase's budget: a duration, or a request count bounded by the longest phase."""
        if self.requests is None:
            return Budget(self.seconds)
        return Budget(MAX_PHASE_SECONDS, self.requests)

    @property
    def city_sizes(self) -> tuple[CitySize, ...]:
        """The sizes to run at, one hub each, in this order."""
        return ("demo", "full") if self.compare else (self.city_size,)


@dataclass(frozen=True, slots=True)
class Run:
    """One hub's figures at one city size."""

    city_size: CitySize
    city: str
    """What the database held, and for the full city how long loading it took."""
    backend: str
    started_at: datetime
    results: list[PhaseResult]


class _FullCity:
    """Loads the full-size city into a hub's database (``running_hub``'s ``prepare``)."""

    def __init__(self) -> None:
        self.loaded: LoadedCity | None = None

    def __call__(self, database_url: str, demo: DemoCity) -> None:
        progress(f"loading {CAMERAS:,} cameras, {OWNERS:,} owners and {CONSENTS:,} consents")
        self.loaded = load_city(database_url, demo)
        progress(f"loaded in {self.loaded.seconds:.1f} s")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its tables; 1 if it could not run, 130 if interrupted."""
    options = _options(argv)
    runs: list[Run] = []
    try:
        for city_size in options.city_sizes:
            runs.append(run_at(city_size, options))
            # Each table as soon as it exists: a failure at full size keeps the demo's.
            print(("\n" if len(runs) > 1 else "") + report(runs[-1], options), flush=True)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # the hub was stopped and its database removed on the way out
        print("bench: interrupted", file=sys.stderr)
        return 130
    if len(runs) == 2:
        print(f"\n{comparison(*runs)}")
    return 0


def run_at(city_size: CitySize, options: Options) -> Run:
    """Start a hub on a fresh database holding a city of ``city_size`` and measure it."""
    started_at = datetime.now(UTC)
    full_city = _FullCity() if city_size == "full" else None
    with (
        tempfile.TemporaryDirectory(prefix="sharing-bench-") as workdir,
        running_hub(Path(workdir), options.database_url, prepare=full_city) as hub,
    ):
        progress(f"hub pid {hub.pid} serving {hub.url} on {hub.backend}, {city_size} city")
        results = asyncio.run(measure(hub, options))
        city = _demo_city(hub.city)
    if full_city is not None and full_city.loaded is not None:
        city += f", plus {full_city.loaded.summary()}"
    return Run(city_size, city, hub.backend, started_at, results)


def _demo_city(city: DemoCity) -> str:
    return (
        f"the demo city ({len(city.cameras)} cameras, {len(city.parties)} parties, "
        f"{len(city.consents)} consents)"
    )


async def measure(hub: RunningHub, options: Options) -> list[PhaseResult]:
    """Check the flow works once, then run the four phases on one shared client."""
    limits = httpx.Limits(
        max_connections=options.concurrency, max_keepalive_connections=options.concurrency
    )
    async with httpx.AsyncClient(
        base_url=hub.url, limits=limits, timeout=REQUEST_TIMEOUT_SECONDS
    ) as client:
        api_token = await _api_token(client, hub.city.clients[CLIENT], hub)
        camera = str(hub.city.cameras[CAMERA])
        health = _health_probe()
        access = _access_probe(camera, api_token)
        # One request of each kind first: a refusal here is a setup problem, not a figure.
        first_token = _access_token((await _expect(client, access, 201, hub)).content)
        await _expect(client, _gateway_probe(camera, first_token), 204, hub)

        async def phase(name: str, probe: Probe) -> PhaseResult:
            return await _phase(name, client, probe, options, hub.pid)

        results = [await phase("GET /health", health), await phase(ACCESS_PHASE, access)]
        # The gateway checks a token the measured flow minted (the check-up's, if none was).
        minted = results[1].last_success_body
        gateway = _gateway_probe(camera, _access_token(minted) if minted else first_token)
        results.append(await phase("GET /gateway/auth", gateway))
        results.append(await phase("GET /health (again)", health))
        return results


def _health_probe() -> Probe:
    async def probe(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get("/health")

    return probe


def _access_probe(camera: str, api_token: str) -> Probe:
    body = {"camera_ids": [camera], **ACCESS_REQUEST}
    headers = {"Authorization": f"Bearer {api_token}"}

    async def probe(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/access-requests", json=body, headers=headers)

    return probe


def _gateway_probe(camera: str, access_token: str) -> Probe:
    # What nginx's auth_request sends for a viewer fetching the live playlist.
    headers = {
        "X-Original-URI": f"/live/{camera}/index.m3u8",
        "Authorization": f"Bearer {access_token}",
    }

    async def probe(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get("/gateway/auth", headers=headers)

    return probe


async def _api_token(client: httpx.AsyncClient, demo: DemoClient, hub: RunningHub) -> str:
    """An API token by the client credentials grant, authenticated by client_secret_basic."""
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(demo.client_id, demo.secret or ""),
    )
    _check(response, 200, "POST /oauth/token", hub)
    return str(response.json()["access_token"])


async def _expect(
    client: httpx.AsyncClient, probe: Probe, status: int, hub: RunningHub
) -> httpx.Response:
    response = await probe(client)
    _check(response, status, f"{response.request.method} {response.request.url.path}", hub)
    return response


def _check(response: httpx.Response, status: int, what: str, hub: RunningHub) -> None:
    if response.status_code == status:
        return
    message = f"{what} answered {response.status_code}, not {status}: {response.text[:800]}"
    if response.status_code >= 500:
        message += f"\nhub output:\n{log_tail(hub.log_path)}"
    raise BenchError(message)


def _access_token(body: bytes) -> str:
    return str(json.loads(body)["access_token"])


async def _phase(
    name: str, client: httpx.AsyncClient, probe: Probe, options: Options, hub_pid: int
) -> PhaseResult:
    if options.warmup > 0:  # fills the connection pool and the hub's caches; not counted
        await run_phase(
            name, client, probe, concurrency=options.concurrency, budget=Budget(options.warmup)
        )
    cpu_before = process_cpu_seconds(hub_pid)
    result = await run_phase(
        name, client, probe, concurrency=options.concurrency, budget=options.budget
    )
    cpu_after = process_cpu_seconds(hub_pid)
    if cpu_before is not None and cpu_after is not None:
        result.server_cpu_seconds = cpu_after - cpu_before
    progress(
        f"{name}: {result.requests} requests, {result.error_count} errors in {result.elapsed:.1f} s"
    )
    return result


def report(run: Run, options: Options) -> str:
    """The figures as a Markdown table, with the machine, the settings and error samples."""
    results = run.results
    baseline = results[0]
    lines = [
        f"access-token flow and gateway check beside /health, {run.city_size} city, "
        f"{run.started_at:%Y-%m-%d %H:%M} UTC",
        "",
        f"machine:  {_machine()}",
        f"settings: {_settings(options, run.backend)}",
        f"city:     {run.city}",
        "",
        "| phase | requests | errors | req/s | p50 ms | p99 ms | req/s vs /health "
        "| p50 vs /health | hub CPU ms/req | hub busy | client busy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(_row(result, baseline) for result in results),
    ]
    failed = [result for result in results if result.errors]
    if failed:
        lines += ["", "errors (one sample body per kind):"]
        for result in failed:
            for kind, count in result.errors.most_common():
                lines.append(f"- {result.name}: {kind} x{count}: {result.error_samples[kind]!r}")
    return "\n".join(lines)


def comparison(demo: Run, full: Run) -> str:
    """One line: the full city's access-flow req/s and hub CPU per request over the demo's."""
    at_demo, at_full = _access_phase(demo), _access_phase(full)
    throughput = _ratio(at_full.per_second / at_demo.per_second) if at_demo.per_second else "-"
    demo_cpu, full_cpu = at_demo.server_cpu_ms_per_request, at_full.server_cpu_ms_per_request
    cpu = _ratio(full_cpu / demo_cpu) if demo_cpu and full_cpu is not None else "-"
    return (
        f"full/demo, {ACCESS_PHASE}: req/s {at_full.per_second:,.0f} / "
        f"{at_demo.per_second:,.0f} = {throughput}; hub CPU ms/req {_ms(full_cpu, digits=2)} / "
        f"{_ms(demo_cpu, digits=2)} = {cpu}"
    )


def _access_phase(run: Run) -> PhaseResult:
    return next(result for result in run.results if result.name == ACCESS_PHASE)


def _row(result: PhaseResult, baseline: PhaseResult) -> str:
    p50, p99, base_p50 = (
        result.percentile_ms(50),
        result.percentile_ms(99),
        baseline.percentile_ms(50),
    )
    throughput_ratio = (
        _ratio(result.per_second / baseline.per_second) if baseline.per_second else "-"
    )
    latency_ratio = _ratio(p50 / base_p50) if p50 is not None and base_p50 else "-"
    cells = [
        result.name,
        str(result.requests),
        str(result.error_count),
        f"{result.per_second:,.0f}",
        _ms(p50),
        _ms(p99),
        throughput_ratio,
        latency_ratio,
        _ms(result.server_cpu_ms_per_request, digits=2),
        _percent(result.server_busy_percent),
        _percent(result.client_busy_percent),
    ]
    return "| " + " | ".join(cells) + " |"


def _ms(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _ratio(value: float) -> str:
    return f"{value:.3f}x" if value < 0.1 else f"{value:.2f}x"


def _machine() -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"nproc {cpus} ({_cpu_model()}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        + ", ".join(f"{name} {version(name)}" for name in ("litestar", "uvicorn", "httpx"))
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _settings(options: Options, backend: str) -> str:
    budget = (
        f"{options.seconds:g} s per phase"
        if options.requests is None
        else f"{options.requests} requests per phase (at most {MAX_PHASE_SECONDS:g} s)"
    )
    return (
        f"{backend} (fresh database), one hub process with one uvicorn worker; "
        f"{options.concurrency} concurrent connections and workers from one "
        f"httpx.AsyncClient on the same machine; {budget} after a "
        f"{options.warmup:g} s warm-up; loopback only"
    )


def _options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="bench/access_flow.py",
        description="Requests per second and p50/p99 latency of the access-token flow and "
        "the gateway check, beside /health of the same hub, in one run.",
    )
    parser.add_argument(
        "--seconds",
        type=_phase_seconds,
        default=DEFAULT_SECONDS,
        help=f"how long each phase runs (default {DEFAULT_SECONDS:g}, "
        f"at most {MAX_PHASE_SECONDS:g})",
    )
    parser.add_argument(
        "--requests",
        type=positive_int,
        default=None,
        help="run each phase for this many requests instead of --seconds",
    )
    parser.add_argument(
        "--warmup",
        type=_warmup_seconds,
        default=DEFAULT_WARMUP_SECONDS,
        help=f"unmeasured seconds before each phase (default {DEFAULT_WARMUP_SECONDS:g})",
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=DEFAULT_CONCURRENCY,
        help=f"concurrent connections and workers (default {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        metavar="URL",
        help="a PostgreSQL server to run against, e.g. "
        "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres; a fresh "
        "database bench_<random> is created there and dropped after "
        "(default: a fresh SQLite file)",
    )
    parser.add_argument(
        "--city-size",
        choices=get_args(CitySize),
        default="demo",
        help=f"demo: the demo city alone (default); full: the demo city plus {CAMERAS:,} "
        f"cameras, {OWNERS:,} owners and {CONSENTS:,} consents, loaded before the hub starts",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="run at demo size, then at full size (a fresh hub each), and print both tables "
        "and the full/demo ratios of the access flow's req/s and hub CPU ms per request",
    )
    args = parser.parse_args(argv)
    if args.compare and args.city_size != "demo":
        parser.error("--compare runs both city sizes; leave out --city-size")
    return Options(
        seconds=args.seconds,
        requests=args.requests,
        warmup=args.warmup,
        concurrency=args.concurrency,
        database_url=args.database_url,
        city_size=args.city_size,
        compare=args.compare,
    )


def _phase_seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= MAX_PHASE_SECONDS:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_PHASE_SECONDS:g}")
    return value


def _warmup_seconds(text: str) -> float:
    value = float(text)
    if not 0 <= value <= MAX_PHASE_SECONDS:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_PHASE_SECONDS:g}")
    return value


if __name__ == "__main__":
    sys.exit(main())
