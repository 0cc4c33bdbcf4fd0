"""The Merkle log's own guarantees, on a real database of each backend and through a served hub:
dense leaf indices under concurrency, stored nodes that rebuild the head, no trace of a rolled
back transaction, rows the ORM will not rewrite, the group commit's promises, and a leaf
encoding that is RFC 8785 byte for byte."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from sqlmodel import col

from sharing.app import Hub, create_app
from sharing.audit import merkle, proofs
from sharing.audit.log import (
    AuditAppender,
    EventDraft,
    canonical_json,
    leaf_bytes,
    new_event,
)
from sharing.audit.models import AuditEvent, AuditEventCamera, AuditLogHead, MerkleNode
from sharing.audit.service import record
from sharing.db import create_engine, run_migrations
from sharing.principal import Actor
from sharing.settings import Settings
from tests.hubprocess import backend_database, free_port, hub_settings, serve_app

TESTER = Actor.system("log-test")
CAMERA = "0b7f4a3e-2a51-4c1e-9d1e-6f0c5a9e2b11"


@dataclass
class LogDatabase:
    """A migrated, otherwise empty database and the settings a hub on ``port`` would use."""

    settings: Settings
    port: int


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def log_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LogDatabase]:
    with backend_database(request.param, tmp_path_factory.mktemp("log")) as url:
        port = free_port()
        settings = hub_settings(url, port)
        run_migrations(settings)
        yield LogDatabase(settings, port)


class _ObservedSession(Session):
    """A session class of this module only, so its commits can be watched without hooking
    every session in the process."""


@event.listens_for(_ObservedSession, "after_commit")
def _note_commit(session: Session) -> None:
    session.info["journal"].append("commit")


@dataclass
class Observed:
    """Sessions on their own engine whose commits are written into ``journal`` once done."""

    sessionmaker: async_sessionmaker[AsyncSession]
    journal: list[str] = field(default_factory=list)

    @property
    def commits(self) -> int:
        return self.journal.count("commit")


@asynccontextmanager
async def observed(settings: Settings) -> AsyncIterator[Observed]:
    engine = create_engine(settings)
    journal: list[str] = []
    try:
        yield Observed(
            async_sessionmaker(
                engine,
                expire_on_commit=False,
                sync_session_class=_ObservedSession,
                info={"journal": journal},
            ),
            journal,
        )
    finally:
        await engine.dispose()


def verdict_like(n: int, *, action: str = "log.test") -> EventDraft:
    return new_event(
        at=datetime.now(UTC),
        actor_party_id=None,
        actor_member_id=None,
        actor_client_id=TESTER.client_id,
        action=action,
        object_type="test",
        object_id=n,
        outcome="allow",
        purpose=None,
        details={"n": n},
    )


async def record_in_own_transaction(
    sessionmaker: async_sessionmaker[AsyncSession], n: int, events: int
) -> list[int]:
    async with sessionmaker() as session:
        recorded = [
            record(
                session,
                at=datetime.now(UTC),
                actor=TESTER,
                action="log.test",
                object_type="test",
                object_id=f"{n}.{k}",
                details={"n": n, "k": k},
                camera_ids=[CAMERA],
            )
            for k in range(events)
        ]
        await session.commit()
        return [int(e.id or 0) for e in recorded]


async def log_size(session: AsyncSession) -> int:
    return int(await session.scalar(select(col(AuditLogHead.size))) or 0)


async def assert_log_is_whole(session: AsyncSession) -> int:
    """Every event has the leaf index it is stored under, the ids are 0..n-1, the stored
    nodes are the hashes of what they cover, and both rebuild the head's root."""
    head = (await session.execute(select(AuditLogHead))).scalar_one()
    rows = list((await session.execute(select(AuditEvent).order_by(col(AuditEvent.id)))).scalars())
    assert [row.id for row in rows] == list(range(head.size))
    stored = {
        (int(level), int(index)): bytes(digest)
        for level, index, digest in (
            await session.execute(
                select(col(MerkleNode.level), col(MerkleNode.index), col(MerkleNode.hash))
            )
        ).all()
    }
    frontier = merkle.Frontier.empty()
    for row in rows:
        leaf = merkle.leaf_hash(leaf_bytes(row))
        assert stored[(0, int(row.id or 0))] == leaf, f"leaf {row.id} does not match its row"
        frontier.append(leaf)
    for (level, index), digest in stored.items():
        assert (index + 1) << level <= head.size, f"node {(level, index)} lies past the head"
        if level:
            children = stored[(level - 1, 2 * index)], stored[(level - 1, 2 * index + 1)]
            assert digest == merkle.node_hash(*children), f"node {(level, index)} is wrong"
    assert frontier.root() == bytes(head.root)
    assert await proofs.root_at(session, head.size) == bytes(head.root)
    return int(head.size)


async def test_concurrent_transactions_and_appends_give_dense_ids_and_the_head_root(
    log_database: LogDatabase,
) -> None:
    async with observed(log_database.settings) as db:
        async with db.sessionmaker() as session:
            before = await log_size(session)
        appender = AuditAppender(db.sessionmaker)
        recorded, appended = await asyncio.gather(
            asyncio.gather(*(record_in_own_transaction(db.sessionmaker, n, 3) for n in range(30))),
            asyncio.gather(*(appender.append(verdict_like(n)) for n in range(200))),
        )
        ids = sorted([i for batch in recorded for i in batch] + list(appended))
        assert ids == list(range(before, before + 30 * 3 + 200))
        for batch in recorded:  # one transaction's events are consecutive leaves
            assert batch == list(range(batch[0], batch[0] + 3))
        async with db.sessionmaker() as session:
            assert await assert_log_is_whole(session) == before + 290
            linked = await session.scalar(
                select(func.count()).where(col(AuditEventCamera.camera_id) == CAMERA)
            )
            assert linked is not None
            assert linked >= 90


async def test_a_rolled_back_transaction_leaves_no_leaf_and_no_gap(
    log_database: LogDatabase,
) -> None:
    async with observed(log_database.settings) as db:
        async with db.sessionmaker() as session:
            before = await log_size(session)
            abandoned = record(
                session, at=datetime.now(UTC), actor=TESTER, action="log.test", object_type="t",
                object_id="abandoned",
            )  # fmt: skip
            await session.flush()
            assert abandoned.id == before  # it had its leaf, inside the transaction
            assert await log_size(session) == before + 1
            await session.rollback()
        async with db.sessionmaker() as session:
            assert await log_size(session) == before
            assert await proofs.leaf_hash_at(session, before) is None
            kept = await record_in_own_transaction(db.sessionmaker, 0, 1)
            assert kept == [before]
            assert await assert_log_is_whole(session) == before + 1


async def test_the_orm_refuses_to_update_or_delete_an_event(log_database: LogDatabase) -> None:
    async with observed(log_database.settings) as db:
        [event_id] = await record_in_own_transaction(db.sessionmaker, 7, 1)
        async with db.sessionmaker() as session:
            stored = await session.get(AuditEvent, event_id)
            assert stored is not None
            stored.outcome = "deny"
            with pytest.raises(RuntimeError, match="cannot change"):
                await session.commit()
            await session.rollback()
            stored = await session.get(AuditEvent, event_id, populate_existing=True)
            assert stored is not None
            await session.delete(stored)
            with pytest.raises(RuntimeError, match="cannot change"):
                await session.commit()
        async with db.sessionmaker() as session:
            again = await session.get(AuditEvent, event_id)
            assert again is not None
            assert again.outcome == "success"
            await assert_log_is_whole(session)


async def test_the_appender_answers_each_caller_with_its_id_only_after_commit(
    log_database: LogDatabase,
) -> None:
    async with observed(log_database.settings) as db:
        appender = AuditAppender(db.sessionmaker)
        reader = create_engine(log_database.settings)  # another connection: sees only commits
        try:

            async def append_and_look(n: int) -> tuple[int, object]:
                event_id = await appender.append(verdict_like(n), camera_ids=[CAMERA])
                db.journal.append(f"answer {event_id}")
                async with AsyncSession(reader) as session:
                    row = await session.get(AuditEvent, event_id)
                return event_id, row.details["n"] if row is not None else None

            answers = await asyncio.gather(*(append_and_look(n) for n in range(50)))
        finally:
            await reader.dispose()
        assert [seen for _, seen in answers] == list(range(50))
        assert db.journal[0] == "commit", "a caller was answered before its batch committed"
        assert len({event_id for event_id, _ in answers}) == 50


async def test_a_failing_batch_raises_to_every_caller_and_leaves_the_log_as_it_was(
    log_database: LogDatabase,
) -> None:
    async with observed(log_database.settings) as db:
        appender = AuditAppender(db.sessionmaker)
        async with db.sessionmaker() as session:
            before = await log_size(session)
        broken = verdict_like(-1)
        broken.action = None  # type: ignore[assignment]  # NOT NULL: the insert fails
        outcomes = await asyncio.gather(
            *(appender.append(verdict_like(n)) for n in range(20)),
            appender.append(broken),
            *(appender.append(verdict_like(n)) for n in range(20, 40)),
            return_exceptions=True,
        )
        assert all(isinstance(outcome, IntegrityError) for outcome in outcomes), outcomes
        assert db.commits == 0
        later = await asyncio.gather(*(appender.append(verdict_like(n)) for n in range(5)))
        assert sorted(later) == list(range(before, before + 5))
        async with db.sessionmaker() as session:
            assert await assert_log_is_whole(session) == before + 5


async def test_a_burst_of_appends_costs_a_few_transactions(log_database: LogDatabase) -> None:
    async with observed(log_database.settings) as db:
        appender = AuditAppender(db.sessionmaker)
        ids = await asyncio.gather(*(appender.append(verdict_like(n)) for n in range(1000)))
        assert db.commits <= 3, f"{db.commits} transactions for 1000 appends"
        assert sorted(ids) == list(range(min(ids), min(ids) + 1000))


async def test_a_page_of_proofs_is_read_in_bounded_queries_and_each_verifies(
    log_database: LogDatabase,
) -> None:
    # A thousand leaves need far more nodes than one query may name (SQLite's expression
    # depth): the batch splits its reads and every path still verifies.
    async with observed(log_database.settings) as db:
        appender = AuditAppender(db.sessionmaker)
        await asyncio.gather(*(appender.append(verdict_like(n)) for n in range(1000)))
        async with db.sessionmaker() as session:
            size = await log_size(session)
            root = await proofs.root_at(session, size)
            indices = list(range(size - 1000, size))
            proven = await proofs.leaves_and_inclusion_paths(session, indices, size)
    assert sorted(proven) == indices
    for index, (leaf, path) in proven.items():
        assert leaf is not None
        assert merkle.verify_inclusion(leaf, index, size, path, root), index


# --- through a served hub ---------------------------------------------------------------


@dataclass(eq=False)  # a listener must be hashable
class CommitCounter:
    """Counts the transactions the hub's own engine commits."""

    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, _connection: Any) -> None:
        with self.lock:
            self.count += 1


@dataclass
class ServedLog:
    url: str
    settings: Settings
    commits: CommitCounter


@pytest.fixture(scope="module")
def served_log(log_database: LogDatabase) -> Iterator[ServedLog]:
    app = create_app(log_database.settings)
    hub: Hub = app.state["hub"]
    commits = CommitCounter()
    event.listen(hub.engine.sync_engine, "commit", commits)
    with serve_app(app, log_database.port):
        yield ServedLog(log_database.settings.issuer, log_database.settings, commits)


async def denied_checks(url: str, count: int) -> list[int]:
    """``count`` concurrent gateway checks without a token: each is denied, and recorded."""
    limits = httpx.Limits(max_connections=count)  # all at once: a burst, not a queue
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def check(n: int) -> int:
            uri = f"/live/{CAMERA}/{n}.ts"
            response = await client.get("/gateway/auth", headers={"X-Original-URI": uri})
            return response.status_code

        return list(await asyncio.gather(*(check(n) for n in range(count))))


async def test_concurrent_gateway_checks_and_transactions_over_http_keep_the_log_whole(
    served_log: ServedLog,
) -> None:
    burst = 300
    engine = create_engine(served_log.settings)
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    try:
        async with sessionmaker() as session:
            before = await log_size(session)
        statuses, _ = await asyncio.gather(
            denied_checks(served_log.url, burst),
            asyncio.gather(*(record_in_own_transaction(sessionmaker, n, 2) for n in range(20))),
        )
        assert statuses == [401] * burst
        async with sessionmaker() as session:
            assert await assert_log_is_whole(session) == before + burst + 40
            denied = await session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(col(AuditEvent.action) == "gateway.denied", col(AuditEvent.id) >= before)
            )
            assert denied == burst
    finally:
        await engine.dispose()


async def test_a_burst_of_checks_while_the_log_is_busy_costs_a_few_transactions(
    served_log: ServedLog,
) -> None:
    """While another transaction holds the log (as a committing access request does), the
    verdicts that arrive queue behind one batch and go in with the next."""
    burst = 200
    engine = create_engine(served_log.settings)
    try:
        async with AsyncSession(engine) as holder:
            await holder.execute(
                update(AuditLogHead)
                .where(col(AuditLogHead.id) == 1)
                .values(size=AuditLogHead.size)  # takes the log's lock, changes nothing
            )
            commits_before = served_log.commits.count
            checks = asyncio.create_task(denied_checks(served_log.url, burst))
            await asyncio.sleep(2)  # every check reaches the hub and waits for the log
            assert not checks.done()
            await holder.rollback()
        statuses = await checks
        hub_commits = served_log.commits.count - commits_before
    finally:
        await engine.dispose()
    assert statuses == [401] * burst
    assert hub_commits <= 5, f"{hub_commits} transactions for {burst} verdicts"


# --- the leaf encoding --------------------------------------------------------------------

_ASCII = st.text(alphabet=st.characters(max_codepoint=127), max_size=8)


def _json(scalars: st.SearchStrategy[object], keys: st.SearchStrategy[str]) -> Any:
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
        max_leaves=20,
    )


# What events hold: the encoder's fast path.
_PLAIN = _json(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | _ASCII, keys=_ASCII
)
# Anything JSON can say, and integers RFC 8785 refuses: the fall-back path.
_ANY = _json(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | _ASCII,
    keys=st.text(max_size=6) | _ASCII,
)


@given(_PLAIN)
def test_the_leaf_encoding_of_plain_values_is_byte_for_byte_rfc8785(value: object) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)  # type: ignore[arg-type]


@given(_ANY)
def test_the_leaf_encoding_of_any_json_is_byte_for_byte_rfc8785(value: object) -> None:
    try:
        expected = rfc8785.dumps(value)  # type: ignore[arg-type]
    except rfc8785.CanonicalizationError as refused:
        with pytest.raises(type(refused)):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


def test_the_leaf_encoding_takes_the_forms_rfc8785_gives_control_characters_and_tuples() -> None:
    awkward = {"\x7f\x00\x08\x1f": ['"\\/\t\n\r\f\b', (1, True, None)], "": -(2**53 - 1)}
    assert canonical_json(awkward) == rfc8785.dumps(awkward)  # type: ignore[arg-type]
    cyclic: list[object] = []
    cyclic.append(cyclic)
    with pytest.raises(RecursionError):
        canonical_json(cyclic)
