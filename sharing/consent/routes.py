"""HTTP routes of the consent domain: agreements, consents and policy templates.

Handlers are thin: they pass the caller and the input to ``sharing.consent.agreements`` or
``sharing.consent.service``, which check scopes and object-level access and raise
``sharing.errors`` types.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from sharing.consent import agreements, service
from sharing.consent.facts import ConsentStatus
from sharing.consent.schemas import (
    AgreementCreate,
    AgreementRead,
    ConsentCreate,
    ConsentPage,
    ConsentRead,
    ConsentRevoke,
    PolicyRead,
)
from sharing.dependencies import ClockDep, PoliciesDep, PrincipalDep, SessionDep
from sharing.errors import NotFound
from sharing.openapi import problem_responses


class AgreementController(Controller):
    """Legal instruments: regulations, MoUs and cooperation agreements, with their parties."""

    path = "/agreements"
    tags = ("agreements",)

    @post(
        "/",
        summary="Register an agreement",
        description="Registers a legal instrument, the parties it binds and the policy template "
        "holding its terms. Needs `registry:admin`.",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(401, 403, 422),
    )
    async def register_agreement(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        policies: PoliciesDep,
        data: JSONBody[AgreementCreate],
    ) -> AgreementRead:
        """Register a legal instrument."""
        return await agreements.register_agreement(session, principal, data, clock, policies)

    @get(
        "/",
        summary="List agreements",
        description="The agreements the caller's party is party to (every agreement for a hub "
        "administrator). Needs `consent:read`.",
        responses=problem_responses(401, 403),
    )
    async def list_agreements(
        self, session: SessionDep, principal: PrincipalDep
    ) -> list[AgreementRead]:
        """List the caller's agreements."""
        return await agreements.list_agreements(session, principal)

    @get(
        "/{agreement_id:uuid}",
        summary="Read an agreement",
        description="One agreement the caller's party is party to. Needs `consent:read`.",
        responses=problem_responses(401, 403, 404),
    )
    async def get_agreement(
        self, session: SessionDep, principal: PrincipalDep, agreement_id: FromPath[UUID]
    ) -> AgreementRead:
        """Read one agreement."""
        return await agreements.get_agreement(session, principal, agreement_id)


class ConsentController(Controller):
    """Owners' grants of access to their cameras, and their revocation."""

    path = "/consents"
    tags = ("consents",)

    @post(
        "/",
        summary="Grant consent",
        description="The caller's party grants a party (or, with `grantee_party_id: null`, "
        "the public) access to its cameras under an agreement. Modes, purposes and limits "
        "must lie within the agreement's policy template. Needs `consent:write`.",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(401, 403, 422),
    )
    async def grant_consent(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        policies: PoliciesDep,
        data: JSONBody[ConsentCreate],
    ) -> ConsentRead:
        """Grant consent."""
        return await service.grant_consent(session, principal, data, clock, policies)

    @get(
        "/",
        summary="List consents",
        description="Consents the caller's party granted or received, newest first. Needs "
        "`consent:read`.",
        responses=problem_responses(401, 403, 422),
    )
    async def list_consents(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        status: Annotated[
            ConsentStatus | None, Parameter(description="Only consents with this status.")
        ] = None,
        grantor_party_id: Annotated[
            UUID | None, Parameter(description="Only consents granted by this party.")
        ] = None,
        grantee_party_id: Annotated[
            UUID | None, Parameter(description="Only consents granted to this party.")
        ] = None,
        camera_id: Annotated[
            UUID | None, Parameter(description="Only consents that cover this camera.")
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=200, description="Page size.")] = 50,
        offset: Annotated[int, Parameter(ge=0, description="Matches to skip.")] = 0,
    ) -> ConsentPage:
        """List the caller's consents."""
        return await service.list_consents(
            session,
            principal,
            status=status,
            grantor_party_id=grantor_party_id,
            grantee_party_id=grantee_party_id,
            camera_id=camera_id,
            limit=limit,
            offset=offset,
        )

    @get(
        "/{consent_id:uuid}",
        summary="Read a consent",
        description="One consent, for its grantor or grantee. Needs `consent:read`.",
        responses=problem_responses(401, 403, 404),
    )
    async def get_consent(
        self, session: SessionDep, principal: PrincipalDep, consent_id: FromPath[UUID]
    ) -> ConsentRead:
        """Read one consent."""
        return await service.get_consent(session, principal, consent_id)

    @post(
        "/{consent_id:uuid}/revoke",
        summary="Revoke a consent",
        description="The grantor withdraws a consent with immediate effect; every access token "
        "resting on it is revoked in the same step. Needs `consent:write`.",
        status_code=HTTP_200_OK,
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def revoke_consent(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        consent_id: FromPath[UUID],
        data: JSONBody[ConsentRevoke],
    ) -> ConsentRead:
        """Revoke a consent."""
        return await service.revoke_consent(session, principal, consent_id, data.reason, clock)


class PolicyController(Controller):
    """The policy templates: the terms each kind of legal instrument allows."""

    path = "/policies"
    tags = ("policies",)

    @get(
        "/",
        summary="List policy templates",
        description="Every policy template this hub enforces, with purpose labels. Readable by "
        "any authenticated caller.",
        responses=problem_responses(401),
    )
    async def list_policies(
        self, principal: PrincipalDep, policies: PoliciesDep
    ) -> list[PolicyRead]:
        """List the templates."""
        del principal  # asked for only so that the caller must be authenticated
        return [PolicyRead.of(template) for template in policies.all()]

    @get(
        "/{name:str}",
        summary="Read a policy template",
        description="One policy template by name. Readable by any authenticated caller.",
        responses=problem_responses(401, 404),
    )
    async def get_policy(
        self, principal: PrincipalDep, policies: PoliciesDep, name: FromPath[str]
    ) -> PolicyRead:
        """Read one template."""
        del principal  # asked for only so that the caller must be authenticated
        template = policies.get(name)
        if template is None:
            raise NotFound(f"there is no policy template '{name}'")
        return PolicyRead.of(template)
