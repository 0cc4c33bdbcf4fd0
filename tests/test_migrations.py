"""Migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

import sharing.migrations  # noqa: F401  (the package whose env imports every model)
from tests.hubprocess import RunningHub


def test_migrated_database_matches_the_models(hub: RunningHub) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))

    async def compare(session: AsyncSession) -> list[object]:
        connection = await session.connection()
        return await connection.run_sync(diff)

    assert hub.query(compare) == []
