"""HTTP routes of the owners' access report and of commitment openings."""

from __future__ import annotations

import uuid
from datetime import datetime

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, Parameter
from litestar.status_codes import HTTP_201_CREATED

from sharing.audit import report
from sharing.audit.notes import b64
from sharing.audit.report_schemas import (
    AccessReport,
    AccessReportEntry,
    OpeningDisclose,
    OpeningDisclosed,
    OpeningList,
    OpeningRead,
    ReportProof,
)
from sharing.clock import as_utc
from sharing.dependencies import ClockDep, PrincipalDep, SessionDep, SettingsDep
from sharing.openapi import problem_responses

_OPENINGS = "/events/{event_id:int}/openings"


class AccessReportController(Controller):
    """What owners see of the accesses to their cameras; what auditors are opened."""

    path = "/audit"
    tags = ("audit",)

    @get(
        "/access-report",
        summary="List every access to my party's cameras, with proofs",
        description=(
            "Needs `audit:read`. One entry per decision on an access to each of the caller's "
            "party's cameras (registry admins may name `party_id`), in log order: who (party "
            "and unit), when, live or which footage window, purpose, outcome, the case "
            "reference as a salted commitment, the officer (named or as a commitment, as the "
            "terms say), the leaf and an RFC 9162 inclusion proof in a signed checkpoint. An "
            "access the police sealed shows only its camera, time, `disclose_by`, leaf hash "
            "and proof until then. See docs/access-report.md."
        ),
        responses=problem_responses(401, 403, 404, 422),
    )
    async def access_report(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        settings: SettingsDep,
        clock: ClockDep,
        camera_id: uuid.UUID | None = Parameter(default=None, description="One camera only."),
        since: datetime | None = Parameter(default=None, description="Events at or after."),
        until: datetime | None = Parameter(default=None, description="Events before."),
        after: int = Parameter(default=-1, ge=-1, description="Events after this id."),
        limit: int = Parameter(default=100, ge=1, le=500, description="Events per page."),
        party_id: uuid.UUID | None = Parameter(
            default=None, description="Registry admins: the owner party to report on."
        ),
    ) -> AccessReport:
        """A page of the report."""
        page = await report.access_report(
            session,
            principal,
            settings=settings,
            clock=clock,
            party_id=party_id,
            camera_id=camera_id,
            since=since,
            until=until,
            after=after,
            limit=limit,
        )
        return AccessReport(
            party_id=page.party_id,
            items=[_entry(item) for item in page.items],
            next_after=page.next_after,
        )

    @post(
        _OPENINGS,
        summary="Disclose a commitment's opening to an auditor",
        description="The party holding an opening (the police that made the request) lets a "
        "named auditor party (an inspectorate, a court) read the salt and value behind the "
        "event's `case_reference` or `officer` commitment. Never to an owner of the access's "
        "cameras (422). Needs `access:request`; others get 404. Audited as "
        "`audit_opening.disclosed`.",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(401, 403, 404, 422),
    )
    async def disclose(
        self,
        event_id: FromPath[int],
        data: JSONBody[OpeningDisclose],
        session: SessionDep,
        principal: PrincipalDep,
        clock: ClockDep,
        settings: SettingsDep,
    ) -> OpeningDisclosed:
        """Disclose an opening."""
        disclosure, commitment = await report.disclose_opening(
            session,
            principal,
            event_id,
            data.field,
            data.auditor_party_id,
            clock=clock,
            settings=settings,
        )
        return OpeningDisclosed(
            event_id=disclosure.event_id,
            field=data.field,
            auditor_party_id=disclosure.auditor_party_id,
            commitment=commitment,
            disclosed_by=disclosure.disclosed_by,
            disclosed_at=as_utc(disclosure.disclosed_at),
        )

    @get(
        _OPENINGS,
        summary="Read the openings disclosed to my party",
        description="Needs `audit:read`. The value and salt behind each commitment of the "
        "event that its holder disclosed to the caller's party; check that "
        'base64(SHA-256("sharing-commitment-v1\\0" || salt || value)) equals the '
        "commitment in the event's leaf. 404 when nothing was disclosed to the caller.",
        responses=problem_responses(401, 403, 404),
    )
    async def openings(
        self,
        event_id: FromPath[int],
        session: SessionDep,
        principal: PrincipalDep,
        settings: SettingsDep,
    ) -> OpeningList:
        """Read disclosed openings."""
        opened = await report.disclosed_openings(session, principal, event_id, settings=settings)
        return OpeningList(
            items=[
                OpeningRead(
                    event_id=event_id,
                    field=disclosure.field,
                    commitment=commitment,
                    value=opening.value,
                    salt=opening.salt_b64,
                    disclosed_by=disclosure.disclosed_by,
                    disclosed_at=as_utc(disclosure.disclosed_at),
                )
                for disclosure, commitment, opening in opened
            ]
        )


def _entry(item: report.ReportItem) -> AccessReportEntry:
    proof = ReportProof(
        leaf_index=item.proof.leaf_index,
        leaf_hash=b64(item.proof.leaf_hash),
        tree_size=item.proof.tree_size,
        inclusion_path=[b64(node) for node in item.proof.path],
        checkpoint=item.proof.checkpoint,
    )
    common = {
        "event_id": item.proof.leaf_index,
        "occurred_at": as_utc(item.event.occurred_at),
        "camera_id": uuid.UUID(item.camera_id),
        "leaf_hash": proof.leaf_hash,
        "proof": proof,
    }
    if item.sealed:
        return AccessReportEntry.model_validate(
            common | {"sealed": True, "disclose_by": report.seal_date(item)} | _HIDDEN
        )
    details = item.event.details
    return AccessReportEntry.model_validate(
        common
        | {
            "sealed": False,
            "disclose_by": None,
            "action": item.event.action,
            "request_id": details.get("request_id"),
            "requester_party_id": details.get("requester_party_id"),
            "requester_unit": details.get("requester_unit"),
            "requester_parent_party_id": details.get("requester_parent_party_id"),
            "mode": details.get("mode"),
            "footage_start": details.get("footage_start"),
            "footage_end": details.get("footage_end"),
            "purpose": details.get("purpose", item.event.purpose),
            "outcome": item.outcome,
            "emergency": details.get("emergency"),
            "case_reference_commitment": details.get("case_reference_commitment"),
            "officer_member_id": details.get("officer_member_id"),
            "officer_commitment": details.get("officer_commitment"),
            "leaf": b64(item.leaf),
        }
    )


_HIDDEN: dict[str, object] = dict.fromkeys(
    (
        "action",
        "request_id",
        "requester_party_id",
        "requester_unit",
        "requester_parent_party_id",
        "mode",
        "footage_start",
        "footage_end",
        "purpose",
        "outcome",
        "emergency",
        "case_reference_commitment",
        "officer_member_id",
        "officer_commitment",
        "leaf",
    )
)
