"""Tables of the camera registry."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, Index
from sqlmodel import Field, SQLModel


class Camera(SQLModel, table=True):
    """A camera owned by a party. Its stream source is stored encrypted, never served."""

    __tablename__ = "camera"
    # Radius and bounding-box searches narrow by latitude first, then longitude; listings are
    # ordered by name then id, which the second index serves without sorting every match.
    __table_args__ = (
        Index("ix_camera_latitude_longitude", "latitude", "longitude"),
        Index("ix_camera_name_id", "name", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    name: str = Field(max_length=200)
    latitude: float
    longitude: float
    address: str = Field(default="", max_length=300)
    province: str = Field(default="", max_length=100)
    city: str = Field(default="", max_length=100, index=True)
    district: str = Field(default="", max_length=100)
    village: str = Field(default="", max_length=100)
    rw: str = Field(default="", max_length=10)
    visibility: str = Field(max_length=16, index=True)
    retention_days: int = Field(default=30)
    status: str = Field(default="active", max_length=16, index=True)
    stream_source_encrypted: str = Field(default="")
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class CameraTag(SQLModel, table=True):
    """One tag on one camera; a table so tag filters stay indexed on every backend."""

    __tablename__ = "camera_tag"

    camera_id: uuid.UUID = Field(foreign_key="camera.id", primary_key=True, ondelete="CASCADE")
    tag: str = Field(primary_key=True, max_length=50, index=True)
