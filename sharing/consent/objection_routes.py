"""HTTP routes of objections: owners' objections to arrangements resting on a legal
obligation, and their answers. Handlers are thin over ``sharing.consent.objections``."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK

from sharing.consent import objections
from sharing.consent.schemas import ObjectionAnswer, ObjectionRead
from sharing.dependencies import ClockDep, PrincipalDep, SessionDep
from sharing.openapi import problem_responses


class ObjectionController(Controller):
    """Owners' objections to arrangements resting on a legal obligation, and their answers."""

    path = "/objections"
    tags = ("objections",)

    @get(
        "/",
        summary="List objections",
        description="For an owner, the objections it filed; for a grantee, those it must "
        "answer; for the hub operator, all. Newest first. Needs `consent:read`.",
        responses=problem_responses(401, 403, 422),
    )
    async def list_objections(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        status: Annotated[
            Literal["open", "answered"] | None,
            Parameter(description="Only objections with this status."),
        ] = None,
    ) -> list[ObjectionRead]:
        """List the caller's objections."""
        return await objections.list_objections(session, principal, status=status)

    @get(
        "/{objection_id:uuid}",
        summary="Read an objection",
        description="One objection, for its owner, the grantee or the hub operator. Needs "
        "`consent:read`.",
        responses=problem_responses(401, 403, 404),
    )
    async def get_objection(
        self, session: SessionDep, principal: PrincipalDep, objection_id: FromPath[UUID]
    ) -> ObjectionRead:
        """Read an objection."""
        return await objections.get_objection(session, principal, objection_id)

    @post(
        "/{objection_id:uuid}/answer",
        summary="Answer an objection",
        description="The hub operator or the arrangement's grantee answers an open objection; "
        "the owner is notified (`objection.answered`). An objection is answered once (409 "
        "after). Needs `consent:read` (a grantee) or `registry:admin`.",
        status_code=HTTP_200_OK,
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def answer_objection(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        objection_id: FromPath[UUID],
        data: JSONBody[ObjectionAnswer],
    ) -> ObjectionRead:
        """Answer an objection."""
        return await objections.answer_objection(
            session, principal, objection_id, data.answer, clock
        )
