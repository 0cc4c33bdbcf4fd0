"""A real hub process to measure: a fresh database, the demo city, one uvicorn worker.

The hub is started exactly as an operator starts it (``python -m sharing.cli migrate``,
``demo`` and ``serve``), so the figures include everything a deployment pays for: the
process's logging, its database engine and its single event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from sharing.demo import DemoCity

REPO_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
SETUP_TIMEOUT_SECONDS = 180
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15
LOG_TAIL_LINES = 40
LOG_LINE_CHARACTERS = 400


Prepare = Callable[[str, DemoCity], None]
"""Runs against the hub's database URL after the demo city is loaded, before the hub starts."""


class BenchError(RuntimeError):
    """The benchmark cannot go on; the message says why, with the hub's output if useful."""


@dataclass(frozen=True, slots=True)
class RunningHub:
    """A hub serving on loopback with the demo city loaded."""

    url: str
    city: DemoCity
    backend: str
    pid: int
    log_path: Path


@contextmanager
def running_hub(
    workdir: Path, postgres_url: str | None = None, prepare: Prepare | None = None
) -> Iterator[RunningHub]:
    """Set up and serve a hub in ``workdir``; stop it (and drop its database) on exit.

    Without ``postgres_url`` the hub gets a fresh SQLite file in ``workdir``; with one, a
    fresh database ``bench_<random>`` is created on that PostgreSQL server and dropped after.
    ``prepare``, if given, adds to the database before the hub starts, so the hub begins
    with cold caches on whatever is there, as after a restart.
    """
    with fresh_database(workdir, postgres_url) as database_url:
        port = free_port()
        env = _hub_environment(database_url, port)
        credentials = workdir / "creds.json"
        _run_cli(env, "migrate")
        _run_cli(env, "demo", "--credentials", str(credentials))
        city = DemoCity.from_json(credentials.read_text())
        if prepare is not None:
            prepare(database_url, city)
        log_path = workdir / "hub.log"
        url = f"http://{LOOPBACK}:{port}"
        with log_path.open("wb") as log, _served(env, port, log) as process:
            _wait_until_healthy(url, process, log_path)
            yield RunningHub(
                url=url,
                city=city,
                backend=make_url(database_url).get_backend_name(),
                pid=process.pid,
                log_path=log_path,
            )


def log_tail(path: Path) -> str:
    """The end of the hub's output, for error messages."""
    try:
        return _tail(path.read_text(errors="replace"))
    except OSError:
        return "(no hub output)"


def _tail(output: str) -> str:
    # Lines are cut short: SQLAlchemy's errors end with every bound parameter of the statement.
    lines = output.splitlines()[-LOG_TAIL_LINES:]
    return "\n".join(line[:LOG_LINE_CHARACTERS] for line in lines)


def process_cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of process ``pid`` and its threads (Linux ``/proc``)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the parenthesised command name (which may hold spaces): utime and stime
    # are fields 14 and 15 of proc(5), in clock ticks.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A loopback TCP port free right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _hub_environment(database_url: str, port: int) -> dict[str, str]:
    # Inherited SHARING_* variables would make runs differ by who ran them; drop them all.
    env = {key: value for key, value in os.environ.items() if not key.startswith("SHARING_")}
    env |= {
        "SHARING_DATABASE_URL": database_url,
        "SHARING_ISSUER": f"http://{LOOPBACK}:{port}",
        "SHARING_SECRET_KEY": secrets.token_urlsafe(32),
        # One API token must outlive the whole run, however long the phases are.
        "SHARING_API_TOKEN_LIFETIME_SECONDS": "86400",
    }
    return env


def _run_cli(env: dict[str, str], *args: str) -> None:
    command = [sys.executable, "-m", "sharing.cli", *args]
    try:
        subprocess.run(
            command,
            env=env,
            cwd=REPO_ROOT,
            check=True,
            capture_output=True,
            timeout=SETUP_TIMEOUT_SECONDS,
        )
    except subprocess.CalledProcessError as exc:
        output = _tail((exc.stdout + exc.stderr).decode(errors="replace"))
        raise BenchError(
            f"`sharing {' '.join(args)}` failed ({exc.returncode}):\n{output}"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"`sharing {' '.join(args)}` took over {exc.timeout:.0f} s") from exc


@contextmanager
def _served(env: dict[str, str], port: int, log: IO[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    # A session of its own: a Ctrl-C in the terminal reaches only the benchmark, whose
    # `finally` then stops the hub once, gracefully.
    process = subprocess.Popen(
        [sys.executable, "-m", "sharing.cli", "serve", "--host", LOOPBACK, "--port", str(port)],
        env=env,
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # uvicorn finishes in-flight requests, runs lifespan
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(
                f"the hub exited with {process.returncode} while starting:\n{log_tail(log_path)}"
            )
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.2)
    raise BenchError(
        f"the hub did not answer /health within {START_TIMEOUT_SECONDS} s:\n{log_tail(log_path)}"
    )


@contextmanager
def fresh_database(workdir: Path, postgres_url: str | None) -> Iterator[str]:
    """The URL of an empty database: a SQLite file in ``workdir``, or a throwaway database
    on the ``postgres_url`` server, dropped afterwards."""
    if postgres_url is None:
        yield f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        return
    try:
        given = make_url(postgres_url)
    except ArgumentError as exc:
        raise BenchError(f"--database-url is not a database URL: {exc}") from exc
    if given.get_backend_name() != "postgresql":
        raise BenchError(f"--database-url must name a PostgreSQL server, not {given.drivername}")
    # The hub is async: whatever driver the URL names, it and the admin statements use asyncpg.
    server = given.set(drivername="postgresql+asyncpg")
    admin_url = server.render_as_string(hide_password=False)
    name = f"bench_{secrets.token_hex(6)}"
    _administer(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        _administer(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _administer(server_url: str, statement: str) -> None:
    """Run one statement on the server's given database (asyncpg, through SQLAlchemy)."""

    async def run() -> None:
        # CREATE and DROP DATABASE refuse to run inside a transaction.
        engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except (OSError, SQLAlchemyError) as exc:
        raise BenchError(f"PostgreSQL refused `{statement}`: {exc}") from exc


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def progress(message: str) -> None:
    """A progress line on stderr, apart from the figures on stdout."""
    print(f"bench: {message}", file=sys.stderr, flush=True)
