"""HTTP routes of webhook subscriptions: subscribe, list, delete, read deliveries."""

from __future__ import annotations

import uuid
from typing import Literal

from litestar import Controller, delete, get, post
from litestar.params import FromPath, JSONBody, Parameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from sharing.clock import as_utc
from sharing.dependencies import ClockDep, PrincipalDep, SessionDep, SettingsDep
from sharing.openapi import problem_responses
from sharing.webhooks import service
from sharing.webhooks.models import WebhookDelivery, WebhookSubscription
from sharing.webhooks.schemas import (
    DeliveryPage,
    DeliveryRead,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
)

_SCOPES = "Needs one of `access:request`, `consent:write`, `registry:write`."


class WebhookController(Controller):
    """Signed notifications (Standard Webhooks) of the events that concern a party."""

    path = "/webhooks"
    tags = ("webhooks",)

    @post(
        "/",
        summary="Subscribe to events",
        description="Registers an endpoint for the caller's party. The response carries the "
        "signing secret, shown this once. Events are POSTed as JSON with the headers "
        "`webhook-id`, `webhook-timestamp` and `webhook-signature` (see docs/webhooks.md). "
        f"{_SCOPES} Audited as `webhook_subscription.created`.",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(401, 403, 422),
    )
    async def subscribe(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        settings: SettingsDep,
        data: JSONBody[WebhookCreate],
    ) -> WebhookCreated:
        """Subscribe the caller's party."""
        subscription, secret = await service.create_subscription(
            session, principal, data, clock=clock, settings=settings
        )
        return WebhookCreated(**_read(subscription).model_dump(), secret=secret)

    @get(
        "/",
        summary="List my party's subscriptions",
        description=f"The caller's party's active subscriptions, without secrets. {_SCOPES}",
        responses=problem_responses(401, 403),
    )
    async def list_subscriptions(
        self, session: SessionDep, principal: PrincipalDep
    ) -> list[WebhookRead]:
        """List the caller's subscriptions."""
        return [_read(s) for s in await service.list_subscriptions(session, principal)]

    @delete(
        "/{subscription_id:uuid}",
        summary="Delete a subscription",
        description="Stops sending to the endpoint; deliveries not yet sent are marked "
        "failed, the history stays readable. Another party's subscription is 404. "
        f"{_SCOPES} Audited as `webhook_subscription.deleted`.",
        status_code=HTTP_204_NO_CONTENT,
        responses=problem_responses(401, 403, 404),
    )
    async def delete_subscription(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        subscription_id: FromPath[uuid.UUID],
    ) -> None:
        """Delete one of the caller's subscriptions."""
        await service.delete_subscription(session, principal, subscription_id, clock=clock)

    @get(
        "/{subscription_id:uuid}/deliveries",
        summary="List a subscription's deliveries",
        description="Every event sent (or queued) to the endpoint, newest first, with its "
        "attempts, last status code and last error. Only the subscribing party may read "
        f"them; others get 404. {_SCOPES}",
        responses=problem_responses(401, 403, 404, 422),
    )
    async def list_deliveries(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        subscription_id: FromPath[uuid.UUID],
        status: Literal["pending", "delivered", "failed"] | None = Parameter(
            default=None, description="Only deliveries in this state."
        ),
        limit: int = Parameter(default=50, ge=1, le=200, description="Page size."),
        offset: int = Parameter(default=0, ge=0, description="How many to skip."),
    ) -> DeliveryPage:
        """Read a subscription's delivery log."""
        items, total = await service.list_deliveries(
            session, principal, subscription_id, status=status, limit=limit, offset=offset
        )
        return DeliveryPage(
            items=[_delivery(d) for d in items], total=total, limit=limit, offset=offset
        )


def _read(subscription: WebhookSubscription) -> WebhookRead:
    return WebhookRead(
        id=subscription.id,
        party_id=subscription.party_id,
        url=subscription.url,
        event_types=list(subscription.event_types),
        active=subscription.active,
        created_at=as_utc(subscription.created_at),
    )


def _delivery(delivery: WebhookDelivery) -> DeliveryRead:
    pending = delivery.status == "pending"
    return DeliveryRead(
        id=delivery.id,
        subscription_id=delivery.subscription_id,
        event_type=delivery.event_type,
        payload=delivery.payload,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=as_utc(delivery.next_attempt_at) if pending else None,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        delivered_at=as_utc(delivery.delivered_at) if delivery.delivered_at else None,
        created_at=as_utc(delivery.created_at),
    )
