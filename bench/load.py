"""A closed-loop load generator: N workers, each keeping one request in flight, for a budget.

Closed loop means a worker sends its next request only when the previous one answered, so
the server sees at most N concurrent requests and throughput is what it sustains at N.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

Probe = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]
"""Sends one request of a phase on the shared client and returns its response."""

SAMPLE_BODY_CHARACTERS = 300


@dataclass(frozen=True, slots=True)
class Budget:
    """How long a phase runs: ``seconds``, or ``requests`` if they are sent sooner."""

    seconds: float
    requests: int | None = None


@dataclass(slots=True)
class PhaseResult:
    """What one phase measured. Latencies are of successful (2xx) responses, in seconds."""

    name: str
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: dict[str, str] = field(default_factory=dict)
    last_success_body: bytes = b""
    client_cpu_seconds: float = 0.0
    """CPU time this (the load generator's) process spent during the phase."""
    server_cpu_seconds: float | None = None
    """CPU time the server process spent during the phase, if the caller could measure it."""

    @property
    def requests(self) -> int:
        """Requests answered, successfully or not (transport failures included)."""
        return len(self.latencies) + self.error_count

    @property
    def error_count(self) -> int:
        """Non-2xx responses and transport failures."""
        return sum(self.errors.values())

    @property
    def per_second(self) -> float:
        """Successful responses per second of the phase's wall time."""
        return len(self.latencies) / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def server_cpu_ms_per_request(self) -> float | None:
        """The server's CPU milliseconds per answered request: its cost, whatever the load."""
        if self.server_cpu_seconds is None or not self.requests:
            return None
        return self.server_cpu_seconds * 1000 / self.requests

    @property
    def server_busy_percent(self) -> float | None:
        """Share of one core the server used; near 100 means the server was the bottleneck."""
        if self.server_cpu_seconds is None or self.elapsed <= 0:
            return None
        return self.server_cpu_seconds / self.elapsed * 100

    @property
    def client_busy_percent(self) -> float:
        """Share of one core the load generator used; near 100 means it was the bottleneck."""
        return self.client_cpu_seconds / self.elapsed * 100 if self.elapsed > 0 else 0.0

    def percentile_ms(self, percent: float) -> float | None:
        """The nearest-rank ``percent`` percentile of successful latencies, in milliseconds."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(percent / 100 * len(ordered)))
        return ordered[rank - 1] * 1000

    def add_success(self, latency: float, body: bytes) -> None:
        """Count a 2xx response that took ``latency`` seconds."""
        self.latencies.append(latency)
        self.last_success_body = body

    def add_failure(self, kind: str, sample: str) -> None:
        """Count a failure of ``kind`` (a status code or an exception name); keep one sample."""
        self.errors[kind] += 1
        self.error_samples.setdefault(kind, sample[:SAMPLE_BODY_CHARACTERS])


async def run_phase(
    name: str,
    client: httpx.AsyncClient,
    probe: Probe,
    *,
    concurrency: int,
    budget: Budget,
) -> PhaseResult:
    """Run ``probe`` from ``concurrency`` workers until the budget is spent."""
    result = PhaseResult(name)
    deadline = time.monotonic() + budget.seconds
    tickets = _Tickets(budget.requests)
    started, client_cpu = time.perf_counter(), time.process_time()
    async with asyncio.TaskGroup() as workers:
        for _ in range(concurrency):
            workers.create_task(_work(client, probe, result, deadline, tickets))
    # Requests in flight at the deadline finish and count, so the wall time runs until then.
    result.elapsed = time.perf_counter() - started
    result.client_cpu_seconds = time.process_time() - client_cpu
    return result


class _Tickets:
    """Hands out at most ``limit`` request slots (no lock: workers share one event loop)."""

    def __init__(self, limit: int | None) -> None:
        self._left = limit

    def take(self) -> bool:
        if self._left is None:
            return True
        if self._left <= 0:
            return False
        self._left -= 1
        return True


async def _work(
    client: httpx.AsyncClient,
    probe: Probe,
    result: PhaseResult,
    deadline: float,
    tickets: _Tickets,
) -> None:
    while time.monotonic() < deadline and tickets.take():
        sent = time.perf_counter()
        try:
            response = await probe(client)
        except httpx.HTTPError as exc:  # timeouts, resets: counted, not fatal
            result.add_failure(type(exc).__name__, str(exc) or repr(exc))
            continue
        latency = time.perf_counter() - sent
        if response.is_success:
            result.add_success(latency, response.content)
        else:
            result.add_failure(str(response.status_code), response.text)
