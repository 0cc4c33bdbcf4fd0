"""HTTP routes of the access broker: ask, dry-run, follow, withdraw and explain requests."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, HeaderParameter, JSONBody, Parameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED

from sharing.access import pending, reads, service, tokens
from sharing.access.models import AccessRequest, ApprovalTask
from sharing.access.schemas import (
    AccessGranted,
    AccessPending,
    AccessRequestCreate,
    AccessRequestPage,
    AccessRequestRead,
    ApprovalAwaited,
    DryRunResult,
    ExplanationRead,
    IncidentPoint,
    RequestStatus,
)
from sharing.clock import as_utc
from sharing.dependencies import (
    ClockDep,
    KeyRingDep,
    PeerClientDep,
    PoliciesDep,
    PrincipalDep,
    SessionDep,
    SettingsDep,
)
from sharing.errors import problem_response
from sharing.federation import forwarding
from sharing.federation.exchange import accepted_origin_event
from sharing.federation.forwarding import AUDIT_EVENT_HEADER, ORIGIN_EVENT_HEADER
from sharing.oauth.dependencies import bearer_token
from sharing.openapi import problem_responses

_REQUEST_ID = "/{request_id:uuid}"


class AccessRequestController(Controller):
    """Ask for live or footage access; follow, withdraw and explain requests."""

    path = "/access-requests"
    tags = ("access",)

    @post(
        "/",
        summary="Request access to cameras",
        description=(
            "Policy decides from the owners' consents, the agreement's terms and its policy "
            "template. An allow returns 201 with a short-lived gateway token. A request whose "
            "consents ask for the owner's or a supervisor's approval returns 202 with the "
            "approvals awaited; once they are all given the token is fetched from "
            "`/access-requests/{id}/token`. A refusal returns 403 `access-denied` with "
            "`reasons`: codes for programs, sentences for people. With `incident` and no "
            "`camera_ids`, the active cameras around the point are requested. "
            "Cameras of a peer hub (remote cameras, all of one peer) are forwarded to their "
            "home hub, which decides; its answer is relayed unchanged with the headers "
            "`Sharing-Home-Hub` and `Sharing-Home-Audit-Event` (502 `peer-failed` if it "
            "does not answer). Answers carry `Sharing-Audit-Event`, the decision's audit "
            "event id. Needs scope `access:request`."
        ),
        responses={
            HTTP_201_CREATED: ResponseSpec(
                AccessGranted, description="Allowed: the gateway token.", generate_examples=False
            ),
            HTTP_202_ACCEPTED: ResponseSpec(
                AccessPending, description="Waiting for approvals.", generate_examples=False
            ),
            **problem_responses(401, 403, 422, 502),
        },
        status_code=HTTP_201_CREATED,
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[AccessRequestCreate],
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        policies: PoliciesDep,
        keyring: KeyRingDep,
        settings: SettingsDep,
        peer_client: PeerClientDep,
        origin_event: Annotated[
            str | None,
            HeaderParameter(
                name=ORIGIN_EVENT_HEADER,
                max_length=400,
                description="Sent by a peer hub that forwards the request: '<its issuer>#"
                "<its event id>'. Only with a token that hub obtained by token exchange.",
            ),
        ] = None,
    ) -> Response[Any]:
        """Forward to the cameras' home hub, or decide here: on allow mint the token, on
        needs-approval open the approvals."""
        home = await forwarding.home_peer_of(session, data.camera_ids)
        if home is not None:
            relayed = await forwarding.forward_request(
                session,
                principal,
                await request.json(),
                home,
                subject_token=bearer_token(request) or "",
                peers=peer_client,
                clock=clock,
            )
            return _relay(relayed)
        try:
            outcome = await service.request_access(
                session,
                principal,
                data,
                clock=clock,
                policies=policies,
                keyring=keyring,
                settings=settings,
                origin_event=accepted_origin_event(origin_event, principal),
            )
        except service.RecordedDenial as denial:
            return _denied(denial)
        headers = _audit_event_header(outcome.audit_event_id)
        if isinstance(outcome, service.Pending):
            body: AccessGranted | AccessPending = AccessPending(
                request_id=outcome.request.id,
                pending_until=outcome.pending_until,
                approvals=[_awaited(task) for task in outcome.tasks],
                explanation=outcome.decision.explanation(),
            )
            return Response(body, status_code=HTTP_202_ACCEPTED, headers=headers)
        body = _granted(outcome.request, outcome.token, clock.now())
        return Response(body, status_code=HTTP_201_CREATED, headers=headers)

    @post(
        "/dry-run",
        summary="Ask whether a request would be allowed",
        description="Answers what policy would decide for this request now: the outcome, "
        "every reason of a refusal, the approvals it would wait for, and the full "
        "explanation. Records nothing and mints nothing. Needs scope `access:request`.",
        status_code=200,
        responses=problem_responses(401, 403, 422),
    )
    async def dry_run(
        self,
        data: JSONBody[AccessRequestCreate],
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        policies: PoliciesDep,
        settings: SettingsDep,
    ) -> DryRunResult:
        """Decide without recording."""
        decision, camera_ids = await service.dry_run(
            session, principal, data, clock=clock, policies=policies, settings=settings
        )
        return DryRunResult(
            outcome=decision.outcome,
            camera_ids=list(camera_ids),
            reasons=[reason.to_dict() for reason in decision.reasons],
            approvals=[need.to_dict() for need in decision.approvals],
            token_lifetime_seconds=decision.token_lifetime_seconds,
            explanation=decision.explanation(),
        )

    @get(
        "/",
        summary="List my party's access requests",
        description="Newest first; hub operators see every party's. A pending request past "
        "its deadline is listed as expired.",
        responses=problem_responses(401, 422),
    )
    async def list_requests(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        status: RequestStatus | None = Parameter(
            default=None, description="Only requests in this state."
        ),
        limit: int = Parameter(default=50, ge=1, le=200, description="Page size."),
        offset: int = Parameter(default=0, ge=0, description="How many to skip."),
    ) -> AccessRequestPage:
        """List the caller's requests."""
        now = clock.now()
        items, total = await reads.list_access_requests(
            session, principal, status=status, limit=limit, offset=offset, now=now
        )
        return AccessRequestPage(
            items=[_read(r, now) for r in items], total=total, limit=limit, offset=offset
        )

    @get(
        _REQUEST_ID,
        summary="Read a request and the explanation of its decision",
        description='Answers "why was I refused?": the explanation names every rule, consent '
        "version and reason that decided it. Only the requesting party (and hub operators) "
        "may read it; others get 404. A request forwarded to a peer hub is read there "
        "again and its answer relayed.",
        responses={
            200: ResponseSpec(
                AccessRequestRead, description="The request.", generate_examples=False
            ),
            **problem_responses(401, 404, 502),
        },
    )
    async def read(
        self,
        request: Request[Any, Any, Any],
        request_id: FromPath[uuid.UUID],
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        peer_client: PeerClientDep,
    ) -> Response[Any]:
        """Read one request, or relay its home hub's answer if it was forwarded."""
        relayed = await forwarding.relay_forwarded(
            session,
            principal,
            request_id,
            "",
            subject_token=bearer_token(request) or "",
            peers=peer_client,
            clock=clock,
        )
        if relayed is not None:
            return _relay(relayed)
        found = await reads.get_access_request(session, principal, request_id)
        return Response(_read(found, clock.now()))

    @get(
        _REQUEST_ID + "/explanation",
        summary="Explain a past decision",
        description="The stored explanation of a request's decision (grants with rule and "
        "consent version, or every reason of a refusal) and its approvals with who gave or "
        "refused them and why. Readable by the requesting party, the owners of the "
        "request's cameras, hub operators and the hub operator's auditors; others get 404.",
        responses=problem_responses(401, 404),
    )
    async def explanation(
        self,
        request_id: FromPath[uuid.UUID],
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
    ) -> ExplanationRead:
        """Explain one decision."""
        now = clock.now()
        request, tasks = await reads.get_explanation(session, principal, request_id, now=now)
        return ExplanationRead(
            request_id=request.id,
            requester_party_id=request.requester_party_id,
            status=pending.effective_status(request, now),
            decided_at=as_utc(request.decided_at) if request.decided_at else None,
            explanation=request.explanation,
            approvals=[_awaited(task) for task in tasks],
        )

    @get(
        _REQUEST_ID + "/token",
        summary="Fetch the token of an approved request",
        description="The gateway token minted when the request's last approval was given "
        "(or when it was allowed at once), with the expiry set then: fetching never extends "
        "it. Only the requesting party may fetch it; a request that is not approved, or a "
        "token revoked or expired, is 409. Needs scope `access:request`. Audited as "
        "`access_token.fetched`. For a forwarded request the home hub is asked again.",
        responses={
            200: ResponseSpec(
                AccessGranted, description="The gateway token.", generate_examples=False
            ),
            **problem_responses(401, 403, 404, 409, 502),
        },
    )
    async def token(
        self,
        request: Request[Any, Any, Any],
        request_id: FromPath[uuid.UUID],
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        keyring: KeyRingDep,
        settings: SettingsDep,
        peer_client: PeerClientDep,
    ) -> Response[Any]:
        """Hand the token over, or relay it from the home hub of a forwarded request."""
        relayed = await forwarding.relay_forwarded(
            session,
            principal,
            request_id,
            "/token",
            subject_token=bearer_token(request) or "",
            peers=peer_client,
            clock=clock,
        )
        if relayed is not None:
            return _relay(relayed)
        asked, minted = await tokens.fetch_token(
            session, principal, request_id, clock=clock, keyring=keyring, settings=settings
        )
        return Response(_granted(asked, minted, clock.now()))

    @post(
        _REQUEST_ID + "/withdraw",
        summary="Withdraw a pending request",
        description="The requesting party takes back a request that waits for approvals; "
        "its approvers are notified (`access_request.withdrawn`). Only pending requests can "
        "be withdrawn (409 otherwise); other parties get 404. Needs scope `access:request`. "
        "Audited as `access_request.withdrawn`.",
        status_code=200,
        responses=problem_responses(401, 403, 404, 409),
    )
    async def withdraw(
        self,
        request_id: FromPath[uuid.UUID],
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
    ) -> AccessRequestRead:
        """Withdraw a pending request."""
        request = await pending.withdraw(session, principal, request_id, clock=clock)
        return _read(request, clock.now())


def _relay(relayed: forwarding.Relayed) -> Response[Any]:
    """The home hub's answer to a forwarded request, as it came."""
    return Response(
        relayed.body,
        status_code=relayed.status_code,
        media_type=relayed.media_type,
        headers=relayed.headers,
    )


def _denied(denial: service.RecordedDenial) -> Response[Any]:
    """The access-denied problem, naming the audit event of the refusal."""
    response = problem_response(
        denial.status_code, denial.slug, denial.title, denial.detail, denial.extensions
    )
    response.headers.update(_audit_event_header(denial.audit_event_id))
    return response


def _audit_event_header(event_id: int | None) -> dict[str, str]:
    return {AUDIT_EVENT_HEADER: str(event_id)} if event_id is not None else {}


def _granted(request: AccessRequest, minted: tokens.MintedToken, now: datetime) -> AccessGranted:
    token = minted.record
    expires_at = as_utc(token.expires_at)
    return AccessGranted(
        request_id=request.id,
        access_token=minted.jwt,
        expires_at=expires_at,
        expires_in=max(int((expires_at - now).total_seconds()), 0),
        audience=token.audience,
        mode=token.mode,
        camera_ids=[uuid.UUID(c) for c in token.camera_ids],
        footage_start=as_utc(token.footage_start) if token.footage_start else None,
        footage_end=as_utc(token.footage_end) if token.footage_end else None,
        explanation=request.explanation,
    )


def _awaited(task: ApprovalTask) -> ApprovalAwaited:
    return ApprovalAwaited(
        id=task.id,
        kind=task.kind,
        approver_party_id=task.approver_party_id,
        camera_ids=[uuid.UUID(c) for c in task.camera_ids],
        status=task.status,
        decided_by=task.decided_by,
        decided_at=as_utc(task.decided_at) if task.decided_at else None,
        reason=task.reason,
    )


def _read(request: AccessRequest, now: datetime) -> AccessRequestRead:
    incident = (
        IncidentPoint(
            latitude=request.incident_latitude,
            longitude=request.incident_longitude,
            radius_m=request.incident_radius_m,
        )
        if request.incident_latitude is not None
        and request.incident_longitude is not None
        and request.incident_radius_m is not None
        else None
    )
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
        status=pending.effective_status(request, now),
        emergency=request.emergency,
        incident=incident,
        pending_until=as_utc(request.pending_until) if request.pending_until else None,
        decided_at=as_utc(request.decided_at) if request.decided_at else None,
        explanation=request.explanation,
        created_at=as_utc(request.created_at),
    )
