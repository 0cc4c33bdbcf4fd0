"""Shared OpenAPI pieces: the problem responses every route documents."""

from __future__ import annotations

from typing import Any

from litestar.openapi.datastructures import ResponseSpec
from pydantic import BaseModel, Field

_DESCRIPTIONS = {
    400: "Malformed request.",
    401: "No valid access token (problem type `unauthenticated` or `invalid-token`).",
    403: "The token lacks a scope, or the object belongs to another party.",
    404: "No such object, or one the caller may not know of.",
    409: "The change contradicts the object's state.",
    422: "A field's value is wrong; `errors` names each field and fault.",
    502: "A peer hub could not be reached in time or answered nonsense (`peer-failed`).",
}


class FieldError(BaseModel):
    """One fault in one field."""

    field: str = Field(examples=["latitude"])
    message: str = Field(examples=["Input should be less than or equal to 90"])


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(examples=["/problems/invalid-input"])
    title: str = Field(examples=["Invalid input"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["latitude: Input should be less than or equal to 90"])
    errors: list[FieldError] | None = None
    reasons: list[dict[str, Any]] | None = Field(
        default=None, description="With `access-denied`: why policy refused, per camera."
    )


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problem responses a route can give."""
    return {
        status: ResponseSpec(
            Problem,
            description=_DESCRIPTIONS[status],
            generate_examples=False,
            media_type="application/problem+json",
        )
        for status in statuses
    }
