"""Shapes of the owners' access report and of commitment openings.

Hashes, paths, leaves and salts are standard base64 (with padding), as in checkpoint notes.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

OpeningField = Literal["case_reference", "officer"]


class ReportProof(BaseModel):
    """An RFC 9162 inclusion proof of the entry's event in a signed checkpoint."""

    leaf_index: int = Field(description="The event's id: its leaf index in the log.")
    leaf_hash: str = Field(description="SHA-256(0x00 || leaf), base64.")
    tree_size: int = Field(description="The size of the checkpoint the path leads to.")
    inclusion_path: list[str] = Field(description="The audit path, base64 hashes, leaf upward.")
    checkpoint: str = Field(
        description="The signed checkpoint note (C2SP tlog-checkpoint) of `tree_size`; check "
        "its signature with the log's key from `/audit/log`."
    )


class AccessReportEntry(BaseModel):
    """One decision on an access to one of the owner's cameras.

    A sealed entry (`sealed` true) shows only that an access happened on the camera, when,
    the date by which its details are disclosed, and its proof; once disclosed the same
    event shows everything, with the same leaf hash.
    """

    event_id: int = Field(description="The audit event's id (its leaf index).")
    occurred_at: datetime
    camera_id: uuid.UUID
    sealed: bool = Field(description="The police keep the details sealed for now.")
    disclose_by: datetime | None = Field(
        description="While sealed: the date by which the details will be shown."
    )
    action: str | None = Field(
        description="`access_request.decided`, `.refused`, `.expired` or `.withdrawn`.",
        examples=["access_request.decided"],
    )
    request_id: uuid.UUID | None
    requester_party_id: uuid.UUID | None = Field(description="The requesting party (the unit).")
    requester_unit: str | None = Field(
        description="The requesting unit's name when it asked.", examples=["Polrestabes Medan"]
    )
    requester_parent_party_id: uuid.UUID | None = Field(
        description="The party the unit belongs to (e.g. its Polda)."
    )
    mode: str | None = Field(examples=["footage"])
    footage_start: datetime | None
    footage_end: datetime | None
    purpose: str | None = Field(examples=["criminal_investigation"])
    outcome: str | None = Field(
        description="`allow`, `deny`, `needs_approval`, `expired` or `withdrawn`.",
        examples=["allow"],
    )
    emergency: bool | None
    case_reference_commitment: str | None = Field(
        description="Salted commitment to the case reference (police report or warrant "
        "number); the police can open it for an auditor. See docs/access-report.md."
    )
    officer_member_id: uuid.UUID | None = Field(
        description="The requesting officer, where the terms name officers."
    )
    officer_commitment: str | None = Field(
        description="Salted commitment to the requesting officer's member id, where the terms "
        "hide officers."
    )
    leaf: str | None = Field(
        description="The event's leaf (RFC 8785 JSON), base64: hash it to check `leaf_hash`. "
        "Absent while sealed."
    )
    leaf_hash: str = Field(description="SHA-256(0x00 || leaf), base64.")
    proof: ReportProof


class AccessReport(BaseModel):
    """The accesses to a party's cameras, in log order; pass `next_after` to continue."""

    party_id: uuid.UUID
    items: list[AccessReportEntry]
    next_after: int | None = Field(
        description="Give as `after` for the next page; null at the end."
    )


class OpeningDisclose(BaseModel):
    """Open a commitment of an event for a named auditor party."""

    model_config = ConfigDict(extra="forbid")

    field: OpeningField = Field(examples=["case_reference"])
    auditor_party_id: uuid.UUID = Field(
        description="The party that may read the opening (an inspectorate, a court); never "
        "an owner of the access's cameras."
    )


class OpeningDisclosed(BaseModel):
    """An opening disclosed to an auditor party."""

    event_id: int
    field: OpeningField
    auditor_party_id: uuid.UUID
    commitment: str = Field(description="The commitment in the event this opening opens.")
    disclosed_by: str = Field(description="The member (or client) who disclosed it.")
    disclosed_at: datetime


class OpeningRead(BaseModel):
    """An opening the caller's party was given: check it against the event's commitment."""

    event_id: int
    field: OpeningField
    commitment: str = Field(description="As in the event's leaf.")
    value: str = Field(description="The committed value.")
    salt: str = Field(description="The 16-byte salt, base64.")
    disclosed_by: str
    disclosed_at: datetime


class OpeningList(BaseModel):
    """The openings of one event disclosed to the caller's party."""

    items: list[OpeningRead]
