"""Migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

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


def test_upgrade_to_0005_makes_existing_events_the_first_leaves(tmp_path: Path) -> None:
    from sharing.audit import merkle
    from sharing.audit.log import leaf_bytes
    from sharing.audit.models import AuditEvent

    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    run_migrations(settings, "0004")
    now = datetime.now(UTC).isoformat()

    async def insert_old_events(session: AsyncSession) -> None:
        # Ids with a gap, as a rolled-back PostgreSQL transaction leaves them.
        for event_id, action in ((3, "party.registered"), (4, "camera.registered"), (9, "x.y")):
            await session.execute(
                text(
                    "INSERT INTO audit_event (id, occurred_at, action, object_type, object_id, "
                    "outcome, details) VALUES (:id, :now, :action, 'party', 'p', 'success', "
                    "'{\"n\": 1}')"
                ),
                {"id": event_id, "now": now, "action": action},
            )
        await session.commit()

    async def upgraded(session: AsyncSession) -> tuple[list[AuditEvent], int, bytes]:
        query = select(AuditEvent).order_by(col(AuditEvent.id))
        events = list((await session.execute(query)).scalars())
        head = (await session.execute(text("SELECT size, root FROM audit_log_head"))).one()
        return events, int(head[0]), bytes(head[1])

    run_with_session(settings, insert_old_events)
    run_migrations(settings)
    events, size, root = run_with_session(settings, upgraded)
    assert [(e.id, e.action) for e in events] == [
        (0, "party.registered"),
        (1, "camera.registered"),
        (2, "x.y"),
    ]
    frontier = merkle.Frontier.empty()
    for event in events:
        frontier.append(merkle.leaf_hash(leaf_bytes(event)))
    assert (size, root) == (3, frontier.root())
