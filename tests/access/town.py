"""A small town of its own for workflow tests: a shop with a camera, a police unit with an
officer and a supervisor, and an agreement binding them; nothing of the demo city changes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from sharing.cameras.models import Camera
from sharing.crypto import hash_client_secret, new_client_secret
from sharing.parties.models import Member, OAuthClient, Party
from tests.hubprocess import RunningHub

OWNER_SCOPES = "registry:read registry:write consent:read consent:write audit:read"
POLICE_SCOPES = "registry:read consent:read access:request"
PERWAL_TEMPLATE = "city-regulation-private-cctv"
LEGAL_BASIS = "LP/B/1234/XI/2026/SPKT"


@dataclass
class Person:
    """A member acting through their own client, with an authenticated HTTP client."""

    member_id: uuid.UUID
    http: httpx.Client


@dataclass
class Town:
    """One shop, one police unit under the demo Polda, and the agreement between them."""

    shop_id: uuid.UUID
    camera_id: uuid.UUID
    police_id: uuid.UUID
    agreement_id: uuid.UUID
    owner: Person
    officer: Person
    supervisor: Person
    _stack: ExitStack = field(default_factory=ExitStack, repr=False)

    def grant(self, **terms: Any) -> dict[str, Any]:
        """The owner grants the police unit live access to the camera, with ``terms``."""
        body = {
            "grantee_party_id": str(self.police_id),
            "agreement_id": str(self.agreement_id),
            "camera_selector": "cameras",
            "camera_ids": [str(self.camera_id)],
            "modes": ["live"],
            "purposes": ["criminal_investigation"],
            **terms,
        }
        response = self.owner.http.post("/consents", json=body)
        assert response.status_code == 201, response.text
        granted: dict[str, Any] = response.json()
        return granted

    def live_request(self, **changes: Any) -> dict[str, Any]:
        """The body of the officer's live request for the camera."""
        return {
            "camera_ids": [str(self.camera_id)],
            "mode": "live",
            "purpose": "criminal_investigation",
            "legal_basis": LEGAL_BASIS,
            "justification": "penjambretan di depan toko",
            **changes,
        }

    def close(self) -> None:
        """Close every HTTP client."""
        self._stack.close()


def build_town(hub: RunningHub, name: str) -> Town:
    """Register the town's parties, people and camera, and its agreement through the API."""
    suffix = uuid.uuid4().hex[:8]
    credentials: dict[str, tuple[str, str]] = {}

    async def register(session: AsyncSession) -> dict[str, uuid.UUID]:
        now = datetime.now(UTC)
        shop = Party(name=f"Toko {name} {suffix}", kind="business", created_at=now)
        police = Party(
            name=f"Polsek {name} {suffix}",
            kind="police",
            parent_id=hub.city.parties["polda"],
            created_at=now,
        )
        session.add_all([shop, police])
        await session.flush()
        camera = Camera(
            owner_party_id=shop.id,
            name=f"Toko {name} - depan",
            latitude=3.61,
            longitude=98.62,
            visibility="private",
            created_at=now,
            updated_at=now,
        )
        people = {
            "owner": Member(party_id=shop.id, name="Pemilik", role="owner", created_at=now),
            "officer": Member(
                party_id=police.id, name="Bripda Uji", role="officer", created_at=now
            ),
            "supervisor": Member(
                party_id=police.id, name="Kanit Uji", role="supervisor", created_at=now
            ),
        }
        session.add_all([camera, *people.values()])
        await session.flush()
        for key, member in people.items():
            client_id, secret = f"test-town-{key}-{suffix}", new_client_secret()
            credentials[key] = (client_id, secret)
            session.add(
                OAuthClient(
                    client_id=client_id,
                    party_id=member.party_id,
                    member_id=member.id,
                    name=f"{key} {name}",
                    auth_method="client_secret_basic",
                    scopes=OWNER_SCOPES if key == "owner" else POLICE_SCOPES,
                    secret_hash=hash_client_secret(secret),
                    created_at=now,
                )
            )
        await session.commit()
        return {
            "shop": shop.id,
            "police": police.id,
            "camera": camera.id,
            **{key: member.id for key, member in people.items()},
        }

    ids = hub.query(register)
    stack = ExitStack()
    person = {
        key: Person(ids[key], stack.enter_context(_client(hub, *credentials[key])))
        for key in ("owner", "officer", "supervisor")
    }
    with hub.client("hub_admin") as admin:
        agreement = admin.post(
            "/agreements",
            json={
                "kind": "regulation",
                "number": f"Perwal Uji {suffix}",
                "title": "Peraturan uji tentang CCTV milik swasta",
                "policy_template": PERWAL_TEMPLATE,
                "document_sha256": "ab" * 32,
                "status": "active",
                "valid_from": (datetime.now(UTC) - timedelta(days=30)).isoformat(),
                "party_ids": [str(ids["shop"]), str(ids["police"])],
            },
        )
    assert agreement.status_code == 201, agreement.text
    return Town(
        shop_id=ids["shop"],
        camera_id=ids["camera"],
        police_id=ids["police"],
        agreement_id=uuid.UUID(agreement.json()["id"]),
        owner=person["owner"],
        officer=person["officer"],
        supervisor=person["supervisor"],
        _stack=stack,
    )


def town_fixture(hub: RunningHub, name: str) -> Iterator[Town]:
    """Build a town for a fixture and close its clients afterwards."""
    town = build_town(hub, name)
    try:
        yield town
    finally:
        town.close()


def _client(hub: RunningHub, client_id: str, secret: str) -> httpx.Client:
    issued = httpx.post(
        f"{hub.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=10,
    )
    issued.raise_for_status()
    return httpx.Client(
        base_url=hub.url,
        timeout=10,
        headers={"Authorization": f"Bearer {issued.json()['access_token']}"},
    )
