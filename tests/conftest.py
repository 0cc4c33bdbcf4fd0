"""Shared fixtures: one demo city per database backend, served by a real hub over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.hubprocess import (
    RunningHub,
    backend_database,
    free_port,
    hub_settings,
    prepare_database,
    serve_in_thread,
)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh, empty database of each backend; PostgreSQL only where it is configured."""
    with backend_database(request.param, tmp_path_factory.mktemp("sqlite")) as url:
        yield url


@pytest.fixture(scope="session")
def hub(database_url: str) -> Iterator[RunningHub]:
    """The demo city, served over HTTP on loopback, shared by every test of the session."""
    port = free_port()
    settings = hub_settings(database_url, port)
    city = prepare_database(settings)
    with ExitStack() as stack:
        stack.enter_context(serve_in_thread(settings, port))
        yield RunningHub(url=settings.issuer, settings=settings, city=city)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's top folder."""
    return Path(__file__).resolve().parent.parent
