"""HTTP routes of sealed accesses: a supervisor extends a seal, the requesting party releases it."""

from __future__ import annotations

import uuid
from datetime import datetime

from litestar import Controller, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from sharing.access import seals
from sharing.access.schemas import SealExtension, SealRead, SealRelease
from sharing.audit.models import AccessSeal
from sharing.clock import as_utc
from sharing.dependencies import ClockDep, PrincipalDep, SessionDep
from sharing.openapi import problem_responses

_SEAL = "/{request_id:uuid}/seal"


class AccessSealController(Controller):
    """Keep a sealed access sealed longer, or disclose it at case closure."""

    path = "/access-requests"
    tags = ("access",)

    @post(
        _SEAL + "/extensions",
        summary="Extend the seal of an access",
        description="A supervisor of the requesting party (member role `supervisor` or "
        "`admin`, not the officer who asked) moves the date by which the access's details are "
        "disclosed to the camera owners to a later one, within the terms' `max_seal_days` "
        "counted from the access (422 otherwise). A seal that no longer holds is 409; other "
        "parties get 404. Needs scope `access:request`. Audited as `access_seal.extended` "
        "with the new date and the reason.",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def extend(
        self,
        request_id: FromPath[uuid.UUID],
        data: JSONBody[SealExtension],
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
    ) -> SealRead:
        """Extend a seal."""
        _, seal = await seals.extend_seal(
            session, principal, request_id, data.sealed_until, data.reason, clock=clock
        )
        return _read(seal, clock.now())

    @post(
        _SEAL + "/release",
        summary="Release the seal of an access",
        description="The requesting party discloses a sealed access to the camera owners now, "
        "e.g. when the case is closed: their access report shows its details from then on. "
        "A seal that no longer holds is 409; other parties get 404. Needs scope "
        "`access:request`. Audited as `access_seal.released`.",
        status_code=HTTP_200_OK,
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def release(
        self,
        request_id: FromPath[uuid.UUID],
        data: JSONBody[SealRelease],
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
    ) -> SealRead:
        """Release a seal."""
        _, seal = await seals.release_seal(session, principal, request_id, data.reason, clock=clock)
        return _read(seal, clock.now())


def _read(seal: AccessSeal, now: datetime) -> SealRead:
    return SealRead(
        request_id=seal.request_id,
        sealed_until=as_utc(seal.sealed_until),
        released_at=as_utc(seal.released_at) if seal.released_at else None,
        sealed=seals.is_sealed(seal, now),
        created_at=as_utc(seal.created_at),
    )
