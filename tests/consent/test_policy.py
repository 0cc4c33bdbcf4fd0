"""The access decision, as a pure function: who may see which camera, and why not."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sharing.consent.facts import (
    AgreementFacts,
    CameraFacts,
    ConsentFacts,
    Decision,
    RequestFacts,
)
from sharing.consent.policy import decide
from sharing.consent.templates import PolicyLibrary, load_policy_library
from sharing.settings import DEFAULT_POLICY_DIR
from sharing.vocabulary import Mode, Purpose

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HUB_MAX_LIFETIME = 3600
POLICIES = load_policy_library(DEFAULT_POLICY_DIR)
PERWAL_TEMPLATE = "city-regulation-private-cctv"
POLICE_REPORT = "LP/B/1234/II/2026/SPKT/POLRESTABES MEDAN"

SHOP = UUID("00000000-0000-4000-8000-00000000a001")
OTHER_SHOP = UUID("00000000-0000-4000-8000-00000000a002")
POLICE = UUID("00000000-0000-4000-8000-00000000b001")
OTHER_POLICE = UUID("00000000-0000-4000-8000-00000000b002")

FRONT = CameraFacts(uuid4(), SHOP, "active", "partners", frozenset({"storefront"}))
BACK = CameraFacts(uuid4(), SHOP, "active", "private", frozenset({"warehouse"}))
ELSEWHERE = CameraFacts(uuid4(), OTHER_SHOP, "active", "private", frozenset())

PERWAL = AgreementFacts(
    id=uuid4(),
    number="Perwal Medan No. 12 Tahun 2025",
    status="active",
    policy_template=PERWAL_TEMPLATE,
    valid_from=NOW - timedelta(days=365),
    valid_until=None,
    party_ids=frozenset({SHOP, OTHER_SHOP, POLICE, OTHER_POLICE}),
)
PUBLIC_AGREEMENT = replace(
    PERWAL, id=uuid4(), number="Kep. 551/2025", policy_template="public-cameras"
)

SHOP_TO_POLICE = ConsentFacts(
    id=uuid4(),
    version=3,
    grantor_party_id=SHOP,
    grantee_party_id=POLICE,
    agreement_id=PERWAL.id,
    camera_selector="cameras",
    selector_tag=None,
    camera_ids=frozenset({FRONT.id, BACK.id}),
    modes=frozenset({"live", "footage"}),
    purposes=frozenset({"criminal_investigation", "public_order"}),
    max_lookback_hours=72,
    max_window_minutes=None,
    max_token_lifetime_seconds=None,
    valid_from=NOW - timedelta(days=1),
    valid_until=None,
    status="active",
)


def ask(
    *cameras: UUID,
    mode: str = "footage",
    purpose: str = "criminal_investigation",
    legal_basis: str = POLICE_REPORT,
    hours_back: float = 2,
    window_minutes: float = 30,
    requester: UUID = POLICE,
    kind: str = "police",
    lifetime: int | None = None,
) -> RequestFacts:
    """A request like an officer's: footage from ``hours_back`` ago, ``window_minutes`` long."""
    start = NOW - timedelta(hours=hours_back)
    return RequestFacts(
        requester_party_id=requester,
        requester_party_kind=kind,
        camera_ids=cameras or (FRONT.id,),
        mode=mode,
        purpose=purpose,
        legal_basis=legal_basis,
        footage_start=start if mode == "footage" else None,
        footage_end=start + timedelta(minutes=window_minutes) if mode == "footage" else None,
        requested_lifetime_seconds=lifetime,
    )


def run(
    request: RequestFacts,
    *consents: ConsentFacts,
    agreements: tuple[AgreementFacts, ...] = (PERWAL, PUBLIC_AGREEMENT),
    cameras: tuple[CameraFacts, ...] = (FRONT, BACK, ELSEWHERE),
    policies: PolicyLibrary = POLICIES,
) -> Decision:
    """Decide ``request`` in the little world above, with ``consents`` (default: the shop's)."""
    return decide(
        request,
        {camera.id: camera for camera in cameras},
        consents or (SHOP_TO_POLICE,),
        {agreement.id: agreement for agreement in agreements},
        policies,
        NOW,
        HUB_MAX_LIFETIME,
    )


def codes(decision: Decision) -> list[str]:
    return [reason.code for reason in decision.reasons]


# --- allowed ------------------------------------------------------------------------------


def test_police_may_fetch_footage_the_shop_consented_to() -> None:
    decision = run(ask(FRONT.id))

    assert decision.allowed
    assert decision.reasons == ()
    (grant,) = decision.grants
    assert grant.camera_id == FRONT.id
    assert grant.consent_id == SHOP_TO_POLICE.id
    assert grant.consent_version == 3
    assert grant.agreement_id == PERWAL.id
    assert grant.rule == PERWAL_TEMPLATE
    assert decision.consent_ids == {SHOP_TO_POLICE.id}


def test_owner_always_sees_their_own_camera_without_any_consent() -> None:
    decision = run(
        ask(FRONT.id, requester=SHOP, kind="business", purpose="public_order"),
        replace(SHOP_TO_POLICE, grantee_party_id=OTHER_POLICE),
    )

    assert decision.allowed
    assert [(g.camera_id, g.rule, g.consent_id) for g in decision.grants] == [
        (FRONT.id, "owner_access", None)
    ]


def test_public_grant_lets_anyone_watch_without_being_party_to_the_agreement() -> None:
    public = replace(
        SHOP_TO_POLICE,
        grantee_party_id=None,
        agreement_id=PUBLIC_AGREEMENT.id,
        modes=frozenset({"live"}),
        purposes=frozenset({"public_information"}),
        camera_selector="tag",
        selector_tag="storefront",
        camera_ids=frozenset(),
    )
    stranger = uuid4()

    decision = run(
        ask(
            FRONT.id,
            mode="live",
            purpose="public_information",
            legal_basis="",
            requester=stranger,
            kind="resident",
        ),
        public,
    )

    assert decision.allowed, decision.explanation()
    assert decision.grants[0].rule == "public-cameras"


def test_consent_for_all_of_the_owners_cameras_covers_each_of_them() -> None:
    everything = replace(SHOP_TO_POLICE, camera_selector="all", camera_ids=frozenset())

    assert run(ask(FRONT.id, BACK.id), everything).allowed


def test_a_camera_asked_for_twice_is_granted_once() -> None:
    assert len(run(ask(FRONT.id, FRONT.id)).grants) == 1


def test_token_lives_no_longer_than_the_tightest_limit() -> None:
    short = replace(SHOP_TO_POLICE, max_token_lifetime_seconds=600)

    assert run(ask(FRONT.id)).token_lifetime_seconds == 1800  # the regulation's ceiling
    assert run(ask(FRONT.id), short).token_lifetime_seconds == 600  # the owner's
    assert run(ask(FRONT.id, lifetime=120), short).token_lifetime_seconds == 120  # the asker's
    own = ask(FRONT.id, requester=SHOP, kind="business")
    assert run(own).token_lifetime_seconds == HUB_MAX_LIFETIME  # the hub's


def test_explanation_is_plain_json_naming_the_consent_that_decided() -> None:
    explanation = json.loads(json.dumps(run(ask(FRONT.id)).explanation()))

    assert explanation["outcome"] == "allow"
    assert explanation["decided_at"] == NOW.isoformat()
    assert explanation["grants"][0]["consent_id"] == str(SHOP_TO_POLICE.id)
    assert explanation["reasons"] == []


# --- refused, one reason at a time --------------------------------------------------------


def test_unknown_camera_is_refused() -> None:
    decision = run(ask(uuid4()))

    assert not decision.allowed
    assert codes(decision) == ["camera_not_found"]
    assert decision.token_lifetime_seconds == 0


def test_inactive_camera_is_refused() -> None:
    broken = replace(FRONT, status="maintenance")

    assert codes(run(ask(FRONT.id), cameras=(broken,))) == ["camera_inactive"]


def test_camera_whose_owner_granted_nothing_is_refused_in_plain_words() -> None:
    decision = run(ask(ELSEWHERE.id))

    assert codes(decision) == ["no_consent"]
    assert decision.reasons[0].message == (
        "The owner of this camera has not granted your party access."
    )
    assert decision.reasons[0].camera_id == ELSEWHERE.id


def test_consent_to_another_police_unit_does_not_count() -> None:
    assert codes(run(ask(FRONT.id, requester=OTHER_POLICE))) == ["no_consent"]


def test_consent_on_other_cameras_of_the_same_owner_does_not_count() -> None:
    front_only = replace(SHOP_TO_POLICE, camera_ids=frozenset({FRONT.id}))

    assert codes(run(ask(BACK.id), front_only)) == ["no_consent"]


def test_revoked_consent_allows_nothing_and_says_so() -> None:
    decision = run(ask(FRONT.id), replace(SHOP_TO_POLICE, status="revoked"))

    assert codes(decision) == ["consent_revoked"]
    assert decision.reasons[0].consent_id == SHOP_TO_POLICE.id


@pytest.mark.parametrize(
    "consent",
    [
        replace(SHOP_TO_POLICE, valid_from=NOW + timedelta(hours=1)),
        replace(SHOP_TO_POLICE, valid_until=NOW - timedelta(seconds=1)),
    ],
    ids=["not_yet", "ended"],
)
def test_consent_outside_its_validity_is_refused(consent: ConsentFacts) -> None:
    assert codes(run(ask(FRONT.id), consent)) == ["consent_not_in_force"]


@pytest.mark.parametrize(
    "agreement",
    [
        replace(PERWAL, status="suspended"),
        replace(PERWAL, valid_until=NOW - timedelta(days=1)),
        replace(PERWAL, valid_from=NOW + timedelta(days=1)),
    ],
    ids=["suspended", "ended", "not_yet"],
)
def test_consent_under_an_agreement_not_in_force_is_refused(agreement: AgreementFacts) -> None:
    assert codes(run(ask(FRONT.id), agreements=(agreement,))) == ["agreement_not_active"]


def test_requester_outside_the_agreement_is_refused() -> None:
    outsider = replace(PERWAL, party_ids=frozenset({SHOP}))

    assert codes(run(ask(FRONT.id), agreements=(outsider,))) == ["not_party_to_agreement"]


def test_agreement_naming_a_template_the_hub_lacks_allows_nothing() -> None:
    unknown = replace(PERWAL, policy_template="perwal-2031-draft")

    assert codes(run(ask(FRONT.id), agreements=(unknown,))) == ["template_missing"]


def test_grant_to_a_kind_of_party_the_regulation_excludes_is_refused() -> None:
    to_shop = replace(SHOP_TO_POLICE, grantee_party_id=OTHER_SHOP)

    decision = run(ask(FRONT.id, requester=OTHER_SHOP, kind="business"), to_shop)

    assert codes(decision) == ["grantee_kind_not_allowed"]
    assert "police" in decision.reasons[0].message


def test_public_grant_under_a_regulation_that_forbids_them_is_refused() -> None:
    public = replace(SHOP_TO_POLICE, grantee_party_id=None)

    assert codes(run(ask(FRONT.id), public)) == ["grantee_kind_not_allowed"]


def test_footage_from_a_live_only_consent_is_refused() -> None:
    live_only = replace(SHOP_TO_POLICE, modes=frozenset({"live"}))

    assert codes(run(ask(FRONT.id), live_only)) == ["mode_not_consented"]


def test_footage_under_live_only_terms_is_refused_whatever_the_consent_says() -> None:
    public = replace(
        SHOP_TO_POLICE, agreement_id=PUBLIC_AGREEMENT.id, purposes=frozenset({"public_information"})
    )

    decision = run(ask(FRONT.id, purpose="public_information"), public)

    assert codes(decision) == ["mode_outside_terms"]
    assert decision.reasons[0].rule == "public-cameras.modes"


def test_purpose_the_owner_did_not_consent_to_is_refused() -> None:
    decision = run(ask(FRONT.id, purpose="traffic_management"))

    assert codes(decision) == ["purpose_not_consented"]
    assert "criminal_investigation, public_order" in decision.reasons[0].message


def test_purpose_outside_the_regulation_is_refused_whatever_the_consent_says() -> None:
    generous = replace(SHOP_TO_POLICE, purposes=frozenset({"public_information"}))

    decision = run(ask(FRONT.id, purpose="public_information"), generous)

    assert codes(decision) == ["purpose_outside_terms"]


def test_criminal_investigation_without_a_police_report_is_refused() -> None:
    decision = run(ask(FRONT.id, legal_basis="  "))

    assert codes(decision) == ["legal_basis_required"]
    assert decision.reasons[0].rule == f"{PERWAL_TEMPLATE}.legal_basis.criminal_investigation"


def test_criminal_investigation_citing_something_else_than_a_report_is_refused() -> None:
    decision = run(ask(FRONT.id, legal_basis="my neighbour asked"))

    assert codes(decision) == ["legal_basis_invalid"]
    assert "LP/B/" in decision.reasons[0].message


def test_purpose_without_a_legal_basis_rule_needs_none() -> None:
    assert run(ask(FRONT.id, purpose="public_order", legal_basis="")).allowed


def test_footage_from_the_future_is_refused() -> None:
    decision = run(ask(FRONT.id, hours_back=1, window_minutes=120))

    assert codes(decision) == ["footage_window_in_future"]


def test_footage_request_without_a_window_is_refused() -> None:
    request = replace(ask(FRONT.id), footage_end=None)

    assert codes(run(request)) == ["footage_window_missing"]


def test_footage_window_ending_before_it_starts_is_refused() -> None:
    request = ask(FRONT.id)
    backwards = replace(
        request, footage_start=request.footage_end, footage_end=request.footage_start
    )

    assert codes(run(backwards)) == ["footage_window_invalid"]


def test_footage_older_than_the_owner_allows_is_refused_with_both_numbers() -> None:
    decision = run(ask(FRONT.id, hours_back=100))

    assert codes(decision) == ["lookback_exceeded"]
    message = decision.reasons[0].message
    assert "limited to 72 hours by consent" in message
    assert "you asked for 100 hours" in message
    assert decision.reasons[0].rule == "consent.max_lookback_hours"


def test_footage_older_than_the_regulation_allows_names_the_regulation() -> None:
    generous = replace(SHOP_TO_POLICE, max_lookback_hours=None)

    decision = run(ask(FRONT.id, hours_back=200), generous)

    assert codes(decision) == ["lookback_exceeded"]
    assert f"limited to 168 hours by the terms of {PERWAL_TEMPLATE}" in decision.reasons[0].message


def test_footage_window_longer_than_allowed_is_refused() -> None:
    decision = run(ask(FRONT.id, hours_back=6, window_minutes=300))

    assert codes(decision) == ["window_too_long"]
    assert "at most 240 minutes" in decision.reasons[0].message


def test_request_naming_no_camera_is_refused() -> None:
    request = replace(ask(FRONT.id), camera_ids=())

    assert codes(run(request)) == ["no_cameras_requested"]


# --- several consents, several cameras ----------------------------------------------------


def test_revocation_wins_over_an_otherwise_perfect_consent() -> None:
    revoked = replace(SHOP_TO_POLICE, status="revoked")

    decision = run(ask(FRONT.id, BACK.id), revoked)

    assert not decision.allowed
    assert decision.grants == ()
    assert codes(decision) == ["consent_revoked", "consent_revoked"]


def test_another_valid_consent_still_allows_after_one_is_revoked() -> None:
    revoked = replace(SHOP_TO_POLICE, status="revoked")
    newer = replace(SHOP_TO_POLICE, id=uuid4(), version=1)

    decision = run(ask(FRONT.id), revoked, newer)

    assert decision.allowed
    assert decision.grants[0].consent_id == newer.id


def test_refused_camera_lists_the_failures_of_every_candidate_consent() -> None:
    live_only = replace(SHOP_TO_POLICE, id=uuid4(), modes=frozenset({"live"}))
    revoked = replace(SHOP_TO_POLICE, status="revoked")

    decision = run(ask(FRONT.id), live_only, revoked)

    assert sorted(codes(decision)) == ["consent_revoked", "mode_not_consented"]
    assert {r.consent_id for r in decision.reasons} == {live_only.id, revoked.id}


def test_one_refused_camera_denies_the_whole_request() -> None:
    decision = run(ask(FRONT.id, ELSEWHERE.id))

    assert not decision.allowed
    assert decision.grants == ()
    assert [(r.code, r.camera_id) for r in decision.reasons] == [("no_consent", ELSEWHERE.id)]


def test_refusal_lists_every_reason_for_every_refused_camera() -> None:
    front_only = replace(SHOP_TO_POLICE, camera_ids=frozenset({FRONT.id}))

    decision = run(ask(FRONT.id, BACK.id, ELSEWHERE.id, uuid4(), hours_back=100), front_only)

    assert [(r.code, r.camera_id) for r in decision.reasons][:3] == [
        ("lookback_exceeded", FRONT.id),
        ("no_consent", BACK.id),
        ("no_consent", ELSEWHERE.id),
    ]
    assert decision.reasons[3].code == "camera_not_found"


# --- the property -------------------------------------------------------------------------

MODES = [mode.value for mode in Mode]
PURPOSES = [purpose.value for purpose in Purpose]


@given(
    status=st.sampled_from(["active", "revoked"]),
    consent_modes=st.frozensets(st.sampled_from(MODES)),
    consent_purposes=st.frozensets(st.sampled_from(PURPOSES)),
    selector=st.sampled_from(["cameras", "all", "tag"]),
    public=st.booleans(),
    template=st.sampled_from(POLICIES.names()),
    mode=st.sampled_from(MODES),
    purpose=st.sampled_from(PURPOSES),
    hours_back=st.floats(min_value=0.5, max_value=1000),
    window_minutes=st.floats(min_value=1, max_value=25),
    kind=st.sampled_from(["police", "government", "emergency", "business"]),
)
def test_decide_never_allows_a_revoked_consent_or_beyond_its_modes_and_purposes(
    status: str,
    consent_modes: frozenset[str],
    consent_purposes: frozenset[str],
    selector: str,
    public: bool,
    template: str,
    mode: str,
    purpose: str,
    hours_back: float,
    window_minutes: float,
    kind: str,
) -> None:
    agreement = replace(PERWAL, policy_template=template)
    consent = replace(
        SHOP_TO_POLICE,
        status=status,
        modes=consent_modes,
        purposes=consent_purposes,
        camera_selector=selector,
        selector_tag="storefront" if selector == "tag" else None,
        grantee_party_id=None if public else POLICE,
        max_lookback_hours=None,
    )
    request = ask(
        FRONT.id,
        mode=mode,
        purpose=purpose,
        hours_back=hours_back,
        window_minutes=window_minutes,
        kind=kind,
    )

    decision = run(request, consent, agreements=(agreement,))

    if status == "revoked" or mode not in consent_modes or purpose not in consent_purposes:
        assert not decision.allowed
        assert decision.token_lifetime_seconds == 0
    if decision.allowed:
        assert decision.grants[0].consent_id == consent.id
