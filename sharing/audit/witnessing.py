"""Witnessing, C2SP tlog-cosignature/v1, from both sides.

As a log, this hub keeps a list of witness keys and stores the cosignatures they send for
its checkpoints. As a witness, it fetches a partner hub's latest checkpoint, checks the
log's signature and that the new tree extends the last one it cosigned, and only then
cosigns it and sends the cosignature back. A witness that never cosigns two trees that do
not extend each other is what makes a fork of the log visible to everyone who sees both.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from sharing.audit import merkle
from sharing.audit.checkpoints import WITNESS_KEY, note_signer
from sharing.audit.log_schemas import CosignatureAccepted, WitnessCreate, WitnessRead
from sharing.audit.log_service import witness_read
from sharing.audit.models import AuditCheckpoint, AuditCosignature, AuditWitness, WitnessedLog
from sharing.audit.notes import (
    COSIGNATURE_V1,
    Checkpoint,
    NoteError,
    Signature,
    SignedNote,
    VerifierKey,
    b64,
    cosign,
    cosignature_timestamp,
)
from sharing.audit.service import record
from sharing.clock import Clock
from sharing.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PeerFailed,
    PermissionDenied,
)
from sharing.parties.models import Party
from sharing.principal import Actor, Principal
from sharing.settings import Settings
from sharing.vocabulary import Scope

# A witness's clock may run a little ahead of ours; a cosignature from further in the future
# would let it claim freshness it does not have.
COSIGNATURE_CLOCK_SKEW_SECONDS = 120

log = logging.getLogger("sharing.audit.witness")
_WITNESSED: Table = WitnessedLog.__table__  # type: ignore[attr-defined]


# --- this hub as a log: its witnesses and their cosignatures -------------------------------


async def register_witness(
    session: AsyncSession, principal: Principal, clock: Clock, data: WitnessCreate
) -> WitnessRead:
    """Allow ``data.vkey`` to cosign this hub's checkpoints."""
    principal.require(Scope.REGISTRY_ADMIN)
    key = _witness_key(data.vkey)
    if data.party_id is not None and await session.get(Party, data.party_id) is None:
        raise InvalidInput("party_id", "no such party")
    taken = select(AuditWitness).where(
        (col(AuditWitness.name) == data.name) | (col(AuditWitness.vkey) == key.vkey())
    )
    if (await session.execute(taken)).first() is not None:
        raise Conflict("a witness with this name or key is already registered (or was retired)")
    now = clock.now()
    witness = AuditWitness(name=data.name, vkey=key.vkey(), party_id=data.party_id, added_at=now)
    session.add(witness)
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="audit.witness.registered",
        object_type="audit_witness",
        object_id=witness.id,
        details={"name": data.name, "vkey": key.vkey(), "party_id": _text(data.party_id)},
    )
    try:
        await session.commit()
    except IntegrityError as exc:  # registered concurrently under the same name or key
        await session.rollback()
        raise Conflict("a witness with this name or key is already registered") from exc
    return witness_read(witness)


def _witness_key(vkey: str) -> VerifierKey:
    try:
        key = VerifierKey.parse(vkey)
    except NoteError as exc:
        raise InvalidInput("vkey", str(exc)) from exc
    if key.kind != COSIGNATURE_V1:
        raise InvalidInput("vkey", "a witness key has signature type 0x04 (tlog-cosignature/v1)")
    return key


async def retire_witness(
    session: AsyncSession, principal: Principal, clock: Clock, witness_id: uuid.UUID
) -> WitnessRead:
    """Stop accepting cosignatures from a witness; those it gave stay served."""
    principal.require(Scope.REGISTRY_ADMIN)
    witness = await session.get(AuditWitness, witness_id)
    if witness is None:
        raise NotFound(f"no witness {witness_id}")
    if witness.removed_at is not None:
        raise Conflict("this witness is already retired")
    now = clock.now()
    witness.removed_at = now
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="audit.witness.retired",
        object_type="audit_witness",
        object_id=witness.id,
        details={"name": witness.name, "vkey": witness.vkey},
    )
    await session.commit()
    return witness_read(witness)


async def list_witnesses(session: AsyncSession, *, include_retired: bool) -> list[WitnessRead]:
    query = select(AuditWitness).order_by(col(AuditWitness.added_at), col(AuditWitness.name))
    if not include_retired:
        query = query.where(col(AuditWitness.removed_at).is_(None))
    return [witness_read(row) for row in (await session.execute(query)).scalars()]


async def accept_cosignatures(
    session: AsyncSession, clock: Clock, tree_size: int, lines: str
) -> list[CosignatureAccepted]:
    """Store the cosignature ``lines`` a witness sent for checkpoint ``tree_size``.

    The signature is the credential: each line must come from an active registered witness
    and verify over this checkpoint. All lines are accepted or none; a witness that already
    cosigned the size keeps its first cosignature.
    """
    checkpoint = await session.get(AuditCheckpoint, tree_size)
    if checkpoint is None:
        raise NotFound(f"no checkpoint of size {tree_size}; GET /audit/checkpoints lists them")
    body = SignedNote.parse(checkpoint.note).body
    signatures = _signature_lines(body, lines)
    witnesses = await _active_witnesses_by_key(session)
    now = clock.now()
    accepted: list[CosignatureAccepted] = []
    for signature in signatures:
        witness = witnesses.get((signature.name, signature.key_id))
        if witness is None:
            raise PermissionDenied(
                f"{signature.name}+{signature.key_id.hex()} is not a registered witness of "
                "this log (or was retired)"
            )
        cosigned_at = _verified_time(body, signature, witness, tree_size, now)
        accepted.append(
            await _store(session, tree_size, witness, signature, cosigned_at, received_at=now)
        )
    await session.commit()
    return accepted


def _signature_lines(body: str, lines: str) -> tuple[Signature, ...]:
    text = lines.replace("\r\n", "\n").strip("\n")
    if not text:
        raise InvalidInput("body", "send one cosignature line per witness, as text/plain")
    try:
        return SignedNote.parse(body + "\n" + text + "\n").signatures
    except NoteError as exc:
        raise InvalidInput("body", str(exc)) from exc


async def _active_witnesses_by_key(
    session: AsyncSession,
) -> dict[tuple[str, bytes], tuple[AuditWitness, VerifierKey]]:
    query = select(AuditWitness).where(col(AuditWitness.removed_at).is_(None))
    found = {}
    for witness in (await session.execute(query)).scalars():
        key = VerifierKey.parse(witness.vkey)
        found[(key.name, key.key_id)] = (witness, key)
    return found


def _verified_time(
    body: str,
    signature: Signature,
    witness: tuple[AuditWitness, VerifierKey],
    tree_size: int,
    now: datetime,
) -> datetime:
    name, key = witness[0].name, witness[1]
    try:
        verified = SignedNote(body, (signature,)).signed_by(key) is not None
        timestamp = cosignature_timestamp(signature)
    except NoteError as exc:
        raise InvalidInput("body", f"the cosignature of {name}: {exc}") from exc
    if not verified:
        raise InvalidInput(
            "body", f"the cosignature of {name} does not verify over checkpoint {tree_size}"
        )
    if timestamp > now.timestamp() + COSIGNATURE_CLOCK_SKEW_SECONDS:
        raise InvalidInput("body", f"the cosignature of {name} is dated in the future")
    return datetime.fromtimestamp(timestamp, UTC)


async def _store(
    session: AsyncSession,
    tree_size: int,
    witness: tuple[AuditWitness, VerifierKey],
    signature: Signature,
    cosigned_at: datetime,
    *,
    received_at: datetime,
) -> CosignatureAccepted:
    row, _ = witness
    existing = await session.get(AuditCosignature, (tree_size, row.id))
    if existing is None:
        session.add(
            AuditCosignature(
                tree_size=tree_size,
                witness_id=row.id,
                signature_line=signature.line(),
                cosigned_at=cosigned_at,
                received_at=received_at,
            )
        )
    kept = cosigned_at if existing is None else existing.cosigned_at
    return CosignatureAccepted(
        tree_size=tree_size, witness=row.name, cosigned_at=kept, new=existing is None
    )


# --- this hub as a witness of another hub's log ---------------------------------------------


class WitnessRefused(Conflict):
    """The log showed a checkpoint this witness must not cosign: badly signed, rolled back,
    or not an extension of the tree it cosigned before."""


@dataclass(frozen=True, slots=True)
class WitnessResult:
    origin: str
    previous_size: int
    tree_size: int
    root_hash: str
    cosignature: str  # the line sent to the log
    stored_by_log: bool  # False when the log already had this witness's cosignature


async def witness_log(
    session: AsyncSession,
    http: httpx.AsyncClient,
    *,
    url: str,
    settings: Settings,
    clock: Clock,
    log_vkey: str | None,
) -> WitnessResult:
    """Check the log at ``url`` grew consistently since this hub last cosigned it, then
    cosign its latest checkpoint and send the cosignature to it.

    The log's key is trusted on first use (``log_vkey``) and remembered per origin.
    """
    base = url.rstrip("/")
    note, checkpoint = await _fetch_latest(http, base)
    known = await session.get(WitnessedLog, checkpoint.origin)
    key = _log_key(known, log_vkey)
    try:
        if note.signed_by(key) is None:
            raise _Refusal(f"the checkpoint of {checkpoint.size} is not signed by {key.vkey()}")
        await _check_extends(http, base, known, checkpoint)
    except _Refusal as refusal:
        await _record_refusal(session, clock, base, checkpoint, known, str(refusal))
        raise WitnessRefused(f"refused to cosign {checkpoint.origin}: {refusal}") from None
    now = clock.now()
    signer = await note_signer(session, settings, now, WITNESS_KEY)
    signature = cosign(note.body, signer, int(now.timestamp()))
    previous_size = known.tree_size if known else 0
    # Remember the cosigned tree before sending it: whatever happens to the request, this
    # witness must never cosign a tree that does not extend it.
    await _remember(session, known, key, base, checkpoint, now)
    stored = await _send(http, base, checkpoint.size, signature.line())
    return WitnessResult(
        origin=checkpoint.origin,
        previous_size=previous_size,
        tree_size=checkpoint.size,
        root_hash=b64(checkpoint.root),
        cosignature=signature.line(),
        stored_by_log=stored,
    )


class _Refusal(Exception):
    """Why a checkpoint is not cosigned; becomes a recorded ``WitnessRefused``."""


async def _fetch_latest(http: httpx.AsyncClient, base: str) -> tuple[SignedNote, Checkpoint]:
    response = await _call(http, "GET", f"{base}/audit/checkpoints/latest")
    try:
        note = SignedNote.parse(response.text)
        return note, Checkpoint.parse_body(note.body)
    except NoteError as exc:
        raise PeerFailed(f"{base} answered a checkpoint that does not parse: {exc}") from exc


def _log_key(known: WitnessedLog | None, log_vkey: str | None) -> VerifierKey:
    if known is not None and log_vkey is not None and log_vkey.strip() != known.vkey:
        raise InvalidInput(
            "log_vkey", f"this hub already trusts {known.vkey} for {known.origin}; it differs"
        )
    vkey = known.vkey if known is not None else log_vkey
    if vkey is None:
        raise InvalidInput(
            "log_vkey", "the first time a log is witnessed its checkpoint key must be given"
        )
    try:
        return VerifierKey.parse(vkey)
    except NoteError as exc:
        raise InvalidInput("log_vkey", str(exc)) from exc


async def _check_extends(
    http: httpx.AsyncClient, base: str, known: WitnessedLog | None, checkpoint: Checkpoint
) -> None:
    if known is None:
        return  # first sight: nothing to be consistent with yet
    old_size, old_root = known.tree_size, bytes(known.root_hash)
    if checkpoint.size < old_size:
        raise _Refusal(f"the log shrank from {old_size} to {checkpoint.size} leaves")
    if checkpoint.size == old_size:
        if checkpoint.root != old_root:
            raise _Refusal(
                f"the log forked: two different roots for {old_size} leaves "
                f"({b64(old_root)} cosigned before, {b64(checkpoint.root)} now)"
            )
        return
    path = await _consistency_path(http, base, old_size, checkpoint.size)
    if not merkle.verify_consistency(old_size, checkpoint.size, old_root, checkpoint.root, path):
        raise _Refusal(
            f"inconsistent: the tree of {checkpoint.size} leaves does not extend the tree of "
            f"{old_size} leaves cosigned before (root {b64(old_root)}): history was rewritten "
            "or the log forked"
        )


async def _consistency_path(
    http: httpx.AsyncClient, base: str, old_size: int, new_size: int
) -> list[bytes]:
    query = {"first": str(old_size), "second": str(new_size)}
    try:
        response = await _call(http, "GET", f"{base}/audit/consistency", params=query)
    except PeerFailed as exc:
        if exc.extensions.get("peer_status") in (404, 422):
            raise _Refusal(f"the log cannot prove {new_size} extends {old_size}: {exc}") from exc
        raise
    try:
        return [base64.b64decode(h, validate=True) for h in response.json()["consistency_path"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise PeerFailed(f"{base} answered a consistency proof that does not parse") from exc


async def _send(http: httpx.AsyncClient, base: str, tree_size: int, line: str) -> bool:
    response = await _call(
        http,
        "POST",
        f"{base}/audit/checkpoints/{tree_size}/cosignatures",
        content=line.encode(),
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    try:
        return bool(response.json()[0]["new"])
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise PeerFailed(f"{base} answered the cosignature with something unexpected") from exc


async def _call(http: httpx.AsyncClient, method: str, url: str, **kwargs: object) -> httpx.Response:
    try:
        response = await http.request(method, url, **kwargs)  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        raise PeerFailed(f"{method} {url} failed: {exc!r}") from exc
    if response.status_code >= 400:
        raise PeerFailed(
            f"{method} {url} answered {response.status_code}: {_problem_detail(response)}",
            peer_status=response.status_code,
        )
    return response


def _problem_detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text[:200]))
    except ValueError:
        return response.text[:200]


async def _remember(
    session: AsyncSession,
    known: WitnessedLog | None,
    key: VerifierKey,
    base: str,
    checkpoint: Checkpoint,
    now: datetime,
) -> None:
    """Move the remembered tree forward, only from the tree this round checked against:
    two rounds at once (the loop and the command) must not each cosign a different fork."""
    values = {
        "url": base,
        "tree_size": checkpoint.size,
        "root_hash": checkpoint.root,
        "cosigned_at": now,
    }
    try:
        if known is None:
            await session.execute(
                insert(_WITNESSED).values(origin=checkpoint.origin, vkey=key.vkey(), **values)
            )
            moved = True
        else:
            result = await session.execute(
                update(_WITNESSED)
                .where(
                    _WITNESSED.c.origin == known.origin,
                    _WITNESSED.c.tree_size == known.tree_size,
                    _WITNESSED.c.root_hash == known.root_hash,
                )
                .values(**values)
            )
            moved = result.rowcount == 1  # type: ignore[attr-defined]
        await session.commit()
    except IntegrityError:
        await session.rollback()
        moved = False
    if not moved:
        raise Conflict(f"another round witnessed {checkpoint.origin} at the same time; run again")


async def _record_refusal(
    session: AsyncSession,
    clock: Clock,
    base: str,
    checkpoint: Checkpoint,
    known: WitnessedLog | None,
    reason: str,
) -> None:
    record(
        session,
        at=clock.now(),
        actor=Actor.system("witness"),
        action="audit.witness.refused",
        object_type="witnessed_log",
        object_id=_object_id(checkpoint.origin),
        outcome="refused",
        details={
            "origin": checkpoint.origin,
            "url": base,
            "tree_size": checkpoint.size,
            "root_hash": b64(checkpoint.root),
            "cosigned_size": known.tree_size if known else None,
            "reason": reason,
        },
    )
    await session.commit()
    log.warning("refused to cosign %s: %s", checkpoint.origin, reason)


def _object_id(origin: str) -> str:
    # object_id holds 64 characters; a longer origin is named by its hash (details keep it).
    return origin if len(origin) <= 64 else hashlib.sha256(origin.encode()).hexdigest()


def _text(value: object | None) -> str | None:
    return None if value is None else str(value)


async def run_witness_loop(
    sessionmaker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    settings: Settings,
    clock: Clock,
) -> None:
    """Witness every log this hub witnessed before, every checkpoint interval."""
    while True:
        await asyncio.sleep(settings.checkpoint_interval_seconds)
        try:
            async with sessionmaker() as session:
                logs = list((await session.execute(select(WitnessedLog))).scalars())
        except Exception:  # a database blip must not end the loop; the next round retries
            log.exception("listing the witnessed logs failed")
            continue
        for witnessed in logs:
            await _witness_quietly(sessionmaker, http, witnessed, settings, clock)


async def _witness_quietly(
    sessionmaker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    witnessed: WitnessedLog,
    settings: Settings,
    clock: Clock,
) -> None:
    try:
        async with sessionmaker() as session:
            await witness_log(
                session, http, url=witnessed.url, settings=settings, clock=clock, log_vkey=None
            )
    except DomainError as exc:  # refusals are already recorded; keep witnessing the others
        log.warning("witnessing %s: %s", witnessed.origin, exc.detail)
    except Exception:  # one failed log must not stop the others
        log.exception("witnessing %s failed", witnessed.origin)
