"""The catalog a hub publishes to a peer, its sync, and remote cameras in search."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.models import AuditEvent
from sharing.federation.client import PeerClient
from sharing.federation.models import FederationPeer
from tests.federation.conftest import HubPair, as_peer, federated_pair, peer_row
from tests.hubprocess import RunningHub

# The demo city's public traffic cameras (public visibility, public consent on "traffic").
PUBLIC_TRAFFIC = {
    "dishub_gatsu",
    "dishub_merdeka",
    "dishub_amplas",
    "dishub_sudirman",
    "dishub_sm_raja",
    "dishub_aksara",
    "dishub_bundaran",
}
CAMERA_KEYS = {"id", "name", "latitude", "longitude", "tags", "modes"}


def _read_catalog(pair: HubPair, **headers: str) -> httpx.Response:
    """The Polda hub reads the city hub's catalog, authenticated by private_key_jwt."""

    home = peer_row(pair.polda, pair.city.url)

    async def read(peer: PeerClient) -> httpx.Response:
        token = await peer.client_credentials_token(home, "federation:peer")
        return await peer.call(
            "GET",
            f"{pair.city.url}/federation/catalog",
            token=token,
            headers=headers,
            idempotent=True,
        )

    response: httpx.Response = as_peer(pair.polda, read)
    return response


def _synced_events(pair: HubPair) -> list[dict[str, Any]]:
    async def load(session: AsyncSession) -> list[dict[str, Any]]:
        rows = await session.scalars(
            select(AuditEvent)
            .where(
                col(AuditEvent.action) == "federation.catalog_synced",
                col(AuditEvent.object_id) == pair.city_at_polda["id"],
            )
            .order_by(col(AuditEvent.id))
        )
        return [dict(row.details) for row in rows]

    events: list[dict[str, Any]] = pair.polda.query(load)
    return events


def _names(hub: RunningHub, ids: list[str]) -> set[str]:
    by_id = {str(camera_id): key for key, camera_id in hub.city.cameras.items()}
    return {by_id[camera_id] for camera_id in ids}


def test_a_peer_reads_exactly_the_cameras_shared_with_its_party(hub_pair: HubPair) -> None:
    response = _read_catalog(hub_pair)

    assert response.status_code == 200, response.text
    catalog = response.json()
    assert catalog["hub"] == hub_pair.city.url
    cameras = catalog["cameras"]
    assert _names(hub_pair.city, [c["id"] for c in cameras]) == PUBLIC_TRAFFIC | {"dishub_belawan"}
    assert [c["id"] for c in cameras] == sorted(c["id"] for c in cameras)
    belawan = next(
        c for c in cameras if c["id"] == str(hub_pair.city.city.cameras["dishub_belawan"])
    )
    assert belawan["modes"] == ["live"]
    assert belawan["name"] == "Jl. Yos Sudarso - Belawan"
    assert belawan["tags"] == ["port", "traffic"]
    assert belawan["latitude"] == 3.7752


def test_the_catalog_is_metadata_only(hub_pair: HubPair) -> None:
    response = _read_catalog(hub_pair)
    for camera in response.json()["cameras"]:
        assert set(camera) == CAMERA_KEYS
    text = response.text.lower()
    for leak in ("rtsp", "stream", "source"):
        assert leak not in text


def test_cameras_shared_only_with_other_parties_never_appear(hub_pair: HubPair) -> None:
    # The shops' cameras are granted to Polrestabes only; Dishub's MoU consent too.
    names = _names(hub_pair.city, [c["id"] for c in _read_catalog(hub_pair).json()["cameras"]])
    assert not names & {"sinar_front", "sinar_back", "dishub_kesawan", "dishub_pinang_baris"}


def test_a_revoked_consent_leaves_the_catalog(hub_pair: HubPair) -> None:
    before = _read_catalog(hub_pair)
    dishub = hub_pair.city.client("dishub_operator")
    extra = dishub.post(
        "/consents",
        json={
            "grantee_party_id": str(hub_pair.city.city.parties["polda"]),
            "agreement_id": str(hub_pair.city.city.agreements["mou"]),
            "camera_selector": "cameras",
            "camera_ids": [str(hub_pair.city.city.cameras["dishub_kesawan"])],
            "modes": ["live", "footage"],
            "purposes": ["traffic_management"],
            "max_lookback_hours": 24,
        },
    )
    assert extra.status_code == 201, extra.text
    during = _read_catalog(hub_pair)
    kesawan = str(hub_pair.city.city.cameras["dishub_kesawan"])
    shared = {c["id"]: c for c in during.json()["cameras"]}
    assert shared[kesawan]["modes"] == ["footage", "live"]
    assert during.headers["etag"] != before.headers["etag"]

    revoked = dishub.post(f"/consents/{extra.json()['id']}/revoke", json={"reason": "selesai"})
    assert revoked.status_code == 200, revoked.text
    after = _read_catalog(hub_pair)
    assert kesawan not in {c["id"] for c in after.json()["cameras"]}
    assert after.headers["etag"] == before.headers["etag"]


def test_etag_is_the_bodys_sha256_and_if_none_match_answers_304(hub_pair: HubPair) -> None:
    first = _read_catalog(hub_pair)
    etag = first.headers["etag"]
    assert etag == f'"{hashlib.sha256(first.content).hexdigest()}"'

    again = _read_catalog(hub_pair, **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    stale = _read_catalog(hub_pair, **{"If-None-Match": '"0000"'})
    assert stale.status_code == 200


def test_only_peer_hubs_read_the_catalog(hub_pair: HubPair) -> None:
    city = hub_pair.city
    assert city.anonymous().get("/federation/catalog").status_code == 401
    assert city.client("polrestabes_cc").get("/federation/catalog").status_code == 403
    assert city.client("hub_admin").get("/federation/catalog").status_code == 403


def test_sync_stores_the_catalog_and_search_shows_remote_cameras_with_home_hub(
    hub_pair: HubPair,
) -> None:
    first = hub_pair.sync_city_at_polda()
    assert first.status_code == 200, first.text
    assert first.json()["remote_cameras"] == len(PUBLIC_TRAFFIC) + 1
    synced_events = _synced_events(hub_pair)
    assert synced_events[-1]["cameras"] == len(PUBLIC_TRAFFIC) + 1
    second = hub_pair.sync_city_at_polda()
    assert second.json()["changed"] is False  # 304: nothing rewritten, nothing recorded
    assert _synced_events(hub_pair) == synced_events

    officer = hub_pair.polda.client("polrestabes_cc")
    local_only = officer.get("/cameras", params={"limit": 200}).json()
    assert all(item["home_hub"] is None for item in local_only["items"])
    both = officer.get("/cameras", params={"include_remote": "true", "limit": 200}).json()
    remote = [item for item in both["items"] if item["home_hub"] is not None]
    assert {item["home_hub"] for item in remote} == {hub_pair.city.url}
    assert len(remote) == len(PUBLIC_TRAFFIC) + 1
    assert both["total"] == local_only["total"] + len(remote)
    assert [i["name"] for i in both["items"]] == sorted(i["name"] for i in both["items"])
    belawan = next(i for i in remote if i["name"] == "Jl. Yos Sudarso - Belawan")
    assert belawan["id"] == str(hub_pair.city.city.cameras["dishub_belawan"])
    assert belawan["modes"] == ["live"]
    assert belawan["has_stream_source"] is False


def test_remote_cameras_follow_search_filters(hub_pair: HubPair) -> None:
    hub_pair.sync_city_at_polda()
    officer = hub_pair.polda.client("polrestabes_cc")

    def remote(**params: Any) -> list[dict[str, Any]]:
        page = officer.get("/cameras", params={"include_remote": "true", **params}).json()
        return [item for item in page["items"] if item["home_hub"]]

    assert [i["name"] for i in remote(tag="port")] == ["Jl. Yos Sudarso - Belawan"]
    near = remote(near_lat=3.7752, near_lon=98.6837, radius_m=500)
    assert [i["name"] for i in near] == ["Jl. Yos Sudarso - Belawan"]
    assert near[0]["distance_m"] == 0.0
    boxed = remote(min_lat=3.77, min_lon=98.68, max_lat=3.78, max_lon=98.69)
    assert len(boxed) == 1
    assert remote(city="Medan") == []  # remote cameras carry no address


def test_sync_replaces_the_peers_rows_in_one_go(hub_pair: HubPair) -> None:
    hub_pair.sync_city_at_polda()
    row: FederationPeer = peer_row(hub_pair.polda, hub_pair.city.url)
    status = hub_pair.admin(hub_pair.polda).get(f"/federation/peers/{row.id}").json()
    assert status["catalog_etag"] == row.catalog_etag
    assert json.loads(json.dumps(status))["remote_cameras"] == len(PUBLIC_TRAFFIC) + 1


def test_two_postgres_hubs_exchange_their_catalog(tmp_path: Path) -> None:
    with federated_pair(tmp_path, backend="postgres") as pair:
        catalog = _read_catalog(pair)
        assert catalog.status_code == 200, catalog.text
        names = _names(pair.city, [c["id"] for c in catalog.json()["cameras"]])
        assert names == PUBLIC_TRAFFIC | {"dishub_belawan"}
        synced = pair.sync_city_at_polda()
        assert synced.status_code == 200, synced.text
        assert synced.json()["remote_cameras"] == len(names)
        assert pair.sync_city_at_polda().json()["changed"] is False
        officer = pair.polda.client("polrestabes_cc")
        port = officer.get("/cameras", params={"include_remote": "true", "tag": "port"}).json()
        # The Polda hub's own demo city has a Belawan camera too: one local, one remote.
        assert sorted(str(item["home_hub"]) for item in port["items"]) == ["None", pair.city.url]
