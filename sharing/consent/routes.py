"""HTTP routes of the consent domain: agreements, consents, objections and policy templates.

Handlers are thin: they pass the caller and the input to ``sharing.consent.agreements``,
``sharing.consent.service`` or ``sharing.consent.objections``, which check scopes and
object-level access and raise ``sharing.errors`` types.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from litestar import Controller, Response, get, patch, post
from litestar.params import FromPath, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from sharing.consent import agreements, objections, service
from sharing.consent.agreements import StatusAction
from sharing.consent.facts import ConsentStatus
from sharing.consent.receipts import ConsentReceipt, receipt_text
from sharing.consent.schemas import (
    AgreementCreate,
    AgreementRead,
    AgreementStatusChange,
    AgreementTermsChange,
    ConsentCreate,
    ConsentPage,
    ConsentRead,
    ConsentRevoke,
    ConsentVersionCreate,
    ConsentVersions,
    ObjectionAnswer,
    ObjectionCreate,
    ObjectionRead,
    PolicyRead,
)
from sharing.dependencies import ClockDep, PoliciesDep, PrincipalDep, SessionDep, SettingsDep
from sharing.errors import NotFound
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

    @post(
        "/{agreement_id:uuid}/activate",
        summary="Activate a draft agreement",
        description=_status_description("activate"),
        status_code=HTTP_200_OK,
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def activate_agreement(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        policies: PoliciesDep,
        agreement_id: FromPath[UUID],
        data: JSONBody[AgreementStatusChange],
    ) -> AgreementRead:
        """Activate a draft agreement."""
        return await agreements.change_agreement_status(
            session, principal, agreement_id, "activate", data.reason, clock, policies
        )

    @post(
        "/{agreement_id:uuid}/suspend",
        summary="Suspend an agreement",
        description=_status_description("suspend"),
        status_code=HTTP_200_OK,
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def suspend_agreement(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        policies: PoliciesDep,
        agreement_id: FromPath[UUID],
        data: JSONBody[AgreementStatusChange],
    ) -> AgreementRead:
        """Suspend an agreement."""
        return await agreements.change_agreement_status(
            session, principal, agreement_id, "suspend", data.reason, clock, policies
        )

    @post(
        "/{agreement_id:uuid}/resume",
        summary="Resume a suspended agreement",
        description=_status_description("resume"),
        status_code=HTTP_200_OK,
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def resume_agreement(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        policies: PoliciesDep,
        agreement_id: FromPath[UUID],
        data: JSONBody[AgreementStatusChange],
    ) -> AgreementRead:
        """Resume a suspended agreement."""
        return await agreements.change_agreement_status(
            session, principal, agreement_id, "resume", data.reason, clock, policies
        )

    @post(
        "/{agreement_id:uuid}/terminate",
        summary="Terminate an agreement",
        description=_status_description("terminate"),
        status_code=HTTP_200_OK,
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def terminate_agreement(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        policies: PoliciesDep,
        agreement_id: FromPath[UUID],
        data: JSONBody[AgreementStatusChange],
    ) -> AgreementRead:
        """Terminate an agreement."""
        return await agreements.change_agreement_status(
            session, principal, agreement_id, "terminate", data.reason, clock, policies
        )


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
        return await service.list_consent_versions(session, principal, consent_id)

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
        receipt = await service.get_receipt(session, principal, consent_id, settings.issuer)
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
