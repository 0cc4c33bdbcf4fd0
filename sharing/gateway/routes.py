"""HTTP routes a media gateway calls to check access tokens."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec

from sharing.dependencies import (
    AuditAppenderDep,
    ClockDep,
    KeyRingDep,
    SessionDep,
    SettingsDep,
)
from sharing.errors import problem_response
from sharing.gateway.service import VerdictNotRecorded, check_media_request, token_from

# How long nginx's caller should wait before asking again when the trail cannot be written.
RETRY_AFTER_SECONDS = 1


class GatewayController(Controller):
    """Subrequest target for nginx ``auth_request`` (see docs/gateway.md)."""

    path = "/gateway"
    tags = ["gateway"]

    @get(
        "/auth",
        summary="Check an access token for one media request (nginx auth_request)",
        description=(
            "nginx sends the viewer's `Authorization` header and the original URI in "
            "`X-Original-URI` (`/{live|footage}/{camera_id}/{file}`, token in the header or "
            "the `token` query). Answers 204 to serve, 401 when the token is missing, "
            "invalid, expired or revoked, 403 when it is valid but not for this camera, mode "
            "or footage window. Every verdict is audited, and answered only once its audit "
            "event is durable; if it cannot be recorded the hub answers 503 and nginx serves "
            "nothing (fail closed). Not an OAuth-protected API call: the access token is the "
            "credential."
        ),
        security=[{}],  # the access token is the credential, not an API token
        status_code=200,
        responses={
            204: ResponseSpec(None, description="Serve the file."),
            401: ResponseSpec(None, description="Missing, invalid, expired or revoked token."),
            403: ResponseSpec(None, description="Token valid but not for this media path."),
            503: ResponseSpec(
                None, description="The verdict could not be recorded; serve nothing, retry."
            ),
        },
    )
    async def auth(
        self,
        request: Request[Any, Any, Any],
        session: SessionDep,
        keyring: KeyRingDep,
        settings: SettingsDep,
        clock: ClockDep,
        audit_appender: AuditAppenderDep,
    ) -> Response[Any]:
        """Answer the gateway's subrequest."""
        original_uri = request.headers.get("x-original-uri", "")
        try:
            verdict = await check_media_request(
                session,
                token=token_from(request.headers.get("authorization"), original_uri),
                original_uri=original_uri,
                keyring=keyring,
                settings=settings,
                clock=clock,
                audit_appender=audit_appender,
            )
        except VerdictNotRecorded:
            return _not_recorded()
        if verdict.allowed:
            return Response(
                None,
                status_code=204,
                headers={
                    "X-Sharing-Camera": verdict.camera_id or "",
                    "X-Sharing-Request": verdict.request_id or "",
                },
            )
        slug = "invalid-token" if verdict.status == 401 else "forbidden"
        return problem_response(verdict.status, slug, "Media access refused", verdict.reason, {})


def _not_recorded() -> Response[Any]:
    response = problem_response(
        503,
        "audit-unavailable",
        "Media access not checked",
        "The hub could not record this check in its audit trail, so it refuses it.",
        {},
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
