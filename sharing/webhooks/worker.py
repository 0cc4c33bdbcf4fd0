"""Deliver queued webhook events: claim what is due, POST it signed, retry with backoff.

Several hub nodes may run this loop against one database. A node claims a delivery with one
conditional ``UPDATE`` that moves its ``next_attempt_at`` past the send's timeout (a lease)
and counts the attempt; a delivery another node claimed first is no longer due, so no two
nodes send the same attempt. A node that dies mid-send leaves the lease to run out, and the
delivery is tried again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from sharing.clock import Clock, as_utc
from sharing.crypto import SecretBox
from sharing.settings import Settings
from sharing.webhooks.models import WebhookDelivery, WebhookSubscription
from sharing.webhooks.signing import signed_headers

log = logging.getLogger("sharing.webhooks")

BATCH_SIZE = 50
FIRST_RETRY_SECONDS = 10.0
BACKOFF_FACTOR = 4.0
MAX_RETRY_DELAY = timedelta(hours=6)
JITTER = 0.2  # each delay is moved by up to 20% either way, so retries of a burst spread out
LEASE_MARGIN = timedelta(seconds=30)
USER_AGENT = "sharing-hub-webhooks/1"
# Jitter needs no reproducibility; a private source leaves the global ``random`` state alone.
_JITTER_SOURCE = random.SystemRandom()


def retry_delay(failed_attempts: int, rng: random.Random | None = None) -> timedelta:
    """How long to wait after the ``failed_attempts``-th failure: 10 s, 40 s, 160 s, ...
    times four each time, at most six hours, with +-20% jitter."""
    base = min(
        FIRST_RETRY_SECONDS * BACKOFF_FACTOR ** (failed_attempts - 1),
        MAX_RETRY_DELAY.total_seconds(),
    )
    spread = (rng or _JITTER_SOURCE).uniform(1 - JITTER, 1 + JITTER)
    return timedelta(seconds=base * spread)


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: uuid.UUID
    attempt: int
    event_type: str
    payload: dict[str, object]
    created_at: datetime
    url: str
    secret_encrypted: str


@dataclass(frozen=True, slots=True)
class _Outcome:
    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def deliver_due(
    session: AsyncSession,
    http: httpx.AsyncClient,
    *,
    clock: Clock,
    settings: Settings,
    limit: int = BATCH_SIZE,
) -> int:
    """Send every delivery that is due (up to ``limit``), concurrently; returns how many were
    attempted. Each outcome is recorded: delivered, pending with its next attempt, or failed
    after ``settings.webhook_max_attempts``."""
    claimed = await _claim(session, clock.now(), settings, limit)
    if not claimed:
        return 0
    box = SecretBox(settings)
    outcomes = await asyncio.gather(*(_send(http, item, box, clock) for item in claimed))
    now = clock.now()
    for item, outcome in zip(claimed, outcomes, strict=True):
        await _record(session, item, outcome, now, settings)
    await session.commit()
    return len(claimed)


async def run_delivery_loop(
    sessionmaker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    *,
    clock: Clock,
    settings: Settings,
) -> None:
    """Deliver due webhooks every ``settings.sweep_interval_seconds`` until cancelled."""
    while True:
        await asyncio.sleep(settings.sweep_interval_seconds)
        try:
            async with sessionmaker() as session:
                while await deliver_due(session, http, clock=clock, settings=settings) == (
                    BATCH_SIZE
                ):
                    pass  # a full batch: more may be due at once
        except Exception:  # one bad pass must not end the loop
            log.exception("delivering webhooks failed; trying again next pass")


async def _claim(
    session: AsyncSession, now: datetime, settings: Settings, limit: int
) -> list[_Claimed]:
    due_ids = list(
        (
            await session.execute(
                select(col(WebhookDelivery.id))
                .join(
                    WebhookSubscription,
                    col(WebhookSubscription.id) == col(WebhookDelivery.subscription_id),
                )
                .where(
                    col(WebhookDelivery.status) == "pending",
                    col(WebhookDelivery.next_attempt_at) <= now,
                    col(WebhookSubscription.active),
                )
                .order_by(col(WebhookDelivery.next_attempt_at))
                .limit(limit)
            )
        ).scalars()
    )
    if not due_ids:
        return []
    lease_until = now + timedelta(seconds=settings.webhook_timeout_seconds) + LEASE_MARGIN
    # The WHERE repeats "pending and due": a node that claimed a row first has moved its
    # next_attempt_at past now, so this UPDATE skips it here.
    taken = await session.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.id).in_(due_ids),
            col(WebhookDelivery.status) == "pending",
            col(WebhookDelivery.next_attempt_at) <= now,
        )
        .values(next_attempt_at=lease_until, attempts=col(WebhookDelivery.attempts) + 1)
        .returning(col(WebhookDelivery.id), col(WebhookDelivery.attempts))
        .execution_options(synchronize_session=False)
    )
    attempts = {row_id: attempt for row_id, attempt in taken}
    await session.commit()
    if not attempts:
        return []
    rows = await session.execute(
        select(WebhookDelivery, WebhookSubscription)
        .join(
            WebhookSubscription,
            col(WebhookSubscription.id) == col(WebhookDelivery.subscription_id),
        )
        .where(col(WebhookDelivery.id).in_(list(attempts)))
    )
    return [
        _Claimed(
            id=delivery.id,
            attempt=attempts[delivery.id],
            event_type=delivery.event_type,
            payload=delivery.payload,
            created_at=as_utc(delivery.created_at),
            url=subscription.url,
            secret_encrypted=subscription.secret_encrypted,
        )
        for delivery, subscription in rows
    ]


async def _send(http: httpx.AsyncClient, item: _Claimed, box: SecretBox, clock: Clock) -> _Outcome:
    body = json.dumps(
        {"type": item.event_type, "timestamp": item.created_at.isoformat(), "data": item.payload},
        separators=(",", ":"),
    )
    headers = signed_headers(box.decrypt(item.secret_encrypted), str(item.id), clock.now(), body)
    headers |= {"content-type": "application/json", "user-agent": USER_AGENT}
    try:
        response = await http.post(item.url, content=body.encode(), headers=headers)
    except httpx.HTTPError as exc:
        # The message names the failure (refused, timed out); the URL and secret stay out.
        return _Outcome(None, f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= response.status_code < 300:
        return _Outcome(response.status_code, None)
    return _Outcome(response.status_code, f"the receiver answered HTTP {response.status_code}")


async def _record(
    session: AsyncSession, item: _Claimed, outcome: _Outcome, now: datetime, settings: Settings
) -> None:
    values: dict[str, object] = {
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
    }
    if outcome.delivered:
        values |= {"status": "delivered", "delivered_at": now}
    elif item.attempt >= settings.webhook_max_attempts:
        values |= {"status": "failed"}
        log.warning(
            "webhook delivery %s gave up after %d attempts: %s",
            item.id,
            item.attempt,
            outcome.error,
        )
    else:
        values |= {"next_attempt_at": now + retry_delay(item.attempt)}
    # Only while this node's claim stands: if the lease ran out and another node claimed the
    # delivery again, that node's attempt is the one to record.
    await session.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.id) == item.id,
            col(WebhookDelivery.attempts) == item.attempt,
            col(WebhookDelivery.status) == "pending",
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
