"""Assemble the hub: routers, dependencies, error mapping and OpenAPI, in one place."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from litestar import Litestar, get
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme, Server
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sharing import __version__
from sharing.access.routes import AccessRequestController
from sharing.audit.routes import AuditController
from sharing.cameras.routes import CameraController
from sharing.clock import Clock, SystemClock
from sharing.consent.routes import AgreementController, ConsentController, PolicyController
from sharing.consent.templates import PolicyLibrary, load_policy_library
from sharing.db import create_engine, create_sessionmaker, session_scope
from sharing.errors import problem_handlers
from sharing.gateway.routes import GatewayController
from sharing.oauth.dependencies import provide_principal
from sharing.oauth.keys import KeyRing
from sharing.oauth.routes import oauth_handlers
from sharing.parties.routes import PartyController
from sharing.settings import Settings


@dataclass
class Hub:
    """The long-lived parts one hub process shares between requests."""

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    keyring: KeyRing
    policies: PolicyLibrary


@get("/health", summary="Liveness probe", tags=["operations"], security=[{}])
async def health() -> dict[str, str]:
    """Answers without touching the database; benchmarks use it as the bare baseline."""
    return {"status": "ok"}


def create_app(settings: Settings, clock: Clock | None = None) -> Litestar:
    """Build a hub application for ``settings``; nothing is read from the environment here."""
    logging.basicConfig(level=settings.log_level)
    clock = clock or SystemClock()
    engine = create_engine(settings)
    hub = Hub(
        settings=settings,
        clock=clock,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        keyring=KeyRing(settings, clock),
        policies=load_policy_library(settings.policy_dir),
    )

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        async with hub.sessionmaker() as session:
            await hub.keyring.load(session)
        refresher = asyncio.create_task(_follow_key_rotation(hub))
        try:
            yield
        finally:
            refresher.cancel()
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
            PolicyController,
            AccessRequestController,
            GatewayController,
            AuditController,
        ],
        dependencies={
            "session": Provide(provide_session),
            "settings": Provide(lambda: hub.settings, use_cache=True, sync_to_thread=False),
            "clock": Provide(lambda: hub.clock, use_cache=True, sync_to_thread=False),
            "keyring": Provide(lambda: hub.keyring, use_cache=True, sync_to_thread=False),
            "policies": Provide(lambda: hub.policies, use_cache=True, sync_to_thread=False),
            "principal": Provide(provide_principal),
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
