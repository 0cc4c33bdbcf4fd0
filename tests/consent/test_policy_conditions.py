"""The conditions of issue 3, each shown allowing and refusing: grantee scopes, hours and
days, versions, approvals, emergencies and the lawful basis an explanation names."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from sharing.consent.facts import AgreementFacts, CameraFacts, ConsentFacts, Decision
from tests.consent.test_policy import (
    BACK,
    FRONT,
    NOW,
    PERWAL,
    POLICE,
    POLICE_REPORT,
    PUBLIC_AGREEMENT,
    SHOP,
    SHOP_TO_POLICE,
    ask,
    codes,
    run,
)

POLDA = UUID("00000000-0000-4000-8000-00000000b100")
POLRES = UUID("00000000-0000-4000-8000-00000000b101")
PSC119 = UUID("00000000-0000-4000-8000-00000000c001")
RESIDENT = UUID("00000000-0000-4000-8000-00000000d001")
DISHUB = UUID("00000000-0000-4000-8000-00000000e001")

GATE = CameraFacts(uuid4(), RESIDENT, "active", "private", frozenset({"gate"}))
JUNCTION = CameraFacts(uuid4(), DISHUB, "active", "public", frozenset({"traffic"}))
CAMERAS = (FRONT, BACK, GATE, JUNCTION)

UNDER_PERWAL = replace(PERWAL, party_ids=PERWAL.party_ids | {POLDA, PSC119, RESIDENT})
EMERGENCY_AGREEMENT = AgreementFacts(
    id=uuid4(),
    number="PKS Pemkot-PSC 119 No. 7/2025",
    status="active",
    policy_template="emergency-services",
    valid_from=NOW - timedelta(days=30),
    valid_until=None,
    party_ids=frozenset({RESIDENT, PSC119}),
)
AGREEMENTS = (UNDER_PERWAL, PUBLIC_AGREEMENT, EMERGENCY_AGREEMENT)

# NOW is Sunday 1 March 2026, 12:00 UTC: 19:00 in Medan (Asia/Jakarta, UTC+7).
GATE_TO_PSC119 = replace(
    SHOP_TO_POLICE,
    id=uuid4(),
    version=1,
    grantor_party_id=RESIDENT,
    grantee_party_id=PSC119,
    agreement_id=EMERGENCY_AGREEMENT.id,
    camera_selector="tag",
    selector_tag="gate",
    camera_ids=frozenset(),
    modes=frozenset({"live"}),
    purposes=frozenset({"emergency_response"}),
    max_lookback_hours=None,
    requires_owner_approval=True,
)


def decide_in_town(request_kwargs: dict[str, Any], *consents: ConsentFacts) -> Decision:
    """Decide in the small town (the shop, the resident's gate, Dishub's junction) a request
    made of ``ask``'s arguments and ``cameras``, ``granted``, ``emergency``, ``ancestors``."""
    given = dict(request_kwargs)
    cameras: tuple[UUID, ...] = given.pop("cameras", (FRONT.id,))
    extras: dict[str, Any] = {
        "granted_approvals": given.pop("granted", frozenset()),
        "emergency": given.pop("emergency", False),
        "requester_ancestor_ids": given.pop("ancestors", frozenset()),
    }
    request = replace(ask(*cameras, **given), **extras)
    return run(request, *consents, agreements=AGREEMENTS, cameras=CAMERAS)


def live(**kwargs: Any) -> dict[str, Any]:
    return {"mode": "live", "purpose": "public_order", "legal_basis": "", **kwargs}


def psc119_live(**kwargs: Any) -> dict[str, Any]:
    return live(
        **{
            "cameras": (GATE.id,),
            "purpose": "emergency_response",
            "requester": PSC119,
            "kind": "emergency",
            **kwargs,
        }
    )


# --- hours and days, in the owner's timezone ----------------------------------------------


def test_shop_allows_police_only_during_opening_hours() -> None:
    opening_hours = replace(SHOP_TO_POLICE, hours_start=8, hours_end=21)  # 19:00 now
    closed = replace(SHOP_TO_POLICE, hours_start=8, hours_end=17)

    assert decide_in_town(live(), opening_hours).allowed
    refused = decide_in_town(live(), closed)
    assert codes(refused) == ["outside_allowed_hours"]
    assert "from 08:00 to 17:00 (Asia/Jakarta)" in refused.reasons[0].message
    assert "it is 19:00 there now" in refused.reasons[0].message


def test_night_watch_hours_wrap_past_midnight() -> None:
    evening_and_night = replace(SHOP_TO_POLICE, hours_start=18, hours_end=6)
    night_only = replace(SHOP_TO_POLICE, hours_start=22, hours_end=6)

    assert decide_in_town(live(), evening_and_night).allowed
    assert codes(decide_in_town(live(), night_only)) == ["outside_allowed_hours"]


def test_hours_are_read_in_the_owners_own_timezone() -> None:
    # 12:00 UTC is 19:00 in Medan but 21:00 in Jayapura (Asia/Jayapura, UTC+9).
    in_jayapura = replace(SHOP_TO_POLICE, hours_start=8, hours_end=20, timezone="Asia/Jayapura")
    in_medan = replace(in_jayapura, timezone="Asia/Jakarta")

    assert decide_in_town(live(), in_medan).allowed
    assert codes(decide_in_town(live(), in_jayapura)) == ["outside_allowed_hours"]


def test_shop_allows_police_only_on_weekdays() -> None:
    weekdays = replace(SHOP_TO_POLICE, days_of_week=frozenset({1, 2, 3, 4, 5}))
    weekend = replace(SHOP_TO_POLICE, days_of_week=frozenset({6, 7}))

    refused = decide_in_town(live(), weekdays)
    assert codes(refused) == ["outside_allowed_days"]
    assert "it is Sunday there now" in refused.reasons[0].message
    assert decide_in_town(live(), weekend).allowed


def test_footage_is_judged_by_the_hour_of_asking_not_the_hour_filmed() -> None:
    # docs/decisions/0007: footage filmed at 02:00 may be fetched at 19:00 within 8-21 ...
    daytime = replace(SHOP_TO_POLICE, hours_start=8, hours_end=21)
    night_footage = {"purpose": "criminal_investigation", "hours_back": 17, "window_minutes": 30}
    assert decide_in_town(dict(night_footage), daytime).allowed
    # ... and footage filmed at noon may not be fetched at 19:00 outside 8-17.
    office_hours = replace(SHOP_TO_POLICE, hours_start=8, hours_end=17)
    assert codes(decide_in_town({"hours_back": 7}, office_hours)) == ["outside_allowed_hours"]


def test_hours_in_a_timezone_the_hub_does_not_know_allow_nothing() -> None:
    unknown = replace(SHOP_TO_POLICE, hours_start=8, hours_end=21, timezone="Mars/Olympus")

    assert codes(decide_in_town(live(), unknown)) == ["consent_timezone_unknown"]


# --- grantee scopes -----------------------------------------------------------------------


def test_polda_consent_covers_its_polres_when_granted_to_subunits() -> None:
    to_polda_and_units = replace(
        SHOP_TO_POLICE, grantee_party_id=POLDA, grantee_scope="party_and_subunits"
    )
    # The Polres is not itself a party to the Perwal; it acts under its Polda.
    perwal = replace(UNDER_PERWAL, party_ids=frozenset({SHOP, POLDA}))
    request = replace(ask(FRONT.id, requester=POLRES), requester_ancestor_ids=frozenset({POLDA}))

    decision = run(request, to_polda_and_units, agreements=(perwal,), cameras=CAMERAS)

    assert decision.allowed, decision.explanation()
    assert decision.grants[0].consent_id == to_polda_and_units.id


def test_consent_to_the_polda_alone_does_not_cover_its_polres() -> None:
    to_polda = replace(SHOP_TO_POLICE, grantee_party_id=POLDA, grantee_scope="party")

    decision = decide_in_town({"requester": POLRES, "ancestors": frozenset({POLDA})}, to_polda)

    assert codes(decision) == ["no_consent"]


def test_consent_to_a_polres_and_its_subunits_does_not_reach_up_to_the_polda() -> None:
    to_polres_and_units = replace(
        SHOP_TO_POLICE, grantee_party_id=POLRES, grantee_scope="party_and_subunits"
    )

    assert codes(decide_in_town({"requester": POLDA}, to_polres_and_units)) == ["no_consent"]


def test_consent_to_every_party_of_the_regulation_covers_a_police_unit_bound_by_it() -> None:
    to_all_parties = replace(
        SHOP_TO_POLICE, grantee_party_id=None, grantee_scope="agreement_parties"
    )

    assert decide_in_town({"requester": POLDA}, to_all_parties).allowed
    assert codes(decide_in_town({"requester": POLRES}, to_all_parties)) == ["no_consent"]


def test_consent_to_every_party_still_keeps_to_the_kinds_the_regulation_allows() -> None:
    to_all_parties = replace(
        SHOP_TO_POLICE,
        grantee_party_id=None,
        grantee_scope="agreement_parties",
        purposes=frozenset({"public_order"}),
    )

    decision = decide_in_town(live(requester=RESIDENT, kind="resident"), to_all_parties)

    assert codes(decision) == ["grantee_kind_not_allowed"]


# --- versions -----------------------------------------------------------------------------


def test_superseded_version_never_allows_and_the_newest_one_does() -> None:
    lineage = SHOP_TO_POLICE.id
    old = replace(SHOP_TO_POLICE, status="superseded")
    new = replace(SHOP_TO_POLICE, id=uuid4(), version=2, lineage_id=lineage)

    refused = decide_in_town({}, old)
    allowed = decide_in_town({}, new)

    assert codes(refused) == ["consent_superseded"]
    assert "newer version" in refused.reasons[0].message
    grant = allowed.grants[0]
    assert (grant.consent_id, grant.consent_version, grant.lineage_id) == (new.id, 2, lineage)
    explained = json.loads(json.dumps(allowed.explanation()))["grants"][0]
    assert explained["consent_lineage_id"] == str(lineage)
    assert f"version 2, lineage {lineage}" in explained["message"]


def test_a_first_version_is_its_own_lineage() -> None:
    assert SHOP_TO_POLICE.lineage_id == SHOP_TO_POLICE.id


# --- approvals ----------------------------------------------------------------------------


def test_owner_who_asks_to_approve_each_request_makes_it_wait_for_them() -> None:
    asks_first = replace(SHOP_TO_POLICE, requires_owner_approval=True)

    decision = decide_in_town({"cameras": (FRONT.id, BACK.id)}, asks_first)

    assert decision.needs_approval
    assert not decision.allowed
    assert decision.reasons == ()
    assert [g.camera_id for g in decision.grants] == [FRONT.id, BACK.id]
    assert decision.token_lifetime_seconds == 1800
    (need,) = decision.approvals
    assert (need.kind, need.party_id, need.consent_id) == ("owner", SHOP, asks_first.id)
    assert need.camera_ids == (FRONT.id, BACK.id)
    assert need.code == "owner_approval_required"
    assert need.message.startswith("The camera's owner must approve this request")
    explained = json.loads(json.dumps(decision.explanation()))
    assert explained["outcome"] == "needs_approval"
    assert explained["approvals"][0]["party_id"] == str(SHOP)


def test_owner_approval_once_given_lets_the_request_through() -> None:
    asks_first = replace(SHOP_TO_POLICE, requires_owner_approval=True)

    decision = decide_in_town({"granted": frozenset({("owner", SHOP)})}, asks_first)

    assert decision.allowed
    assert decision.approvals == ()


def test_approval_by_someone_else_does_not_count_for_the_owner() -> None:
    asks_first = replace(SHOP_TO_POLICE, requires_owner_approval=True)

    decision = decide_in_town({"granted": frozenset({("supervisor", SHOP)})}, asks_first)

    assert decision.needs_approval


def test_supervisor_of_the_requesting_party_must_approve_when_the_owner_asks_for_it() -> None:
    second_person = replace(SHOP_TO_POLICE, requires_supervisor_approval=True)

    waiting = decide_in_town({}, second_person)
    approved = decide_in_town({"granted": frozenset({("supervisor", POLICE)})}, second_person)

    (need,) = waiting.approvals
    assert (need.kind, need.party_id) == ("supervisor", POLICE)
    assert "supervisor of your party" in need.message
    assert approved.allowed


def test_owner_and_supervisor_approvals_are_both_awaited() -> None:
    both = replace(SHOP_TO_POLICE, requires_owner_approval=True, requires_supervisor_approval=True)

    decision = decide_in_town({"granted": frozenset({("supervisor", POLICE)})}, both)
    waiting = decide_in_town({}, both)

    assert [(n.kind, n.party_id) for n in decision.approvals] == [("owner", SHOP)]
    assert {n.kind for n in waiting.approvals} == {"owner", "supervisor"}


def test_a_consent_that_needs_no_approval_is_preferred() -> None:
    asks_first = replace(SHOP_TO_POLICE, requires_owner_approval=True)
    open_consent = replace(SHOP_TO_POLICE, id=uuid4())

    decision = decide_in_town({}, asks_first, open_consent)

    assert decision.allowed
    assert decision.grants[0].consent_id == open_consent.id


def test_a_refused_camera_denies_even_when_another_only_waits_for_approval() -> None:
    asks_first = replace(SHOP_TO_POLICE, requires_owner_approval=True)

    decision = decide_in_town({"cameras": (FRONT.id, GATE.id)}, asks_first)

    assert decision.outcome == "deny"
    assert decision.approvals == ()
    assert codes(decision) == ["no_consent"]


# --- emergencies --------------------------------------------------------------------------


def test_psc119_watches_at_once_in_an_emergency_without_the_owners_approval() -> None:
    decision = decide_in_town(psc119_live(emergency=True), GATE_TO_PSC119)

    assert decision.allowed, decision.explanation()
    assert decision.emergency
    assert decision.grants[0].emergency
    assert decision.token_lifetime_seconds == 900  # the clause's 15 minutes
    assert "emergency clause of emergency-services" in decision.grants[0].message


def test_psc119_without_the_emergency_flag_waits_for_the_owner() -> None:
    decision = decide_in_town(psc119_live(), GATE_TO_PSC119)

    assert decision.needs_approval
    assert not decision.emergency
    assert decision.approvals[0].party_id == RESIDENT


def test_emergency_outside_the_clause_is_decided_like_any_request() -> None:
    # The emergency-services clause covers emergency and disaster response by emergency
    # services and government, live only: a business asking in an "emergency" gains nothing.
    decision = decide_in_town(psc119_live(emergency=True, kind="business"), GATE_TO_PSC119)

    assert codes(decision) == ["grantee_kind_not_allowed"]
    assert not decision.emergency


def test_police_emergency_under_the_city_regulation_skips_the_owner_for_fifteen_minutes() -> None:
    asks_first = replace(
        SHOP_TO_POLICE,
        requires_owner_approval=True,
        purposes=frozenset({"emergency_response", "criminal_investigation"}),
    )

    emergency = decide_in_town(live(purpose="emergency_response", emergency=True), asks_first)
    footage = decide_in_town(
        {"purpose": "emergency_response", "legal_basis": "", "emergency": True}, asks_first
    )

    assert emergency.allowed
    assert emergency.token_lifetime_seconds == 900
    assert footage.needs_approval  # the clause is live only
    assert not footage.emergency


def test_emergency_defers_the_supervisor_to_the_review_afterwards() -> None:
    second_person = replace(GATE_TO_PSC119, requires_supervisor_approval=True)

    assert decide_in_town(psc119_live(emergency=True), second_person).allowed
    assert decide_in_town(psc119_live(), second_person).needs_approval


def test_suspended_emergency_right_refuses_emergency_requests() -> None:
    suspended = replace(EMERGENCY_AGREEMENT, emergency_suspended=True)
    request = replace(
        ask(GATE.id, mode="live", purpose="emergency_response", requester=PSC119, kind="emergency"),
        emergency=True,
    )

    decision = run(request, GATE_TO_PSC119, agreements=(suspended,), cameras=CAMERAS)
    ordinary = run(
        replace(request, emergency=False), GATE_TO_PSC119, agreements=(suspended,), cameras=CAMERAS
    )

    assert codes(decision) == ["emergency_right_suspended"]
    assert "until an operator restores it" in decision.reasons[0].message
    assert ordinary.needs_approval


# --- lawful bases -------------------------------------------------------------------------


def test_legal_obligation_allows_like_consent_and_the_explanation_names_the_regulation() -> None:
    obliged = replace(
        SHOP_TO_POLICE,
        legal_basis="legal_obligation",
        regulation_ref="Perwal Medan No. 12 Tahun 2025 Pasal 7",
    )

    decision = decide_in_town({}, obliged)

    assert decision.allowed
    assert decision.grants[0].legal_basis == "legal_obligation"
    assert "a legal obligation under Perwal Medan No. 12 Tahun 2025 Pasal 7" in (
        decision.grants[0].message
    )


def test_legal_obligation_is_refused_like_consent_when_a_condition_forbids() -> None:
    obliged = replace(SHOP_TO_POLICE, legal_basis="legal_obligation", status="revoked")

    assert codes(decide_in_town({}, obliged)) == ["consent_revoked"]


def test_public_task_names_the_governments_task() -> None:
    city_camera = replace(
        SHOP_TO_POLICE,
        grantor_party_id=DISHUB,
        camera_selector="all",
        camera_ids=frozenset(),
        legal_basis="public_task",
    )
    perwal = replace(UNDER_PERWAL, party_ids=UNDER_PERWAL.party_ids | {DISHUB})

    decision = run(ask(JUNCTION.id), city_camera, agreements=(perwal,), cameras=CAMERAS)

    assert decision.allowed
    assert "the government's public task" in decision.grants[0].message


def test_owners_consent_is_named_as_such() -> None:
    decision = decide_in_town({"legal_basis": POLICE_REPORT}, SHOP_TO_POLICE)

    assert "on the basis of the owner's consent" in decision.grants[0].message


# --- agreements at decision time ----------------------------------------------------------


def test_suspended_agreement_refuses_what_it_allowed_the_day_before() -> None:
    suspended = replace(UNDER_PERWAL, status="suspended")

    assert decide_in_town({}, SHOP_TO_POLICE).allowed
    decision = run(ask(FRONT.id), SHOP_TO_POLICE, agreements=(suspended,), cameras=CAMERAS)
    assert codes(decision) == ["agreement_not_active"]
    assert "is suspended, not active" in decision.reasons[0].message


def test_agreement_past_its_end_date_refuses() -> None:
    ended = replace(UNDER_PERWAL, valid_until=NOW - timedelta(minutes=1))

    decision = run(ask(FRONT.id), SHOP_TO_POLICE, agreements=(ended,), cameras=CAMERAS)

    assert codes(decision) == ["agreement_not_active"]
    assert decision.reasons[0].rule == "agreement.valid_until"


# --- the government-buildings regulation --------------------------------------------------


def test_police_fetch_footage_of_a_government_building_citing_a_police_report() -> None:
    regulation = replace(UNDER_PERWAL, id=uuid4(), policy_template="government-buildings")
    hall = replace(
        SHOP_TO_POLICE,
        agreement_id=regulation.id,
        max_lookback_hours=None,
        purposes=frozenset({"criminal_investigation"}),
    )

    allowed = run(ask(FRONT.id, hours_back=400), hall, agreements=(regulation,), cameras=CAMERAS)
    refused = run(
        ask(FRONT.id, legal_basis="tolong", hours_back=400),
        hall,
        agreements=(regulation,),
        cameras=CAMERAS,
    )

    assert allowed.allowed  # 400 h is within the regulation's 30 days
    assert codes(refused) == ["legal_basis_invalid"]
