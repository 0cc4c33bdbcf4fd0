"""Response shapes of the audit trail."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class AuditEventRead(BaseModel):
    """One recorded event."""

    id: int = Field(description="The event's leaf index in the Merkle log, from 0.")
    occurred_at: datetime
    action: str = Field(examples=["consent.revoked"])
    actor_party_id: str | None
    actor_member_id: str | None
    actor_client_id: str | None
    object_type: str
    object_id: str
    purpose: str | None
    outcome: str
    details: dict[str, object]


class AuditEventPage(BaseModel):
    """Events after a position, in order; pass ``next_after`` to continue."""

    items: list[AuditEventRead]
    next_after: int | None = Field(
        description="Give as `after` for the next page; null at the end."
    )
