"""Assemble the hub: routers, dependencies, error mapping and OpenAPI, in one place."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from litestar import Litestar, get
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme, Server
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sharing import __version__
from sharing.access.approval_routes import ApprovalController
from sharing.access.routes import AccessRequestController
from sharing.access.seal_routes import AccessSealController
from sharing.access.sweep import run_expiry_loop
from sharing.audit.checkpoints import run_checkpoint_loop
from sharing.audit.log import AuditAppender
from sharing.audit.log_routes import AuditLogController
from sharing.audit.report_routes import AccessReportController
from sharing.audit.routes import AuditController
from sharing.audit.witnessing import run_witness_loop
from sharing.cameras.routes import CameraController
from sharing.clock import Clock, SystemClock
from sharing.consent.agreement_life import expire_agreements
from sharing.consent.agreement_routes import AgreementController
from sharing.consent.consent_routes import ConsentController
from sharing.consent.objection_routes import ObjectionController
from sharing.consent.policy_routes import PolicyController
from sharing.consent.templates import PolicyLibrary, load_policy_library
from sharing.db import create_engine, create_sessionmaker, refresh_statistics, session_scope
from sharing.emergency.routes import EmergencyReviewController, EmergencySuspensionController
from sharing.emergency.sweep import flag_overdue_reviews
from sharing.errors import problem_handlers
from sharing.federation.client import PeerClient
from sharing.federation.routes import FederationController
from sharing.federation.sync import run_sync_loop
from sharing.gateway.routes import GatewayController
from sharing.oauth.dependencies import provide_principal
from sharing.oauth.keys import KeyRing
from sharing.oauth.routes import oauth_handlers
from sharing.oauth.service import forget_spent_assertions
from sharing.parties.routes import PartyController
from sharing.settings import Settings
from sharing.webhooks.routes import WebhookController
from sharing.webhooks.worker import run_delivery_loop


@dataclass
class Hub:
    """The long-lived parts one hub process shares between requests."""

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    keyring: KeyRing
    policies: PolicyLibrary
    audit_appender: AuditAppender
    peer_client: PeerClient | None = None  # made in the lifespan, over its HTTP client

    def require_peer_client(self) -> PeerClient:
        """The client of peer hubs; only the lifespan makes it."""
        if self.peer_client is None:
            raise RuntimeError("the hub's lifespan has not started")
        return self.peer_client


@get("/health", summary="Liveness probe", tags=["operations"], security=[{}])
async def health() -> dict[str, str]:
    """Answers without touching the database; benchmarks use it as the bare baseline."""
    return {"status": "ok"}


def create_app(settings: Settings, clock: Clock | None = None) -> Litestar:
    """Build a hub application for ``settings``; nothing is read from the environment here."""
    logging.basicConfig(level=settings.log_level)
    clock = clock or SystemClock()
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    hub = Hub(
        settings=settings,
        clock=clock,
        engine=engine,
        sessionmaker=sessionmaker,
        keyring=KeyRing(settings, clock),
        policies=load_policy_library(settings.policy_dir),
        audit_appender=AuditAppender(sessionmaker),
    )

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        async with hub.sessionmaker() as session:
            await hub.keyring.load(session)
        await refresh_statistics(engine)
        refresher = asyncio.create_task(_follow_key_rotation(hub))
        # The one outbound HTTP client: webhook deliveries (and later peer hubs) share its pool.
        http = httpx.AsyncClient(timeout=settings.webhook_timeout_seconds)
        hub.peer_client = PeerClient(http, settings=settings, keyring=hub.keyring, clock=hub.clock)
        workflow = [
            asyncio.create_task(
                run_delivery_loop(hub.sessionmaker, http, clock=hub.clock, settings=settings)
            ),
            asyncio.create_task(
                run_expiry_loop(hub.sessionmaker, clock=hub.clock, settings=settings)
            ),
            asyncio.create_task(run_checkpoint_loop(hub.sessionmaker, settings, hub.clock)),
            asyncio.create_task(run_witness_loop(hub.sessionmaker, http, settings, hub.clock)),
            asyncio.create_task(run_sync_loop(hub.sessionmaker, hub.peer_client, settings)),
        ]
        expiry_sweep = asyncio.create_task(_expire_agreements(hub))
        review_sweep = asyncio.create_task(_flag_overdue_emergency_reviews(hub))
        assertion_sweep = asyncio.create_task(_forget_spent_assertions(hub))
        try:
            yield
        finally:
            refresher.cancel()
            for task in workflow:
                task.cancel()
            await asyncio.gather(*workflow, return_exceptions=True)
            await http.aclose()
            expiry_sweep.cancel()
            review_sweep.cancel()
            assertion_sweep.cancel()
            await engine.dispose()

    async def provide_session() -> AsyncIterator[AsyncSession]:
        async for session in session_scope(hub.sessionmaker):
            yield session

    return Litestar(
        route_handlers=[
            health,
            *oauth_handlers,
            PartyController,
            CameraController,
            AgreementController,
            ConsentController,
            ObjectionController,
            PolicyController,
            AccessRequestController,
            AccessSealController,
            ApprovalController,
            WebhookController,
            GatewayController,
            AuditController,
            AuditLogController,
            AccessReportController,
            EmergencyReviewController,
            EmergencySuspensionController,
            FederationController,
        ],
        dependencies={
            "session": Provide(provide_session),
            "settings": Provide(lambda: hub.settings, use_cache=True, sync_to_thread=False),
            "clock": Provide(lambda: hub.clock, use_cache=True, sync_to_thread=False),
            "keyring": Provide(lambda: hub.keyring, use_cache=True, sync_to_thread=False),
            "policies": Provide(lambda: hub.policies, use_cache=True, sync_to_thread=False),
            "audit_appender": Provide(
                lambda: hub.audit_appender, use_cache=True, sync_to_thread=False
            ),
            "principal": Provide(provide_principal),
            "peer_client": Provide(hub.require_peer_client, use_cache=True, sync_to_thread=False),
        },
        exception_handlers=problem_handlers,
        lifespan=[lifespan],
        openapi_config=_openapi_config(settings),
        state={"hub": hub},  # type: ignore[arg-type]
    )


async def _follow_key_rotation(hub: Hub) -> None:
    """Re-read the keys now and then: another node or the CLI may have rotated them."""
    log = logging.getLogger("sharing.keys")
    while True:
        await asyncio.sleep(hub.settings.key_refresh_seconds)
        try:
            async with hub.sessionmaker() as session:
                await hub.keyring.load(session)
        except Exception:  # a database blip must not end the refresher
            log.exception("reloading signing keys failed; keeping the loaded ones")


async def _flag_overdue_emergency_reviews(hub: Hub) -> None:
    """Flag emergency accesses not ratified in time, and suspend repeat offenders' right."""
    log = logging.getLogger("sharing.emergency")
    while True:
        await asyncio.sleep(hub.settings.sweep_interval_seconds)
        try:
            async with hub.sessionmaker() as session:
                await flag_overdue_reviews(session, hub.clock.now(), hub.settings)
        except Exception:  # one failed sweep must not end the loop; the next one retries
            log.exception("flagging overdue emergency reviews failed")


async def _forget_spent_assertions(hub: Hub) -> None:
    """Drop replay records of client assertions that can no longer be presented, so the
    table holds minutes of assertions, not the hub's whole life."""
    log = logging.getLogger("sharing.oauth")
    while True:
        await asyncio.sleep(hub.settings.sweep_interval_seconds)
        try:
            async with hub.sessionmaker() as session:
                await forget_spent_assertions(session, hub.clock.now())
        except Exception:  # one failed sweep must not end the loop; the next one retries
            log.exception("forgetting spent client assertions failed")


async def _expire_agreements(hub: Hub) -> None:
    """Mark agreements past their validity expired, and stop what rests on them."""
    log = logging.getLogger("sharing.agreements")
    while True:
        await asyncio.sleep(hub.settings.sweep_interval_seconds)
        try:
            async with hub.sessionmaker() as session:
                await expire_agreements(session, hub.clock.now())
        except Exception:  # one failed sweep must not end the loop; the next one retries
            log.exception("expiring agreements failed")


def _openapi_config(settings: Settings) -> OpenAPIConfig:
    return OpenAPIConfig(
        title="CCTV Sharing Hub",
        version=__version__,
        description=(
            "Interagency CCTV data-sharing hub: registry, consent, access broker, "
            "OAuth2 authorization server, gateway checks and audit trail. Errors are RFC 9457 "
            "problem documents (application/problem+json)."
        ),
        servers=[Server(url="/")],
        components=Components(
            security_schemes={
                "oauth2": SecurityScheme(
                    type="oauth2",
                    description="OAuth2 client credentials; JWT access tokens (RFC 9068).",
                    flows={  # type: ignore[arg-type]
                        "clientCredentials": {"tokenUrl": "/oauth/token", "scopes": {}}
                    },
                )
            }
        ),
        security=[{"oauth2": []}],
        path="/schema",
    )
