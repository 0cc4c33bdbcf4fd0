"""Start real hubs for tests: migrate a fresh database, load the demo city, serve over HTTP."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
import uvicorn
from jose import jwt
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession

from sharing.app import create_app
from sharing.clock import SystemClock
from sharing.db import run_migrations
from sharing.db import run_with_session as run_with_session  # tests import it from here
from sharing.demo import DemoCity, load_demo_city
from sharing.settings import Settings

T = TypeVar("T")
POSTGRES_ENV = "SHARING_TEST_POSTGRES_URL"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hub_settings(database_url: str, port: int, **overrides: Any) -> Settings:
    """Settings for a test hub on ``port``: its own secret, long-lived API tokens."""
    return Settings(
        database_url=database_url,
        issuer=f"http://127.0.0.1:{port}",
        secret_key=secrets.token_urlsafe(32),
        api_token_lifetime_seconds=3600,
        key_refresh_seconds=0.5,
        log_level="WARNING",
        **overrides,
    )


def postgres_url_or_skip_reason() -> tuple[str | None, str]:
    """The PostgreSQL URL tests may use, or why they can't."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        return None, f"{POSTGRES_ENV} is not set; PostgreSQL tests skipped (CI sets it)"
    try:
        asyncio.run(_ping(url))
    except (OSError, asyncpg.PostgresError) as exc:
        return None, f"PostgreSQL at {POSTGRES_ENV} is unreachable ({exc}); tests skipped"
    return url, ""


async def _ping(url: str) -> None:
    connection = await asyncpg.connect(_plain(url), timeout=5)
    await connection.close()


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@contextmanager
def fresh_postgres_database(base_url: str) -> Iterator[str]:
    """Create a throwaway database beside ``base_url``'s and drop it afterwards."""
    name = f"sharing_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(_plain(base_url))
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield base_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class RunningHub:
    """A hub serving on loopback, with the demo city loaded."""

    url: str
    settings: Settings
    city: DemoCity
    _tokens: dict[str, str] = field(default_factory=dict)

    def token(self, name: str, scope: str | None = None) -> str:
        """An API access token for demo client ``name`` via the client credentials grant."""
        if scope is None and name in self._tokens:
            return self._tokens[name]
        demo = self.city.clients[name]
        form = {"grant_type": "client_credentials"}
        if scope is not None:
            form["scope"] = scope
        auth: tuple[str, str] | None = None
        if demo.private_jwk is not None:
            form |= {
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": self.client_assertion(name),
            }
        else:
            auth = (demo.client_id, demo.secret or "")
        response = httpx.post(f"{self.url}/oauth/token", data=form, auth=auth, timeout=10)
        response.raise_for_status()
        token = str(response.json()["access_token"])
        if scope is None:
            self._tokens[name] = token
        return token

    def client_assertion(self, name: str, **claims: Any) -> str:
        """A signed RFC 7523 client assertion for a private_key_jwt demo client."""
        demo = self.city.clients[name]
        assert demo.private_jwk is not None
        now = int(time.time())
        body = {
            "iss": demo.client_id,
            "sub": demo.client_id,
            "aud": self.settings.token_endpoint,
            "iat": now,
            "exp": now + 60,
            "jti": uuid.uuid4().hex,
        } | claims
        return str(
            jwt.encode(
                body, demo.private_jwk, algorithm="ES256", headers={"kid": demo.private_jwk["kid"]}
            )
        )

    def client(self, name: str) -> httpx.Client:
        """An HTTP client authenticated as demo client ``name`` with all its scopes."""
        return httpx.Client(
            base_url=self.url, timeout=10, headers={"Authorization": f"Bearer {self.token(name)}"}
        )

    def anonymous(self) -> httpx.Client:
        """An HTTP client without credentials."""
        return httpx.Client(base_url=self.url, timeout=10)

    def query(self, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``fn(session)`` against the hub's database (its own engine, its own loop)."""
        return run_with_session(self.settings, fn)


def prepare_database(settings: Settings) -> DemoCity:
    """Migrate the database and load the demo city."""
    run_migrations(settings)
    return run_with_session(
        settings, lambda session: load_demo_city(session, settings, SystemClock())
    )


@contextmanager
def backend_database(backend: str, folder: Path) -> Iterator[str]:
    """A fresh, empty database of ``backend`` (a SQLite file in ``folder``, or a throwaway
    PostgreSQL database); skips the test where PostgreSQL is not configured."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / 'hub.db'}"
        return
    base_url, reason = postgres_url_or_skip_reason()
    if base_url is None:
        pytest.skip(reason)
    with fresh_postgres_database(base_url) as url:
        yield url


@contextmanager
def serve_in_thread(settings: Settings, port: int) -> Iterator[None]:
    """Serve ``create_app(settings)`` with uvicorn on a background thread."""
    with serve_app(create_app(settings), port):
        yield


@contextmanager
def serve_app(app: Litestar, port: int) -> Iterator[None]:
    """Serve ``app`` with uvicorn on a background thread (for a test that holds the app)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"hub-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test hub did not start")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def demo_hub(database_url: str, **overrides: Any) -> Iterator[RunningHub]:
    """The demo city on ``database_url`` (migrated and loaded here), served on a free
    loopback port; ``overrides`` are settings."""
    port = free_port()
    settings = hub_settings(database_url, port, **overrides)
    city = prepare_database(settings)
    with serve_in_thread(settings, port):
        yield RunningHub(url=settings.issuer, settings=settings, city=city)


@contextmanager
def private_hub(backend: str, folder: Path, **overrides: Any) -> Iterator[RunningHub]:
    """A hub of its own, on a fresh ``backend`` database in ``folder``: for tests that break
    or rewrite rows the session's shared hub must keep."""
    with backend_database(backend, folder) as url, demo_hub(url, **overrides) as hub:
        yield hub
