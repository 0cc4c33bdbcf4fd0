"""The log's Ed25519 note keys and its signed checkpoints.

A checkpoint is signed when the log has grown since the last one: by the periodic loop, or
on demand. Checkpoints are kept forever; each is the signed note exactly as served.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from sharing.audit.models import AuditCheckpoint, AuditLogHead, AuditLogKey
from sharing.audit.notes import COSIGNATURE_V1, NOTE_SIGNATURE, Checkpoint, NoteSigner
from sharing.audit.notes import sign_checkpoint as sign_note
from sharing.clock import Clock
from sharing.crypto import SecretBox
from sharing.settings import Settings

CHECKPOINT_KEY = "checkpoint"
WITNESS_KEY = "witness"
_KINDS = {CHECKPOINT_KEY: NOTE_SIGNATURE, WITNESS_KEY: COSIGNATURE_V1}


def key_name(settings: Settings, purpose: str) -> str:
    """Checkpoints are signed under the log's origin; cosignatures under ``origin/witness``."""
    return settings.log_origin if purpose == CHECKPOINT_KEY else f"{settings.log_origin}/witness"


async def note_signer(
    session: AsyncSession, settings: Settings, now: datetime, purpose: str
) -> NoteSigner:
    """This hub's current key for ``purpose``, made (and committed) at first use."""
    row = await _current_key(session, purpose)
    if row is None:
        signer = NoteSigner.generate(key_name(settings, purpose), _KINDS[purpose])
        raw = signer.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        session.add(
            AuditLogKey(
                vkey=signer.verifier.vkey(),
                purpose=purpose,
                name=signer.name,
                private_key_encrypted=SecretBox(settings).encrypt(base64.b64encode(raw).decode()),
                created_at=now,
            )
        )
        try:
            await session.commit()
        except IntegrityError:  # another node made it first: use theirs
            await session.rollback()
        row = await _current_key(session, purpose)
        assert row is not None
    raw = base64.b64decode(SecretBox(settings).decrypt(row.private_key_encrypted))
    return NoteSigner(row.name, _KINDS[purpose], Ed25519PrivateKey.from_private_bytes(raw))


async def _current_key(session: AsyncSession, purpose: str) -> AuditLogKey | None:
    query = (
        select(AuditLogKey)
        .where(col(AuditLogKey.purpose) == purpose, col(AuditLogKey.retired_at).is_(None))
        .order_by(col(AuditLogKey.created_at).desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def published_keys(session: AsyncSession) -> list[AuditLogKey]:
    """Every note key this hub ever used, retired ones included: old checkpoints need them."""
    query = select(AuditLogKey).order_by(col(AuditLogKey.created_at))
    return list((await session.execute(query)).scalars())


async def log_head(session: AsyncSession) -> tuple[int, bytes]:
    """The log's committed size and root hash."""
    row = (await session.execute(select(col(AuditLogHead.size), col(AuditLogHead.root)))).one()
    return int(row[0]), bytes(row[1])


async def latest_checkpoint(session: AsyncSession) -> AuditCheckpoint | None:
    query = select(AuditCheckpoint).order_by(col(AuditCheckpoint.tree_size).desc()).limit(1)
    return (await session.execute(query)).scalar_one_or_none()


async def sign_checkpoint(
    session: AsyncSession, settings: Settings, clock: Clock
) -> AuditCheckpoint | None:
    """Sign the log's current head unless the latest checkpoint already covers it.

    Returns the checkpoint that covers the head (new or not); None while the log is empty.
    """
    size, root = await log_head(session)
    latest = await latest_checkpoint(session)
    if size == 0 or (latest is not None and latest.tree_size >= size):
        return latest
    now = clock.now()
    signer = await note_signer(session, settings, now, CHECKPOINT_KEY)
    note = sign_note(Checkpoint(settings.log_origin, size, root), signer).text()
    checkpoint = AuditCheckpoint(tree_size=size, root_hash=root, note=note, signed_at=now)
    session.add(checkpoint)
    try:
        await session.commit()
    except IntegrityError:  # another node signed this size first; theirs is as good
        await session.rollback()
        return await latest_checkpoint(session)
    return checkpoint


async def checkpoint_covering(
    session: AsyncSession, settings: Settings, clock: Clock, event_id: int
) -> AuditCheckpoint:
    """The latest checkpoint if it holds event ``event_id``, else one signed now: proofs are
    only worth giving against a signed tree head."""
    checkpoint = await latest_checkpoint(session)
    if checkpoint is None or checkpoint.tree_size <= event_id:
        checkpoint = await sign_checkpoint(session, settings, clock)
    # The event is committed, so the head that was just signed holds it.
    assert checkpoint is not None
    assert checkpoint.tree_size > event_id
    return checkpoint


async def run_checkpoint_loop(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock
) -> None:
    """Sign a checkpoint every ``checkpoint_interval_seconds`` when the log grew."""
    log = logging.getLogger("sharing.audit")
    while True:
        await asyncio.sleep(settings.checkpoint_interval_seconds)
        try:
            async with sessionmaker() as session:
                await sign_checkpoint(session, settings, clock)
        except Exception:  # one failed round must not end the loop; the next one retries
            log.exception("signing an audit checkpoint failed")
