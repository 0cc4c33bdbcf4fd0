"""The camera registry over HTTP: owners register and change their cameras, others find only
what they may see, and the stream source never leaves the hub."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.models import AuditEvent
from sharing.cameras.models import Camera
from sharing.cameras.search import cameras_within
from sharing.crypto import SecretBox
from tests.hubprocess import RunningHub

STREAM = "rtsp://viewer:s3cret-pass@10.20.0.99:554/stream1"
MISSING = object()  # a field left out of the request body


def camera_body(**overrides: Any) -> dict[str, Any]:
    """A valid registration for a shop-front camera in Medan, changed by ``overrides``."""
    body = {
        "name": "Kamera uji - depan",
        "latitude": 3.5915,
        "longitude": 98.6515,
        "address": "Jl. Gatot Subroto No. 12",
        "province": "Sumatera Utara",
        "city": "Medan",
        "district": "Medan Sunggal",
        "village": "Sei Sikambing B",
        "rw": "05",
        "tags": ["storefront"],
        "visibility": "private",
        "retention_days": 14,
        "stream_source": STREAM,
        **overrides,
    }
    return {key: value for key, value in body.items() if value is not MISSING}


def register(hub: RunningHub, client: str, **overrides: Any) -> dict[str, Any]:
    """Register a camera as demo client ``client`` and return its read shape."""
    with hub.client(client) as http:
        response = http.post("/cameras", json=camera_body(**overrides))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def unique_tag() -> str:
    """A tag no other test uses, so that searches see only this test's cameras."""
    return f"test-{uuid.uuid4().hex[:10]}"


def names(page: dict[str, Any]) -> list[str]:
    return [item["name"] for item in page["items"]]


def test_owner_registers_a_camera_and_reads_it_back_without_its_stream_source(
    hub: RunningHub,
) -> None:
    created = register(hub, "sinar_owner", tags=["storefront", "street"])
    with hub.client("sinar_owner") as owner:
        response = owner.get(f"/cameras/{created['id']}")
    assert response.status_code == 200, response.text
    camera = response.json()
    assert camera == created
    assert camera["owner_party_id"] == str(hub.city.parties["shop_sinar"])
    assert camera["location"] == {
        "latitude": 3.5915,
        "longitude": 98.6515,
        "address": "Jl. Gatot Subroto No. 12",
        "province": "Sumatera Utara",
        "city": "Medan",
        "district": "Medan Sunggal",
        "village": "Sei Sikambing B",
        "rw": "05",
    }
    assert camera["tags"] == ["storefront", "street"]
    assert camera["status"] == "active"
    assert camera["has_stream_source"] is True
    assert "stream_source" not in camera
    assert "10.20.0.99" not in response.text
    assert "s3cret-pass" not in response.text


def test_owner_cannot_read_or_change_another_owners_camera(hub: RunningHub) -> None:
    sinar_camera = register(hub, "sinar_owner")
    with hub.client("rejeki_owner") as other_owner:
        read = other_owner.get(f"/cameras/{sinar_camera['id']}")
        change = other_owner.patch(f"/cameras/{sinar_camera['id']}", json={"name": "milik saya"})
    assert read.status_code == 404
    assert change.status_code == 404
    assert read.headers["content-type"].startswith("application/problem+json")
    with hub.client("sinar_owner") as owner:
        assert owner.get(f"/cameras/{sinar_camera['id']}").json()["name"] == sinar_camera["name"]


def test_owner_cannot_change_a_public_camera_it_can_see_but_does_not_own(
    hub: RunningHub,
) -> None:
    public_camera = hub.city.cameras["dishub_gatsu"]
    with hub.client("sinar_owner") as owner:
        assert owner.get(f"/cameras/{public_camera}").status_code == 200
        response = owner.patch(f"/cameras/{public_camera}", json={"visibility": "private"})
    assert response.status_code == 403
    assert response.json()["type"] == "/problems/forbidden"


def test_owner_changes_its_camera_and_the_audit_names_only_the_fields(hub: RunningHub) -> None:
    camera = register(hub, "rw05_owner", tags=["gate"])
    new_stream = "srt://10.30.0.7:9000?streamid=rahasia-baru"
    with hub.client("rw05_owner") as owner:
        response = owner.patch(
            f"/cameras/{camera['id']}",
            json={"tags": ["gate", "night"], "status": "maintenance", "stream_source": new_stream},
        )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["tags"] == ["gate", "night"]
    assert changed["status"] == "maintenance"
    assert changed["has_stream_source"] is True
    assert "rahasia-baru" not in response.text

    async def update_events(session: AsyncSession) -> list[AuditEvent]:
        query = select(AuditEvent).where(
            col(AuditEvent.object_id) == camera["id"], col(AuditEvent.action) == "camera.updated"
        )
        return list(await session.scalars(query))

    [event] = hub.query(update_events)
    assert event.details == {"changed": ["status", "stream_source", "tags"]}
    assert event.actor_party_id == str(hub.city.parties["rw05"])


def test_owner_forgets_a_cameras_stream_source(hub: RunningHub) -> None:
    camera = register(hub, "sinar_owner")
    with hub.client("sinar_owner") as owner:
        response = owner.patch(f"/cameras/{camera['id']}", json={"stream_source": None})
    assert response.status_code == 200, response.text
    assert response.json()["has_stream_source"] is False


def test_police_find_consented_cameras_but_not_those_of_an_owner_who_granted_nothing(
    hub: RunningHub,
) -> None:
    cameras, parties = hub.city.cameras, hub.city.parties
    with hub.client("polrestabes_cc") as police:
        sinar = police.get("/cameras", params={"owner_party_id": str(parties["shop_sinar"])})
        rejeki = police.get("/cameras", params={"owner_party_id": str(parties["shop_rejeki"])})
        consented = police.get(f"/cameras/{cameras['sinar_front']}")
        not_consented = police.get(f"/cameras/{cameras['rejeki_front']}")
    assert sinar.status_code == 200, sinar.text
    sinar_ids = {item["id"] for item in sinar.json()["items"]}
    assert str(cameras["sinar_front"]) in sinar_ids
    assert str(cameras["sinar_parking"]) not in sinar_ids  # not named in Sinar's consent
    assert (rejeki.json()["total"], rejeki.json()["items"]) == (0, [])
    assert consented.status_code == 200
    assert not_consented.status_code == 404


def test_police_find_public_cameras_of_owners_who_granted_nothing(hub: RunningHub) -> None:
    with hub.client("hub_admin") as admin:
        party = admin.post("/parties", json={"name": "Hotel Uji", "kind": "business"}).json()
        public = admin.post(
            "/cameras",
            json=camera_body(owner_party_id=party["id"], visibility="public", name="Lobi"),
        ).json()
        admin.post("/cameras", json=camera_body(owner_party_id=party["id"], name="Kantor"))
    with hub.client("polrestabes_cc") as police:
        found = police.get("/cameras", params={"owner_party_id": party["id"]}).json()
        traffic = police.get("/cameras", params={"tag": "traffic", "visibility": "public"}).json()
    assert [item["id"] for item in found["items"]] == [public["id"]]
    assert found["total"] == 1
    assert str(hub.city.cameras["dishub_gatsu"]) in {item["id"] for item in traffic["items"]}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"latitude": 200}, "latitude", id="latitude-200"),
        pytest.param({"visibility": "secret"}, "visibility", id="unknown-visibility"),
        pytest.param({"name": MISSING}, "name", id="missing-name"),
        pytest.param({"stream_source": "ftp://camera.local/s"}, "stream_source", id="ftp-stream"),
        pytest.param({"stream_source": "camera.local"}, "stream_source", id="not-a-url"),
        pytest.param({"tags": ["Not A Slug"]}, "tags.0", id="tag-not-a-slug"),
        pytest.param({"retention_days": 0}, "retention_days", id="no-retention"),
    ],
)
def test_bad_camera_input_is_refused_naming_the_field(
    hub: RunningHub, change: dict[str, Any], field: str
) -> None:
    with hub.client("sinar_owner") as owner:
        response = owner.post("/cameras", json=camera_body(**change))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "/problems/invalid-input"
    assert field in [error["field"] for error in problem["errors"]]
    assert "camera.local" not in response.text  # a refused stream source is not echoed


def test_search_filters_by_tag_box_and_owner_with_right_page_totals(hub: RunningHub) -> None:
    tag = unique_tag()
    # Two of Sinar's cameras inside a small box, one outside it; one of Rejeki's inside.
    register(hub, "sinar_owner", name="A - dalam", tags=[tag], latitude=3.60, longitude=98.60)
    register(hub, "sinar_owner", name="B - dalam", tags=[tag], latitude=3.61, longitude=98.61)
    register(hub, "sinar_owner", name="C - luar", tags=[tag], latitude=3.75, longitude=98.75)
    register(hub, "rejeki_owner", name="D - dalam", tags=[tag], latitude=3.605, longitude=98.605)
    box = {"min_lat": 3.59, "min_lon": 98.59, "max_lat": 3.62, "max_lon": 98.62}
    sinar = str(hub.city.parties["shop_sinar"])
    with hub.client("hub_admin") as admin:
        first = admin.get("/cameras", params={"tag": tag, "limit": 3}).json()
        second = admin.get("/cameras", params={"tag": tag, "limit": 3, "offset": 3}).json()
        boxed = admin.get("/cameras", params={"tag": tag, **box}).json()
        owned = admin.get("/cameras", params={"tag": tag, "owner_party_id": sinar}).json()
        owned_boxed = admin.get(
            "/cameras", params={"tag": tag, "owner_party_id": sinar, **box}
        ).json()
    with hub.client("sinar_owner") as owner:
        own_view = owner.get("/cameras", params={"tag": tag}).json()
    assert (names(first), first["total"], first["limit"], first["offset"]) == (
        ["A - dalam", "B - dalam", "C - luar"],
        4,
        3,
        0,
    )
    assert (names(second), second["total"], second["offset"]) == (["D - dalam"], 4, 3)
    assert (names(boxed), boxed["total"]) == (["A - dalam", "B - dalam", "D - dalam"], 3)
    assert (names(owned), owned["total"]) == (["A - dalam", "B - dalam", "C - luar"], 3)
    assert (names(owned_boxed), owned_boxed["total"]) == (["A - dalam", "B - dalam"], 2)
    assert own_view["total"] == 3  # Rejeki's private camera is not Sinar's to see


def test_search_refuses_half_a_bounding_box(hub: RunningHub) -> None:
    with hub.client("polrestabes_cc") as police:
        response = police.get("/cameras", params={"min_lat": 3.5, "min_lon": 98.6})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "max_lat"


def test_camera_registration_is_audited_without_the_stream_source(hub: RunningHub) -> None:
    camera = register(hub, "sinar_owner", tags=["audit-check"])

    async def registered_events(session: AsyncSession) -> list[AuditEvent]:
        query = select(AuditEvent).where(
            col(AuditEvent.object_id) == camera["id"],
            col(AuditEvent.action) == "camera.registered",
        )
        return list(await session.scalars(query))

    [event] = hub.query(registered_events)
    assert event.actor_party_id == str(hub.city.parties["shop_sinar"])
    assert event.object_type == "camera"
    assert event.details["owner_party_id"] == str(hub.city.parties["shop_sinar"])
    recorded = json.dumps(event.details)
    assert "10.20.0.99" not in recorded
    assert "s3cret-pass" not in recorded


def test_stream_source_is_stored_encrypted(hub: RunningHub) -> None:
    camera = register(hub, "sinar_owner")

    async def stored_source(session: AsyncSession) -> str:
        query = select(col(Camera.stream_source_encrypted)).where(
            col(Camera.id) == uuid.UUID(camera["id"])
        )
        return str(await session.scalar(query))

    stored = hub.query(stored_source)
    assert stored != STREAM
    assert "10.20.0.99" not in stored
    assert "s3cret-pass" not in stored
    assert SecretBox(hub.settings).decrypt(stored) == STREAM


def test_only_admins_register_cameras_for_another_party(hub: RunningHub) -> None:
    rejeki = str(hub.city.parties["shop_rejeki"])
    with hub.client("sinar_owner") as owner:
        refused = owner.post("/cameras", json=camera_body(owner_party_id=rejeki))
    with hub.client("hub_admin") as admin:
        accepted = admin.post("/cameras", json=camera_body(owner_party_id=rejeki))
    assert refused.status_code == 403
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["owner_party_id"] == rejeki


# --- Radius search ------------------------------------------------------------------------

METRES_PER_DEGREE_LATITUDE = 111_195.0  # on the mean Earth radius the service uses


def lonely_point() -> tuple[float, float]:
    """A point in the sea south of Sulawesi where no other test puts a camera."""
    return (-6.0 - uuid.uuid4().int % 10_000 / 10_000, 121.0 + uuid.uuid4().int % 10_000 / 10_000)


def north_of(point: tuple[float, float], metres: float) -> dict[str, float]:
    return {"latitude": point[0] + metres / METRES_PER_DEGREE_LATITUDE, "longitude": point[1]}


def test_radius_search_returns_only_cameras_within_the_radius_nearest_first(
    hub: RunningHub,
) -> None:
    point, tag = lonely_point(), unique_tag()
    register(hub, "sinar_owner", name="C - 400 m", tags=[tag], **north_of(point, 400))
    register(hub, "sinar_owner", name="A - 100 m", tags=[tag], **north_of(point, 100))
    register(hub, "sinar_owner", name="B - 250 m", tags=[tag], **north_of(point, 250))
    register(hub, "sinar_owner", name="D - 900 m", tags=[tag], **north_of(point, 900))
    # Inside the circle's bounding box, but about 640 m away across its corner.
    corner = 450 / METRES_PER_DEGREE_LATITUDE
    register(
        hub,
        "sinar_owner",
        name="E - corner",
        tags=[tag],
        latitude=point[0] + corner,
        longitude=point[1] + corner,
    )
    near = {"near_lat": point[0], "near_lon": point[1], "radius_m": 500}
    with hub.client("sinar_owner") as owner:
        found = owner.get("/cameras", params=near).json()
        plain = owner.get("/cameras", params={"tag": tag}).json()
    assert (names(found), found["total"]) == (["A - 100 m", "B - 250 m", "C - 400 m"], 3)
    distances = [item["distance_m"] for item in found["items"]]
    assert distances == pytest.approx([100, 250, 400], abs=1)
    assert {item["distance_m"] for item in plain["items"]} == {None}


def test_radius_search_combines_with_filters_and_pages(hub: RunningHub) -> None:
    point, tag = lonely_point(), unique_tag()
    register(hub, "sinar_owner", name="S1", tags=[tag], **north_of(point, 50))
    register(hub, "sinar_owner", name="S2", tags=[tag, "gate"], **north_of(point, 150))
    register(hub, "rejeki_owner", name="R1", tags=[tag], **north_of(point, 100))
    register(hub, "sinar_owner", name="S3 - other tag", tags=["other"], **north_of(point, 120))
    register(hub, "sinar_owner", name="S4", tags=[tag], visibility="public", **north_of(point, 80))
    near = {"near_lat": point[0], "near_lon": point[1], "radius_m": 1000}
    sinar = str(hub.city.parties["shop_sinar"])
    with hub.client("hub_admin") as admin:
        tagged = admin.get("/cameras", params={**near, "tag": tag}).json()
        owned = admin.get("/cameras", params={**near, "tag": tag, "owner_party_id": sinar}).json()
        public = admin.get("/cameras", params={**near, "visibility": "public"}).json()
        second_page = admin.get(
            "/cameras", params={**near, "tag": tag, "limit": 2, "offset": 2}
        ).json()
    with hub.client("polrestabes_cc") as police:
        # Police see Sinar's public camera, never Rejeki's private one (no consent).
        seen_by_police = police.get("/cameras", params={**near, "tag": tag}).json()
    assert names(tagged) == ["S1", "S4", "R1", "S2"]
    assert names(owned) == ["S1", "S4", "S2"]
    assert names(public) == ["S4"]
    assert (names(second_page), second_page["total"]) == (["R1", "S2"], 4)
    assert "R1" not in names(seen_by_police)
    assert "S4" in names(seen_by_police)


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"near_lat": 3.59, "near_lon": 98.65, "radius_m": 0}, ["radius_m"]),
        ({"near_lat": 3.59, "near_lon": 98.65, "radius_m": 50_001}, ["radius_m"]),
        ({"near_lat": 91, "near_lon": 98.65, "radius_m": 500}, ["near_lat"]),
        ({"near_lat": 3.59}, ["near_lon", "radius_m"]),
        ({"near_lon": 98.65, "radius_m": 500}, ["near_lat"]),
    ],
)
def test_radius_search_refuses_bad_or_partial_parameters_naming_them(
    hub: RunningHub, params: dict[str, float], fields: list[str]
) -> None:
    with hub.client("polrestabes_cc") as police:
        response = police.get("/cameras", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in response.json()["errors"]] == fields


def test_emergency_flow_finds_active_cameras_around_an_incident_nearest_first(
    hub: RunningHub,
) -> None:
    point = lonely_point()
    far = register(hub, "sinar_owner", name="far", **north_of(point, 300))
    near = register(hub, "rejeki_owner", name="near", **north_of(point, 30))
    broken = register(hub, "sinar_owner", name="broken", **north_of(point, 10))
    register(hub, "sinar_owner", name="outside", **north_of(point, 2000))
    with hub.client("sinar_owner") as owner:
        owner.patch(f"/cameras/{broken['id']}", json={"status": "decommissioned"})

    async def around(session: AsyncSession) -> list[uuid.UUID]:
        return await cameras_within(session, latitude=point[0], longitude=point[1], radius_m=1000)

    assert hub.query(around) == [uuid.UUID(near["id"]), uuid.UUID(far["id"])]
