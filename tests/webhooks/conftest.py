"""A quiet hub for webhook tests: its background loops never run during the session, so
each test drives deliveries itself, with a clock it chooses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hubprocess import RunningHub, backend_database, demo_hub

MAX_ATTEMPTS = 3
QUIET_INTERVAL_SECONDS = 86_400.0


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def quiet_hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningHub]:
    """The demo city on its own database, with at most three delivery attempts and sweeps
    a day apart."""
    with backend_database(request.param, tmp_path_factory.mktemp("quiet")) as url:
        yield from _serve(url)


def _serve(database_url: str) -> Iterator[RunningHub]:
    with demo_hub(
        database_url,
        webhook_max_attempts=MAX_ATTEMPTS,
        webhook_timeout_seconds=5.0,
        sweep_interval_seconds=QUIET_INTERVAL_SECONDS,
    ) as hub:
        yield hub
