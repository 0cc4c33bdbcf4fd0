"""A quiet hub for webhook tests: its background loops never run during the session, so
each test drives deliveries itself, with a clock it chooses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hubprocess import (
    RunningHub,
    free_port,
    fresh_postgres_database,
    hub_settings,
    postgres_url_or_skip_reason,
    prepare_database,
    serve_in_thread,
)

MAX_ATTEMPTS = 3
QUIET_INTERVAL_SECONDS = 86_400.0


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def quiet_hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningHub]:
    """The demo city on its own database, with at most three delivery attempts and sweeps
    a day apart."""
    if request.param == "sqlite":
        yield from _serve(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('quiet') / 'hub.db'}")
        return
    base_url, reason = postgres_url_or_skip_reason()
    if base_url is None:
        pytest.skip(reason)
    with fresh_postgres_database(base_url) as url:
        yield from _serve(url)


def _serve(database_url: str) -> Iterator[RunningHub]:
    port = free_port()
    settings = hub_settings(
        database_url,
        port,
        webhook_max_attempts=MAX_ATTEMPTS,
        webhook_timeout_seconds=5.0,
        sweep_interval_seconds=QUIET_INTERVAL_SECONDS,
    )
    city = prepare_database(settings)
    with serve_in_thread(settings, port):
        yield RunningHub(url=settings.issuer, settings=settings, city=city)
