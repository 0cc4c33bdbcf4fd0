"""The first operator of an empty hub: its command-center party, an admin member and the
admin's OAuth client. Everything after that goes through the API with the admin's token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.service import record
from sharing.clock import Clock
from sharing.crypto import hash_client_secret, new_client_secret
from sharing.errors import Conflict
from sharing.parties.models import Member, OAuthClient, Party
from sharing.principal import Actor
from sharing.vocabulary import PartyKind, Scope

OPERATOR_SCOPES = " ".join(scope.value for scope in Scope if scope != Scope.FEDERATION_PEER)


@dataclass(frozen=True, slots=True)
class OperatorCredentials:
    """What the installer hands the operator, once: the secret is stored only hashed."""

    party_id: str
    client_id: str
    client_secret: str


async def install_operator(
    session: AsyncSession, *, party_name: str, admin_name: str, clock: Clock
) -> OperatorCredentials:
    """Create the hub's operator. Refused once any client holds ``registry:admin``: from
    then on operators are added through the API, where every change is authorized."""
    if await _has_an_admin(session):
        raise Conflict("this hub already has an operator; add more through the API")
    now = clock.now()
    actor = Actor.system("install")
    party = Party(name=party_name, kind=PartyKind.COMMAND_CENTER, created_at=now)
    member = Member(party_id=party.id, name=admin_name, role="admin", created_at=now)
    secret = new_client_secret()
    client = OAuthClient(
        client_id=f"operator-{secrets.token_hex(6)}",
        party_id=party.id,
        member_id=member.id,
        name=f"{admin_name} (operator)",
        auth_method="client_secret_basic",
        secret_hash=hash_client_secret(secret),
        scopes=OPERATOR_SCOPES,
        created_at=now,
    )
    session.add(party)
    record(
        session,
        at=now,
        actor=actor,
        action="party.registered",
        object_type="party",
        object_id=party.id,
        details={"name": party.name, "kind": party.kind, "parent_id": None},
    )
    await session.flush()  # members and clients refer to the party
    session.add(member)
    await session.flush()
    session.add(client)
    record(
        session,
        at=now,
        actor=actor,
        action="client.registered",
        object_type="oauth_client",
        object_id=client.client_id,
        details={
            "party_id": str(party.id),
            "member_id": str(member.id),
            "auth_method": client.auth_method,
            "scopes": OPERATOR_SCOPES.split(),
        },
    )
    await session.commit()
    return OperatorCredentials(str(party.id), client.client_id, secret)


async def _has_an_admin(session: AsyncSession) -> bool:
    found = await session.scalar(
        select(col(OAuthClient.client_id))
        .where(col(OAuthClient.scopes).contains(Scope.REGISTRY_ADMIN.value))
        .limit(1)
    )
    return found is not None
