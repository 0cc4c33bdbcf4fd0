"""The access decision: who may see which camera, how, and why not.

``decide`` is a pure function of the request, the cameras, the consents, the agreements, the
templates and the time: it does no I/O, so it can be tested exhaustively and called on the
hot path (a camera costs tens of microseconds). The conditions of one consent are checked in
``sharing.consent.conditions``; this module picks, for each camera, the consent that allows
it, the approvals it waits for and what the explanation says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sharing.consent.conditions import CLOCK_SKEW_TOLERANCE, consent_failures, is_public
from sharing.consent.facts import (
    AgreementFacts,
    ApprovalKind,
    ApprovalNeed,
    CameraFacts,
    CameraSelector,
    ConsentFacts,
    Decision,
    Grant,
    GranteeScope,
    LegalBasis,
    Reason,
    RequestFacts,
)
from sharing.consent.templates import EmergencyClause, PolicyLibrary, PolicyTemplate

__all__ = ["CLOCK_SKEW_TOLERANCE", "OWNER_ACCESS_RULE", "decide"]

OWNER_ACCESS_RULE = "owner_access"


def decide(
    request: RequestFacts,
    cameras: Mapping[UUID, CameraFacts],
    consents: Sequence[ConsentFacts],
    agreements: Mapping[UUID, AgreementFacts],
    policies: PolicyLibrary,
    now: datetime,
    max_token_lifetime_seconds: int,
) -> Decision:
    """Decide a request, all or nothing over its cameras.

    Each camera is allowed for its owner, or by a consent of its owner that reaches the
    requester (by grantee scope) and whose own conditions, agreement and template all accept
    the request; a consent that allows without waiting for an approval is preferred. A
    request with any refused camera is denied and lists every reason for every refused
    camera, so the requester learns everything at once. Otherwise, if some camera waits for
    an owner's or a supervisor's approval not yet in ``request.granted_approvals``, the
    outcome is ``needs_approval`` with the approvals to ask for; else ``allow``.
    """
    by_grantor: dict[UUID, list[ConsentFacts]] = {}
    for consent in consents:
        by_grantor.setdefault(consent.grantor_party_id, []).append(consent)

    grants: list[Grant] = []
    reasons: list[Reason] = []
    needs: list[_Need] = []
    requested = request.requested_lifetime_seconds
    lifetime = (
        max_token_lifetime_seconds
        if requested is None
        else min(requested, max_token_lifetime_seconds)
    )
    if not request.camera_ids:
        reasons.append(Reason("no_cameras_requested", "The request names no camera."))
    for camera_id in dict.fromkeys(request.camera_ids):  # each camera once, in request order
        outcome = _decide_camera(
            request, camera_id, cameras.get(camera_id), by_grantor, agreements, policies, now
        )
        if isinstance(outcome, _Allowed):
            grants.append(outcome.grant)
            lifetime = min((lifetime, *outcome.lifetime_limits))
            needs.extend(outcome.needs)
        else:
            reasons.extend(outcome)

    if reasons:
        return Decision("deny", (), tuple(reasons), 0, now)
    lifetime = max(lifetime, 0)
    if needs:
        return Decision("needs_approval", tuple(grants), (), lifetime, now, _approvals(needs))
    return Decision("allow", tuple(grants), (), lifetime, now)


@dataclass(frozen=True, slots=True)
class _Need:
    """One camera waiting for one approval, before needs are grouped by approver."""

    kind: ApprovalKind
    party_id: UUID
    camera_id: UUID
    consent: ConsentFacts


@dataclass(frozen=True, slots=True)
class _Allowed:
    grant: Grant
    lifetime_limits: tuple[int, ...]
    needs: tuple[_Need, ...] = ()


def _decide_camera(
    request: RequestFacts,
    camera_id: UUID,
    camera: CameraFacts | None,
    by_grantor: Mapping[UUID, Sequence[ConsentFacts]],
    agreements: Mapping[UUID, AgreementFacts],
    policies: PolicyLibrary,
    now: datetime,
) -> _Allowed | list[Reason]:
    if camera is None:
        return [
            Reason(
                "camera_not_found",
                "This camera is not registered on this hub.",
                camera_id,
                rule="camera.registered",
            )
        ]
    if camera.status != "active":
        return [
            Reason(
                "camera_inactive",
                f"This camera is {camera.status}, not active; it cannot be accessed.",
                camera_id,
                rule="camera.status",
            )
        ]
    if camera.owner_party_id == request.requester_party_id:
        grant = Grant(camera_id, None, None, None, OWNER_ACCESS_RULE, message="You own it.")
        return _Allowed(grant, ())

    candidates = [
        consent
        for consent in by_grantor.get(camera.owner_party_id, ())
        if consent_reaches(consent, request, agreements) and consent_covers(consent, camera)
    ]
    if not candidates:
        return [
            Reason(
                "no_consent",
                "The owner of this camera has not granted your party access.",
                camera_id,
                rule="consent",
            )
        ]

    failures: list[Reason] = []
    waiting: _Allowed | None = None
    for consent in candidates:
        agreement = agreements.get(consent.agreement_id)
        template = policies.get(agreement.policy_template) if agreement else None
        problems = consent_failures(request, camera_id, consent, agreement, template, now)
        if problems:
            failures.extend(problems)
            continue
        # No problems means the agreement and its template were found.
        assert agreement is not None
        assert template is not None
        allowed = _allowed(request, camera_id, consent, agreement, template)
        if not allowed.needs:
            return allowed
        if waiting is None:  # the first consent that allows once approved
            waiting = allowed
    return waiting if waiting is not None else failures


def consent_reaches(
    consent: ConsentFacts, request: RequestFacts, agreements: Mapping[UUID, AgreementFacts]
) -> bool:
    """Whether the consent's grantee scope includes the requester."""
    if is_public(consent):
        return True
    if consent.grantee_scope == GranteeScope.AGREEMENT_PARTIES:
        agreement = agreements.get(consent.agreement_id)
        return agreement is not None and request.requester_party_id in agreement.party_ids
    grantee = consent.grantee_party_id
    if grantee == request.requester_party_id:
        return True
    return (
        consent.grantee_scope == GranteeScope.PARTY_AND_SUBUNITS
        and grantee in request.requester_ancestor_ids
    )


def consent_covers(consent: ConsentFacts, camera: CameraFacts) -> bool:
    """Whether the consent's camera selector takes in ``camera``."""
    if consent.camera_selector == CameraSelector.ALL:
        return True
    if consent.camera_selector == CameraSelector.TAG:
        return consent.selector_tag is not None and consent.selector_tag in camera.tags
    return camera.id in consent.camera_ids


def _allowed(
    request: RequestFacts,
    camera_id: UUID,
    consent: ConsentFacts,
    agreement: AgreementFacts,
    template: PolicyTemplate,
) -> _Allowed:
    """The grant a consent that passed every condition gives, and what it waits for."""
    clause = _emergency_clause(request, template)
    limits = [template.max_token_lifetime_seconds]
    if consent.max_token_lifetime_seconds is not None:
        limits.append(consent.max_token_lifetime_seconds)
    if clause is not None:
        limits.append(clause.max_token_lifetime_seconds)

    needs: list[_Need] = []
    granted = request.granted_approvals
    owner = consent.grantor_party_id
    if (
        consent.requires_owner_approval
        and not (clause is not None and clause.skips_owner_approval)
        and ("owner", owner) not in granted
    ):
        needs.append(_Need("owner", owner, camera_id, consent))
    # In an emergency the supervisor ratifies afterwards (the emergency review) instead of
    # approving beforehand: waiting would defeat the emergency.
    requester = request.requester_party_id
    if (
        consent.requires_supervisor_approval
        and clause is None
        and ("supervisor", requester) not in granted
    ):
        needs.append(_Need("supervisor", requester, camera_id, consent))

    grant = Grant(
        camera_id,
        consent.id,
        consent.version,
        consent.agreement_id,
        template.name,
        emergency=clause is not None,
        lineage_id=consent.lineage_id,
        legal_basis=consent.legal_basis,
        message=_grant_message(consent, agreement, template, clause),
    )
    return _Allowed(grant, tuple(limits), tuple(needs))


def _emergency_clause(request: RequestFacts, template: PolicyTemplate) -> EmergencyClause | None:
    """The template's emergency clause, if this is an emergency request it covers."""
    clause = template.emergency
    if (
        request.emergency
        and clause is not None
        and clause.fits(request.mode, request.purpose, request.requester_party_kind)
    ):
        return clause
    return None


def _grant_message(
    consent: ConsentFacts,
    agreement: AgreementFacts,
    template: PolicyTemplate,
    clause: EmergencyClause | None,
) -> str:
    message = (
        f"Allowed by consent {consent.id} (version {consent.version}, lineage "
        f"{consent.lineage_id}) under agreement {agreement.number} ({template.name}), on "
        f"the basis of {_basis_phrase(consent, agreement)}."
    )
    if clause is not None:
        message += (
            f" Emergency access under the emergency clause of {template.name}: the token "
            f"lives at most {clause.max_token_lifetime_seconds} seconds and the access is "
            "reviewed afterwards by the owner and the requesting party's supervisor."
        )
    return message


def _basis_phrase(consent: ConsentFacts, agreement: AgreementFacts) -> str:
    if consent.legal_basis == LegalBasis.LEGAL_OBLIGATION:
        return f"a legal obligation under {consent.regulation_ref or agreement.number}"
    if consent.legal_basis == LegalBasis.PUBLIC_TASK:
        return "the government's public task"
    return "the owner's consent"


def _approvals(needs: Sequence[_Need]) -> tuple[ApprovalNeed, ...]:
    """One approval need per approver, over all the cameras waiting for it."""
    groups: dict[tuple[ApprovalKind, UUID], list[_Need]] = {}
    for need in needs:
        groups.setdefault((need.kind, need.party_id), []).append(need)
    approvals: list[ApprovalNeed] = []
    for (kind, party_id), waiting in groups.items():
        consents = {need.consent.id: need.consent for need in waiting}
        cameras = tuple(dict.fromkeys(need.camera_id for need in waiting))
        only = next(iter(consents)) if len(consents) == 1 else None
        approvals.append(
            ApprovalNeed(kind, party_id, cameras, only, _need_message(kind, [*consents.values()]))
        )
    return tuple(approvals)


def _need_message(kind: ApprovalKind, consents: Sequence[ConsentFacts]) -> str:
    named = ", ".join(f"{c.id} (version {c.version})" for c in consents)
    subject = f"consent {named} asks" if len(consents) == 1 else f"consents {named} ask"
    if kind == "owner":
        return (
            f"The camera's owner must approve this request: {subject} the owner to approve "
            "every request before access is given."
        )
    return (
        f"A supervisor of your party must approve this request: {subject} a second person "
        "in the requesting party to approve every request before access is given."
    )
