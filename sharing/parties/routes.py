"""HTTP endpoints of the parties registry. Thin: each hands its input to the service."""

from __future__ import annotations

import uuid

from litestar import Controller, get, patch, post
from litestar.params import FromPath, JSONBody, Parameter

from sharing.dependencies import ClockDep, PrincipalDep, SessionDep
from sharing.openapi import problem_responses
from sharing.parties import service
from sharing.parties.schemas import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
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
from sharing.vocabulary import PartyKind

PARTY_ID = "/{party_id:uuid}"


class PartyController(Controller):
    """Parties, the people acting for them (members) and their software (OAuth clients)."""

    path = "/parties"
    tags = ("parties",)

    @post(
        "/",
        summary="Register a party",
        description="Register an organization or person that can own cameras or receive "
        "access, optionally under a parent party. Needs `registry:admin`. "
        "Audited as `party.registered`.",
        responses=problem_responses(400, 401, 403, 422),
    )
    async def register_party(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        data: JSONBody[PartyCreate],
    ) -> PartyRead:
        """Register a party."""
        return await service.register_party(session, principal, data, clock)

    @get(
        "/",
        summary="Search the party directory",
        description="Parties ordered by name, filtered by kind, parent or part of the name. "
        "The directory is not secret: every caller with `registry:read` sees it.",
        responses=problem_responses(400, 401, 403, 422),
    )
    async def list_parties(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        kind: PartyKind | None = Parameter(default=None, description="Only parties of this kind."),
        parent_id: uuid.UUID | None = Parameter(
            default=None, description="Only parties directly under this party."
        ),
        q: str | None = Parameter(
            default=None,
            max_length=200,
            description="Only parties whose name contains this text (case-insensitive).",
        ),
        limit: int = Parameter(
            default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Page size."
        ),
        offset: int = Parameter(default=0, ge=0, description="How many parties to skip."),
    ) -> PartyPage:
        """Search the party directory."""
        return await service.list_parties(
            session, principal, kind=kind, parent_id=parent_id, q=q, limit=limit, offset=offset
        )

    @get(
        PARTY_ID,
        summary="Read a party",
        description="One party of the directory. Needs `registry:read`.",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def get_party(
        self, session: SessionDep, principal: PrincipalDep, party_id: FromPath[uuid.UUID]
    ) -> PartyRead:
        """Read a party."""
        return await service.get_party(session, principal, party_id)

    @patch(
        PARTY_ID,
        summary="Change a party",
        description="Rename a party (the party itself with `registry:write`, or an admin), or "
        "deactivate/reactivate it (admin only; its clients then get no tokens). "
        "Audited as `party.updated`.",
        responses=problem_responses(400, 401, 403, 404, 409, 422),
    )
    async def update_party(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        party_id: FromPath[uuid.UUID],
        data: JSONBody[PartyUpdate],
    ) -> PartyRead:
        """Change a party."""
        return await service.update_party(session, principal, party_id, data, clock)

    @post(
        PARTY_ID + "/members",
        summary="Add a member to a party",
        description="Add a person acting for the party. An admin, or a caller of that party "
        "with `registry:write`; other parties get 404. Audited as `member.added`.",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def add_member(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        party_id: FromPath[uuid.UUID],
        data: JSONBody[MemberCreate],
    ) -> MemberRead:
        """Add a member to a party."""
        return await service.add_member(session, principal, party_id, data, clock)

    @get(
        PARTY_ID + "/members",
        summary="List a party's members",
        description="The people acting for the party, by name. Only the party itself and "
        "admins may see them; other parties get 404. Needs `registry:read`.",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def list_members(
        self, session: SessionDep, principal: PrincipalDep, party_id: FromPath[uuid.UUID]
    ) -> list[MemberRead]:
        """List a party's members."""
        return await service.list_members(session, principal, party_id)

    @post(
        PARTY_ID + "/clients",
        summary="Register an OAuth client for a party",
        description="Register software acting for the party. A `client_secret_basic` client's "
        "secret is in this response only, never again. A `private_key_jwt` client registers "
        "its public JWK Set instead. Needs `registry:admin`. Audited as `client.registered`.",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def register_client(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        party_id: FromPath[uuid.UUID],
        data: JSONBody[ClientCreate],
    ) -> ClientRegistered:
        """Register an OAuth client for a party."""
        return await service.register_client(session, principal, party_id, data, clock)

    @get(
        PARTY_ID + "/clients",
        summary="List a party's OAuth clients",
        description="The party's clients, without secrets or their hashes. Only the party "
        "itself and admins may see them; other parties get 404. Needs `registry:read`.",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def list_clients(
        self, session: SessionDep, principal: PrincipalDep, party_id: FromPath[uuid.UUID]
    ) -> list[ClientRead]:
        """List a party's OAuth clients."""
        return await service.list_clients(session, principal, party_id)
