"""The conditions of one consent, checked against one request: every reason it does not allow.

Part of the pure decision (``sharing.consent.policy.decide``): no I/O, and every failure is a
``Reason`` with a code for programs, a sentence for people and the rule that failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sharing.consent.facts import (
    AgreementFacts,
    ConsentFacts,
    ConsentStatus,
    GranteeScope,
    Reason,
    RequestFacts,
)
from sharing.consent.templates import PUBLIC_GRANTEE, PolicyTemplate
from sharing.vocabulary import AgreementStatus, Mode

# Gateways and clients run on their own clocks; a footage window that ends this little after
# the hub's "now" is treated as ending now rather than refused as being in the future.
CLOCK_SKEW_TOLERANCE = timedelta(seconds=60)

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

_Fail = Callable[[str, str, str], None]
"""Records one failure of a consent: ``fail(code, message, rule)``."""


def is_public(consent: ConsentFacts) -> bool:
    """Whether the consent is granted to anyone (a null grantee outside ``agreement_parties``
    is public too: consents made before grantee scopes existed)."""
    scope = consent.grantee_scope
    return scope == GranteeScope.PUBLIC or (
        consent.grantee_party_id is None and scope != GranteeScope.AGREEMENT_PARTIES
    )


def consent_failures(
    request: RequestFacts,
    camera_id: UUID,
    consent: ConsentFacts,
    agreement: AgreementFacts | None,
    template: PolicyTemplate | None,
    now: datetime,
) -> list[Reason]:
    """Every reason ``consent`` does not allow ``request`` for ``camera_id`` at ``now``.

    Approvals are not conditions: a consent asking for them passes here and the decision
    waits for them (``sharing.consent.policy``).
    """
    failures: list[Reason] = []

    def fail(code: str, message: str, rule: str) -> None:
        failures.append(Reason(code, message, camera_id, consent.id, rule))

    check_consent_state(consent, now, fail)
    check_agreement(request, consent, agreement, template, now, fail)
    _check_mode_and_purpose(request, consent, template, fail)
    _check_hours_and_days(consent, now, fail)
    if template is not None:
        _check_legal_basis(request, template, fail)
    if request.mode == Mode.FOOTAGE:
        _check_footage_window(request, consent, template, now, fail)
    return failures


def check_consent_state(consent: ConsentFacts, now: datetime, fail: _Fail) -> None:
    """Report through ``fail`` if the consent is revoked, superseded or outside its validity."""
    name = f"Consent {consent.id} (version {consent.version})"
    if consent.status == ConsentStatus.REVOKED:
        fail("consent_revoked", f"{name} was revoked by the camera's owner.", "consent.status")
    elif consent.status == ConsentStatus.SUPERSEDED:
        fail(
            "consent_superseded",
            f"{name} was replaced by a newer version of the same grant; only the newest "
            "version can allow access.",
            "consent.status",
        )
    elif consent.status != ConsentStatus.ACTIVE:
        fail("consent_not_in_force", f"{name} is {consent.status}, not active.", "consent.status")
    if consent.valid_from > now:
        fail(
            "consent_not_in_force",
            f"{name} takes effect only at {consent.valid_from.isoformat()}.",
            "consent.valid_from",
        )
    if consent.valid_until is not None and consent.valid_until <= now:
        fail(
            "consent_not_in_force",
            f"{name} ended at {consent.valid_until.isoformat()}.",
            "consent.valid_until",
        )


def check_agreement(
    request: RequestFacts,
    consent: ConsentFacts,
    agreement: AgreementFacts | None,
    template: PolicyTemplate | None,
    now: datetime,
    fail: _Fail,
) -> None:
    """Report through ``fail`` if the consent's agreement or template does not stand."""
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
    public = is_public(consent)
    if not public and not _bound(request, consent, agreement):
        fail(
            "not_party_to_agreement", f"Your party is not a party to {label}.", "agreement.parties"
        )
    if request.emergency and agreement.emergency_suspended:
        fail(
            "emergency_right_suspended",
            f"Your party's emergency right under {label} is suspended after repeated "
            "unratified emergency access, until an operator restores it. Ask without the "
            "emergency flag; the owner's approval may then be needed.",
            "agreement.emergency_right",
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


def _bound(request: RequestFacts, consent: ConsentFacts, agreement: AgreementFacts) -> bool:
    """Whether the requester is bound by the agreement, itself or (for a grant to a party and
    its sub-units) through the grantee above it."""
    if request.requester_party_id in agreement.party_ids:
        return True
    return (
        consent.grantee_scope == GranteeScope.PARTY_AND_SUBUNITS
        and consent.grantee_party_id in agreement.party_ids
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


def _check_hours_and_days(consent: ConsentFacts, now: datetime, fail: _Fail) -> None:
    """The request time, in the consent's timezone, must fall on an allowed day and hour.

    For footage too it is the time of asking that counts, not the footage's own time
    (docs/decisions/0007-consent-hours-apply-to-the-time-of-asking.md).
    """
    start, end, days = consent.hours_start, consent.hours_end, consent.days_of_week
    if start is None and end is None and days is None:
        return
    zone = _zone(consent.timezone)
    if zone is None:
        fail(
            "consent_timezone_unknown",
            f"Consent {consent.id} limits access to some hours in the timezone "
            f"'{consent.timezone}', which this hub does not know; nothing can be allowed.",
            "consent.timezone",
        )
        return
    local = now.astimezone(zone)
    if days is not None and local.isoweekday() not in days:
        allowed = ", ".join(DAY_NAMES[day - 1] for day in sorted(days) if 1 <= day <= 7)
        fail(
            "outside_allowed_days",
            f"Consent {consent.id} allows access only on {allowed or 'no day'} "
            f"({consent.timezone}); it is {DAY_NAMES[local.isoweekday() - 1]} there now.",
            "consent.days_of_week",
        )
    if start is None and end is None:
        return
    first, last = start or 0, 24 if end is None else end
    if not hour_within(local.hour, first, last):
        fail(
            "outside_allowed_hours",
            f"Consent {consent.id} allows access only from {first:02d}:00 to {last:02d}:00 "
            f"({consent.timezone}); it is {local:%H:%M} there now.",
            "consent.hours",
        )


def hour_within(hour: int, start: int, end: int) -> bool:
    """Whether ``hour`` lies in [``start``, ``end``), wrapping past midnight when ``end`` is
    not after ``start`` (22 to 6 is the night)."""
    if start < end:
        return start <= hour < end
    return hour >= start or hour < end


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo | None:
    # Cached: decisions run on the hot path and a timezone is read from disk once.
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


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
