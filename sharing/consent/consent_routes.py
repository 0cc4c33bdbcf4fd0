"""HTTP routes of consents: granting, reading, changing and revoking them, their receipts, and
filing an objection to one. Handlers are thin over ``sharing.consent.service``,
``sharing.consent.consent_reads`` and ``sharing.consent.objections``, which check scopes and
object-level access."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.params import FromPath, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from sharing.consent import consent_reads, objections, service
from sharing.consent.consent_schemas import (
    ConsentCreate,
    ConsentPage,
    ConsentRead,
    ConsentRevoke,
    ConsentVersionCreate,
    ConsentVersions,
)
from sharing.consent.facts import ConsentStatus
from sharing.consent.receipt_schemas import ConsentReceipt
from sharing.consent.receipts import receipt_text
from sharing.consent.schemas import ObjectionCreate, ObjectionRead
from sharing.dependencies import ClockDep, PoliciesDep, PrincipalDep, SessionDep, SettingsDep
from sharing.openapi import problem_responses


class ConsentController(Controller):
    """Owners' grants of access to their cameras, and their revocation."""

    path = "/consents"
    tags = ("consents",)

    @post(
        "/",
        summary="Grant consent",
        description="The caller's party grants a party (with its sub-units, every party of "
        "the agreement, or the public) access to its cameras under an active agreement, on a "
        "lawful basis (consent, legal obligation, public task), with conditions (hours, days, "
        "approvals). Modes, purposes and limits must lie within the agreement's policy "
        "template. The owner and the grantee are notified (`consent.granted`); the receipt "
        "is at `/consents/{id}/receipt`. Needs `consent:write`.",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(401, 403, 422),
    )
    async def grant_consent(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        policies: PoliciesDep,
        settings: SettingsDep,
        data: JSONBody[ConsentCreate],
    ) -> ConsentRead:
        """Grant consent."""
        return await service.grant_consent(
            session, principal, data, clock, policies, settings.issuer
        )

    @get(
        "/",
        summary="List consents",
        description="Consents the caller's party granted or received, newest first: an owner "
        "sees every arrangement on its cameras, whatever its legal basis. Needs "
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
        return await consent_reads.list_consents(
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
        return await consent_reads.get_consent(session, principal, consent_id)

    @post(
        "/{consent_id:uuid}/revoke",
        summary="Revoke a consent",
        description="The grantor withdraws a consent with immediate effect; every access token "
        "and pending request resting on it stops in the same step. An arrangement resting on "
        "a legal obligation cannot be revoked by its owner (409: object instead); the hub "
        "operator can end it. Needs `consent:write`.",
        status_code=HTTP_200_OK,
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def revoke_consent(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        settings: SettingsDep,
        consent_id: FromPath[UUID],
        data: JSONBody[ConsentRevoke],
    ) -> ConsentRead:
        """Revoke a consent."""
        return await service.revoke_consent(
            session, principal, consent_id, data.reason, clock, settings.issuer
        )

    @post(
        "/{consent_id:uuid}/versions",
        summary="Change a consent (new version)",
        description="The grantor replaces an active consent's terms with the full new terms "
        "in the body. A new consent is made with the same `lineage_id` and the next version; "
        "the old one is superseded, and tokens and pending requests resting on it stop. "
        "The owner and grantee are notified (`consent.changed`). Needs `consent:write`.",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def new_consent_version(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        policies: PoliciesDep,
        settings: SettingsDep,
        consent_id: FromPath[UUID],
        data: JSONBody[ConsentVersionCreate],
    ) -> ConsentRead:
        """Change a consent."""
        return await service.new_consent_version(
            session, principal, consent_id, data, clock, policies, settings.issuer
        )

    @get(
        "/{consent_id:uuid}/versions",
        summary="List a consent's versions",
        description="Every version of the arrangement this consent belongs to, oldest first. "
        "Needs `consent:read`.",
        responses=problem_responses(401, 403, 404),
    )
    async def list_consent_versions(
        self, session: SessionDep, principal: PrincipalDep, consent_id: FromPath[UUID]
    ) -> ConsentVersions:
        """List the lineage."""
        return await consent_reads.list_consent_versions(session, principal, consent_id)

    @get(
        "/{consent_id:uuid}/receipt",
        summary="Download a consent receipt",
        description="The receipt of this consent version's latest event (granted, changed, "
        "superseded, revoked): who allowed what to whom, under which instrument, terms and "
        "lawful basis, when, and how to revoke, with fields following ISO/IEC TS 27560 and "
        "the Kantara consent receipt, and a SHA-256 of its canonical JSON. `format=text` "
        "gives it as plain Indonesian/English text. For the grantor, the grantee or the hub "
        "operator. Needs `consent:read`.",
        responses=problem_responses(401, 403, 404, 422),
    )
    async def get_receipt(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        settings: SettingsDep,
        consent_id: FromPath[UUID],
        format: Annotated[
            Literal["json", "text"],
            Parameter(description="json (the default) or text, for an owner's phone."),
        ] = "json",
    ) -> Response[ConsentReceipt | str]:
        """Download a receipt."""
        receipt = await consent_reads.get_receipt(session, principal, consent_id, settings.issuer)
        if format == "text":
            return Response(receipt_text(receipt), media_type="text/plain; charset=utf-8")
        return Response(receipt)

    @post(
        "/{consent_id:uuid}/objections",
        summary="Object to an arrangement",
        description="The owner objects to an arrangement on its cameras that rests on a legal "
        "obligation (and so cannot be revoked by the owner). The objection is recorded, the "
        "hub operator and the grantee are notified (`objection.filed`) and must answer. An "
        "arrangement the owner may revoke is refused with 409. Needs `consent:write`.",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def file_objection(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        consent_id: FromPath[UUID],
        data: JSONBody[ObjectionCreate],
    ) -> ObjectionRead:
        """File an objection."""
        return await objections.file_objection(session, principal, consent_id, data.text, clock)
