"""Shared fixtures: one demo city per database backend, served by a real hub over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hubprocess import RunningHub, backend_database, demo_hub


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
    with demo_hub(database_url) as running:
        yield running


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's top folder."""
    return Path(__file__).resolve().parent.parent
