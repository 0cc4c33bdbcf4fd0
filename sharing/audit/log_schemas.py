"""Shapes of the audit log's public face: its keys, checkpoints, proofs and witnesses.

Hashes are base64, as in RFC 9162's JSON and in checkpoint notes.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

_VKEY_EXAMPLE = "hub.example/audit-log+4c8e1a2b+AQ1x..."


class WitnessRead(BaseModel):
    """A key allowed to cosign this hub's checkpoints."""

    id: uuid.UUID
    name: str = Field(examples=["Polda Sumatera Utara hub"])
    vkey: str = Field(description="The witness's C2SP vkey (signature type 0x04).")
    party_id: uuid.UUID | None
    added_at: datetime
    removed_at: datetime | None = Field(description="When it was retired; null while active.")


class WitnessCreate(BaseModel):
    """Register a witness. Its cosignatures are accepted from then on."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["Polda Sumatera Utara hub"])
    vkey: str = Field(
        min_length=1,
        max_length=300,
        description="The witness's C2SP vkey: `name+keyid+base64(0x04 || Ed25519 key)`; a "
        "partner hub publishes it as `witness_key` at `/audit/log`.",
    )
    party_id: uuid.UUID | None = Field(default=None, description="The party running it.")


class AuditLogInfo(BaseModel):
    """Everything a verifier or witness needs to check this hub's log."""

    origin: str = Field(description="The first line of every checkpoint.")
    checkpoint_key: str = Field(
        description="The vkey that signs this log's checkpoints (signature type 0x01).",
        examples=[_VKEY_EXAMPLE],
    )
    witness_key: str | None = Field(
        description="The vkey this hub cosigns other hubs' logs with (type 0x04); register it "
        "at a partner to witness its log."
    )
    retired_keys: list[str] = Field(description="Keys no longer used; old checkpoints need them.")
    tree_size: int = Field(description="How many events the log holds now.")
    checkpoint_size: int | None = Field(description="The size of the latest checkpoint.")
    witnesses: list[WitnessRead] = Field(description="The active witnesses of this log.")


class CheckpointSummary(BaseModel):
    """One signed checkpoint."""

    tree_size: int
    root_hash: str = Field(description="Base64 SHA-256 root of the first `tree_size` leaves.")
    signed_at: datetime
    cosignatures: int = Field(description="How many witnesses cosigned it.")


class CheckpointPage(BaseModel):
    """Checkpoints, newest first; pass `next_before` as `before` to continue."""

    items: list[CheckpointSummary]
    next_before: int | None


class CheckpointSigned(BaseModel):
    """A checkpoint as signed, with its note."""

    tree_size: int
    root_hash: str
    signed_at: datetime
    note: str = Field(description="The C2SP signed note, exactly as served as text/plain.")


class InclusionProof(BaseModel):
    """RFC 9162 `inclusion_proof_v2`, with the leaf hash and the checkpoint it proves into."""

    log_id: str = Field(description="The log's origin.")
    tree_size: int
    leaf_index: int = Field(description="The event's id.")
    inclusion_path: list[str] = Field(description="Base64 hashes, bottom first.")
    leaf_hash: str = Field(description="Base64 SHA-256(0x00 || leaf bytes) of the event.")
    checkpoint: str = Field(description="The signed note of `tree_size`, cosignatures included.")
    archived: bool = Field(
        default=False,
        description="The event was archived (`sharing audit archive --prune`): its row is in an "
        "archive bundle, its leaf and this proof are still served, to those who read every event.",
    )


class ConsistencyProof(BaseModel):
    """RFC 9162 `consistency_proof_v2` between two checkpoints."""

    log_id: str = Field(description="The log's origin.")
    tree_size_1: int
    tree_size_2: int
    consistency_path: list[str] = Field(description="Base64 hashes, in proof order.")


class CosignatureAccepted(BaseModel):
    """A witness's cosignature, stored with its checkpoint."""

    tree_size: int
    witness: str = Field(description="The registered witness's name.")
    cosigned_at: datetime = Field(description="The time inside the cosignature.")
    new: bool = Field(description="False when this witness had already cosigned the size.")
