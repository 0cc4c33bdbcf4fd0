"""Signed checkpoints and RFC 9162 proofs over HTTP, checked the way an outside verifier
would: with the published key, the signed notes and the proof arithmetic of merkle.py."""

from __future__ import annotations

import base64
import itertools
from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from sharing.audit import merkle
from sharing.audit.log import leaf_bytes
from sharing.audit.models import AuditEvent
from sharing.audit.notes import (
    COSIGNATURE_V1,
    NOTE_SIGNATURE,
    Checkpoint,
    SignedNote,
    VerifierKey,
)
from sharing.audit.service import record
from sharing.principal import Actor
from tests.hubprocess import RunningHub


def add_event(hub: RunningHub, *, party: str | None = None, camera: str | None = None) -> int:
    """Record one event in the hub's log (as ``party``, about ``camera``); its id."""

    async def write(session: AsyncSession) -> int:
        actor = Actor(
            party_id=str(hub.city.parties[party]) if party else None,
            member_id=None,
            client_id="test",
        )
        event = record(
            session,
            at=datetime.now(UTC),
            actor=actor,
            action="test.touched",
            object_type="camera",
            object_id=str(hub.city.cameras[camera]) if camera else "none",
            camera_ids=[str(hub.city.cameras[camera])] if camera else (),
        )
        await session.flush()
        event_id = int(event.id or 0)
        await session.commit()
        return event_id

    return hub.query(write)


def sign_now(hub: RunningHub) -> httpx.Response:
    with hub.client("hub_admin") as admin:
        return admin.post("/audit/checkpoints")


def log_key(hub: RunningHub) -> VerifierKey:
    return VerifierKey.parse(httpx.get(f"{hub.url}/audit/log").json()["checkpoint_key"])


def verified_checkpoint(hub: RunningHub, note_text: str) -> Checkpoint:
    """The checkpoint in ``note_text``, after checking the log's signature on it."""
    note = SignedNote.parse(note_text)
    assert note.signed_by(log_key(hub)) is not None, "the note is not signed by the log's key"
    checkpoint = Checkpoint.parse_body(note.body)
    assert checkpoint.origin == hub.settings.log_origin
    return checkpoint


def assert_problem(response: httpx.Response, status: int, detail_part: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert detail_part in response.json()["detail"]


def stored_leaf_hash(hub: RunningHub, event_id: int) -> bytes:
    """The leaf hash recomputed from the event row itself."""

    async def read(session: AsyncSession) -> bytes:
        event = await session.get(AuditEvent, event_id)
        assert event is not None
        return merkle.leaf_hash(leaf_bytes(event))

    return hub.query(read)


def test_the_log_key_is_published_beside_the_jwks(hub: RunningHub) -> None:
    metadata = httpx.get(f"{hub.url}/.well-known/oauth-authorization-server").json()

    info = httpx.get(metadata["audit_log_uri"]).json()

    assert metadata["audit_log_uri"] == f"{hub.url}/audit/log"
    assert info["origin"] == hub.settings.log_origin
    assert VerifierKey.parse(info["checkpoint_key"]).kind == NOTE_SIGNATURE
    assert VerifierKey.parse(info["checkpoint_key"]).name == hub.settings.log_origin
    assert VerifierKey.parse(info["witness_key"]).kind == COSIGNATURE_V1
    assert info["tree_size"] > 0


def test_a_checkpoint_is_signed_on_demand_listed_and_served_as_a_signed_note(
    hub: RunningHub,
) -> None:
    add_event(hub)

    created = sign_now(hub)
    covered = sign_now(hub)

    assert created.status_code == 201, created.text
    assert covered.status_code == 200
    assert covered.json()["tree_size"] == created.json()["tree_size"]
    size = created.json()["tree_size"]
    assert size == httpx.get(f"{hub.url}/audit/log").json()["tree_size"]
    checkpoint = verified_checkpoint(hub, created.json()["note"])
    assert checkpoint.size == size
    assert base64.b64encode(checkpoint.root).decode() == created.json()["root_hash"]
    listed = httpx.get(f"{hub.url}/audit/checkpoints", params={"limit": 5}).json()["items"]
    assert listed[0] == {
        "tree_size": size,
        "root_hash": created.json()["root_hash"],
        "signed_at": listed[0]["signed_at"],
        "cosignatures": 0,
    }
    for path in ("/audit/checkpoints/latest", f"/audit/checkpoints/{size}"):
        served = httpx.get(hub.url + path)
        assert served.headers["content-type"].startswith("text/plain")
        assert verified_checkpoint(hub, served.text) == checkpoint


def test_checkpoint_listing_pages_newest_first(hub: RunningHub) -> None:
    for _ in range(3):
        add_event(hub)
        assert sign_now(hub).status_code == 201

    first = httpx.get(f"{hub.url}/audit/checkpoints", params={"limit": 2}).json()
    second = httpx.get(
        f"{hub.url}/audit/checkpoints", params={"limit": 2, "before": first["next_before"]}
    ).json()

    sizes = [item["tree_size"] for item in first["items"] + second["items"]]
    assert sizes == sorted(sizes, reverse=True)
    assert len(set(sizes)) == 4


def test_only_an_operator_signs_checkpoints(hub: RunningHub) -> None:
    with hub.client("auditor") as auditor:
        assert_problem(auditor.post("/audit/checkpoints"), 403, "registry:admin")
    with hub.anonymous() as anonymous:
        assert anonymous.post("/audit/checkpoints").status_code == 401


def test_inclusion_proofs_verify_for_the_first_a_middle_and_the_last_event(
    hub: RunningHub,
) -> None:
    last = add_event(hub)  # newer than every checkpoint: one is signed for it on demand

    with hub.client("auditor") as auditor:
        for event_id in (last, 0, last // 2):
            proof = auditor.get(f"/audit/events/{event_id}/inclusion").json()

            checkpoint = verified_checkpoint(hub, proof["checkpoint"])
            path = [base64.b64decode(h) for h in proof["inclusion_path"]]
            leaf = base64.b64decode(proof["leaf_hash"])
            assert proof["log_id"] == hub.settings.log_origin
            assert proof["leaf_index"] == event_id
            assert proof["tree_size"] == checkpoint.size > last
            assert leaf == stored_leaf_hash(hub, event_id)
            assert merkle.verify_inclusion(leaf, event_id, checkpoint.size, path, checkpoint.root)
            assert not merkle.verify_inclusion(
                merkle.leaf_hash(b"another event"), event_id, checkpoint.size, path, checkpoint.root
            )


def test_an_inclusion_proof_into_an_older_checkpoint_verifies(hub: RunningHub) -> None:
    event_id = add_event(hub)
    older = sign_now(hub).json()["tree_size"]
    add_event(hub)
    assert sign_now(hub).status_code == 201

    with hub.client("hub_admin") as admin:
        proof = admin.get(f"/audit/events/{event_id}/inclusion", params={"tree_size": older}).json()

    checkpoint = verified_checkpoint(hub, proof["checkpoint"])
    assert checkpoint.size == proof["tree_size"] == older
    path = [base64.b64decode(h) for h in proof["inclusion_path"]]
    assert merkle.verify_inclusion(
        base64.b64decode(proof["leaf_hash"]), event_id, older, path, checkpoint.root
    )


def test_consistency_proofs_verify_between_every_pair_of_checkpoints(hub: RunningHub) -> None:
    sizes = []
    for count in (1, 2, 5):
        for _ in range(count):
            add_event(hub)
        sizes.append(sign_now(hub).json()["tree_size"])
    roots = {
        size: verified_checkpoint(hub, httpx.get(f"{hub.url}/audit/checkpoints/{size}").text).root
        for size in sizes
    }

    for first, second in itertools.combinations_with_replacement(sizes, 2):
        proof = httpx.get(
            f"{hub.url}/audit/consistency", params={"first": first, "second": second}
        ).json()

        path = [base64.b64decode(h) for h in proof["consistency_path"]]
        assert (proof["log_id"], proof["tree_size_1"], proof["tree_size_2"]) == (
            hub.settings.log_origin,
            first,
            second,
        )
        assert merkle.verify_consistency(first, second, roots[first], roots[second], path)
        if first != second:
            assert not merkle.verify_consistency(
                first, second, merkle.leaf_hash(b"forged"), roots[second], path
            )


def test_an_event_is_proved_only_to_those_who_may_see_it(hub: RunningHub) -> None:
    # Caused by the police, about Toko Sinar's camera: the police, Sinar and the operator see it.
    event_id = add_event(hub, party="polrestabes", camera="sinar_front")
    own_event = add_event(hub, party="shop_rejeki")
    path = f"/audit/events/{event_id}/inclusion"

    with hub.client("sinar_owner") as camera_owner:
        assert camera_owner.get(path).status_code == 200
        assert_problem(camera_owner.get(f"/audit/events/{own_event}/inclusion"), 404, "no audit")
        assert_problem(camera_owner.get("/audit/events/0/inclusion"), 404, "no audit event 0")
    with hub.client("rejeki_owner") as other_owner:
        assert_problem(other_owner.get(path), 404, f"no audit event {event_id}")
        assert other_owner.get(f"/audit/events/{own_event}/inclusion").status_code == 200
    with hub.client("rw05_owner") as stranger:
        unseen = stranger.get(path)
        missing = stranger.get("/audit/events/999999999/inclusion")
        assert_problem(unseen, 404, "no audit event")
        assert unseen.json()["detail"].replace(str(event_id), "N") == missing.json()[
            "detail"
        ].replace("999999999", "N")
    with hub.client("polrestabes_cc") as police_without_audit_scope:
        assert_problem(police_without_audit_scope.get(path), 403, "audit:read")
    with hub.client("auditor") as auditor:
        assert auditor.get(path).status_code == 200
    with hub.anonymous() as anonymous:
        assert anonymous.get(path).status_code == 401


def test_bad_proof_requests_are_refused_with_problems(hub: RunningHub) -> None:
    event_id = add_event(hub)
    size = sign_now(hub).json()["tree_size"]
    add_event(hub)
    add_event(hub)  # so that size + 1 is never signed
    later = sign_now(hub).json()["tree_size"]

    with hub.client("auditor") as auditor:
        inclusion = f"/audit/events/{event_id}/inclusion"
        assert_problem(auditor.get(inclusion, params={"tree_size": event_id}), 422, "tree_size")
        assert_problem(auditor.get(inclusion, params={"tree_size": size + 1}), 404, "checkpoint")
        assert_problem(auditor.get(inclusion, params={"tree_size": "many"}), 422, "tree_size")
        assert_problem(auditor.get(inclusion, params={"tree_size": 0}), 422, "tree_size")
    with hub.anonymous() as anonymous:
        consistency = "/audit/consistency"
        reversed_pair = {"first": later, "second": size}
        assert_problem(anonymous.get(consistency, params=reversed_pair), 422, "first")
        unsigned = {"first": size + 1, "second": later}
        assert_problem(anonymous.get(consistency, params=unsigned), 404, f"size {size + 1}")
        assert_problem(anonymous.get(consistency, params={"first": 1}), 422, "second")
        assert_problem(anonymous.get("/audit/checkpoints/999999999"), 404, "999999999")
        assert_problem(anonymous.get("/audit/checkpoints", params={"limit": 0}), 422, "limit")
