"""HTTP routes of agreements: registering, editing, amending and moving them through their
life. Handlers are thin over ``sharing.consent.agreements`` and
``sharing.consent.agreement_life``, which check scopes and access."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get, patch, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from sharing.consent import agreement_life, agreements
from sharing.consent.agreement_life import StatusAction
from sharing.consent.agreement_schemas import (
    AgreementCreate,
    AgreementRead,
    AgreementStatusChange,
    AgreementTermsChange,
)
from sharing.dependencies import ClockDep, PoliciesDep, PrincipalDep, SessionDep
from sharing.openapi import problem_responses
from sharing.vocabulary import AgreementStatus

_STATUS_WORDS: dict[StatusAction, str] = {
    "activate": "Activate a draft agreement: its terms are fixed from now on.",
    "suspend": "Suspend an active agreement: every token and pending request resting on it "
    "stops at once; its consents wait for it to resume.",
    "resume": "Resume a suspended agreement: its consents allow access again.",
    "terminate": "End a draft, active or suspended agreement for good: every token and "
    "pending request resting on it stops at once.",
}


def _status_description(action: StatusAction) -> str:
    return (
        f"{_STATUS_WORDS[action]} The reason, the time and the caller are recorded on the "
        "agreement and in the audit trail (`agreement.status_changed`), and every party to it "
        "is notified. A move its status does not allow is 409. Needs `registry:admin`."
    )


def _status_endpoint(action: StatusAction, summary: str) -> HTTPRouteHandler:
    """The endpoint that moves an agreement by ``action``.

    The four moves differ only in their words, so one function makes each; the handler is
    named ``<action>_agreement``, which names its OpenAPI operation.
    """

    async def move_agreement(
        self: Controller,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        policies: PoliciesDep,
        agreement_id: FromPath[UUID],
        data: JSONBody[AgreementStatusChange],
    ) -> AgreementRead:
        return await agreement_life.change_agreement_status(
            session, principal, agreement_id, action, data.reason, clock, policies
        )

    move_agreement.__name__ = move_agreement.__qualname__ = f"{action}_agreement"
    move_agreement.__doc__ = f"{summary}."
    return post(
        f"/{{agreement_id:uuid}}/{action}",
        summary=summary,
        description=_status_description(action),
        status_code=HTTP_200_OK,
        responses=problem_responses(401, 403, 404, 409, 422),
    )(move_agreement)


class AgreementController(Controller):
    """Legal instruments: regulations, MoUs and cooperation agreements, with their parties."""

    path = "/agreements"
    tags = ("agreements",)

    @post(
        "/",
        summary="Register an agreement",
        description="Registers a legal instrument, the parties it binds and the policy template "
        "holding its terms, as a draft (the default) or already active. Needs "
        "`registry:admin`.",
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
        self,
        session: SessionDep,
        principal: PrincipalDep,
        status: Annotated[
            AgreementStatus | None, Parameter(description="Only agreements with this status.")
        ] = None,
    ) -> list[AgreementRead]:
        """List the caller's agreements."""
        return await agreements.list_agreements(session, principal, status=status)

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

    @patch(
        "/{agreement_id:uuid}",
        summary="Edit a draft agreement",
        description="Changes a draft's number, title, document hash, template, validity or "
        "parties; fields left out keep their value. An agreement that was ever active has "
        "fixed terms (409): amend it instead. Needs `registry:admin`.",
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def update_agreement(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        policies: PoliciesDep,
        agreement_id: FromPath[UUID],
        data: JSONBody[AgreementTermsChange],
    ) -> AgreementRead:
        """Edit a draft."""
        return await agreements.update_agreement(
            session, principal, agreement_id, data, clock, policies
        )

    @post(
        "/{agreement_id:uuid}/amendments",
        summary="Amend an agreement",
        description="Drafts an amendment of an active, suspended or expired agreement: a new "
        "draft agreement with the original's terms changed by the body, naming the original "
        "(`amends_id`) and one version up. Activate it like any draft; the original stays "
        "until it is terminated. Needs `registry:admin`.",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def amend_agreement(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        policies: PoliciesDep,
        agreement_id: FromPath[UUID],
        data: JSONBody[AgreementTermsChange],
    ) -> AgreementRead:
        """Draft an amendment."""
        return await agreements.amend_agreement(
            session, principal, agreement_id, data, clock, policies
        )

    activate_agreement = _status_endpoint("activate", "Activate a draft agreement")
    suspend_agreement = _status_endpoint("suspend", "Suspend an agreement")
    resume_agreement = _status_endpoint("resume", "Resume a suspended agreement")
    terminate_agreement = _status_endpoint("terminate", "Terminate an agreement")
