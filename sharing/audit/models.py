"""Tables of the audit trail: the events, the Merkle tree over them, its signed checkpoints
and cosignatures, and what the owners' access reports need (camera links, commitments)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    SmallInteger,
    Text,
)
from sqlmodel import Field, SQLModel

# BigInteger on PostgreSQL, plain INTEGER on SQLite (where INTEGER PRIMARY KEY is the rowid).
_BIG_INT = BigInteger().with_variant(Integer(), "sqlite")


class AuditEvent(SQLModel, table=True):
    """Who did what to which object, when, for which purpose, with which outcome.

    ``id`` is the event's leaf index in the Merkle log (0, 1, 2, ...), given when the event
    is flushed, under the log's lock (``sharing.audit.log``).
    """

    __tablename__ = "audit_event"

    id: int | None = Field(
        default=None, sa_column=Column(_BIG_INT, primary_key=True, autoincrement=False)
    )
    occurred_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    action: str = Field(max_length=64, index=True)
    actor_party_id: str | None = Field(default=None, max_length=36, index=True)
    actor_member_id: str | None = Field(default=None, max_length=36)
    actor_client_id: str | None = Field(default=None, max_length=100)
    object_type: str = Field(max_length=32)
    object_id: str = Field(max_length=64, index=True)
    purpose: str | None = Field(default=None, max_length=40)
    outcome: str = Field(max_length=16)
    details: dict[str, object] = Field(sa_column=Column(JSON, nullable=False))


class AuditEventCamera(SQLModel, table=True):
    """An event concerns a camera: the index behind each owner's access report."""

    __tablename__ = "audit_event_camera"

    camera_id: str = Field(primary_key=True, max_length=36)
    # No foreign key: the link is written in the same flush as its event, before it.
    event_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))


class MerkleNode(SQLModel, table=True):
    """A complete subtree of the log: level 0 holds the leaf hashes."""

    __tablename__ = "merkle_node"

    level: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    index: int = Field(sa_column=Column("idx", BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))


class AuditLogHead(SQLModel, table=True):
    """The one row that says how big the log is; appends lock it, so it orders the log."""

    __tablename__ = "audit_log_head"

    id: int = Field(default=1, primary_key=True)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    root: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    # The right edge's complete-subtree hashes, largest first: all an append needs.
    frontier: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class AuditLogKey(SQLModel, table=True):
    """An Ed25519 note key of this hub: ``checkpoint`` signs its log, ``witness`` cosigns
    other logs. The private key is encrypted at rest."""

    __tablename__ = "audit_log_key"

    vkey: str = Field(primary_key=True, max_length=300)
    purpose: str = Field(max_length=16, index=True)  # checkpoint | witness
    name: str = Field(max_length=200)
    private_key_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    retired_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class AuditCheckpoint(SQLModel, table=True):
    """A signed checkpoint of the log, kept forever."""

    __tablename__ = "audit_checkpoint"

    tree_size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))  # the signed note, as served
    signed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class AuditWitness(SQLModel, table=True):
    """A key allowed to cosign this hub's checkpoints (e.g. the Polda's hub)."""

    __tablename__ = "audit_witness"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    vkey: str = Field(max_length=300, unique=True)
    party_id: uuid.UUID | None = Field(default=None, foreign_key="party.id")
    added_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    removed_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class AuditCosignature(SQLModel, table=True):
    """A witness's cosignature of one of this hub's checkpoints."""

    __tablename__ = "audit_cosignature"

    tree_size: int = Field(
        sa_column=Column(BigInteger, ForeignKey("audit_checkpoint.tree_size"), primary_key=True)
    )
    witness_id: uuid.UUID = Field(foreign_key="audit_witness.id", primary_key=True)
    signature_line: str = Field(sa_column=Column(Text, nullable=False))
    cosigned_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class WitnessedLog(SQLModel, table=True):
    """Another hub's log that this hub witnesses: the last checkpoint it cosigned."""

    __tablename__ = "witnessed_log"

    origin: str = Field(primary_key=True, max_length=200)
    vkey: str = Field(max_length=300)
    url: str = Field(max_length=500)
    tree_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    root_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    cosigned_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class AuditOpening(SQLModel, table=True):
    """The salt and value behind a commitment in an event, encrypted at rest; the party
    whose detail it is may open it for an auditor."""

    __tablename__ = "audit_opening"

    # No foreign key: the opening is written in the same flush as its event, before it.
    event_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    field: str = Field(primary_key=True, max_length=40)
    holder_party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    opening_encrypted: str = Field(sa_column=Column(Text, nullable=False))


class AuditDisclosure(SQLModel, table=True):
    """A commitment opened by its holder for a named auditor party."""

    __tablename__ = "audit_disclosure"

    event_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    field: str = Field(primary_key=True, max_length=40)
    auditor_party_id: uuid.UUID = Field(foreign_key="party.id", primary_key=True)
    disclosed_by: str = Field(max_length=100)
    disclosed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class AccessSeal(SQLModel, table=True):
    """An access kept confidential from the camera owners until ``sealed_until`` (or its
    release at case closure); the owner sees at once that a sealed access happened."""

    __tablename__ = "access_seal"

    request_id: uuid.UUID = Field(foreign_key="access_request.id", primary_key=True)
    sealed_until: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    released_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class AuditArchive(SQLModel, table=True):
    """A range of events moved to an archive bundle, sealed by the checkpoint at its end.
    Their leaf hashes stay in the tree, so later proofs and checkpoints still verify."""

    __tablename__ = "audit_archive"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    first_event_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    end_event_id: int = Field(sa_column=Column(BigInteger, nullable=False))  # exclusive
    checkpoint_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    bundle_sha256: str = Field(max_length=64)
    location: str = Field(max_length=500)
    archived_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
