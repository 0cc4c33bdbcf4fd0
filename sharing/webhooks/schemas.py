"""Request and response shapes of webhook subscriptions and their deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from ipaddress import ip_address
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

ALL_EVENTS = "*"
LOOPBACK_HOSTS = frozenset({"localhost"})
_EXAMPLE_ID = "0b8f3c1e-5d2a-4e7b-9c6d-2f1a3b4c5d6e"


class EventType(StrEnum):
    """The closed list of events the hub notifies parties of."""

    ACCESS_REQUEST_PENDING = "access_request.pending"
    ACCESS_REQUEST_APPROVED = "access_request.approved"
    ACCESS_REQUEST_REFUSED = "access_request.refused"
    ACCESS_REQUEST_EXPIRED = "access_request.expired"
    ACCESS_REQUEST_WITHDRAWN = "access_request.withdrawn"
    APPROVAL_REQUESTED = "approval.requested"
    CONSENT_GRANTED = "consent.granted"
    CONSENT_CHANGED = "consent.changed"
    CONSENT_REVOKED = "consent.revoked"
    AGREEMENT_STATUS_CHANGED = "agreement.status_changed"
    EMERGENCY_REVIEW_OPENED = "emergency.review_opened"
    EMERGENCY_REVIEW_OVERDUE = "emergency.review_overdue"
    OBJECTION_FILED = "objection.filed"
    OBJECTION_ANSWERED = "objection.answered"


class WebhookCreate(BaseModel):
    """A party's endpoint and the events it wants there."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=8,
        max_length=500,
        description="Where events are POSTed: an `https` URL (plain `http` only to a loopback "
        "address, for local tests).",
        examples=["https://cc.polrestabes.example/hooks/sharing"],
    )
    event_types: list[EventType | Literal["*"]] = Field(
        min_length=1,
        max_length=len(EventType) + 1,
        description='Events to send, from the closed list, or `"*"` for all of them.',
        examples=[["access_request.approved", "access_request.refused"]],
    )

    @field_validator("url")
    @classmethod
    def _https_or_loopback(cls, url: str) -> str:
        parts = urlsplit(url)
        if not parts.hostname:
            raise ValueError("must be an absolute URL with a host")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials; the signature authenticates the hub")
        if parts.scheme == "https":
            return url
        if parts.scheme == "http" and _is_loopback(parts.hostname):
            return url
        raise ValueError("must use https (http is accepted only for a loopback address)")

    @field_validator("event_types")
    @classmethod
    def _no_repeats(cls, event_types: list[EventType | Literal["*"]]) -> list[EventType | str]:
        if len(set(event_types)) != len(event_types):
            raise ValueError("must not repeat an event type")
        return list(event_types)


class WebhookRead(BaseModel):
    """A subscription, without its secret."""

    id: uuid.UUID = Field(examples=[_EXAMPLE_ID])
    party_id: uuid.UUID = Field(description="The party the events are about.")
    url: str = Field(examples=["https://cc.polrestabes.example/hooks/sharing"])
    event_types: list[str] = Field(examples=[["access_request.approved"]])
    active: bool = Field(description="False once deleted; deleted subscriptions get nothing.")
    created_at: datetime


class WebhookCreated(WebhookRead):
    """A new subscription with its signing secret, shown in this response only."""

    secret: str = Field(
        description="The Standard Webhooks signing secret (`whsec_...`). Shown once: store "
        "it to verify `webhook-signature`; the hub keeps it encrypted and never shows it again.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class DeliveryRead(BaseModel):
    """One event sent (or being sent) to one subscription, with its attempts."""

    id: uuid.UUID = Field(description="Also the `webhook-id` header, the same on every retry.")
    subscription_id: uuid.UUID
    event_type: str = Field(examples=["access_request.approved"])
    payload: dict[str, object] = Field(description="The event's `data`.")
    status: Literal["pending", "delivered", "failed"] = Field(
        description="`failed`: every attempt failed and the hub gave up."
    )
    attempts: int = Field(description="Attempts made so far.", examples=[1])
    next_attempt_at: datetime | None = Field(description="When a pending delivery is next tried.")
    last_status_code: int | None = Field(description="The receiver's last HTTP status.")
    last_error: str | None = Field(description="Why the last attempt failed.")
    delivered_at: datetime | None
    created_at: datetime


class DeliveryPage(BaseModel):
    """One page of a subscription's deliveries, newest first."""

    items: list[DeliveryRead]
    total: int
    limit: int
    offset: int


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False
