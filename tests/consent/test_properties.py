"""Properties of the decision, over generated consents, agreements and requests.

No decision allows what the only applicable consent, its agreement or its terms forbid;
revocation always wins; a request that needs approval is never allowed until the approvals
are given, and giving exactly the approvals asked for is enough.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from sharing.consent.facts import (
    AgreementFacts,
    CameraFacts,
    ConsentFacts,
    Decision,
    RequestFacts,
)
from sharing.consent.policy import decide
from sharing.consent.templates import load_policy_library
from sharing.settings import DEFAULT_POLICY_DIR
from sharing.vocabulary import Mode, Purpose

POLICIES = load_policy_library(DEFAULT_POLICY_DIR)
HUB_MAX_LIFETIME = 3600
POLICE_REPORT = "LP/B/1234/II/2026/SPKT/POLRESTABES MEDAN"
MODES = [mode.value for mode in Mode]
PURPOSES = [purpose.value for purpose in Purpose]
TIMEZONES = ["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"]

OWNER = UUID("00000000-0000-4000-8000-00000000a001")
REQUESTER = UUID("00000000-0000-4000-8000-00000000b001")
PARENT = UUID("00000000-0000-4000-8000-00000000b000")
CAMERA = CameraFacts(uuid4(), OWNER, "active", "private", frozenset({"storefront"}))
SECOND_CAMERA = CameraFacts(uuid4(), OWNER, "active", "private", frozenset())


@dataclass(frozen=True)
class World:
    """One request, one owner's consents and their agreement, at one moment."""

    request: RequestFacts
    consents: tuple[ConsentFacts, ...]
    agreement: AgreementFacts
    now: datetime

    def decide(self, request: RequestFacts | None = None) -> Decision:
        return decide(
            request or self.request,
            {CAMERA.id: CAMERA, SECOND_CAMERA.id: SECOND_CAMERA},
            self.consents,
            {self.agreement.id: self.agreement},
            POLICIES,
            self.now,
            HUB_MAX_LIFETIME,
        )


moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)
days_ago = st.sampled_from(
    [timedelta(days=365), timedelta(days=30), timedelta(hours=1)] * 3 + [timedelta(hours=-1)]
)
optional_hours = st.one_of(
    st.none(),
    st.none(),
    st.tuples(st.integers(0, 23), st.integers(1, 24)).filter(lambda h: h[0] != h[1]),
)
optional_days = st.one_of(st.none(), st.none(), st.frozensets(st.integers(1, 7), min_size=1))


def mostly(usual: object, *others: object) -> st.SearchStrategy[object]:
    """``usual`` three times in four, else one of ``others``: so that generated worlds are
    allowed often enough for the properties to say something about allowing."""
    return st.sampled_from([usual] * (3 * len(others)) + list(others))


@st.composite
def agreements(draw: st.DrawFn, now: datetime) -> AgreementFacts:
    return AgreementFacts(
        id=uuid4(),
        number="Perwal Medan No. 12 Tahun 2025",
        status=str(draw(mostly("active", "suspended", "terminated"))),
        policy_template=draw(st.sampled_from(POLICIES.names())),
        valid_from=now - draw(days_ago),
        valid_until=draw(mostly(None, now + timedelta(days=1), now)),  # type: ignore[arg-type]
        party_ids=frozenset({OWNER, REQUESTER}),
        emergency_suspended=bool(draw(mostly(False, True))),
    )


def _usually_with(draw: st.DrawFn, asked: str, vocabulary: list[str]) -> frozenset[str]:
    """A random subset of ``vocabulary``, usually with ``asked`` in it."""
    chosen = draw(st.frozensets(st.sampled_from(vocabulary)))
    return chosen | {asked} if draw(st.integers(0, 3)) else chosen


@st.composite
def consents(
    draw: st.DrawFn, agreement: AgreementFacts, request: RequestFacts, now: datetime
) -> ConsentFacts:
    hours = draw(optional_hours)
    scope = draw(st.sampled_from(["party", "party_and_subunits", "public", "agreement_parties"]))
    grantee = {"party": REQUESTER, "party_and_subunits": PARENT}.get(scope)
    selector = draw(st.sampled_from(["cameras", "all", "tag"]))
    return ConsentFacts(
        id=uuid4(),
        version=draw(st.integers(1, 5)),
        grantor_party_id=OWNER,
        grantee_party_id=grantee,
        agreement_id=agreement.id,
        camera_selector=selector,
        selector_tag="storefront" if selector == "tag" else None,
        camera_ids=frozenset({CAMERA.id}) if selector == "cameras" else frozenset(),
        modes=_usually_with(draw, request.mode, MODES),
        purposes=_usually_with(draw, request.purpose, PURPOSES),
        max_lookback_hours=draw(st.one_of(st.none(), st.integers(1, 200))),
        max_window_minutes=draw(st.one_of(st.none(), st.integers(1, 300))),
        max_token_lifetime_seconds=draw(st.one_of(st.none(), st.integers(10, 4000))),
        valid_from=now - draw(days_ago),
        valid_until=draw(mostly(None, now + timedelta(hours=1), now)),  # type: ignore[arg-type]
        status=str(draw(mostly("active", "revoked", "superseded"))),
        grantee_scope=scope,
        legal_basis=draw(st.sampled_from(["consent", "legal_obligation", "public_task"])),
        hours_start=hours[0] if hours else None,
        hours_end=hours[1] if hours else None,
        days_of_week=draw(optional_days),
        timezone=draw(st.sampled_from(TIMEZONES)),
        requires_owner_approval=draw(st.booleans()),
        requires_supervisor_approval=draw(st.booleans()),
    )


@st.composite
def requests(draw: st.DrawFn, now: datetime, template_name: str) -> RequestFacts:
    template = POLICIES.get(template_name)
    assert template is not None
    # Usually what the terms allow, so that the consent's own conditions get tested too.
    mode = draw(st.sampled_from(MODES if draw(st.booleans()) else sorted(template.modes)))
    fitting_purposes = sorted(template.purposes) if draw(st.integers(0, 3)) else PURPOSES
    kinds = sorted(set(template.grantee_kinds) - {"public"})
    fitting_kinds = kinds if draw(st.integers(0, 3)) else ["police", "government", "emergency"]
    start = now - timedelta(minutes=draw(st.integers(1, 200 * 60)))
    end = min(start + timedelta(minutes=draw(st.integers(1, 500))), now)
    return RequestFacts(
        requester_party_id=REQUESTER,
        requester_party_kind=draw(st.sampled_from(fitting_kinds)),
        camera_ids=(CAMERA.id,),
        mode=mode,
        purpose=draw(st.sampled_from(fitting_purposes)),
        legal_basis=str(draw(mostly(POLICE_REPORT, ""))),
        footage_start=start if mode == "footage" else None,
        footage_end=end if mode == "footage" else None,
        requested_lifetime_seconds=draw(st.one_of(st.none(), st.integers(10, 7200))),
        requester_ancestor_ids=frozenset({PARENT}),
        emergency=draw(st.booleans()),
        granted_approvals=draw(
            st.frozensets(st.sampled_from([("owner", OWNER), ("supervisor", REQUESTER)]))
        ),
    )


@st.composite
def worlds(draw: st.DrawFn, max_consents: int = 1) -> World:
    now = draw(moments)
    agreement = draw(agreements(now))
    request = draw(requests(now, agreement.policy_template))
    found = draw(st.lists(consents(agreement, request, now), min_size=1, max_size=max_consents))
    return World(request, tuple(found), agreement, now)


def forbidden(world: World, consent: ConsentFacts) -> list[str]:
    """What in the consent, its agreement or its terms forbids the request, worked out here
    independently of the policy code."""
    request, agreement, now = world.request, world.agreement, world.now
    template = POLICIES.get(agreement.policy_template)
    assert template is not None
    problems = []
    if consent.status != "active":
        problems.append("status")
    if not consent.valid_from <= now or (consent.valid_until and consent.valid_until <= now):
        problems.append("validity")
    if agreement.status != "active" or agreement.valid_from > now:
        problems.append("agreement")
    if agreement.valid_until is not None and agreement.valid_until <= now:
        problems.append("agreement")
    if request.mode not in consent.modes or request.mode not in template.modes:
        problems.append("mode")
    if request.purpose not in consent.purposes or request.purpose not in template.purposes:
        problems.append("purpose")
    local = now.astimezone(ZoneInfo(consent.timezone))
    if consent.days_of_week is not None and local.isoweekday() not in consent.days_of_week:
        problems.append("day")
    if consent.hours_start is not None and consent.hours_end is not None:
        start, end = consent.hours_start, consent.hours_end
        inside = start <= local.hour < end if start < end else not end <= local.hour < start
        if not inside:
            problems.append("hours")
    if request.mode == "footage":
        assert request.footage_start is not None
        assert request.footage_end is not None
        lookback = (now - request.footage_start) / timedelta(hours=1)
        window = (request.footage_end - request.footage_start) / timedelta(minutes=1)
        if consent.max_lookback_hours is not None and lookback > consent.max_lookback_hours:
            problems.append("lookback")
        if consent.max_window_minutes is not None and window > consent.max_window_minutes:
            problems.append("window")
    return problems


@settings(max_examples=300)
@given(world=worlds())
def test_no_decision_allows_what_the_only_applicable_consent_forbids(world: World) -> None:
    (consent,) = world.consents

    decision = world.decide()
    problems = forbidden(world, consent)

    if problems:
        assert decision.outcome == "deny", (problems, decision.explanation())
        assert decision.grants == ()
        assert decision.token_lifetime_seconds == 0
    if decision.outcome != "deny":
        assert decision.grants[0].consent_id == consent.id
        assert 0 < decision.token_lifetime_seconds <= HUB_MAX_LIFETIME
        if consent.max_token_lifetime_seconds is not None:
            assert decision.token_lifetime_seconds <= consent.max_token_lifetime_seconds


@settings(max_examples=120)
@given(world=worlds(max_consents=4))
def test_revocation_always_wins(world: World) -> None:
    revoked = tuple(replace(consent, status="revoked") for consent in world.consents)
    one_revoked = (replace(world.consents[0], status="revoked"), *world.consents[1:])

    all_gone = replace(world, consents=revoked).decide()
    one_gone = replace(world, consents=one_revoked).decide()

    assert all_gone.outcome == "deny"
    assert world.consents[0].id not in one_gone.consent_ids


@settings(max_examples=250)
@given(world=worlds(max_consents=3))
def test_needs_approval_never_allows_without_the_approvals_and_they_suffice(
    world: World,
) -> None:
    request = replace(world.request, granted_approvals=frozenset())

    waiting = world.decide(request)

    if waiting.needs_approval:
        assert waiting.approvals
        assert not waiting.allowed
        assert waiting.reasons == ()
        given_now = frozenset((need.kind, need.party_id) for need in waiting.approvals)
        approved = world.decide(replace(request, granted_approvals=given_now))
        assert approved.allowed, approved.explanation()
        assert approved.token_lifetime_seconds == waiting.token_lifetime_seconds
    else:
        assert waiting.approvals == ()
    if waiting.allowed:
        # Allowed without any approval: each grant's consent needs none, or an emergency
        # clause waived the owner's and deferred the supervisor's.
        for grant in waiting.grants:
            consent = next(c for c in world.consents if c.id == grant.consent_id)
            assert grant.emergency or not (
                consent.requires_owner_approval or consent.requires_supervisor_approval
            )
