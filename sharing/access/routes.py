"""HTTP routes of the access broker."""

from __future__ import annotations

import uuid
from typing import Literal

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody, Parameter

from sharing.access import service
from sharing.access.models import AccessRequest
from sharing.access.schemas import (
    AccessGranted,
    AccessRequestCreate,
    AccessRequestPage,
    AccessRequestRead,
)
from sharing.clock import as_utc
from sharing.dependencies import (
    ClockDep,
    KeyRingDep,
    PoliciesDep,
    PrincipalDep,
    SessionDep,
    SettingsDep,
)
from sharing.openapi import problem_responses


class AccessRequestController(Controller):
    """Ask for live or footage access; read past requests and why they were decided so."""

    path = "/access-requests"
    tags = ["access"]

    @post(
        "/",
        summary="Request access to cameras",
        description=(
            "Policy decides from the owners' consents, the agreement's terms and its policy "
            "template. An allow returns 201 with a short-lived gateway token; a refusal returns "
            "403 `access-denied` with `reasons`: codes for programs, sentences for people. "
            "Needs scope `access:request`."
        ),
        responses=problem_responses(401, 403, 422),
        status_code=201,
    )
    async def create(
        self,
        data: JSONBody[AccessRequestCreate],
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        policies: PoliciesDep,
        keyring: KeyRingDep,
        settings: SettingsDep,
    ) -> AccessGranted:
        """Decide and, on allow, mint the token."""
        approval = await service.request_access(
            session,
            principal,
            data,
            clock=clock,
            policies=policies,
            keyring=keyring,
            settings=settings,
        )
        token = approval.token.record
        return AccessGranted(
            request_id=approval.request.id,
            access_token=approval.token.jwt,
            expires_at=token.expires_at,
            expires_in=int((token.expires_at - clock.now()).total_seconds()),
            audience=token.audience,
            mode=data.mode,
            camera_ids=[uuid.UUID(c) for c in token.camera_ids],
            footage_start=token.footage_start,
            footage_end=token.footage_end,
            explanation=approval.decision.explanation(),
        )

    @get("/", summary="List my party's access requests", responses=problem_responses(401))
    async def list_requests(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        status: FromQuery[Literal["approved", "denied"] | None] = None,
        limit: int = Parameter(default=50, ge=1, le=200),
        offset: int = Parameter(default=0, ge=0),
    ) -> AccessRequestPage:
        """Newest first; hub operators see every party's."""
        items, total = await service.list_access_requests(
            session, principal, status=status, limit=limit, offset=offset
        )
        return AccessRequestPage(
            items=[_read(r) for r in items], total=total, limit=limit, offset=offset
        )

    @get(
        "/{request_id:uuid}",
        summary="Read a request and the explanation of its decision",
        description='Answers "why was I refused?": the explanation names every rule, consent '
        "version and reason that decided it.",
        responses=problem_responses(401, 404),
    )
    async def read(
        self, request_id: FromPath[uuid.UUID], session: SessionDep, principal: PrincipalDep
    ) -> AccessRequestRead:
        """Only the requesting party (and hub operators) may read it."""
        return _read(await service.get_access_request(session, principal, request_id))


def _read(request: AccessRequest) -> AccessRequestRead:
    return AccessRequestRead(
        id=request.id,
        requester_party_id=request.requester_party_id,
        requester_member_id=request.requester_member_id,
        requester_client_id=request.requester_client_id,
        camera_ids=[uuid.UUID(c) for c in request.camera_ids],
        mode=request.mode,
        purpose=request.purpose,
        legal_basis=request.legal_basis,
        justification=request.justification,
        footage_start=as_utc(request.footage_start) if request.footage_start else None,
        footage_end=as_utc(request.footage_end) if request.footage_end else None,
        status=request.status,
        explanation=request.explanation,
        created_at=as_utc(request.created_at),
    )
