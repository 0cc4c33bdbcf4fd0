"""The hub's few domain errors and their one mapping to RFC 9457 problem responses.

Services raise these; they carry meaning, not HTTP. ``problem_handlers`` turns each into an
``application/problem+json`` body in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "/problems/"

log = logging.getLogger("sharing.errors")


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status_code = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, **extensions: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class InvalidInput(DomainError):
    """The request is well-formed but a field's value is wrong."""

    status_code = 422
    slug = "invalid-input"
    title = "Invalid input"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", errors=[{"field": field, "message": message}])


class Unauthenticated(DomainError):
    """No valid credentials came with the request."""

    status_code = 401
    slug = "unauthenticated"
    title = "Authentication required"


class PermissionDenied(DomainError):
    """The caller is known but may not do this (missing scope, another party's object)."""

    status_code = 403
    slug = "forbidden"
    title = "Forbidden"


class NotFound(DomainError):
    """The object does not exist, or the caller may not know that it exists."""

    status_code = 404
    slug = "not-found"
    title = "Not found"


class Conflict(DomainError):
    """The change contradicts the object's current state."""

    status_code = 409
    slug = "conflict"
    title = "Conflict"


class PeerFailed(DomainError):
    """Another hub (a federation peer, or a log this hub witnesses) could not be reached in
    time, or answered what no hub answers."""

    status_code = 502
    slug = "peer-failed"
    title = "The partner hub failed"


class AccessDenied(DomainError):
    """Policy refused an access request; ``reasons`` say why, for people and programs."""

    status_code = 403
    slug = "access-denied"
    title = "Access denied by policy"

    def __init__(self, detail: str, reasons: Sequence[Mapping[str, Any]], request_id: str) -> None:
        super().__init__(detail, reasons=list(reasons), request_id=request_id)


def problem_response(
    status: int, slug: str, title: str, detail: str, extensions: Mapping[str, object]
) -> Response[dict[str, object]]:
    """Build one RFC 9457 problem response."""
    body: dict[str, object] = {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        **extensions,
    }
    headers = {"WWW-Authenticate": 'Bearer realm="sharing"'} if status == 401 else None
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _domain_error(_: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, object]]:
    return problem_response(exc.status_code, exc.slug, exc.title, exc.detail, exc.extensions)


def _validation_error(
    _: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, object]]:
    errors = [
        {"field": item.get("key") or item.get("source") or "body", "message": item.get("message")}
        for item in (exc.extra if isinstance(exc.extra, list) else [])
        if isinstance(item, dict)
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or str(exc.detail)
    return problem_response(422, "invalid-input", "Invalid input", detail, {"errors": errors})


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, object]]:
    slug = {401: "unauthenticated", 403: "forbidden", 404: "not-found", 405: "method-not-allowed"}
    return problem_response(
        exc.status_code,
        slug.get(exc.status_code, "http-error"),
        exc.detail or "Error",
        str(exc.detail),
        {},
    )


def _unexpected_error(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, object]]:
    # The trace goes to the log, never to the caller.
    log.exception("unhandled error", exc_info=exc)
    return problem_response(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal-error",
        "Internal error",
        "The hub failed to handle this request; nothing was changed.",
        {},
    )


problem_handlers: ExceptionHandlersMap = {
    DomainError: _domain_error,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    Exception: _unexpected_error,
}
