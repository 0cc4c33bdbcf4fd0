"""Markers for the values ``sharing.app.create_app`` injects into handlers and providers.

Litestar injects a dependency by parameter name, and from 3.0 only into parameters marked as
dependencies. Each alias below is such a marker; the parameter must still carry the name the
app registers the value under::

    async def get_party(self, session: SessionDep, principal: PrincipalDep, ...) -> ...
"""

from __future__ import annotations

from typing import TypeAlias

from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from sharing.audit.log import AuditAppender
from sharing.clock import Clock
from sharing.consent.templates import PolicyLibrary
from sharing.federation.client import PeerClient
from sharing.oauth.keys import KeyRing
from sharing.principal import Principal
from sharing.settings import Settings

SessionDep: TypeAlias = NamedDependency[AsyncSession]
"""``session``: this request's database session; the services commit their own work."""

PrincipalDep: TypeAlias = NamedDependency[Principal]
"""``principal``: the caller, resolved from its bearer token."""

ClockDep: TypeAlias = NamedDependency[Clock]
"""``clock``: the hub's clock (a fixed one in tests)."""

SettingsDep: TypeAlias = NamedDependency[Settings]
"""``settings``: the settings the app was built with."""

KeyRingDep: TypeAlias = NamedDependency[KeyRing]
"""``keyring``: the hub's signing keys."""

PoliciesDep: TypeAlias = NamedDependency[PolicyLibrary]
"""``policies``: the policy templates the hub enforces."""

AuditAppenderDep: TypeAlias = NamedDependency[AuditAppender]
"""``audit_appender``: group commit for events that are a whole change (gateway verdicts)."""

PeerClientDep: TypeAlias = NamedDependency[PeerClient]
"""``peer_client``: this hub as a client of its peer hubs, over the one shared HTTP client."""
