"""The Polda's hub witnesses the city's audit log: two real hubs, each with its own
database, talking HTTP; a fork of the city's history is refused and named."""

from __future__ import annotations

import argparse
import base64
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sharing.audit import merkle, witness_command
from sharing.audit.models import AuditLogHead, MerkleNode
from sharing.audit.notes import (
    COSIGNATURE_V1,
    NOTE_SIGNATURE,
    Checkpoint,
    NoteSigner,
    SignedNote,
    VerifierKey,
    cosign,
)
from sharing.audit.witnessing import WitnessRefused, WitnessResult, witness_log
from sharing.clock import SystemClock
from sharing.errors import InvalidInput, PeerFailed
from tests.audit.test_checkpoints_and_proofs import add_event, assert_problem, sign_now
from tests.hubprocess import RunningHub, free_port, private_hub

_NODES: Table = MerkleNode.__table__  # type: ignore[attr-defined]


@dataclass
class TwoHubs:
    city: RunningHub
    polda: RunningHub


@contextmanager
def two_hubs(backend: str, folder: Path, interval: float = 3600) -> Iterator[TwoHubs]:
    """The city's hub and the Polda's hub, each serving its own database; their background
    checkpoint and witness loops run every ``interval`` seconds (by default, not in a test)."""
    with ExitStack() as stack:
        running = []
        for name in ("city", "polda"):
            (folder / name).mkdir()
            hub = private_hub(backend, folder / name, checkpoint_interval_seconds=interval)
            running.append(stack.enter_context(hub))
        yield TwoHubs(*running)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def hubs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TwoHubs]:
    with two_hubs(request.param, tmp_path_factory.mktemp("witnessing")) as pair:
        yield pair


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_hubs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TwoHubs]:
    """Hubs of the test's own, for a test that damages a database."""
    with two_hubs(request.param, tmp_path) as pair:
        yield pair


def info(hub: RunningHub) -> dict[str, object]:
    response = httpx.get(f"{hub.url}/audit/log")
    assert response.status_code == 200, response.text
    return dict(response.json())


def register_witness(log: RunningHub, name: str, vkey: str) -> httpx.Response:
    with log.client("hub_admin") as admin:
        return admin.post("/audit/witnesses", json={"name": name, "vkey": vkey})


def register_polda(hubs: TwoHubs) -> None:
    response = register_witness(hubs.city, "Polda hub", str(info(hubs.polda)["witness_key"]))
    assert response.status_code in (201, 409), response.text


def witness(hubs: TwoHubs, log_vkey: str | None = None, url: str | None = None) -> WitnessResult:
    """The Polda's hub witnesses the city's log (or the log at ``url``) once."""

    async def run(session: AsyncSession) -> WitnessResult:
        async with httpx.AsyncClient(timeout=10) as http:
            return await witness_log(
                session,
                http,
                url=url or hubs.city.url,
                settings=hubs.polda.settings,
                clock=SystemClock(),
                log_vkey=log_vkey,
            )

    return hubs.polda.query(run)


def city_key(hubs: TwoHubs) -> str:
    return str(info(hubs.city)["checkpoint_key"])


def served_note(hub: RunningHub, size: int) -> SignedNote:
    response = httpx.get(f"{hub.url}/audit/checkpoints/{size}")
    assert response.status_code == 200, response.text
    return SignedNote.parse(response.text)


def events(hub: RunningHub, action: str) -> list[dict[str, object]]:
    with hub.client("hub_admin") as admin:
        response = admin.get("/audit/events", params={"action": action, "limit": 1000})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def post_lines(hub: RunningHub, size: int, lines: str) -> httpx.Response:
    return httpx.post(
        f"{hub.url}/audit/checkpoints/{size}/cosignatures",
        content=lines.encode(),
        headers={"Content-Type": "text/plain"},
    )


def test_the_polda_witnesses_the_city_log_as_it_grows(hubs: TwoHubs) -> None:
    register_polda(hubs)
    first_size = sign_now(hubs.city).json()["tree_size"]

    first = witness(hubs, log_vkey=city_key(hubs))
    add_event(hubs.city)
    add_event(hubs.city)
    second_size = sign_now(hubs.city).json()["tree_size"]
    second = witness(hubs)  # the city's key is remembered from the first time

    assert (first.previous_size, first.tree_size) == (0, first_size)
    assert (second.previous_size, second.tree_size) == (first_size, second_size)
    assert first.stored_by_log
    assert second.stored_by_log
    city_vkey = VerifierKey.parse(city_key(hubs))
    polda_vkey = VerifierKey.parse(str(info(hubs.polda)["witness_key"]))
    for size in (first_size, second_size):
        note = served_note(hubs.city, size)
        assert note.signed_by(city_vkey) is not None
        assert note.signed_by(polda_vkey) is not None
        assert Checkpoint.parse_body(note.body).size == size
    listed = httpx.get(f"{hubs.city.url}/audit/checkpoints").json()["items"]
    assert {item["tree_size"]: item["cosignatures"] for item in listed}[second_size] == 1


def test_witnessing_again_without_growth_keeps_the_first_cosignature(hubs: TwoHubs) -> None:
    register_polda(hubs)
    add_event(hubs.city)
    size = sign_now(hubs.city).json()["tree_size"]
    witness(hubs, log_vkey=city_key(hubs))  # the same key as remembered, or the first time
    before = served_note(hubs.city, size).text()

    again = witness(hubs)

    assert (again.previous_size, again.tree_size) == (size, size)
    assert not again.stored_by_log
    assert served_note(hubs.city, size).text() == before


def test_the_witness_command_cosigns_and_prints_the_line(
    hubs: TwoHubs, capsys: pytest.CaptureFixture[str]
) -> None:
    register_polda(hubs)
    add_event(hubs.city)
    size = sign_now(hubs.city).json()["tree_size"]
    arguments = argparse.Namespace(log=hubs.city.url, log_key=city_key(hubs))

    status = witness_command.run(hubs.polda.settings, arguments)

    printed = capsys.readouterr().out
    assert status == 0
    assert f"at size {size}" in printed
    assert printed.splitlines()[-1] in served_note(hubs.city, size).text()


def test_registering_and_retiring_a_witness_is_audited(hubs: TwoHubs) -> None:
    signer = NoteSigner.generate("retiring-witness", COSIGNATURE_V1)
    registered = register_witness(hubs.city, "Retiring witness", signer.verifier.vkey())
    assert registered.status_code == 201, registered.text
    witness_id = registered.json()["id"]

    with hubs.city.client("hub_admin") as admin:
        retired = admin.delete(f"/audit/witnesses/{witness_id}")
        again = admin.delete(f"/audit/witnesses/{witness_id}")

    assert retired.status_code == 200
    assert retired.json()["removed_at"] is not None
    assert_problem(again, 409, "already retired")
    assert witness_id in {e["object_id"] for e in events(hubs.city, "audit.witness.registered")}
    assert witness_id in {e["object_id"] for e in events(hubs.city, "audit.witness.retired")}
    public = httpx.get(f"{hubs.city.url}/audit/witnesses").json()
    everyone = httpx.get(f"{hubs.city.url}/audit/witnesses?include_retired=true").json()
    assert witness_id not in {w["id"] for w in public}
    assert witness_id in {w["id"] for w in everyone}
    size = sign_now(hubs.city).json()["tree_size"]
    body = served_note(hubs.city, size).body
    line = cosign(body, signer, int(datetime.now(UTC).timestamp())).line()
    assert_problem(post_lines(hubs.city, size, line), 403, "not a registered witness")


def test_a_peer_that_is_down_or_not_a_hub_is_an_error_not_a_refusal(hubs: TwoHubs) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    refusals = len(events(hubs.polda, "audit.witness.refused"))

    with pytest.raises(PeerFailed, match="failed: ConnectError"):
        witness(hubs, log_vkey=city_key(hubs), url=nobody)
    with pytest.raises(PeerFailed, match="does not parse"):
        # The fragment swallows the path appended to it: the "checkpoint" is a JSON document.
        witness(hubs, log_vkey=city_key(hubs), url=f"{hubs.city.url}/audit/log#")

    assert len(events(hubs.polda, "audit.witness.refused")) == refusals


def test_bad_witness_registrations_are_refused(hubs: TwoHubs) -> None:
    note_key = NoteSigner.generate("a-log", NOTE_SIGNATURE).verifier.vkey()
    fine_key = NoteSigner.generate("fine", COSIGNATURE_V1).verifier.vkey()

    assert_problem(register_witness(hubs.city, "Log key", note_key), 422, "type 0x04")
    assert_problem(register_witness(hubs.city, "Garbage", "not+a+key"), 422, "vkey")
    with hubs.city.client("auditor") as auditor:
        refused = auditor.post("/audit/witnesses", json={"name": "x", "vkey": fine_key})
    assert_problem(refused, 403, "registry:admin")
    assert httpx.post(f"{hubs.city.url}/audit/witnesses", json={}).status_code == 401


def test_cosignatures_from_unknown_or_wrong_keys_are_refused(hubs: TwoHubs) -> None:
    add_event(hubs.city)
    size = sign_now(hubs.city).json()["tree_size"]
    body = served_note(hubs.city, size).body
    now = int(datetime.now(UTC).timestamp())
    stranger = NoteSigner.generate("stranger", COSIGNATURE_V1)
    known = NoteSigner.generate(f"known-{size}", COSIGNATURE_V1)
    assert register_witness(hubs.city, known.name, known.verifier.vkey()).status_code == 201
    good = cosign(body, known, now).line()
    other_body = body.replace(f"\n{size}\n", f"\n{size + 1}\n")

    unknown = post_lines(hubs.city, size, cosign(body, stranger, now).line())
    wrong_checkpoint = post_lines(hubs.city, size, cosign(other_body, known, now).line())
    future = post_lines(hubs.city, size, cosign(body, known, now + 3600).line())
    garbage = post_lines(hubs.city, size, "hello")
    empty = post_lines(hubs.city, size, "")
    no_such_size = post_lines(hubs.city, 999999999, good)
    accepted = post_lines(hubs.city, size, good)
    repeated = post_lines(hubs.city, size, cosign(body, known, now + 1).line())

    assert_problem(unknown, 403, "stranger+")
    assert_problem(wrong_checkpoint, 422, "does not verify")
    assert_problem(future, 422, "future")
    assert_problem(garbage, 422, "em dash")
    assert_problem(empty, 422, "cosignature line")
    assert_problem(no_such_size, 404, "no checkpoint")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()[0]["new"] is True
    assert repeated.json()[0]["new"] is False
    served = served_note(hubs.city, size).text()
    assert good in served
    assert served.count(f"\u2014 {known.name} ") == 1


def test_a_witness_refuses_a_checkpoint_not_signed_by_the_log_key(fresh_hubs: TwoHubs) -> None:
    assert_problem(httpx.get(f"{fresh_hubs.city.url}/audit/checkpoints/latest"), 404, "yet")
    with pytest.raises(PeerFailed, match="answered 404: no checkpoint has been signed yet"):
        witness(fresh_hubs, log_vkey=city_key(fresh_hubs))
    sign_now(fresh_hubs.city)
    impostor = NoteSigner.generate(fresh_hubs.city.settings.log_origin, NOTE_SIGNATURE)

    with pytest.raises(WitnessRefused, match="not signed by"):
        witness(fresh_hubs, log_vkey=impostor.verifier.vkey())
    with pytest.raises(InvalidInput, match="must be given"):
        witness(fresh_hubs)  # the refused key was not remembered

    refusals = events(fresh_hubs.polda, "audit.witness.refused")
    assert refusals[-1]["outcome"] == "refused"
    assert "not signed by" in str(refusals[-1]["details"])


def test_a_witness_refuses_a_forked_history_and_says_so(fresh_hubs: TwoHubs) -> None:
    hubs = fresh_hubs
    register_polda(hubs)
    sign_now(hubs.city)
    cosigned = witness(hubs, log_vkey=city_key(hubs))

    hubs.city.query(rewrite_leaf_one)
    add_event(hubs.city)
    forked = sign_now(hubs.city).json()["tree_size"]

    with pytest.raises(WitnessRefused, match="inconsistent") as refused:
        witness(hubs)
    assert f"{forked} leaves does not extend the tree of {cosigned.tree_size}" in str(refused.value)
    refusal = events(hubs.polda, "audit.witness.refused")[-1]
    details = dict(refusal["details"])  # type: ignore[call-overload]
    assert (details["tree_size"], details["cosigned_size"]) == (forked, cosigned.tree_size)
    assert "history was rewritten or the log forked" in str(details["reason"])
    listed = httpx.get(f"{hubs.city.url}/audit/checkpoints").json()["items"]
    assert {item["tree_size"]: item["cosignatures"] for item in listed}[forked] == 0


async def rewrite_leaf_one(session: AsyncSession) -> None:
    """Replace leaf 1 and rebuild every node and the head over it: a consistent-looking
    tree with a different history, as an operator with database access could make."""
    rows = await session.execute(
        select(_NODES.c.hash).where(_NODES.c.level == 0).order_by(_NODES.c.idx)
    )
    leaves = list(rows.scalars())
    leaves[1] = merkle.leaf_hash(b"a quietly rewritten event")
    frontier = merkle.Frontier.empty()
    nodes = [
        {"level": level, "idx": index, "hash": digest}
        for leaf in leaves
        for level, index, digest in frontier.append(leaf)
    ]
    await session.execute(delete(_NODES))
    await session.execute(insert(_NODES), nodes)
    await session.execute(
        update(AuditLogHead).values(root=frontier.root(), frontier=frontier.to_bytes())
    )
    await session.commit()


def test_cosigned_at_is_the_time_inside_the_cosignature(hubs: TwoHubs) -> None:
    signer = NoteSigner.generate("clocked", COSIGNATURE_V1)
    assert register_witness(hubs.city, "Clocked", signer.verifier.vkey()).status_code == 201
    add_event(hubs.city)
    size = sign_now(hubs.city).json()["tree_size"]
    moment = datetime.now(UTC) - timedelta(minutes=5)
    line = cosign(served_note(hubs.city, size).body, signer, int(moment.timestamp())).line()

    accepted = post_lines(hubs.city, size, line).json()[0]

    assert accepted["witness"] == "Clocked"
    assert datetime.fromisoformat(accepted["cosigned_at"]) == moment.replace(microsecond=0)
    assert base64.b64decode(line.split(" ")[-1])[4:12] == int(moment.timestamp()).to_bytes(8, "big")


@pytest.fixture(params=["sqlite", "postgres"])
def busy_hubs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TwoHubs]:
    """Hubs whose checkpoint and witness loops run twice a second."""
    with two_hubs(request.param, tmp_path, interval=0.5) as pair:
        yield pair


def test_the_polda_hub_keeps_witnessing_on_its_own(busy_hubs: TwoHubs) -> None:
    register_polda(busy_hubs)
    sign_now(busy_hubs.city)
    witness(busy_hubs, log_vkey=city_key(busy_hubs))  # from now on the Polda's loop does it
    polda_vkey = VerifierKey.parse(str(info(busy_hubs.polda)["witness_key"]))

    grown = add_event(busy_hubs.city) + 1
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        note = SignedNote.parse(httpx.get(f"{busy_hubs.city.url}/audit/checkpoints/latest").text)
        if Checkpoint.parse_body(note.body).size >= grown and note.signed_by(polda_vkey):
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"no checkpoint of {grown} leaves or more was cosigned by the Polda's loop")
