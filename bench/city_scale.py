"""Load a city of the design's size into a hub's database, beside the demo city.

Issue 3 asks for the access-token flow's figures with 20,000 cameras, 50,000 owners and
200,000 consents loaded. ``load_city`` adds that many rows to a database that already holds
the demo city (after ``sharing migrate`` and ``sharing demo``, before the hub starts), with
bulk inserts through SQLAlchemy Core in one transaction, into the hub's own tables:

- 50,000 owner parties, businesses and residents, each bound by the demo's Perwal (an
  ``agreement_party`` row), as the city regulation binds every registered owner;
- 20,000 cameras among them: most owners have none, the others one to three, each camera
  with one or two tags, an address in one of Medan's districts, mostly private;
- 200,000 consent rows by those owners under the Perwal, to the demo's police (Polrestabes,
  and Polda with or without its sub-units), PSC 119, Pemkot, or every party of the Perwal;
  selectors ``cameras`` (1-3 of the owner's cameras), ``all`` and ``tag``; about a tenth are
  revoked, and about a tenth are superseded versions whose newer version (same
  ``lineage_id``) is also loaded.

No audit events are written for these rows: they stand for years of history, not for
anything that happened during the run, and the audit table is not what a decision reads.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from sharing.cameras.models import Camera, CameraTag
from sharing.consent.facts import CameraSelector, ConsentStatus, GranteeScope
from sharing.consent.models import AgreementParty, Consent, ConsentCamera
from sharing.db import create_engine
from sharing.demo import DemoCity
from sharing.parties.models import Party
from sharing.settings import Settings
from sharing.vocabulary import Mode, PartyKind, Purpose, Visibility

OWNERS = 50_000
CAMERAS = 20_000
CONSENTS = 200_000
DEFAULT_SEED = 7
CHUNK_ROWS = 10_000
"""Rows per executemany call; SQLAlchemy batches each into multi-row INSERTs on its own."""

# Medan's extent, roughly 22 km north-south by 19 km east-west.
SOUTH, NORTH, WEST, EAST = 3.48, 3.68, 98.58, 98.75
DISTRICTS = (
    "Medan Petisah",
    "Medan Sunggal",
    "Medan Timur",
    "Medan Baru",
    "Medan Kota",
    "Medan Barat",
    "Medan Polonia",
    "Medan Amplas",
    "Medan Perjuangan",
    "Medan Helvetia",
    "Medan Johor",
    "Medan Tembung",
)
TAGS = ("storefront", "gate", "parking", "street", "indoor", "warehouse", "alley", "field")
# Of the owners who have cameras: how many each has (most one), as (count, weight).
CAMERAS_PER_OWNER = ((1, 60), (2, 25), (3, 15))
VISIBILITIES = ((Visibility.PRIVATE, 80), (Visibility.PARTNERS, 15), (Visibility.PUBLIC, 5))
SELECTORS_WITH_CAMERAS = (
    (CameraSelector.CAMERAS, 50),
    (CameraSelector.ALL, 30),
    (CameraSelector.TAG, 20),
)
# An owner without cameras can still consent for every camera it registers later, or a tag.
SELECTORS_WITHOUT_CAMERAS = ((CameraSelector.ALL, 60), (CameraSelector.TAG, 40))
SHARE_OF_CONSENTS_BY_CAMERA_OWNERS = 0.75
SHARE_OF_LINEAGES_CHANGED = 0.1
SHARE_OF_LINEAGES_REVOKED = 0.1


@dataclass(frozen=True, slots=True)
class Grant:
    """A kind of consent owners give: to whom, how far it reaches, and for what."""

    grantee: str | None
    """The demo party's key, or None for every party of the agreement."""
    scope: GranteeScope
    modes: tuple[tuple[Mode, ...], ...]
    purposes: tuple[Purpose, ...]
    weight: int


LIVE, BOTH = (Mode.LIVE,), (Mode.LIVE, Mode.FOOTAGE)
POLICE_PURPOSES = (Purpose.CRIMINAL_INVESTIGATION, Purpose.PUBLIC_ORDER)
# Every mode and purpose here is one the Perwal (city-regulation-private-cctv) allows.
GRANTS = (
    Grant("polrestabes", GranteeScope.PARTY, (LIVE, BOTH), POLICE_PURPOSES, 40),
    Grant("polda", GranteeScope.PARTY_AND_SUBUNITS, (LIVE, BOTH), POLICE_PURPOSES, 20),
    Grant("polda", GranteeScope.PARTY, (BOTH,), POLICE_PURPOSES, 5),
    Grant("psc119", GranteeScope.PARTY, (LIVE,), (Purpose.EMERGENCY_RESPONSE,), 15),
    Grant(
        "pemkot",
        GranteeScope.PARTY,
        (LIVE,),
        (Purpose.TRAFFIC_MANAGEMENT, Purpose.PUBLIC_ORDER),
        10,
    ),
    Grant(
        None,
        GranteeScope.AGREEMENT_PARTIES,
        (LIVE,),
        (Purpose.EMERGENCY_RESPONSE, Purpose.PUBLIC_ORDER),
        10,
    ),
)

Row = dict[str, Any]
T = TypeVar("T")


@dataclass(slots=True)
class CityRows:
    """The rows to insert, table by table, in an order that satisfies the foreign keys."""

    parties: list[Row] = field(default_factory=list)
    agreement_parties: list[Row] = field(default_factory=list)
    cameras: list[Row] = field(default_factory=list)
    camera_tags: list[Row] = field(default_factory=list)
    consents: list[Row] = field(default_factory=list)
    consent_cameras: list[Row] = field(default_factory=list)

    def tables(self) -> Iterator[tuple[type[Any], list[Row]]]:
        """Each model with its rows, parents before the rows that reference them."""
        yield Party, self.parties
        yield AgreementParty, self.agreement_parties
        yield Camera, self.cameras
        yield CameraTag, self.camera_tags
        yield Consent, self.consents
        yield ConsentCamera, self.consent_cameras


@dataclass(frozen=True, slots=True)
class LoadedCity:
    """What ``load_city`` added, and how long it took."""

    owners: int
    cameras: int
    consents: int
    revoked: int
    superseded: int
    consent_cameras: int
    build_seconds: float
    insert_seconds: float

    @property
    def seconds(self) -> float:
        """The whole load: building the rows and inserting them."""
        return self.build_seconds + self.insert_seconds

    def summary(self) -> str:
        """One line for the report: the counts and the time it took."""
        return (
            f"{self.cameras:,} cameras, {self.owners:,} owners, {self.consents:,} consents "
            f"({self.revoked:,} revoked, {self.superseded:,} superseded; "
            f"{self.consent_cameras:,} consent-camera links) loaded in {self.seconds:.1f} s "
            f"({self.build_seconds:.1f} s building rows, {self.insert_seconds:.1f} s inserting)"
        )


def load_city(database_url: str, demo: DemoCity, *, seed: int = DEFAULT_SEED) -> LoadedCity:
    """Add the full-size city to the migrated database at ``database_url`` that holds ``demo``.

    Synchronous, for the benchmark's setup between ``sharing demo`` and ``sharing serve``.
    """
    started = time.perf_counter()
    rows = build_city(demo, random.Random(seed), datetime.now(UTC))
    built = time.perf_counter()
    asyncio.run(_insert_all(database_url, rows))
    return LoadedCity(
        owners=len(rows.parties),
        cameras=len(rows.cameras),
        consents=len(rows.consents),
        revoked=sum(row["status"] == ConsentStatus.REVOKED for row in rows.consents),
        superseded=sum(row["status"] == ConsentStatus.SUPERSEDED for row in rows.consents),
        consent_cameras=len(rows.consent_cameras),
        build_seconds=built - started,
        insert_seconds=time.perf_counter() - built,
    )


def build_city(demo: DemoCity, rng: random.Random, now: datetime) -> CityRows:
    """The rows of 50,000 owners, their 20,000 cameras and 200,000 consents under the Perwal."""
    rows = CityRows()
    perwal = demo.agreements["perwal"]
    owners = _owners(rows, perwal, rng, now)
    cameras_of = _cameras(rows, owners, rng, now)
    _consents(rows, demo, perwal, owners, cameras_of, rng, now)
    return rows


def _owners(
    rows: CityRows, perwal: uuid.UUID, rng: random.Random, now: datetime
) -> list[uuid.UUID]:
    owners = [_uuid(rng) for _ in range(OWNERS)]
    for number, owner in enumerate(owners, start=1):
        business = rng.random() < 0.4
        rows.parties.append(
            {
                "id": owner,
                "name": f"Toko {number:05d}" if business else f"Rumah warga {number:05d}",
                "kind": PartyKind.BUSINESS if business else PartyKind.RESIDENT,
                "active": True,
                "created_at": now - timedelta(days=rng.randrange(1, 700)),
            }
        )
        # The Perwal binds every owner registered under it; the decision checks membership.
        rows.agreement_parties.append({"agreement_id": perwal, "party_id": owner})
    return owners


def _cameras(
    rows: CityRows, owners: Sequence[uuid.UUID], rng: random.Random, now: datetime
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Exactly ``CAMERAS`` cameras among randomly chosen owners, one to three each."""
    cameras_of: dict[uuid.UUID, list[uuid.UUID]] = {}
    for owner in rng.sample(owners, len(owners)):
        left = CAMERAS - len(rows.cameras)
        if left <= 0:
            break
        count = min(left, _weighted(rng, CAMERAS_PER_OWNER))
        cameras_of[owner] = [_camera(rows, owner, rng, now) for _ in range(count)]
    return cameras_of


def _camera(rows: CityRows, owner: uuid.UUID, rng: random.Random, now: datetime) -> uuid.UUID:
    camera_id = _uuid(rng)
    number = len(rows.cameras) + 1
    district = rng.choice(DISTRICTS)
    rows.cameras.append(
        {
            "id": camera_id,
            "owner_party_id": owner,
            "name": f"Kamera {number:05d}",
            "latitude": rng.uniform(SOUTH, NORTH),
            "longitude": rng.uniform(WEST, EAST),
            "address": f"Jl. Contoh No. {rng.randrange(1, 300)}, {district}",
            "province": "Sumatera Utara",
            "city": "Medan",
            "district": district,
            "village": f"Kelurahan {rng.randrange(1, 152):03d}",
            "rw": f"{rng.randrange(1, 15):02d}",
            "visibility": _weighted(rng, VISIBILITIES),
            "retention_days": rng.choice((7, 14, 30)),
            "status": "active",
            "stream_source_encrypted": "",
            "created_at": now,
            "updated_at": now,
        }
    )
    rows.camera_tags.extend(
        {"camera_id": camera_id, "tag": tag} for tag in rng.sample(TAGS, rng.randint(1, 2))
    )
    return camera_id


def _consents(
    rows: CityRows,
    demo: DemoCity,
    perwal: uuid.UUID,
    owners: Sequence[uuid.UUID],
    cameras_of: dict[uuid.UUID, list[uuid.UUID]],
    rng: random.Random,
    now: datetime,
) -> None:
    """Lineages of one version, or two (the first superseded), until ``CONSENTS`` rows."""
    camera_owners = list(cameras_of)
    weights = [grant.weight for grant in GRANTS]
    while len(rows.consents) < CONSENTS:
        by_camera_owner = rng.random() < SHARE_OF_CONSENTS_BY_CAMERA_OWNERS
        grantor = rng.choice(camera_owners if by_camera_owner else owners)
        grant = rng.choices(GRANTS, weights)[0]
        first = _first_version(demo, perwal, grantor, grant, cameras_of.get(grantor, []), rng, now)
        changed = rng.random() < SHARE_OF_LINEAGES_CHANGED and len(rows.consents) + 2 <= CONSENTS
        versions = [first, _changed(first, rng)] if changed else [first]
        if rng.random() < SHARE_OF_LINEAGES_REVOKED:
            _revoke(versions[-1], now)
        for older in versions[:-1]:
            older["status"] = ConsentStatus.SUPERSEDED
            older["superseded_at"] = versions[-1]["created_at"]
        for version in versions:
            cameras = version.pop("cameras")
            rows.consents.append(version)
            rows.consent_cameras.extend(
                {"consent_id": version["id"], "camera_id": camera} for camera in cameras
            )


def _first_version(
    demo: DemoCity,
    perwal: uuid.UUID,
    grantor: uuid.UUID,
    grant: Grant,
    own_cameras: Sequence[uuid.UUID],
    rng: random.Random,
    now: datetime,
) -> Row:
    selector = _weighted(rng, SELECTORS_WITH_CAMERAS if own_cameras else SELECTORS_WITHOUT_CAMERAS)
    consent_id = _uuid(rng)
    created = now - timedelta(days=rng.randrange(30, 700))
    modes = rng.choice(grant.modes)
    daytime_only = rng.random() < 0.25
    return {
        "id": consent_id,
        "lineage_id": consent_id,  # a lineage is named after its first version, as the hub does
        "version": 1,
        "grantor_party_id": grantor,
        "grantee_party_id": demo.parties[grant.grantee] if grant.grantee else None,
        "grantee_scope": grant.scope,
        "legal_basis": "consent",
        "agreement_id": perwal,
        "camera_selector": selector,
        "selector_tag": rng.choice(TAGS) if selector == CameraSelector.TAG else None,
        "modes": list(modes),
        "purposes": rng.sample(grant.purposes, rng.randint(1, len(grant.purposes))),
        "max_lookback_hours": rng.choice((24, 72, 168)) if Mode.FOOTAGE in modes else None,
        "max_window_minutes": rng.choice((None, 60, 240)),
        "max_token_lifetime_seconds": rng.choice((None, 900, 1800)),
        "hours_start": 8 if daytime_only else None,
        "hours_end": 22 if daytime_only else None,
        "days_of_week": None,
        "timezone": "Asia/Jakarta",
        "requires_owner_approval": rng.random() < 0.2,
        "requires_supervisor_approval": rng.random() < 0.1,
        "valid_from": created,
        "valid_until": None,
        "status": ConsentStatus.ACTIVE,
        "revoked_at": None,
        "revocation_reason": None,
        "superseded_at": None,
        "created_at": created,
        "cameras": (
            rng.sample(own_cameras, rng.randint(1, len(own_cameras)))
            if selector == CameraSelector.CAMERAS
            else []
        ),
    }


def _changed(older: Row, rng: random.Random) -> Row:
    """The owner's later change: a new version of the same lineage with other limits."""
    consent_id = _uuid(rng)
    created = older["created_at"] + timedelta(days=rng.randrange(1, 30))
    return older | {
        "id": consent_id,
        "version": older["version"] + 1,
        "max_window_minutes": rng.choice((30, 120)),
        "requires_owner_approval": not older["requires_owner_approval"],
        "valid_from": created,
        "created_at": created,
        "cameras": list(older["cameras"]),
    }


def _revoke(row: Row, now: datetime) -> None:
    row["status"] = ConsentStatus.REVOKED
    row["revoked_at"] = min(now, row["created_at"] + timedelta(days=60))
    row["revocation_reason"] = "Pemilik mencabut persetujuan (benchmark data)"


def _uuid(rng: random.Random) -> uuid.UUID:
    # From the seeded generator: the same city every run, and cheaper than uuid4's urandom.
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _weighted(rng: random.Random, choices: Sequence[tuple[T, int]]) -> T:
    return rng.choices([value for value, _ in choices], [weight for _, weight in choices])[0]


async def _insert_all(database_url: str, rows: CityRows) -> None:
    # The hub's own engine factory: on SQLite the same pragmas, foreign keys checked included.
    engine = create_engine(Settings(database_url=database_url))
    try:
        async with engine.begin() as connection:  # one transaction: all of the city or none
            for model, table_rows in rows.tables():
                await _insert_chunked(connection, model, table_rows)
    finally:
        await engine.dispose()


async def _insert_chunked(connection: AsyncConnection, model: type[Any], rows: list[Row]) -> None:
    statement = insert(model)
    for start in range(0, len(rows), CHUNK_ROWS):
        await connection.execute(statement, rows[start : start + CHUNK_ROWS])
