"""Database engine, the one session provider, and the migration entry point."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from sharing.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
T = TypeVar("T")


def create_engine(settings: Settings, *, enforce_foreign_keys: bool = True) -> AsyncEngine:
    """Create the async engine; SQLite gets WAL, foreign keys and a busy timeout.

    Migrations pass ``enforce_foreign_keys=False``: SQLite alters a table by copying it, and
    dropping the old copy would trip every row that references it. They check the keys after.
    """
    if settings.is_sqlite:
        _ensure_sqlite_directory(settings.database_url)
        engine = create_async_engine(settings.database_url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        if not enforce_foreign_keys:
            event.listen(engine.sync_engine, "connect", _sqlite_foreign_keys_off)
        return engine
    return create_async_engine(settings.database_url, pool_size=10, max_overflow=20)


def _ensure_sqlite_directory(url: str) -> None:
    path = url.split(":///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the gateway check read while a request writes. FULL syncs the WAL at every
    # commit, so a commit (and the audit event it reports as recorded) survives a power
    # loss, not only a crash of the hub; group commit keeps that to one sync per batch of
    # verdicts (docs/decisions/0017).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions keep loaded objects usable after commit, so handlers can answer from them."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def session_scope(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """Yield one session per request; uncommitted work is rolled back when it closes."""
    async with sessionmaker() as session:
        yield session


def run_migrations(settings: Settings, revision: str = "head") -> None:
    """Upgrade the configured database to ``revision`` with Alembic."""
    from alembic import command
    from alembic.config import Config

    if settings.is_sqlite:
        _ensure_sqlite_directory(settings.database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = settings.database_url
    command.upgrade(config, revision)


async def refresh_statistics(engine: AsyncEngine) -> None:
    """Give SQLite's planner fresh statistics; without them it picks low-selectivity indexes
    (e.g. ``camera.status`` for every search). PostgreSQL's autovacuum does this itself."""
    if engine.dialect.name != "sqlite":
        return
    async with engine.connect() as connection:
        await connection.exec_driver_sql("ANALYZE")
        await connection.commit()


def run_with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work(session)`` in an event loop and on an engine of its own, disposed after:
    a command's (or a test's) whole use of the database."""

    async def run() -> T:
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())
