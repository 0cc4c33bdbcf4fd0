"""Export and offline verification: a log built through the real hub is exported and
verified; rows changed behind the hub's back, and bundles edited after export, are named."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.bundle import EVENTS, LEAVES, MANIFEST, export_bundle, signed_sizes
from sharing.audit.checkpoints import CHECKPOINT_KEY, log_head, sign_checkpoint
from sharing.audit.models import (
    AuditCheckpoint,
    AuditCosignature,
    AuditEvent,
    AuditLogKey,
    AuditWitness,
    MerkleNode,
)
from sharing.audit.notes import (
    COSIGNATURE_V1,
    NOTE_SIGNATURE,
    NoteSigner,
    Signature,
    SignedNote,
    cosign,
)
from sharing.audit.verify import VerificationReport, verify_bundle
from sharing.audit.verify_events import canonical_json_object
from sharing.cli import main
from sharing.clock import SystemClock
from tests.access.town import build_town
from tests.hubprocess import RunningHub, private_hub

EVENTS_TABLE: Table = AuditEvent.__table__  # type: ignore[attr-defined]
NODES: Table = MerkleNode.__table__  # type: ignore[attr-defined]
SHARING = Path(sys.executable).parent / "sharing"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def log_hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningHub]:
    """A hub of its own (these tests rewrite its database), with a log built by using it:
    consents granted and revoked, footage and live requests allowed and refused, and
    checkpoints signed along the way."""
    folder = tmp_path_factory.mktemp("log")
    with private_hub(request.param, folder, checkpoint_interval_seconds=3600) as hub:
        use_the_hub(hub)
        yield hub


def use_the_hub(hub: RunningHub) -> None:
    sign(hub)
    end = datetime.now(UTC) - timedelta(minutes=1)
    footage = {
        "mode": "footage",
        "purpose": "criminal_investigation",
        "legal_basis": "LP/B/1234/XI/2026/SPKT",
        "justification": "pencurian sepeda motor di depan toko",
        "footage_start": (end - timedelta(hours=1)).isoformat(),
        "footage_end": end.isoformat(),
    }
    with hub.client("polrestabes_cc") as police:
        for camera in ("sinar_front", "rejeki_front", "sinar_front"):
            police.post(
                "/access-requests", json={**footage, "camera_ids": [str(hub.city.cameras[camera])]}
            )
    sign(hub)
    town = build_town(hub, "Audit")
    try:
        consent = town.grant()
        assert town.officer.http.post("/access-requests", json=town.live_request()).is_success
        revoked = town.owner.http.post(
            f"/consents/{consent['id']}/revoke", json={"reason": "kamera dipindah"}
        )
        assert revoked.status_code == 200, revoked.text
        assert (
            town.officer.http.post("/access-requests", json=town.live_request()).status_code == 403
        )
    finally:
        town.close()
    sign(hub)


def sign(hub: RunningHub) -> int:
    async def signed(session: AsyncSession) -> int:
        checkpoint = await sign_checkpoint(session, hub.settings, SystemClock())
        assert checkpoint is not None
        return checkpoint.tree_size

    return hub.query(signed)


def log_vkey(hub: RunningHub) -> str:
    async def vkey(session: AsyncSession) -> str:
        query = select(col(AuditLogKey.vkey)).where(col(AuditLogKey.purpose) == CHECKPOINT_KEY)
        return str((await session.execute(query)).scalar_one())

    return hub.query(vkey)


def export(hub: RunningHub, output: Path) -> Path:
    async def run(session: AsyncSession) -> Path:
        return (await export_bundle(session, output, SystemClock())).path

    return hub.query(run)


def verified(bundle: Path, hub: RunningHub, **options: Any) -> VerificationReport:
    return verify_bundle(bundle, log_keys=[log_vkey(hub)], **options)


def sql(hub: RunningHub, *statements: Any) -> None:
    """Change the database directly, as someone with access to it and not to the hub."""

    async def run(session: AsyncSession) -> None:
        for statement in statements:
            await session.execute(statement)
        await session.commit()

    hub.query(run)


def event_row(hub: RunningHub, event_id: int) -> dict[str, Any]:
    async def run(session: AsyncSession) -> dict[str, Any]:
        row = (
            await session.execute(select(EVENTS_TABLE).where(EVENTS_TABLE.c.id == event_id))
        ).one()
        return dict(row._mapping)

    return hub.query(run)


def leaf_hash(hub: RunningHub, index: int) -> bytes:
    async def run(session: AsyncSession) -> bytes:
        query = select(NODES.c.hash).where(NODES.c.level == 0, NODES.c.idx == index)
        return bytes((await session.execute(query)).scalar_one())

    return hub.query(run)


def messages(report: VerificationReport) -> set[str]:
    return {p.message for p in report.problems}


def test_the_real_command_exports_and_verifies_a_log_with_a_pinned_key(
    log_hub: RunningHub, tmp_path: Path
) -> None:
    settings = log_hub.settings
    env = os.environ | {
        "SHARING_DATABASE_URL": settings.database_url,
        "SHARING_ISSUER": settings.issuer,
        "SHARING_SECRET_KEY": settings.secret_key.get_secret_value(),
    }
    bundle = tmp_path / "bundle"

    exported = subprocess.run(
        [str(SHARING), "audit", "export", "--output", str(bundle), "--sign-checkpoint"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    checked = subprocess.run(
        [str(SHARING), "audit", "verify", str(bundle), "--log-key", log_vkey(log_hub), "--json"],
        env={"PATH": os.environ["PATH"]},  # offline: nothing of the hub's configuration
        capture_output=True,
        text=True,
        check=False,
    )

    assert exported.returncode == 0, exported.stderr
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = json.loads(checked.stdout)
    size, _root = log_hub.query(log_head)
    assert report["ok"] is True
    assert report["tree_size"] == size
    assert report["events_verified"] == report["events_checked"] == size
    assert report["checkpoints_verified"] >= 3
    assert report["warnings"] == []
    assert report["origin"] == settings.log_origin


def test_without_a_pinned_key_the_bundle_keys_are_trusted_with_a_warning(
    log_hub: RunningHub, tmp_path: Path
) -> None:
    bundle = export(log_hub, tmp_path / "bundle")

    report = verify_bundle(bundle)

    assert report.ok
    assert any("trusted on first use" in warning for warning in report.warnings)


def test_rows_altered_deleted_and_reordered_in_the_database_are_named(
    log_hub: RunningHub, tmp_path: Path
) -> None:
    altered, deleted, first_swapped = 20, 25, 30
    original = event_row(log_hub, altered)
    removed = event_row(log_hub, deleted)
    ids = EVENTS_TABLE.c.id
    sql(
        log_hub,
        update(EVENTS_TABLE).where(ids == altered).values(details={"note": "nothing happened"}),
        delete(EVENTS_TABLE).where(ids == deleted),
        update(EVENTS_TABLE).where(ids == first_swapped).values(id=-1),
        update(EVENTS_TABLE).where(ids == first_swapped + 1).values(id=first_swapped),
        update(EVENTS_TABLE).where(ids == -1).values(id=first_swapped + 1),
    )
    try:
        report = verified(export(log_hub, tmp_path / "tampered"), log_hub)
    finally:
        sql(
            log_hub,
            update(EVENTS_TABLE).where(ids == altered).values(details=original["details"]),
            insert(EVENTS_TABLE).values(removed),
            update(EVENTS_TABLE).where(ids == first_swapped).values(id=-1),
            update(EVENTS_TABLE).where(ids == first_swapped + 1).values(id=first_swapped),
            update(EVENTS_TABLE).where(ids == -1).values(id=first_swapped + 1),
        )

    assert not report.ok
    assert messages(report) == {
        "event 20 was altered: its content does not match leaf 20",
        "event 25 is missing",
        "event stored as 30 is the one logged at 31 (reordered)",
        "event stored as 31 is the one logged at 30 (reordered)",
    }
    assert verified(export(log_hub, tmp_path / "restored"), log_hub).ok


def test_a_deleted_row_whose_place_is_taken_by_the_next_is_missing_and_reordered(
    log_hub: RunningHub, tmp_path: Path
) -> None:
    removed = event_row(log_hub, 12)
    ids = EVENTS_TABLE.c.id
    sql(
        log_hub,
        delete(EVENTS_TABLE).where(ids == 12),
        update(EVENTS_TABLE).where(ids == 13).values(id=12),
    )
    try:
        report = verified(export(log_hub, tmp_path / "tampered"), log_hub)
    finally:
        sql(
            log_hub,
            update(EVENTS_TABLE).where(ids == 12).values(id=13),
            insert(EVENTS_TABLE).values(removed),
        )

    assert messages(report) == {
        "event 12 is missing",
        "event stored as 12 is the one logged at 13 (reordered)",
    }


def test_a_rewritten_leaf_hash_breaks_the_signed_roots_and_is_named(
    log_hub: RunningHub, tmp_path: Path
) -> None:
    index = 40
    authentic = leaf_hash(log_hub, index)
    where = (NODES.c.level == 0) & (NODES.c.idx == index)
    sql(log_hub, update(NODES).where(where).values(hash=b"\x07" * 32))
    try:
        report = verified(export(log_hub, tmp_path / "tampered"), log_hub)
    finally:
        sql(log_hub, update(NODES).where(where).values(hash=authentic))

    assert [p.kind for p in report.problems] == ["tree_rewritten", "leaf_rewritten"]
    rewritten, leaf = report.problems
    assert rewritten.message.startswith(
        f"leaf hashes do not reproduce checkpoint {rewritten.tree_size}'s root "
        "(the stored tree was rewritten)"
    )
    assert rewritten.tree_size is not None
    assert rewritten.tree_size > index
    assert leaf.event_id == index
    assert leaf.message == (
        "leaf hash 40 in the stored tree was rewritten; event 40 itself matches the signed "
        "checkpoints"
    )


def test_an_altered_event_and_a_rewritten_leaf_are_told_apart(
    log_hub: RunningHub, tmp_path: Path
) -> None:
    altered = 20
    index = log_hub.query(signed_sizes)[-2]  # a leaf after a checkpoint that still holds
    original = event_row(log_hub, altered)
    authentic = leaf_hash(log_hub, index)
    ids, where = EVENTS_TABLE.c.id, (NODES.c.level == 0) & (NODES.c.idx == index)
    sql(
        log_hub,
        update(EVENTS_TABLE).where(ids == altered).values(outcome="denied"),
        update(NODES).where(where).values(hash=bytes(32)),
    )
    try:
        report = verified(export(log_hub, tmp_path / "tampered"), log_hub)
    finally:
        sql(
            log_hub,
            update(EVENTS_TABLE).where(ids == altered).values(outcome=original["outcome"]),
            update(NODES).where(where).values(hash=authentic),
        )

    assert [(p.kind, p.event_id) for p in report.problems][1:] == [
        ("leaf_rewritten", index),
        ("altered", altered),
    ]
    assert report.problems[0].kind == "tree_rewritten"
    assert f"a leaf from {index} to" in report.problems[0].message


def test_edited_and_removed_lines_of_a_bundle_are_named(
    log_hub: RunningHub, tmp_path: Path
) -> None:
    bundle = export(log_hub, tmp_path / "bundle")
    lines = (bundle / EVENTS).read_bytes().splitlines(keepends=True)
    event_id, _, data = lines[7].partition(b" ")
    fields = json.loads(data)
    fields["outcome"] = "denied" if fields["outcome"] != "denied" else "success"
    lines[7] = event_id + b" " + rfc8785.dumps(fields) + b"\n"
    del lines[9]
    (bundle / EVENTS).write_bytes(b"".join(lines))

    report = verified(bundle, log_hub)

    assert messages(report) == {
        "event 7 was altered: its content does not match leaf 7",
        "event 9 is missing",
        f"{EVENTS} does not match its SHA-256 in the manifest: the file was changed after export",
    }


def test_lines_out_of_order_and_not_canonical_are_named(
    log_hub: RunningHub, tmp_path: Path
) -> None:
    bundle = export(log_hub, tmp_path / "bundle")
    lines = (bundle / EVENTS).read_bytes().splitlines(keepends=True)
    lines[3], lines[4] = lines[4], lines[3]
    event_id, _, data = lines[10].partition(b" ")
    lines[10] = (
        event_id + b" " + json.dumps(json.loads(data), indent=1).replace("\n", "").encode() + b"\n"
    )
    (bundle / EVENTS).write_bytes(b"".join(lines))

    kinds = {(p.kind, p.event_id) for p in verified(bundle, log_hub).problems}

    assert ("out_of_order", 3) in kinds
    assert ("not_canonical", 10) in kinds
    assert ("altered", 10) in kinds


def test_a_forged_checkpoint_signature_and_a_wrong_pinned_key_fail(
    log_hub: RunningHub, tmp_path: Path
) -> None:
    bundle = export(log_hub, tmp_path / "bundle")
    checkpoints = bundle / "checkpoints.jsonl"
    entries = [json.loads(line) for line in checkpoints.read_text().splitlines()]
    forged = entries[0]
    note = SignedNote.parse(forged["note"])
    signature = note.signatures[0]
    flipped = bytes([signature.signature[0] ^ 1]) + signature.signature[1:]
    forged["note"] = SignedNote(
        note.body, (Signature(signature.name, signature.key_id, flipped),)
    ).text()
    checkpoints.write_text("".join(json.dumps(e) + "\n" for e in entries))
    stranger = NoteSigner.generate(log_hub.settings.log_origin, NOTE_SIGNATURE).verifier.vkey()

    forged_report = verified(bundle, log_hub)
    stranger_report = verify_bundle(bundle, log_keys=[stranger])

    assert f"checkpoint {forged['tree_size']}: signature does not verify" in messages(forged_report)
    assert stranger_report.checkpoints_verified == 0
    assert {p.kind for p in stranger_report.problems} >= {"bad_signature", "uncovered"}
    assert all(
        f"checkpoint {e['tree_size']}: not signed by a trusted log key" in messages(stranger_report)
        for e in entries[1:]
    )


def test_exit_status_of_the_verify_command_says_whether_it_verified(
    log_hub: RunningHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = export(log_hub, tmp_path / "bundle")
    good = main(["audit", "verify", str(bundle), "--log-key", log_vkey(log_hub)])
    good_output = capsys.readouterr().out
    damaged = tmp_path / "damaged"
    shutil.copytree(bundle, damaged)
    with (damaged / LEAVES).open("r+b") as leaves:
        leaves.seek(32 * 5)
        leaves.write(b"\x00" * 32)
    bad = main(["audit", "verify", str(damaged), "--log-key", log_vkey(log_hub)])
    bad_output = capsys.readouterr().out
    not_a_bundle = main(["audit", "verify", str(tmp_path)])

    assert good == 0
    assert good_output.rstrip().splitlines()[-1].startswith("OK")
    assert bad == 1
    assert "leaf hash 5 in the stored tree was rewritten" in bad_output
    assert bad_output.rstrip().splitlines()[-1].startswith("FAILED")
    assert not_a_bundle == 2


def test_export_ends_at_a_signed_checkpoint(
    log_hub: RunningHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed = sign(log_hub)
    with log_hub.client("polrestabes_cc") as police:
        police.post(
            "/access-requests",
            json={
                "camera_ids": [str(log_hub.city.cameras["rejeki_front"])],
                "mode": "live",
                "purpose": "public_order",
            },
        )
    sizes = set(log_hub.query(signed_sizes))
    unsigned = next(s for s in range(signed - 1, 0, -1) if s not in sizes)
    monkeypatch.setenv("SHARING_DATABASE_URL", log_hub.settings.database_url)

    bundle = export(log_hub, tmp_path / "bundle")
    manifest = json.loads((bundle / MANIFEST).read_text())
    refused = main(
        ["audit", "export", "--output", str(tmp_path / "other"), "--through", str(unsigned)]
    )
    earlier = main(
        ["audit", "export", "--output", str(tmp_path / "earlier"), "--through", str(min(sizes))]
    )

    assert manifest["tree_size"] == signed
    assert manifest["log_size_at_export"] > signed
    assert verified(bundle, log_hub).ok
    assert refused == 1
    assert not (tmp_path / "other").exists()
    assert earlier == 0
    assert verified(tmp_path / "earlier", log_hub).tree_size == min(sizes)


@pytest.mark.parametrize("workers", [1, 2])
def test_the_parallel_and_serial_checks_agree(
    log_hub: RunningHub, tmp_path: Path, workers: int
) -> None:
    bundle = export(log_hub, tmp_path / "bundle")
    lines = (bundle / EVENTS).read_bytes().splitlines(keepends=True)
    del lines[15:18]
    (bundle / EVENTS).write_bytes(b"".join(lines))

    report = verified(bundle, log_hub, workers=workers)

    assert report.of_kind("missing")[0].message == "events 15 to 17 are missing (3 events)"
    assert report.events_checked == len(lines)


def test_witness_cosignatures_are_checked_against_the_given_keys(
    log_hub: RunningHub, tmp_path: Path
) -> None:
    size = sign(log_hub)
    polda = NoteSigner.generate("polda-sumut.example/witness", COSIGNATURE_V1)
    absent = NoteSigner.generate("inspektorat.example/witness", COSIGNATURE_V1)

    async def cosigned_by_polda(session: AsyncSession) -> uuid.UUID:
        now = datetime.now(UTC)
        note = await session.scalar(
            select(col(AuditCheckpoint.note)).where(col(AuditCheckpoint.tree_size) == size)
        )
        body = SignedNote.parse(str(note)).body
        witness = AuditWitness(name="Polda Sumut", vkey=polda.verifier.vkey(), added_at=now)
        session.add(witness)
        await session.flush()
        line = cosign(body, polda, int(now.timestamp())).line()
        session.add(
            AuditCosignature(
                tree_size=size,
                witness_id=witness.id,
                signature_line=line,
                cosigned_at=now,
                received_at=now,
            )
        )
        await session.commit()
        return witness.id

    witness_id = log_hub.query(cosigned_by_polda)
    try:
        bundle = export(log_hub, tmp_path / "bundle")
    finally:

        async def forget(session: AsyncSession) -> None:
            await session.execute(
                delete(AuditCosignature.__table__).where(  # type: ignore[attr-defined]
                    col(AuditCosignature.witness_id) == witness_id
                )
            )
            await session.execute(
                delete(AuditWitness.__table__).where(col(AuditWitness.id) == witness_id)  # type: ignore[attr-defined]
            )
            await session.commit()

        log_hub.query(forget)
    polda_key = polda.verifier.vkey()

    listed = verify_bundle(bundle, log_keys=[log_vkey(log_hub)])
    pinned = verified(bundle, log_hub, witness_keys=[polda_key])
    missing = verified(bundle, log_hub, witness_keys=[polda_key, absent.verifier.vkey()])
    checkpoints = bundle / "checkpoints.jsonl"
    entries = [json.loads(line) for line in checkpoints.read_text().splitlines()]
    note = SignedNote.parse(entries[-1]["note"])
    *signatures, cosignature = note.signatures
    broken = cosignature.signature[:-1] + bytes([cosignature.signature[-1] ^ 1])
    entries[-1]["note"] = SignedNote(
        note.body, (*signatures, Signature(cosignature.name, cosignature.key_id, broken))
    ).text()
    checkpoints.write_text("".join(json.dumps(e) + "\n" for e in entries))
    forged = verified(bundle, log_hub, witness_keys=[polda_key])

    assert listed.ok
    assert listed.witnesses == {polda.name: size}
    assert any("witness keys listed in the bundle" in w for w in listed.warnings)
    assert pinned.ok
    assert pinned.witnesses == {polda.name: size}
    assert [p.message for p in missing.problems] == [
        "witness inspektorat.example/witness cosigned no checkpoint here"
    ]
    assert f"checkpoint {size}: cosignature by {polda.name} does not verify" in messages(forged)


_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=8)
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(_text, _json, max_size=6))
@example({"\U0001f600": 1, "\ufffd": 2})  # UTF-16 and code point order disagree
@example({"big": 2.0**60, "small": 1e-7, "whole": 1.0})
def test_the_fast_canonical_check_agrees_with_rfc_8785(fields: dict[str, Any]) -> None:
    canonical = rfc8785.dumps(fields)
    stdlib = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    spaced = json.dumps(fields, ensure_ascii=False, sort_keys=True)

    assert canonical_json_object(canonical) is not None
    assert (canonical_json_object(stdlib.encode()) is not None) == (stdlib.encode() == canonical)
    assert (canonical_json_object(spaced.encode()) is not None) == (spaced.encode() == canonical)
