"""Migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

import sharing.tables  # noqa: F401  (every table)
from sharing.db import run_migrations
from sharing.settings import Settings
from tests.hubprocess import RunningHub, run_with_session


def test_migrated_database_matches_the_models(hub: RunningHub) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))

    async def compare(session: AsyncSession) -> list[object]:
        connection = await session.connection()
        return await connection.run_sync(diff)

    assert hub.query(compare) == []


def test_upgrade_from_0001_gives_existing_consents_a_lineage_and_scope(
    tmp_path: Path,
) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    run_migrations(settings, "0001")
    now = datetime.now(UTC).isoformat()
    party, agreement, private, public = (uuid.uuid4().hex for _ in range(4))

    async def insert_old_rows(session: AsyncSession) -> None:
        await session.execute(
            text(
                "INSERT INTO party (id, name, kind, active, created_at) VALUES (:id, 'Toko', "
                "'business', 1, :now)"
            ),
            {"id": party, "now": now},
        )
        await session.execute(
            text(
                "INSERT INTO agreement (id, kind, number, title, status, policy_template, "
                "document_sha256, valid_from, created_at) VALUES (:id, 'regulation', 'P/1', "
                "'Perwal', 'active', 'public-cameras', :sha, :now, :now)"
            ),
            {"id": agreement, "sha": "0" * 64, "now": now},
        )
        for consent, grantee in ((private, party), (public, None)):
            await session.execute(
                text(
                    "INSERT INTO consent (id, grantor_party_id, grantee_party_id, agreement_id, "
                    "camera_selector, modes, purposes, valid_from, status, version, created_at) "
                    "VALUES (:id, :party, :grantee, :agreement, 'all', '[\"live\"]', "
                    "'[\"public_information\"]', :now, 'active', 1, :now)"
                ),
                {
                    "id": consent,
                    "party": party,
                    "grantee": grantee,
                    "agreement": agreement,
                    "now": now,
                },
            )
        await session.commit()

    async def upgraded_rows(session: AsyncSession) -> dict[str, tuple[str, str]]:
        rows = await session.execute(text("SELECT id, lineage_id, grantee_scope FROM consent"))
        return {str(row[0]): (str(row[1]), str(row[2])) for row in rows}

    run_with_session(settings, insert_old_rows)
    run_migrations(settings)
    rows = run_with_session(settings, upgraded_rows)
    assert rows == {private: (private, "party"), public: (public, "public")}
