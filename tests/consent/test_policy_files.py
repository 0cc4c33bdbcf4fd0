"""The policy templates in policies/: the shipped ones load, broken ones are refused clearly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sharing.consent.templates import PolicyFileError, load_policy_library
from sharing.settings import DEFAULT_POLICY_DIR
from sharing.vocabulary import Mode, PartyKind, Purpose

BROKEN_DIR = Path(__file__).resolve().parent / "broken_policies"

VALID = """\
name = "{name}"
instrument_kind = "cooperation_agreement"
description = "Test terms."
modes = ["live", "footage"]
purposes = ["public_order", "criminal_investigation"]
grantee_kinds = ["police"]
max_lookback_hours = 24
max_window_minutes = 60
max_token_lifetime_seconds = 600

[title]
id = "Perjanjian kerja sama uji"
en = "Test cooperation agreement"
"""


EMERGENCY = """
[emergency]
allowed = true
purposes = ["public_order"]
grantee_kinds = ["police"]
modes = ["live"]
max_token_lifetime_seconds = 300
skips_owner_approval = true
"""


def test_shipped_templates_load_and_are_named_after_their_files() -> None:
    library = load_policy_library(DEFAULT_POLICY_DIR)

    assert library.names() == [
        "city-regulation-private-cctv",
        "emergency-services",
        "government-buildings",
        "mou-pemkot-polda",
        "public-cameras",
    ]
    for template in library.all():
        assert (DEFAULT_POLICY_DIR / f"{template.name}.toml").is_file()
        assert template.title.id
        assert template.title.en
        assert library.get(template.name) is template
    assert library.get("no-such-template") is None


def test_city_regulation_keeps_private_cameras_to_police_government_and_emergency() -> None:
    perwal = load_policy_library(DEFAULT_POLICY_DIR).get("city-regulation-private-cctv")

    assert perwal is not None
    assert perwal.grantee_kinds == {PartyKind.POLICE, PartyKind.GOVERNMENT, PartyKind.EMERGENCY}
    assert perwal.modes == {Mode.LIVE, Mode.FOOTAGE}
    assert Purpose.PUBLIC_INFORMATION not in perwal.purposes
    assert (perwal.max_lookback_hours, perwal.max_window_minutes) == (168, 240)
    assert perwal.max_token_lifetime_seconds == 1800


@pytest.mark.parametrize(
    ("legal_basis", "accepted"),
    [
        ("LP/B/1234/VI/2024/SPKT/POLRESTABES MEDAN/POLDA SUMATERA UTARA", True),
        ("LP/1234/VI/2024/Reskrim", True),
        ("SP.Sidik/45/VI/2024/Reskrim", True),
        ("Sprin.Sidik/45/VI/2024", True),
        ("SPRIN/77/2024", True),
        ("kasus pencurian", False),
        ("LP-1234", False),
        ("LP/B/1234  VI", False),
    ],
)
def test_criminal_investigation_under_the_city_regulation_cites_a_report_or_warrant(
    legal_basis: str, accepted: bool
) -> None:
    perwal = load_policy_library(DEFAULT_POLICY_DIR).get("city-regulation-private-cctv")
    assert perwal is not None
    rule = perwal.legal_basis_rule("criminal_investigation")

    assert rule is not None
    assert rule.required
    assert rule.accepts(legal_basis) is accepted


def test_emergency_services_watch_live_for_fifteen_minutes_without_waiting() -> None:
    services = load_policy_library(DEFAULT_POLICY_DIR).get("emergency-services")

    assert services is not None
    assert services.modes == {Mode.LIVE}
    assert services.purposes == {Purpose.EMERGENCY_RESPONSE, Purpose.DISASTER_RESPONSE}
    clause = services.emergency
    assert clause is not None
    assert clause.skips_owner_approval
    assert clause.max_token_lifetime_seconds == 900
    assert clause.fits("live", "disaster_response", "emergency")
    assert not clause.fits("footage", "emergency_response", "emergency")
    assert not clause.fits("live", "emergency_response", "police")


def test_city_regulation_and_mou_let_police_watch_live_in_an_emergency() -> None:
    library = load_policy_library(DEFAULT_POLICY_DIR)
    for name, kinds in [
        ("city-regulation-private-cctv", {PartyKind.POLICE, PartyKind.EMERGENCY}),
        ("mou-pemkot-polda", {PartyKind.POLICE, PartyKind.GOVERNMENT}),
    ]:
        template = library.get(name)
        assert template is not None
        clause = template.emergency
        assert clause is not None, name
        assert clause.grantee_kinds == kinds
        assert clause.modes == {Mode.LIVE}
        assert clause.purposes == {Purpose.EMERGENCY_RESPONSE}
        assert (clause.max_token_lifetime_seconds, clause.skips_owner_approval) == (900, True)


def test_government_buildings_serve_government_and_police_for_order_crime_and_emergencies() -> None:
    buildings = load_policy_library(DEFAULT_POLICY_DIR).get("government-buildings")

    assert buildings is not None
    assert buildings.grantee_kinds == {PartyKind.GOVERNMENT, PartyKind.POLICE}
    assert buildings.purposes == {
        Purpose.PUBLIC_ORDER,
        Purpose.CRIMINAL_INVESTIGATION,
        Purpose.EMERGENCY_RESPONSE,
    }
    assert buildings.emergency is None
    rule = buildings.legal_basis_rule("criminal_investigation")
    assert rule is not None
    assert rule.accepts("LP/B/77/III/2026/SPKT/POLRES BONTANG")


def test_public_cameras_are_live_only_and_open_to_the_public() -> None:
    public = load_policy_library(DEFAULT_POLICY_DIR).get("public-cameras")

    assert public is not None
    assert public.modes == {Mode.LIVE}
    assert "public" in public.grantee_kinds
    assert public.purposes == {Purpose.PUBLIC_INFORMATION, Purpose.TRAFFIC_MANAGEMENT}


def test_broken_template_is_refused_naming_the_file_and_every_field() -> None:
    with pytest.raises(PolicyFileError) as refused:
        load_policy_library(BROKEN_DIR)

    assert isinstance(refused.value, ValueError)
    assert refused.value.path.name == "leaky-footage.toml"
    assert refused.value.field == "modes.1"
    message = str(refused.value)
    assert message.startswith("leaky-footage.toml: modes.1:")
    assert "share_with_press" in message


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda text: "budget = 5\n" + text, "budget"),
        (lambda text: text.replace('"cooperation_agreement"', '"handshake"'), "instrument_kind"),
        (lambda text: text.replace('"police"', '"journalist"'), "grantee_kinds"),
        (lambda text: text.replace("= 24", "= 0"), "max_lookback_hours"),
        (lambda text: text.replace("= 600", "= 5"), "max_token_lifetime_seconds"),
        (lambda text: text.replace('name = "terms"', 'name = "other-terms"'), "name"),
        (
            lambda text: text.replace('[title]\nid = "Perjanjian kerja sama uji"\n', "[title]\n"),
            "title.id",
        ),
        (
            lambda text: (
                text + "\n[legal_basis.criminal_investigation]\nrequired = true\n"
                'pattern = "LP/(("\ndescription = "a report"\n'
            ),
            "legal_basis.criminal_investigation.pattern",
        ),
        (
            lambda text: (
                text + "\n[legal_basis.traffic_management]\nrequired = true\n"
                'description = "a ticket"\n'
            ),
            "legal_basis",
        ),
        (lambda text: text.replace("modes = [", "modes = [["), "(syntax)"),
        (lambda text: text + EMERGENCY.replace("= 300", "= 1200"), "emergency"),
        (
            lambda text: text + EMERGENCY.replace('"public_order"', '"disaster_response"'),
            "emergency",
        ),
        (
            lambda text: text + EMERGENCY.replace('["police"]', '["emergency"]'),
            "emergency",
        ),
        (lambda text: text + EMERGENCY.replace("allowed = true\n", ""), "emergency.allowed"),
        (lambda text: text + EMERGENCY + "siren = true\n", "emergency.siren"),
        (
            lambda text: text + EMERGENCY.replace("= 300", "= 5"),
            "emergency.max_token_lifetime_seconds",
        ),
    ],
    ids=[
        "unknown_key",
        "bad_kind",
        "bad_grantee",
        "footage_without_lookback",
        "short_token",
        "name_not_file",
        "missing_title",
        "bad_regex",
        "legal_basis_for_other_purpose",
        "toml_syntax",
        "emergency_token_above_the_terms",
        "emergency_purpose_outside_the_terms",
        "emergency_grantee_outside_the_terms",
        "emergency_without_allowed",
        "emergency_unknown_key",
        "emergency_token_too_short",
    ],
)
def test_template_with_a_mistake_is_refused_naming_the_field(
    tmp_path: Path, change: Callable[[str], str], field: str
) -> None:
    (tmp_path / "terms.toml").write_text(change(VALID.format(name="terms")))

    with pytest.raises(PolicyFileError) as refused:
        load_policy_library(tmp_path)

    assert refused.value.field.startswith(field)
    assert str(refused.value).startswith(f"terms.toml: {refused.value.field}: ")


def test_valid_template_written_by_an_operator_loads(tmp_path: Path) -> None:
    (tmp_path / "terms.toml").write_text(VALID.format(name="terms"))

    assert load_policy_library(tmp_path).names() == ["terms"]


def test_emergency_clause_outside_the_terms_is_refused_in_plain_words(tmp_path: Path) -> None:
    text = VALID.format(name="terms") + EMERGENCY.replace('"public_order"', '"disaster_response"')
    (tmp_path / "terms.toml").write_text(text)

    with pytest.raises(PolicyFileError) as refused:
        load_policy_library(tmp_path)

    assert refused.value.field == "emergency"
    assert "purposes ['disaster_response'] are not allowed by the template's own purposes" in (
        refused.value.message
    )


def test_valid_emergency_clause_loads(tmp_path: Path) -> None:
    (tmp_path / "terms.toml").write_text(VALID.format(name="terms") + EMERGENCY)

    terms = load_policy_library(tmp_path).get("terms")

    assert terms is not None
    assert terms.emergency is not None
    assert terms.emergency.fits("live", "public_order", "police")
