"""The access decision: who may see which camera, how, and why not.

``decide`` is a pure function of the request, the cameras, the consents, the agreements, the
templates and the time: it does no I/O, so it can be tested exhaustively and called on the
hot path (a camera costs tens of microseconds).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sharing.consent.facts import (
    AgreementFacts,
    CameraFacts,
    CameraSelector,
    ConsentFacts,
    ConsentStatus,
    Decision,
    Grant,
    Reason,
    RequestFacts,
)
from sharing.consent.templates import PUBLIC_GRANTEE, PolicyLibrary, PolicyTemplate
from sharing.vocabulary import AgreementStatus, Mode

OWNER_ACCESS_RULE = "owner_access"

_Fail = Callable[[str, str, str], None]
"""Records one failure of a consent: ``fail(code, message, rule)``."""

# Gateways and clients run on their own clocks; a footage window that ends this little after
# the hub's "now" is treated as ending now rather than refused as being in the future.
CLOCK_SKEW_TOLERANCE = timedelta(seconds=60)


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

    Each camera is allowed for its owner, or by the first consent (granted by the owner to
    the requester's party or to the public) whose own conditions, agreement and template
    all accept the request. A request with any refused camera is denied and lists every
    reason for every refused camera, so the requester learns everything at once.
    """
    by_grantor: dict[UUID, list[ConsentFacts]] = {}
    for consent in consents:
        by_grantor.setdefault(consent.grantor_party_id, []).append(consent)

    grants: list[Grant] = []
    reasons: list[Reason] = []
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
        else:
            reasons.extend(outcome)

    if reasons:
        return Decision("deny", (), tuple(reasons), 0, now)
    return Decision("allow", tuple(grants), (), max(lifetime, 0), now)


@dataclass(frozen=True, slots=True)
class _Allowed:
    grant: Grant
    lifetime_limits: tuple[int, ...]


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
        return _Allowed(Grant(camera_id, None, None, None, OWNER_ACCESS_RULE), ())

    candidates = [
        consent
        for consent in by_grantor.get(camera.owner_party_id, ())
        if (
            consent.grantee_party_id is None
            or consent.grantee_party_id == request.requester_party_id
        )
        and _covers(consent, camera)
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
    for consent in candidates:
        agreement = agreements.get(consent.agreement_id)
        template = policies.get(agreement.policy_template) if agreement else None
        problems = _consent_failures(request, camera_id, consent, agreement, template, now)
        if not problems:
            limits = [consent.max_token_lifetime_seconds]
            if template is not None:
                limits.append(template.max_token_lifetime_seconds)
            grant = Grant(
                camera_id,
                consent.id,
                consent.version,
                consent.agreement_id,
                template.name if template else "consent",
            )
            return _Allowed(grant, tuple(limit for limit in limits if limit is not None))
        failures.extend(problems)
    return failures


def _covers(consent: ConsentFacts, camera: CameraFacts) -> bool:
    if consent.camera_selector == CameraSelector.ALL:
        return True
    if consent.camera_selector == CameraSelector.TAG:
        return consent.selector_tag is not None and consent.selector_tag in camera.tags
    return camera.id in consent.camera_ids


def _consent_failures(
    request: RequestFacts,
    camera_id: UUID,
    consent: ConsentFacts,
    agreement: AgreementFacts | None,
    template: PolicyTemplate | None,
    now: datetime,
) -> list[Reason]:
    """Every reason this consent does not allow the request for this camera."""
    failures: list[Reason] = []

    def fail(code: str, message: str, rule: str) -> None:
        failures.append(Reason(code, message, camera_id, consent.id, rule))

    _check_consent_state(consent, now, fail)
    _check_agreement(request, consent, agreement, template, now, fail)
    _check_mode_and_purpose(request, consent, template, fail)
    if template is not None:
        _check_legal_basis(request, template, fail)
    if request.mode == Mode.FOOTAGE:
        _check_footage_window(request, consent, template, now, fail)
    return failures


def _check_consent_state(consent: ConsentFacts, now: datetime, fail: _Fail) -> None:
    if consent.status == ConsentStatus.REVOKED:
        fail(
            "consent_revoked",
            f"Consent {consent.id} was revoked by the camera's owner.",
            "consent.status",
        )
    elif consent.status != ConsentStatus.ACTIVE:
        fail(
            "consent_not_in_force",
            f"Consent {consent.id} is {consent.status}, not active.",
            "consent.status",
        )
    if consent.valid_from > now:
        fail(
            "consent_not_in_force",
            f"Consent {consent.id} takes effect only at {consent.valid_from.isoformat()}.",
            "consent.valid_from",
        )
    if consent.valid_until is not None and consent.valid_until <= now:
        fail(
            "consent_not_in_force",
            f"Consent {consent.id} ended at {consent.valid_until.isoformat()}.",
            "consent.valid_until",
        )


def _check_agreement(
    request: RequestFacts,
    consent: ConsentFacts,
    agreement: AgreementFacts | None,
    template: PolicyTemplate | None,
    now: datetime,
    fail: _Fail,
) -> None:
    if agreement is None:
        fail(
            "agreement_not_active",
            f"The agreement consent {consent.id} rests on is not known to this hub.",
            "agreement",
        )
        return
    label = f"Agreement {agreement.number}"
    if agreement.status != AgreementStatus.ACTIVE:
        fail(
            "agreement_not_active",
            f"{label} is {agreement.status}, not active.",
            "agreement.status",
        )
    elif agreement.valid_from > now:
        fail(
            "agreement_not_active",
            f"{label} takes effect only at {agreement.valid_from.isoformat()}.",
            "agreement.valid_from",
        )
    elif agreement.valid_until is not None and agreement.valid_until <= now:
        fail(
            "agreement_not_active",
            f"{label} ended at {agreement.valid_until.isoformat()}.",
            "agreement.valid_until",
        )
    public = consent.grantee_party_id is None
    if not public and request.requester_party_id not in agreement.party_ids:
        fail(
            "not_party_to_agreement", f"Your party is not a party to {label}.", "agreement.parties"
        )
    if template is None:
        fail(
            "template_missing",
            f"{label} names the policy template '{agreement.policy_template}', which this "
            "hub does not have; nothing can be allowed under it.",
            "agreement.policy_template",
        )
        return
    kind = PUBLIC_GRANTEE if public else request.requester_party_kind
    if kind not in template.grantee_kinds:
        allowed = ", ".join(sorted(template.grantee_kinds))
        fail(
            "grantee_kind_not_allowed",
            f"The terms of {label} ({template.name}) allow grants to {allowed}; "
            f"not to {'the public' if public else 'a party of kind ' + kind}.",
            f"{template.name}.grantee_kinds",
        )


def _check_mode_and_purpose(
    request: RequestFacts, consent: ConsentFacts, template: PolicyTemplate | None, fail: _Fail
) -> None:
    # The same two questions of the mode and of the purpose: does the consent allow it, and
    # do the template's terms? Codes: mode_not_consented, mode_outside_terms,
    # purpose_not_consented, purpose_outside_terms.
    unbound: frozenset[str] = frozenset()
    for term, asked, consented, allowed, phrase in (
        ("mode", request.mode, consent.modes, template.modes if template else unbound, "{} access"),
        (
            "purpose",
            request.purpose,
            consent.purposes,
            template.purposes if template else unbound,
            "the purposes {}",
        ),
    ):
        if asked not in consented:
            fail(
                f"{term}_not_consented",
                f"Consent {consent.id} allows {phrase.format(_listed(consented))}; "
                f"you asked for {asked}.",
                f"consent.{term}s",
            )
        if template is not None and asked not in allowed:
            fail(
                f"{term}_outside_terms",
                f"The terms of {template.name} allow {phrase.format(_listed(allowed))}; "
                f"you asked for {asked}.",
                f"{template.name}.{term}s",
            )


def _check_legal_basis(request: RequestFacts, template: PolicyTemplate, fail: _Fail) -> None:
    rule = template.legal_basis_rule(request.purpose)
    if rule is None:
        return
    legal_basis = request.legal_basis.strip()
    rule_name = f"{template.name}.legal_basis.{request.purpose}"
    if not legal_basis:
        if rule.required:
            fail(
                "legal_basis_required",
                f"The terms of {template.name} require a legal basis for "
                f"{request.purpose}: {rule.description}",
                rule_name,
            )
    elif not rule.accepts(legal_basis):
        fail(
            "legal_basis_invalid",
            f"'{legal_basis}' is not a valid legal basis for {request.purpose} under "
            f"{template.name}: {rule.description}",
            rule_name,
        )


def _check_footage_window(
    request: RequestFacts,
    consent: ConsentFacts,
    template: PolicyTemplate | None,
    now: datetime,
    fail: _Fail,
) -> None:
    start, end = request.footage_start, request.footage_end
    if start is None or end is None:
        fail(
            "footage_window_missing",
            "Footage requests must give the start and end of the footage wanted.",
            "request.footage_window",
        )
        return
    if end <= start:
        fail(
            "footage_window_invalid",
            "The footage window must end after it starts.",
            "request.footage_window",
        )
        return
    if end > now + CLOCK_SKEW_TOLERANCE:
        fail(
            "footage_window_in_future",
            f"The footage window ends at {end.isoformat()}, which is in the future; "
            "only recorded footage can be requested.",
            "request.footage_window",
        )

    # A live-only template's zero limits only repeat "no footage", which mode_outside_terms
    # already says; its limits count only where it allows footage.
    terms = template if template is not None and Mode.FOOTAGE in template.modes else None
    lookback_hours = (now - start) / timedelta(hours=1)
    limit = _tightest(
        consent, consent.max_lookback_hours, terms, terms.max_lookback_hours if terms else None
    )
    if limit is not None and lookback_hours > limit.value:
        fail(
            "lookback_exceeded",
            f"Footage look-back is limited to {limit.value} hours by {limit.set_by}; "
            f"you asked for {_number(lookback_hours)} hours.",
            f"{limit.rule}.max_lookback_hours",
        )

    window_minutes = (end - start) / timedelta(minutes=1)
    limit = _tightest(
        consent, consent.max_window_minutes, terms, terms.max_window_minutes if terms else None
    )
    if limit is not None and window_minutes > limit.value:
        fail(
            "window_too_long",
            f"A footage window may be at most {limit.value} minutes long under "
            f"{limit.set_by}; you asked for {_number(window_minutes)} minutes.",
            f"{limit.rule}.max_window_minutes",
        )


@dataclass(frozen=True, slots=True)
class _Limit:
    value: int
    set_by: str  # in words: "consent <id>" or "the terms of <template>"
    rule: str  # the rule name's head: "consent" or the template's name


def _tightest(
    consent: ConsentFacts,
    consent_limit: int | None,
    terms: PolicyTemplate | None,
    template_limit: int | None,
) -> _Limit | None:
    """The smaller of the consent's and the template's limit, and who set it (on a tie, the
    consent)."""
    if (
        terms is not None
        and template_limit is not None
        and (consent_limit is None or template_limit < consent_limit)
    ):
        return _Limit(template_limit, f"the terms of {terms.name}", terms.name)
    if consent_limit is None:
        return None
    return _Limit(consent_limit, f"consent {consent.id}", "consent")


def _listed(values: Iterable[str]) -> str:
    return ", ".join(sorted(str(value) for value in values)) or "no"


def _number(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"
