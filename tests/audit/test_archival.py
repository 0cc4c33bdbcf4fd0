"""Archival: old ranges leave the database only into a bundle that verifies, with a logged
record; the tree keeps their leaves, so proofs and later bundles still verify."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit import merkle
from sharing.audit.archive import archived_through
from sharing.audit.bundle import ARCHIVED_ACTION, EVENTS, export_bundle, manifest_sha256
from sharing.audit.checkpoints import CHECKPOINT_KEY, sign_checkpoint
from sharing.audit.models import (
    AuditArchive,
    AuditCheckpoint,
    AuditEvent,
    AuditEventCamera,
    AuditLogKey,
)
from sharing.audit.notes import Checkpoint, SignedNote
from sharing.audit.proofs import inclusion_path
from sharing.audit.verify import VerificationReport, verify_bundle
from sharing.cli import main
from sharing.clock import SystemClock
from tests.hubprocess import RunningHub, private_hub

EVENTS_TABLE: Table = AuditEvent.__table__  # type: ignore[attr-defined]
CAMERA_LINKS: Table = AuditEventCamera.__table__  # type: ignore[attr-defined]
ARCHIVES: Table = AuditArchive.__table__  # type: ignore[attr-defined]
SHARING = Path(sys.executable).parent / "sharing"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def archive_hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningHub]:
    """A hub of its own: archiving deletes rows other tests would look for."""
    folder = tmp_path_factory.mktemp("archive")
    with private_hub(request.param, folder, checkpoint_interval_seconds=3600) as hub:
        yield hub


@pytest.fixture
def cli_env(archive_hub: RunningHub, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment an operator runs ``sharing`` in, for this hub."""
    env = {
        "SHARING_DATABASE_URL": archive_hub.settings.database_url,
        "SHARING_ISSUER": archive_hub.settings.issuer,
        "SHARING_SECRET_KEY": archive_hub.settings.secret_key.get_secret_value(),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return os.environ | env


def use_the_hub(hub: RunningHub) -> None:
    """Police ask for footage of a consented camera and a camera nobody consented to."""
    with hub.client("polrestabes_cc") as police:
        for camera in ("sinar_front", "rejeki_front"):
            police.post(
                "/access-requests",
                json={
                    "camera_ids": [str(hub.city.cameras[camera])],
                    "mode": "live",
                    "purpose": "criminal_investigation",
                    "legal_basis": "LP/B/1234/XI/2026/SPKT",
                    "justification": "penjambretan di depan toko",
                },
            )


def sign(hub: RunningHub) -> int:
    async def signed(session: AsyncSession) -> int:
        checkpoint = await sign_checkpoint(session, hub.settings, SystemClock())
        assert checkpoint is not None
        return checkpoint.tree_size

    return hub.query(signed)


def grow_and_sign(hub: RunningHub) -> int:
    use_the_hub(hub)
    return sign(hub)


def log_vkey(hub: RunningHub) -> str:
    async def vkey(session: AsyncSession) -> str:
        query = select(col(AuditLogKey.vkey)).where(col(AuditLogKey.purpose) == CHECKPOINT_KEY)
        return str((await session.execute(query)).scalar_one())

    return hub.query(vkey)


def verified(bundle: Path, hub: RunningHub, **options: Any) -> VerificationReport:
    return verify_bundle(bundle, log_keys=[log_vkey(hub)], **options)


def export(hub: RunningHub, output: Path) -> Path:
    async def run(session: AsyncSession) -> Path:
        return (await export_bundle(session, output, SystemClock())).path

    return hub.query(run)


def count(hub: RunningHub, table: Table, column: Any, first: int, end: int) -> int:
    async def run(session: AsyncSession) -> int:
        query = select(func.count()).select_from(table).where(column >= first, column < end)
        return int((await session.execute(query)).scalar_one())

    return hub.query(run)


def events_in(hub: RunningHub, first: int, end: int) -> int:
    return count(hub, EVENTS_TABLE, EVENTS_TABLE.c.id, first, end)


def archive_rows(hub: RunningHub) -> list[dict[str, Any]]:
    async def run(session: AsyncSession) -> list[dict[str, Any]]:
        rows = await session.execute(select(ARCHIVES).order_by(ARCHIVES.c.first_event_id))
        return [dict(row._mapping) for row in rows]

    return hub.query(run)


def archived_records(hub: RunningHub) -> list[tuple[int, dict[str, Any]]]:
    async def run(session: AsyncSession) -> list[tuple[int, dict[str, Any]]]:
        query = select(EVENTS_TABLE.c.id, EVENTS_TABLE.c.details).where(
            EVENTS_TABLE.c.action == ARCHIVED_ACTION
        )
        return [(int(i), dict(d)) for i, d in (await session.execute(query)).all()]

    return hub.query(run)


def test_archiving_without_prune_writes_a_verified_bundle_and_deletes_nothing(
    archive_hub: RunningHub, cli_env: dict[str, str], tmp_path: Path
) -> None:
    size = grow_and_sign(archive_hub)
    first = archive_hub.query(archived_through)
    before = events_in(archive_hub, first, size)
    archives_before = archive_rows(archive_hub)

    status = main(["audit", "archive", "--through", str(size), "--output", str(tmp_path / "a")])

    assert status == 0
    assert events_in(archive_hub, first, size) == before > 0
    assert archive_rows(archive_hub) == archives_before
    report = verified(tmp_path / "a", archive_hub)
    assert report.ok
    assert report.events_checked == before


def test_old_ranges_are_archived_pruned_and_everything_still_verifies(
    archive_hub: RunningHub, cli_env: dict[str, str], tmp_path: Path
) -> None:
    first_end = grow_and_sign(archive_hub)
    first = archive_hub.query(archived_through)
    links_before = count(archive_hub, CAMERA_LINKS, CAMERA_LINKS.c.event_id, first, first_end)
    bundle_one = tmp_path / "archive-1"

    archived = subprocess.run(
        [
            str(SHARING),
            "audit",
            "archive",
            "--through",
            str(first_end),
            "--output",
            str(bundle_one),
            "--location",
            "arsip-kominfo/audit/archive-1",
            "--prune",
        ],
        env=cli_env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert archived.returncode == 0, archived.stderr
    assert links_before > 0
    assert events_in(archive_hub, first, first_end) == 0
    assert count(archive_hub, CAMERA_LINKS, CAMERA_LINKS.c.event_id, first, first_end) == 0
    row = archive_rows(archive_hub)[-1]
    assert (row["first_event_id"], row["end_event_id"]) == (first, first_end)
    assert row["checkpoint_size"] == first_end
    assert row["bundle_sha256"] == manifest_sha256(bundle_one)
    assert row["location"] == "arsip-kominfo/audit/archive-1"
    record_id, record = archived_records(archive_hub)[-1]
    assert record_id >= first_end
    assert record["archived"][-1] == [first, first_end, manifest_sha256(bundle_one)]
    assert verified(bundle_one, archive_hub).ok

    # The log goes on; the archived range's leaves are still in the tree.
    second_end = grow_and_sign(archive_hub)
    current = export(archive_hub, tmp_path / "current")
    report = verified(current, archive_hub)
    assert report.ok, report.problems
    assert [(r.first, r.end) for r in report.archived][-1] == (first, first_end)
    assert report.events_checked == events_in(archive_hub, 0, second_end)
    alongside = verified(current, archive_hub, archives=[bundle_one])
    assert alongside.ok
    assert alongside.archived[-1].verified_bundle
    assert_archived_event_is_still_proven(archive_hub, bundle_one, first, second_end)

    # A second archive starts where the first ended, and names both in its record.
    bundle_two = tmp_path / "archive-2"
    status = main(
        ["audit", "archive", "--through", str(second_end), "--output", str(bundle_two), "--prune"]
    )
    assert status == 0
    assert [(r["first_event_id"], r["end_event_id"]) for r in archive_rows(archive_hub)][-2:] == [
        (first, first_end),
        (first_end, second_end),
    ]
    assert verified(bundle_two, archive_hub).ok
    grow_and_sign(archive_hub)
    latest = verified(export(archive_hub, tmp_path / "latest"), archive_hub)
    assert latest.ok, latest.problems
    assert [(r.first, r.end) for r in latest.archived][-2:] == [
        (first, first_end),
        (first_end, second_end),
    ]


def assert_archived_event_is_still_proven(
    hub: RunningHub, archive: Path, index: int, tree_size: int
) -> None:
    """An inclusion proof from the hub's stored nodes proves an event read from the archive
    under a checkpoint signed after the archive was made."""
    line = next(
        line
        for line in (archive / EVENTS).read_bytes().splitlines()
        if line.startswith(b"%d " % index)
    )
    leaf = merkle.leaf_hash(line.partition(b" ")[2])

    async def prove(session: AsyncSession) -> tuple[list[bytes], bytes]:
        note = await session.scalar(
            select(col(AuditCheckpoint.note)).where(col(AuditCheckpoint.tree_size) == tree_size)
        )
        root = Checkpoint.parse_body(SignedNote.parse(str(note)).body).root
        return await inclusion_path(session, index, tree_size), root

    path, root = hub.query(prove)
    assert merkle.verify_inclusion(leaf, index, tree_size, path, root)


def test_archive_is_refused_off_a_checkpoint_or_over_an_archived_range(
    archive_hub: RunningHub, cli_env: dict[str, str], tmp_path: Path
) -> None:
    size = grow_and_sign(archive_hub)
    use_the_hub(archive_hub)  # the head moves past the checkpoint
    first = archive_hub.query(archived_through)

    off_checkpoint = main(
        ["audit", "archive", "--through", str(size + 1), "--output", str(tmp_path / "a")]
    )
    assert (
        main(
            ["audit", "archive", "--through", str(size), "--output", str(tmp_path / "b"), "--prune"]
        )
        == 0
    )
    again = main(
        ["audit", "archive", "--through", str(size), "--output", str(tmp_path / "c"), "--prune"]
    )

    assert off_checkpoint == 1
    assert again == 1
    assert not (tmp_path / "a").exists()
    assert not (tmp_path / "c").exists()
    assert archive_hub.query(archived_through) == size > first


def test_a_range_that_does_not_verify_is_not_pruned(
    archive_hub: RunningHub, cli_env: dict[str, str], tmp_path: Path
) -> None:
    size = grow_and_sign(archive_hub)
    first = archive_hub.query(archived_through)
    victim = size - 1
    ids = EVENTS_TABLE.c.id

    async def alter(session: AsyncSession) -> dict[str, Any]:
        row = (await session.execute(select(EVENTS_TABLE.c.details).where(ids == victim))).one()
        await session.execute(update(EVENTS_TABLE).where(ids == victim).values(details={}))
        await session.commit()
        return dict(row.details)

    original = archive_hub.query(alter)
    before = events_in(archive_hub, first, size)
    try:
        status = main(
            ["audit", "archive", "--through", str(size), "--output", str(tmp_path / "a"), "--prune"]
        )
        after = events_in(archive_hub, first, size)
    finally:

        async def restore(session: AsyncSession) -> None:
            await session.execute(
                update(EVENTS_TABLE).where(ids == victim).values(details=original)
            )
            await session.commit()

        archive_hub.query(restore)

    assert status == 1
    assert after == before
    assert archive_hub.query(archived_through) == first
    assert verified(tmp_path / "a", archive_hub).of_kind("altered")[0].event_id == victim


def test_rows_deleted_under_a_forged_archive_row_are_reported_missing(
    archive_hub: RunningHub, tmp_path: Path
) -> None:
    size = grow_and_sign(archive_hub)
    first = size - 2  # events logged after every real archive's record
    assert all(record_id < first for record_id, _ in archived_records(archive_hub))
    forged_id = uuid.uuid4()

    async def forge(session: AsyncSession) -> list[dict[str, Any]]:
        query = select(EVENTS_TABLE).where(EVENTS_TABLE.c.id >= first, EVENTS_TABLE.c.id < size)
        rows = [dict(row._mapping) for row in await session.execute(query)]
        await session.execute(
            delete(EVENTS_TABLE).where(EVENTS_TABLE.c.id >= first, EVENTS_TABLE.c.id < size)
        )
        await session.execute(
            insert(ARCHIVES).values(
                id=forged_id,
                first_event_id=first,
                end_event_id=size,
                checkpoint_size=size,
                bundle_sha256="0" * 64,
                location="nowhere",
                archived_at=datetime.now(UTC),
            )
        )
        await session.commit()
        return rows

    removed = archive_hub.query(forge)
    try:
        report = verified(export(archive_hub, tmp_path / "bundle"), archive_hub)
    finally:

        async def restore(session: AsyncSession) -> None:
            await session.execute(delete(ARCHIVES).where(ARCHIVES.c.id == forged_id))
            await session.execute(insert(EVENTS_TABLE), removed)
            await session.commit()

        archive_hub.query(restore)

    assert [p.message for p in report.problems] == [
        f"events {first} to {size - 1} are missing: archives.json says they were archived in "
        f"bundle {'0' * 64}, but no {ARCHIVED_ACTION} event in this bundle records it"
    ]
    assert json.loads((tmp_path / "bundle" / "archives.json").read_text())[-1]["location"] == (
        "nowhere"
    )


def test_an_archived_event_is_still_proven_over_http_to_those_who_read_everything(
    archive_hub: RunningHub, cli_env: dict[str, str], tmp_path: Path
) -> None:
    use_the_hub(archive_hub)
    size = sign(archive_hub)
    owner_sees = owners_event(archive_hub, size)
    bundle = tmp_path / "archive"

    assert (
        main(["audit", "archive", "--through", str(size), "--output", str(bundle), "--prune"]) == 0
    )

    assert events_in(archive_hub, owner_sees, owner_sees + 1) == 0
    with archive_hub.client("auditor") as auditor:
        response = auditor.get(f"/audit/events/{owner_sees}/inclusion", params={"tree_size": size})
        latest = auditor.get(f"/audit/events/{owner_sees}/inclusion")
        live = auditor.get(f"/audit/events/{size}/inclusion")
    assert response.status_code == 200, response.text
    proof = response.json()
    assert proof["archived"] is True
    line = next(
        line
        for line in (bundle / EVENTS).read_bytes().splitlines()
        if line.startswith(b"%d " % owner_sees)
    )
    leaf = merkle.leaf_hash(line.partition(b" ")[2])
    assert base64.b64decode(proof["leaf_hash"]) == leaf
    root = Checkpoint.parse_body(SignedNote.parse(proof["checkpoint"]).body).root
    path = [base64.b64decode(digest) for digest in proof["inclusion_path"]]
    assert merkle.verify_inclusion(leaf, owner_sees, size, path, root)
    assert latest.status_code == 200
    assert latest.json()["archived"] is True
    assert live.status_code == 200
    assert live.json()["archived"] is False
    # Whether a party may see an event cannot be told once its row is gone.
    with archive_hub.client("sinar_owner") as owner:
        assert owner.get(f"/audit/events/{owner_sees}/inclusion").status_code == 404


def owners_event(hub: RunningHub, size: int) -> int:
    """An event below ``size`` that the owner of ``sinar_front`` is shown a proof of: the
    police's request for it."""
    police_party = str(hub.city.parties["polrestabes"])
    first = hub.query(archived_through)
    with hub.client("auditor") as auditor, hub.client("sinar_owner") as owner:
        page = auditor.get("/audit/events", params={"after": first - 1, "limit": 1000}).json()
        return next(
            int(event["id"])
            for event in page["items"]
            if event["actor_party_id"] == police_party
            and event["id"] < size
            and owner.get(f"/audit/events/{event['id']}/inclusion").status_code == 200
        )
