"""The parties registry: parties, their members and their OAuth clients.

Plain async functions over a session. Each checks the caller's right to act, changes the
database, records the audit event in the same transaction and commits.
"""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.service import record
from sharing.clock import Clock, as_utc
from sharing.consent.cascade import stop_party
from sharing.crypto import hash_client_secret, new_client_secret
from sharing.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from sharing.parties.models import Member, OAuthClient, Party
from sharing.parties.schemas import (
    DEFAULT_PAGE_SIZE,
    ClientAuthMethod,
    ClientCreate,
    ClientRead,
    ClientRegistered,
    MemberCreate,
    MemberRead,
    PartyCreate,
    PartyPage,
    PartyRead,
    PartyUpdate,
)
from sharing.principal import Actor, Principal
from sharing.vocabulary import PartyKind, Role, Scope

CLIENT_ID_BYTES = 18


# --- Parties ------------------------------------------------------------------------------


async def register_party(
    session: AsyncSession, principal: Principal, data: PartyCreate, clock: Clock
) -> PartyRead:
    """Register a party, under an existing parent if one is named. Hub administrators only."""
    principal.require(Scope.REGISTRY_ADMIN)
    if data.parent_id is not None and await session.get(Party, data.parent_id) is None:
        raise InvalidInput("parent_id", "no party has this id")
    now = clock.now()
    party = Party(name=data.name, kind=data.kind, parent_id=data.parent_id, created_at=now)
    session.add(party)
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="party.registered",
        object_type="party",
        object_id=party.id,
        details={
            "name": party.name,
            "kind": party.kind,
            "parent_id": _str_or_none(party.parent_id),
        },
    )
    await session.commit()
    return _party_read(party)


async def list_parties(
    session: AsyncSession,
    principal: Principal,
    *,
    kind: PartyKind | None = None,
    parent_id: uuid.UUID | None = None,
    q: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    offset: int = 0,
) -> PartyPage:
    """One page of the party directory, ordered by name; ``q`` matches part of the name."""
    principal.require(Scope.REGISTRY_READ)
    conditions: list[ColumnElement[bool]] = []
    if kind is not None:
        conditions.append(col(Party.kind) == kind)
    if parent_id is not None:
        conditions.append(col(Party.parent_id) == parent_id)
    if q:
        # autoescape: a '%' or '_' in the query is matched literally.
        conditions.append(col(Party.name).icontains(q, autoescape=True))
    total = await session.scalar(select(func.count()).select_from(Party).where(*conditions))
    rows = await session.scalars(
        select(Party)
        .where(*conditions)
        .order_by(col(Party.name), col(Party.id))
        .limit(limit)
        .offset(offset)
    )
    return PartyPage(
        items=[_party_read(row) for row in rows], total=total or 0, limit=limit, offset=offset
    )


async def get_party(session: AsyncSession, principal: Principal, party_id: uuid.UUID) -> PartyRead:
    """One party of the directory."""
    principal.require(Scope.REGISTRY_READ)
    return _party_read(await _party_or_404(session, party_id))


async def update_party(
    session: AsyncSession,
    principal: Principal,
    party_id: uuid.UUID,
    data: PartyUpdate,
    clock: Clock,
) -> PartyRead:
    """Rename a party (the party itself or an admin) or (de)activate it (admin only).

    Deactivating cascades: the consents it granted or received are revoked, and every live
    token and pending request resting on them or made by the party stops.
    """
    party = await _party_or_404(session, party_id)
    if not principal.is_registry_admin:
        principal.require(Scope.REGISTRY_WRITE)
        if party.id != principal.party_id:
            raise PermissionDenied("a party may only change its own record")
        if data.active is not None:
            raise PermissionDenied("only a hub administrator may (de)activate a party")
    if data.active is False and party.id == principal.party_id:
        # The operator's own party carries the admin clients; deactivating it locks everyone out.
        raise Conflict("a caller cannot deactivate its own party")
    changed: dict[str, object] = {}
    if data.name is not None and data.name != party.name:
        party.name = data.name
        changed["name"] = data.name
    if data.active is not None and data.active != party.active:
        party.active = data.active
        changed["active"] = data.active
    if changed:
        now = clock.now()
        actor = Actor.of(principal)
        record(
            session,
            at=now,
            actor=actor,
            action="party.updated",
            object_type="party",
            object_id=party.id,
            details={"changed": changed},
        )
        if changed.get("active") is False:
            # A party that is gone keeps no access and gives none: its consents, its tokens
            # and its pending requests stop in this same transaction, each with its event.
            with session.no_autoflush:  # the party's event stays ahead of the cascade's
                await stop_party(session, party.id, actor=actor, now=now)
        await session.commit()
    return _party_read(party)


# --- Members ------------------------------------------------------------------------------


async def add_member(
    session: AsyncSession,
    principal: Principal,
    party_id: uuid.UUID,
    data: MemberCreate,
    clock: Clock,
) -> MemberRead:
    """Add a person to a party: an admin, or a caller of that party with registry:write."""
    if not principal.is_registry_admin:
        principal.require(Scope.REGISTRY_WRITE)
    party = await _own_party_or_404(session, principal, party_id)
    now = clock.now()
    member = Member(party_id=party.id, name=data.name, role=data.role, created_at=now)
    session.add(member)
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="member.added",
        object_type="member",
        object_id=member.id,
        # The role, not the person's name: the trail is read widely and keeps no personal data.
        details={"party_id": str(party.id), "role": member.role},
    )
    await session.commit()
    return _member_read(member)


async def list_members(
    session: AsyncSession, principal: Principal, party_id: uuid.UUID
) -> list[MemberRead]:
    """The members of a party, by name; only that party and admins may see them."""
    principal.require(Scope.REGISTRY_READ)
    party = await _own_party_or_404(session, principal, party_id)
    rows = await session.scalars(
        select(Member)
        .where(col(Member.party_id) == party.id)
        .order_by(col(Member.name), col(Member.id))
    )
    return [_member_read(row) for row in rows]


# --- OAuth clients ------------------------------------------------------------------------


async def register_client(
    session: AsyncSession,
    principal: Principal,
    party_id: uuid.UUID,
    data: ClientCreate,
    clock: Clock,
) -> ClientRegistered:
    """Register an OAuth client of a party. Admins only.

    A ``client_secret_basic`` client gets a fresh secret, returned here once; only its hash
    is stored. ``registry:admin`` may only go to clients of the admin's own command center.
    """
    principal.require(Scope.REGISTRY_ADMIN)
    party = await _party_or_404(session, party_id)
    if data.member_id is not None:
        member = await session.get(Member, data.member_id)
        if member is None or member.party_id != party.id or not member.active:
            raise InvalidInput("member_id", "is not an active member of this party")
    if Scope.REGISTRY_ADMIN in data.scopes and not (
        party.kind == PartyKind.COMMAND_CENTER and party.id == principal.party_id
    ):
        raise InvalidInput(
            "scopes", "registry:admin may only be granted to the hub operator's own party"
        )
    secret = (
        new_client_secret() if data.auth_method == ClientAuthMethod.CLIENT_SECRET_BASIC else None
    )
    now = clock.now()
    client = OAuthClient(
        client_id=secrets.token_urlsafe(CLIENT_ID_BYTES),
        party_id=party.id,
        member_id=data.member_id,
        name=data.name,
        auth_method=data.auth_method,
        secret_hash=hash_client_secret(secret) if secret is not None else None,
        jwks=data.jwks,
        scopes=" ".join(data.scopes),
        created_at=now,
    )
    session.add(client)
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action="client.registered",
        object_type="oauth_client",
        object_id=client.client_id,
        # Never the secret nor its hash: the audit trail is read by many.
        details={
            "party_id": str(party.id),
            "member_id": _str_or_none(client.member_id),
            "auth_method": client.auth_method,
            "scopes": list(data.scopes),
        },
    )
    await session.commit()
    return ClientRegistered(**_client_read(client).model_dump(), client_secret=secret)


async def list_clients(
    session: AsyncSession, principal: Principal, party_id: uuid.UUID
) -> list[ClientRead]:
    """The clients of a party, without secrets; only that party and admins may see them."""
    principal.require(Scope.REGISTRY_READ)
    party = await _own_party_or_404(session, principal, party_id)
    rows = await session.scalars(
        select(OAuthClient)
        .where(col(OAuthClient.party_id) == party.id)
        .order_by(col(OAuthClient.created_at), col(OAuthClient.client_id))
    )
    return [_client_read(row) for row in rows]


# --- Private ------------------------------------------------------------------------------


async def _party_or_404(session: AsyncSession, party_id: uuid.UUID) -> Party:
    party = await session.get(Party, party_id)
    if party is None:
        raise NotFound("no such party", party_id=str(party_id))
    return party


async def _own_party_or_404(
    session: AsyncSession, principal: Principal, party_id: uuid.UUID
) -> Party:
    """The party, if the caller may see its members and clients; else 404 as if absent."""
    if not principal.may_act_for(party_id):
        raise NotFound("no such party", party_id=str(party_id))
    return await _party_or_404(session, party_id)


def _party_read(row: Party) -> PartyRead:
    return PartyRead(
        id=row.id,
        name=row.name,
        kind=PartyKind(row.kind),
        parent_id=row.parent_id,
        active=row.active,
        created_at=as_utc(row.created_at),
    )


def _member_read(row: Member) -> MemberRead:
    return MemberRead(
        id=row.id,
        party_id=row.party_id,
        name=row.name,
        role=Role(row.role),
        active=row.active,
        created_at=as_utc(row.created_at),
    )


def _client_read(row: OAuthClient) -> ClientRead:
    return ClientRead(
        client_id=row.client_id,
        party_id=row.party_id,
        member_id=row.member_id,
        name=row.name,
        auth_method=ClientAuthMethod(row.auth_method),
        jwks=row.jwks,
        scopes=row.scopes.split(),
        active=row.active,
        created_at=as_utc(row.created_at),
    )


def _str_or_none(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None
