"""Webhook subscriptions and the outbox: ``emit`` queues events, ``worker`` delivers them.

``emit`` is called by every domain in the transaction of the change it reports. It does no
I/O: it notes the event on the session, and just before that transaction commits the event
becomes one ``WebhookDelivery`` row per matching subscription (a ``before_commit`` hook, so
the notification commits, or rolls back, with the change). The worker sends the rows later.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col

from sharing.audit.service import record
from sharing.clock import Clock
from sharing.crypto import SecretBox
from sharing.errors import NotFound, PermissionDenied
from sharing.principal import Actor, Principal
from sharing.settings import Settings
from sharing.vocabulary import Scope
from sharing.webhooks.models import WebhookDelivery, WebhookSubscription
from sharing.webhooks.schemas import ALL_EVENTS, EventType, WebhookCreate
from sharing.webhooks.signing import new_signing_secret

_OUTBOX_KEY = "sharing.webhooks.outbox"
# Managing a party's own notifications: any scope with which a party acts on the hub.
_MANAGE_SCOPES = (Scope.ACCESS_REQUEST, Scope.CONSENT_WRITE, Scope.REGISTRY_WRITE)


@dataclass(frozen=True, slots=True)
class _QueuedEvent:
    party_ids: frozenset[uuid.UUID]
    event_type: str
    payload: dict[str, object]
    at: datetime


def emit(
    session: AsyncSession,
    *,
    party_ids: Iterable[uuid.UUID],
    event_type: str,
    payload: Mapping[str, object],
    now: datetime,
) -> int:
    """Notify ``party_ids`` of ``event_type`` when the session's transaction commits.

    Each active subscription of those parties that listens for ``event_type`` (or ``"*"``)
    gets one delivery, written in the same transaction. ``payload`` may hold UUIDs and
    datetimes; they are sent as strings. Returns how many parties the event is queued for;
    a rollback drops it.
    """
    if event_type not in EventType.__members__.values():
        raise ValueError(f"unknown webhook event type {event_type!r}")  # a programming error
    parties = frozenset(party_ids)
    if parties:
        outbox: list[_QueuedEvent] = session.sync_session.info.setdefault(_OUTBOX_KEY, [])
        outbox.append(_QueuedEvent(parties, event_type, _jsonable(payload), now))
    return len(parties)


@event.listens_for(Session, "before_commit")
def _write_queued_deliveries(session: Session) -> None:
    """Turn the events queued by ``emit`` into delivery rows, inside the committing
    transaction. Runs in SQLAlchemy's greenlet, so it may query synchronously."""
    queued: list[_QueuedEvent] = session.info.pop(_OUTBOX_KEY, [])
    if not queued:
        return
    wanted = set().union(*(item.party_ids for item in queued))
    subscriptions = session.execute(
        select(WebhookSubscription).where(
            col(WebhookSubscription.party_id).in_(wanted), col(WebhookSubscription.active)
        )
    ).scalars()
    by_party: dict[uuid.UUID, list[WebhookSubscription]] = {}
    for subscription in subscriptions:
        by_party.setdefault(subscription.party_id, []).append(subscription)
    for item in queued:
        for party_id in item.party_ids:
            for subscription in by_party.get(party_id, ()):
                if item.event_type in subscription.event_types or ALL_EVENTS in (
                    subscription.event_types
                ):
                    session.add(
                        WebhookDelivery(
                            subscription_id=subscription.id,
                            event_type=item.event_type,
                            payload=item.payload,
                            next_attempt_at=item.at,
                            created_at=item.at,
                        )
                    )


@event.listens_for(Session, "after_soft_rollback")
def _drop_queued_events(session: Session, _previous: Any) -> None:
    """Events of a rolled-back change never happened."""
    session.info.pop(_OUTBOX_KEY, None)


async def create_subscription(
    session: AsyncSession,
    principal: Principal,
    data: WebhookCreate,
    *,
    clock: Clock,
    settings: Settings,
) -> tuple[WebhookSubscription, str]:
    """Subscribe the caller's party; returns the row and its secret, to be shown once."""
    _require_manage(principal)
    now = clock.now()
    secret = new_signing_secret()
    subscription = WebhookSubscription(
        party_id=principal.party_id,
        url=data.url,
        secret_encrypted=SecretBox(settings).encrypt(secret),
        event_types=[str(event_type) for event_type in data.event_types],
        created_at=now,
    )
    session.add(subscription)
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="webhook_subscription.created",
        object_type="webhook_subscription",
        object_id=subscription.id,
        details={"url": data.url, "event_types": subscription.event_types},
    )
    await session.commit()
    return subscription, secret


async def list_subscriptions(
    session: AsyncSession, principal: Principal
) -> list[WebhookSubscription]:
    """The caller's party's active subscriptions, oldest first."""
    _require_manage(principal)
    rows = await session.execute(
        select(WebhookSubscription)
        .where(
            col(WebhookSubscription.party_id) == principal.party_id,
            col(WebhookSubscription.active),
        )
        .order_by(col(WebhookSubscription.created_at), col(WebhookSubscription.id))
    )
    return list(rows.scalars())


async def delete_subscription(
    session: AsyncSession, principal: Principal, subscription_id: uuid.UUID, *, clock: Clock
) -> None:
    """Stop a subscription. Its delivery history stays readable; unsent deliveries fail."""
    _require_manage(principal)
    subscription = await _own_subscription(session, principal, subscription_id)
    if not subscription.active:
        raise NotFound(f"no webhook subscription {subscription_id}")
    now = clock.now()
    subscription.active = False
    await session.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.subscription_id) == subscription.id,
            col(WebhookDelivery.status) == "pending",
        )
        .values(status="failed", last_error="the subscription was deleted")
    )
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="webhook_subscription.deleted",
        object_type="webhook_subscription",
        object_id=subscription.id,
    )
    await session.commit()


async def list_deliveries(
    session: AsyncSession,
    principal: Principal,
    subscription_id: uuid.UUID,
    *,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[WebhookDelivery], int]:
    """A subscription's deliveries, newest first; only its own party may read them."""
    _require_manage(principal)
    await _own_subscription(session, principal, subscription_id)
    query = select(WebhookDelivery).where(col(WebhookDelivery.subscription_id) == subscription_id)
    if status is not None:
        query = query.where(col(WebhookDelivery.status) == status)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    page = await session.execute(
        query.order_by(col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id))
        .limit(limit)
        .offset(offset)
    )
    return list(page.scalars()), int(total or 0)


async def _own_subscription(
    session: AsyncSession, principal: Principal, subscription_id: uuid.UUID
) -> WebhookSubscription:
    subscription = await session.get(WebhookSubscription, subscription_id)
    if subscription is None or subscription.party_id != principal.party_id:
        raise NotFound(f"no webhook subscription {subscription_id}")
    return subscription


def _require_manage(principal: Principal) -> None:
    if not any(scope in principal.scopes for scope in _MANAGE_SCOPES):
        needed = " or ".join(f"'{scope}'" for scope in _MANAGE_SCOPES)
        raise PermissionDenied(
            f"managing webhooks needs one of the scopes {needed}",
            required_scope=[str(scope) for scope in _MANAGE_SCOPES],
        )


def _jsonable(payload: Mapping[str, object]) -> dict[str, object]:
    # UUIDs and datetimes become strings now, so the row holds exactly what is sent.
    result: dict[str, object] = json.loads(json.dumps(dict(payload), default=_encode))
    return result


def _encode(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
