"""The audit event table: one row per state change or access decision, in order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, DateTime, Integer
from sqlmodel import Field, SQLModel


class AuditEvent(SQLModel, table=True):
    """Who did what to which object, when, for which purpose, with which outcome."""

    __tablename__ = "audit_event"

    # BigInteger on PostgreSQL, plain INTEGER on SQLite so it stays the rowid alias.
    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
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
