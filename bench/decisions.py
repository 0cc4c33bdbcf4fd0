"""Benchmark the access decision in-process at a city's full size, without a database.

Builds in memory what a city of the design's size holds (20,000 cameras, 50,000 owners and
200,000 consents of mixed selectors, scopes and conditions, under the shipped policy
templates), then times ``sharing.consent.policy.decide`` for random requests of 1 and of 10
cameras and prints p50/p99 in microseconds.

Two figures per request size:

- ``decide``: the pure decision alone, given the consents a request's cameras could rest on
  (what ``sharing.consent.decision_inputs`` loads from the database);
- ``select + decide``: the same, plus picking those consents out of all 200,000 through
  in-memory indexes by owner, the stand-in for the database query.

Usage: ``.venv/bin/python bench/decisions.py [--decisions 20000] [--seed 7]``.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

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

CAMERAS = 20_000
OWNERS = 50_000
CONSENTS = 200_000
POLICE_UNITS = 60  # a Polda with its Polres and Polsek
AGENCIES = 30
EMERGENCY_SERVICES = 10
HUB_MAX_LIFETIME = 3600
NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # a Monday, 10:00 in Medan
TAGS = ("storefront", "gate", "parking", "junction", "river", "warehouse")
POLICE_REPORT = "LP/B/1234/III/2026/SPKT/POLRESTABES MEDAN"
PURPOSES_BY_KIND = {
    "police": ("criminal_investigation", "public_order", "emergency_response"),
    "government": ("public_order", "traffic_management"),
    "emergency": ("emergency_response",),
}


@dataclass(frozen=True, slots=True)
class City:
    """The in-memory city: facts as ``decision_inputs`` would load them, and indexes."""

    cameras: dict[UUID, CameraFacts]
    camera_ids: list[UUID]
    consents_by_owner: dict[UUID, list[ConsentFacts]]
    agreements: dict[UUID, AgreementFacts]
    requesters: list[tuple[UUID, str, frozenset[UUID]]]  # (party, kind, ancestors)
    consent_count: int


def build_city(rng: random.Random, policies: PolicyLibrary) -> City:
    """20,000 cameras of 50,000 owners (most own none; some own many), 200,000 consents."""
    polda = uuid4()
    police = [polda, *(uuid4() for _ in range(POLICE_UNITS - 1))]
    agencies = [uuid4() for _ in range(AGENCIES)]
    services = [uuid4() for _ in range(EMERGENCY_SERVICES)]
    requesters = [(polda, "police", frozenset[UUID]())]
    requesters += [(unit, "police", frozenset({polda})) for unit in police[1:]]
    requesters += [(agency, "government", frozenset[UUID]()) for agency in agencies]
    requesters += [(service, "emergency", frozenset[UUID]()) for service in services]

    owners = [uuid4() for _ in range(OWNERS)]
    camera_owners = owners[: OWNERS // 5]  # a fifth of the owners have cameras
    cameras: dict[UUID, CameraFacts] = {}
    owned: dict[UUID, list[UUID]] = {}
    for _ in range(CAMERAS):
        owner = rng.choice(camera_owners)
        tags = frozenset(rng.sample(TAGS, rng.randint(0, 2)))
        camera = CameraFacts(uuid4(), owner, "active", "partners", tags)
        cameras[camera.id] = camera
        owned.setdefault(owner, []).append(camera.id)

    everyone = frozenset(owners) | {party for party, _, _ in requesters}
    agreements = {
        name: AgreementFacts(
            uuid4(), f"{name} 2025", "active", name, NOW - timedelta(days=365), None, everyone
        )
        for name in ("city-regulation-private-cctv", "mou-pemkot-polda", "emergency-services")
    }
    consents_by_owner: dict[UUID, list[ConsentFacts]] = {}
    granting = list(owned)
    for _ in range(CONSENTS):
        owner = rng.choice(granting)
        consent = _random_consent(rng, owner, owned[owner], requesters, agreements, policies)
        consents_by_owner.setdefault(owner, []).append(consent)
    return City(
        cameras,
        list(cameras),
        consents_by_owner,
        {agreement.id: agreement for agreement in agreements.values()},
        requesters,
        CONSENTS,
    )


def _random_consent(
    rng: random.Random,
    owner: UUID,
    cameras: list[UUID],
    requesters: list[tuple[UUID, str, frozenset[UUID]]],
    agreements: dict[str, AgreementFacts],
    policies: PolicyLibrary,
) -> ConsentFacts:
    grantee, kind, _ = rng.choice(requesters)
    name = {"police": "city-regulation-private-cctv", "emergency": "emergency-services"}.get(
        kind, rng.choice(["city-regulation-private-cctv", "mou-pemkot-polda"])
    )
    template = policies.get(name)
    assert template is not None
    selector = rng.choice(["cameras", "cameras", "all", "tag"])
    scope = rng.choices(["party", "party_and_subunits", "agreement_parties"], weights=[8, 1, 1])[0]
    hours = rng.choice([None, None, None, (8, 22), (22, 6)])
    return ConsentFacts(
        id=uuid4(),
        version=rng.randint(1, 3),
        grantor_party_id=owner,
        grantee_party_id=None if scope == "agreement_parties" else grantee,
        agreement_id=agreements[name].id,
        camera_selector=selector,
        selector_tag=rng.choice(TAGS) if selector == "tag" else None,
        camera_ids=(
            frozenset(rng.sample(cameras, min(len(cameras), rng.randint(1, 3))))
            if selector == "cameras"
            else frozenset()
        ),
        modes=frozenset(rng.sample(sorted(template.modes), rng.randint(1, len(template.modes)))),
        purposes=frozenset(
            rng.sample(sorted(template.purposes), rng.randint(1, min(3, len(template.purposes))))
        ),
        max_lookback_hours=rng.choice([None, 24, 72]),
        max_window_minutes=rng.choice([None, 60, 120]),
        max_token_lifetime_seconds=rng.choice([None, 600, 900]),
        valid_from=NOW - timedelta(days=rng.randint(1, 300)),
        valid_until=rng.choice([None, NOW + timedelta(days=90)]),
        status=rng.choices(["active", "revoked"], weights=[9, 1])[0],
        grantee_scope=scope,
        hours_start=hours[0] if hours else None,
        hours_end=hours[1] if hours else None,
        days_of_week=rng.choice([None, None, frozenset({1, 2, 3, 4, 5})]),
        requires_owner_approval=rng.random() < 0.2,
        requires_supervisor_approval=rng.random() < 0.1,
    )


def random_request(rng: random.Random, city: City, size: int) -> RequestFacts:
    """A request of ``size`` random cameras by a random police unit, agency or service."""
    party, kind, ancestors = rng.choice(city.requesters)
    mode = rng.choice(["live", "footage"])
    start = NOW - timedelta(hours=rng.uniform(1, 48))
    return RequestFacts(
        requester_party_id=party,
        requester_party_kind=kind,
        camera_ids=tuple(rng.sample(city.camera_ids, size)),
        mode=mode,
        purpose=rng.choice(PURPOSES_BY_KIND[kind]),
        legal_basis=POLICE_REPORT,
        footage_start=start if mode == "footage" else None,
        footage_end=start + timedelta(minutes=30) if mode == "footage" else None,
        requested_lifetime_seconds=None,
        requester_ancestor_ids=ancestors,
        emergency=kind == "emergency" and rng.random() < 0.5,
    )


def candidate_consents(city: City, request: RequestFacts) -> list[ConsentFacts]:
    """What ``decision_inputs`` selects: consents of the cameras' owners that may reach the
    requester (by grantee or scope). The in-memory stand-in for its database query."""
    reachable = {request.requester_party_id, *request.requester_ancestor_ids}
    owners = {city.cameras[camera_id].owner_party_id for camera_id in request.camera_ids}
    return [
        consent
        for owner in owners
        for consent in city.consents_by_owner.get(owner, ())
        if consent.grantee_party_id is None or consent.grantee_party_id in reachable
    ]


def _decide(
    city: City, policies: PolicyLibrary, request: RequestFacts, consents: Sequence[ConsentFacts]
) -> Decision:
    return decide(request, city.cameras, consents, city.agreements, policies, NOW, HUB_MAX_LIFETIME)


def measure(
    city: City, policies: PolicyLibrary, rng: random.Random, size: int, count: int
) -> tuple[list[float], list[float], Counter[str], float]:
    """Time ``count`` decisions of ``size`` cameras: decide alone, and select + decide."""
    decide_us: list[float] = []
    total_us: list[float] = []
    outcomes: Counter[str] = Counter()
    consents_seen = 0
    clock = time.perf_counter_ns
    for _ in range(count):
        request = random_request(rng, city, size)
        started = clock()
        consents = candidate_consents(city, request)
        selected = clock()
        decision = _decide(city, policies, request, consents)
        done = clock()
        decide_us.append((done - selected) / 1000)
        total_us.append((done - started) / 1000)
        outcomes[decision.outcome] += 1
        consents_seen += len(consents)
    return decide_us, total_us, outcomes, consents_seen / count


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))]


def main(argv: Sequence[str] | None = None) -> int:
    """Build the city, time the decisions, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--decisions", type=int, default=20_000, help="per request size")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    policies = load_policy_library(DEFAULT_POLICY_DIR)

    built = time.perf_counter()
    city = build_city(rng, policies)
    print(
        f"bench: built {len(city.cameras):,} cameras, {OWNERS:,} owners, "
        f"{city.consent_count:,} consents in {time.perf_counter() - built:.1f} s",
        file=sys.stderr,
    )
    # The hub never holds the city in memory (it loads a decision's few facts per request);
    # frozen, the 200,000 consents stay out of the collector's full passes, which would
    # otherwise show up here as pauses the hub does not have.
    gc.collect()
    gc.freeze()
    # Warm up: the first decisions load timezones and warm the interpreter's caches.
    measure(city, policies, rng, 1, 2_000)

    print(f"decision latency in-process, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n")
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
    print(
        f"city: {len(city.cameras):,} cameras, {OWNERS:,} owners, {city.consent_count:,} "
        f"consents, {len(city.requesters)} requesting parties; {args.decisions:,} random "
        "requests per size, seed "
        f"{args.seed}\n"
    )
    print(
        "| cameras | consents considered (mean) | outcomes | decide p50 µs | decide p99 µs "
        "| select + decide p50 µs | select + decide p99 µs |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|")
    for size in (1, 10):
        decide_us, total_us, outcomes, mean_consents = measure(
            city, policies, rng, size, args.decisions
        )
        mix = ", ".join(f"{name} {count}" for name, count in sorted(outcomes.items()))
        print(
            f"| {size} | {mean_consents:.1f} | {mix} | {percentile(decide_us, 0.5):.1f} | "
            f"{percentile(decide_us, 0.99):.1f} | {percentile(total_us, 0.5):.1f} | "
            f"{percentile(total_us, 0.99):.1f} |"
        )
        print(
            f"bench: {size} camera(s): mean decide {statistics.fmean(decide_us):.1f} µs",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
