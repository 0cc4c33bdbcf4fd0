"""The owners' access report over HTTP: every access to their cameras, provable, with the
police's case references and officers only as salted commitments the police open for an
auditor."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from sharing.audit import merkle
from sharing.audit.checkpoints import CHECKPOINT_KEY, published_keys
from sharing.audit.commitments import verify
from sharing.audit.notes import Checkpoint, SignedNote, VerifierKey
from tests.hubprocess import RunningHub


def case_reference() -> str:
    """A police report number no other test uses, so finding it anywhere is this test's leak."""
    return f"LP/B/{secrets.randbelow(10**8)}/XI/2026/SPKT/POLRESTABES MEDAN"


def footage_request(hub: RunningHub, camera: str, legal_basis: str, **extra: Any) -> dict[str, Any]:
    end = datetime.now(UTC) - timedelta(minutes=5)
    return {
        "camera_ids": [str(hub.city.cameras[camera])],
        "mode": "footage",
        "purpose": "criminal_investigation",
        "legal_basis": legal_basis,
        "justification": "pencurian sepeda motor",
        "footage_start": (end - timedelta(hours=1)).isoformat(),
        "footage_end": end.isoformat(),
        **extra,
    }


def report(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Every entry of the caller's report, page by page."""
    entries: list[dict[str, Any]] = []
    after = -1
    while True:
        response = client.get("/audit/access-report", params={**params, "after": after})
        assert response.status_code == 200, response.text
        body = response.json()
        entries.extend(body["items"])
        if body["next_after"] is None:
            return entries
        after = body["next_after"]


def entries_of(entries: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
    return [entry for entry in entries if entry["request_id"] == request_id]


def checkpoint_keys(hub: RunningHub) -> list[VerifierKey]:
    async def keys(session: AsyncSession) -> list[VerifierKey]:
        rows = await published_keys(session)
        return [VerifierKey.parse(row.vkey) for row in rows if row.purpose == CHECKPOINT_KEY]

    return hub.query(keys)


def check_proof(hub: RunningHub, entry: dict[str, Any]) -> bytes:
    """Check the entry's proof as an owner would, trusting only the log's public key;
    returns the proven leaf hash."""
    proof = entry["proof"]
    leaf_hash = base64.b64decode(entry["leaf_hash"])
    assert base64.b64decode(proof["leaf_hash"]) == leaf_hash
    if entry["leaf"] is not None:
        assert merkle.leaf_hash(base64.b64decode(entry["leaf"])) == leaf_hash
    note = SignedNote.parse(proof["checkpoint"])
    assert any(note.signed_by(key) is not None for key in checkpoint_keys(hub))
    checkpoint = Checkpoint.parse_body(note.body)
    assert checkpoint.size == proof["tree_size"]
    path = [base64.b64decode(node) for node in proof["inclusion_path"]]
    assert merkle.verify_inclusion(
        leaf_hash, proof["leaf_index"], checkpoint.size, path, checkpoint.root
    )
    assert proof["leaf_index"] == entry["event_id"]
    return leaf_hash


def owner_readable_text(hub: RunningHub, owner: str) -> str:
    """Everything the owner can read of the audit trail: its report and its events."""
    with hub.client(owner) as client:
        entries = report(client)
        leaves = [base64.b64decode(e["leaf"]).decode() for e in entries if e["leaf"]]
        text = json.dumps(entries) + "".join(leaves)
        after = -1
        while after is not None:
            page = client.get("/audit/events", params={"after": after, "limit": 1000})
            assert page.status_code == 200, page.text
            text += page.text
            after = page.json()["next_after"]
    return text


def test_owner_sees_who_when_how_and_why_with_a_proof_they_can_check(hub: RunningHub) -> None:
    reference = case_reference()
    body = footage_request(hub, "sinar_front", reference)
    with hub.client("polrestabes_cc") as police:
        granted = police.post("/access-requests", json=body)
    assert granted.status_code == 201, granted.text
    request_id = granted.json()["request_id"]

    with hub.client("sinar_owner") as owner:
        [entry] = entries_of(
            report(owner, camera_id=str(hub.city.cameras["sinar_front"])), request_id
        )

    assert entry["sealed"] is False
    assert entry["disclose_by"] is None
    assert entry["action"] == "access_request.decided"
    assert entry["camera_id"] == str(hub.city.cameras["sinar_front"])
    assert entry["requester_party_id"] == str(hub.city.parties["polrestabes"])
    assert entry["requester_unit"] == "Polrestabes Medan"
    assert entry["requester_parent_party_id"] == str(hub.city.parties["polda"])
    assert entry["mode"] == "footage"
    assert entry["purpose"] == "criminal_investigation"
    assert entry["outcome"] == "allow"
    assert entry["emergency"] is False
    assert datetime.fromisoformat(entry["footage_start"]) == datetime.fromisoformat(
        body["footage_start"]
    )
    assert datetime.fromisoformat(entry["footage_end"]) == datetime.fromisoformat(
        body["footage_end"]
    )
    # The private CCTV regulation hides officers: a commitment, and no member in the leaf.
    assert entry["officer_member_id"] is None
    assert entry["officer_commitment"]
    assert entry["case_reference_commitment"]
    check_proof(hub, entry)
    leaf = json.loads(base64.b64decode(entry["leaf"]))
    assert leaf["actor_member_id"] is None
    assert leaf["details"]["case_reference_commitment"] == entry["case_reference_commitment"]
    assert str(hub.city.members["officer_budi"]) not in json.dumps(leaf)
    assert reference not in json.dumps(leaf)


def test_case_reference_is_never_readable_by_the_owner(hub: RunningHub) -> None:
    reference = case_reference()
    with hub.client("polrestabes_cc") as police:
        granted = police.post(
            "/access-requests", json=footage_request(hub, "sinar_front", reference)
        )
    assert granted.status_code == 201, granted.text

    readable = owner_readable_text(hub, "sinar_owner")
    assert granted.json()["request_id"] in readable  # the access is there ...
    assert reference not in readable  # ... its case reference is not
    assert reference.split("/")[2] not in readable


def test_police_open_the_case_reference_for_an_auditor_who_checks_it(hub: RunningHub) -> None:
    reference = case_reference()
    with hub.client("polrestabes_cc") as police:
        granted = police.post(
            "/access-requests", json=footage_request(hub, "sinar_front", reference)
        )
        assert granted.status_code == 201, granted.text
        with hub.client("sinar_owner") as owner:
            [entry] = entries_of(report(owner), granted.json()["request_id"])
        event_id = entry["event_id"]
        openings = f"/audit/events/{event_id}/openings"
        auditor_party = str(hub.city.parties["command_center"])

        to_owner = police.post(
            openings,
            json={
                "field": "case_reference",
                "auditor_party_id": str(hub.city.parties["shop_sinar"]),
            },
        )
        assert to_owner.status_code == 422, to_owner.text
        with hub.client("sinar_owner") as owner:
            assert owner.get(openings).status_code == 404
        with hub.client("auditor") as auditor:
            assert auditor.get(openings).status_code == 404  # nothing disclosed yet

        for field in ("case_reference", "officer"):
            disclosed = police.post(
                openings, json={"field": field, "auditor_party_id": auditor_party}
            )
            assert disclosed.status_code == 201, disclosed.text
            assert disclosed.json()["commitment"] == entry[f"{field}_commitment"]

    with hub.client("polda_cc") as other_police:  # not the holder
        stranger = other_police.post(
            openings, json={"field": "case_reference", "auditor_party_id": auditor_party}
        )
        assert stranger.status_code == 404
    with hub.client("sinar_owner") as owner:
        assert owner.get(openings).status_code == 404
    with hub.client("auditor") as auditor:
        opened = auditor.get(openings)
    assert opened.status_code == 200, opened.text
    by_field = {item["field"]: item for item in opened.json()["items"]}
    case = by_field["case_reference"]
    assert case["value"] == reference
    assert case["commitment"] == entry["case_reference_commitment"]
    assert verify(case["commitment"], case["value"], case["salt"])
    # The auditor's own check, from the documented encoding alone.
    digest = hashlib.sha256(
        b"sharing-commitment-v1\0" + base64.b64decode(case["salt"]) + reference.encode()
    ).digest()
    assert base64.b64encode(digest).decode() == entry["case_reference_commitment"]
    assert not verify(case["commitment"], reference + " ", case["salt"])
    officer = by_field["officer"]
    assert officer["value"] == str(hub.city.members["officer_budi"])
    assert verify(entry["officer_commitment"], officer["value"], officer["salt"])


def test_another_owner_sees_none_of_sinars_accesses(hub: RunningHub) -> None:
    with hub.client("polrestabes_cc") as police:
        granted = police.post(
            "/access-requests", json=footage_request(hub, "sinar_front", case_reference())
        )
    assert granted.status_code == 201, granted.text
    sinar_cameras = {str(hub.city.cameras[c]) for c in ("sinar_front", "sinar_back")}
    with hub.client("rejeki_owner") as rejeki:
        entries = report(rejeki)
        assert not entries_of(entries, granted.json()["request_id"])
        assert not {entry["camera_id"] for entry in entries} & sinar_cameras
        foreign = rejeki.get(
            "/audit/access-report", params={"camera_id": str(hub.city.cameras["sinar_front"])}
        )
        assert foreign.status_code == 404
        other_party = rejeki.get(
            "/audit/access-report", params={"party_id": str(hub.city.parties["shop_sinar"])}
        )
        assert other_party.status_code == 403
    with hub.client("polrestabes_cc") as police:  # no audit:read
        assert police.get("/audit/access-report").status_code == 403


def test_refusals_are_reported_too(hub: RunningHub) -> None:
    too_far_back = footage_request(hub, "sinar_front", case_reference())
    start = datetime.now(UTC) - timedelta(hours=100)
    too_far_back |= {
        "footage_start": start.isoformat(),
        "footage_end": (start + timedelta(hours=1)).isoformat(),
    }
    with hub.client("polrestabes_cc") as police:
        denied = police.post("/access-requests", json=too_far_back)
    assert denied.status_code == 403, denied.text
    with hub.client("sinar_owner") as owner:
        [entry] = entries_of(report(owner), denied.json()["request_id"])
    assert entry["outcome"] == "deny"
    assert entry["case_reference_commitment"]
    check_proof(hub, entry)


def test_public_camera_terms_name_the_officer(hub: RunningHub) -> None:
    camera = str(hub.city.cameras["dishub_gatsu"])
    with hub.client("polrestabes_cc") as police:
        granted = police.post(
            "/access-requests",
            json={"camera_ids": [camera], "mode": "live", "purpose": "public_information"},
        )
    assert granted.status_code == 201, granted.text
    with hub.client("hub_admin") as admin:  # dishub's own client cannot read audits
        entries = report(admin, party_id=str(hub.city.parties["dishub"]), camera_id=camera)
    [entry] = entries_of(entries, granted.json()["request_id"])
    assert entry["officer_member_id"] == str(hub.city.members["officer_budi"])
    assert entry["officer_commitment"] is None
    assert entry["case_reference_commitment"] is None  # none was given
    leaf = json.loads(base64.b64decode(entry["leaf"]))
    assert leaf["actor_member_id"] == str(hub.city.members["officer_budi"])
    check_proof(hub, entry)


def test_report_pages_and_windows(hub: RunningHub) -> None:
    before = datetime.now(UTC)
    with hub.client("polrestabes_cc") as police:
        made = [
            police.post(
                "/access-requests", json=footage_request(hub, "sinar_back", case_reference())
            ).json()["request_id"]
            for _ in range(3)
        ]
    with hub.client("sinar_owner") as owner:
        first = owner.get(
            "/audit/access-report", params={"since": before.isoformat(), "limit": 2}
        ).json()
        assert len(first["items"]) == 2
        assert first["next_after"] is not None
        rest = report(owner, since=before.isoformat())
        assert [e["request_id"] for e in rest][-3:] == made
        older = report(owner, until=before.isoformat())
    assert not set(made) & {entry["request_id"] for entry in older}
