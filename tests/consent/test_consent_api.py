"""Owners grant, read and revoke consent over HTTP; agreements and terms are readable.

The hub is shared by the whole session, so this module brings its own two shops, each with
an owner's client and a camera, and its own agreement: nothing here touches the demo city's
consents.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.access.models import AccessRequest, AccessToken, ApprovalTask, TokenConsent
from sharing.audit.models import AuditEvent
from sharing.cameras.models import Camera, CameraTag
from sharing.consent.models import Consent
from sharing.crypto import SecretBox, hash_client_secret, new_client_secret
from sharing.parties.models import Member, OAuthClient, Party
from sharing.webhooks.models import WebhookDelivery, WebhookSubscription
from tests.hubprocess import RunningHub

OWNER_SCOPES = "registry:read registry:write consent:read consent:write"
PERWAL = "city-regulation-private-cctv"


@dataclass
class Shop:
    """A shop that owns one camera, with its owner's authenticated HTTP client."""

    party_id: uuid.UUID
    camera_id: uuid.UUID
    http: httpx.Client


@dataclass
class Street:
    """Two shops side by side, bound with the police by their own agreement."""

    sinar: Shop
    rejeki: Shop
    agreement_id: uuid.UUID
    police_id: uuid.UUID


def open_shop(hub: RunningHub, name: str) -> Shop:
    """Register a shop, its owner, the owner's client and a storefront camera."""
    client_id = f"test-consent-{uuid.uuid4().hex[:10]}"
    secret = new_client_secret()

    async def register(session: AsyncSession) -> tuple[uuid.UUID, uuid.UUID]:
        now = datetime.now(UTC)
        party = Party(name=name, kind="business", created_at=now)
        session.add(party)
        await session.flush()
        owner = Member(party_id=party.id, name=f"Pemilik {name}", role="owner", created_at=now)
        camera = Camera(
            owner_party_id=party.id,
            name=f"{name} - depan",
            latitude=3.59,
            longitude=98.67,
            visibility="private",
            created_at=now,
            updated_at=now,
        )
        session.add_all([owner, camera])
        await session.flush()
        session.add_all(
            [
                CameraTag(camera_id=camera.id, tag="storefront"),
                OAuthClient(
                    client_id=client_id,
                    party_id=party.id,
                    member_id=owner.id,
                    name=name,
                    auth_method="client_secret_basic",
                    scopes=OWNER_SCOPES,
                    secret_hash=hash_client_secret(secret),
                    created_at=now,
                ),
            ]
        )
        await session.commit()
        return party.id, camera.id

    party_id, camera_id = hub.query(register)
    issued = httpx.post(
        f"{hub.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=10,
    )
    issued.raise_for_status()
    http = httpx.Client(
        base_url=hub.url,
        timeout=10,
        headers={"Authorization": f"Bearer {issued.json()['access_token']}"},
    )
    return Shop(party_id, camera_id, http)


@pytest.fixture(scope="module")
def street(hub: RunningHub) -> Iterator[Street]:
    """Two new shops and an agreement binding them with Polrestabes and Polda."""
    sinar, rejeki = open_shop(hub, "Toko Uji Sinar"), open_shop(hub, "Toko Uji Rejeki")
    police = hub.city.parties["polrestabes"]
    with hub.client("hub_admin") as admin:
        registered = admin.post(
            "/agreements",
            json=agreement_body(
                [sinar.party_id, rejeki.party_id, police, hub.city.parties["polda"]]
            ),
        )
    assert registered.status_code == 201, registered.text
    yield Street(sinar, rejeki, uuid.UUID(registered.json()["id"]), police)
    sinar.http.close()
    rejeki.http.close()


def agreement_body(parties: list[uuid.UUID], **changes: Any) -> dict[str, Any]:
    return {
        "kind": "regulation",
        "number": f"Perwal Uji No. {uuid.uuid4().hex[:6]}",
        "title": "Peraturan uji tentang CCTV milik swasta",
        "policy_template": PERWAL,
        "document_sha256": "ab" * 32,
        "status": "active",
        "valid_from": (datetime.now(UTC) - timedelta(days=30)).isoformat(),
        "party_ids": [str(party) for party in parties],
        **changes,
    }


def grant_body(street: Street, **changes: Any) -> dict[str, Any]:
    return {
        "grantee_party_id": str(street.police_id),
        "agreement_id": str(street.agreement_id),
        "camera_selector": "cameras",
        "camera_ids": [str(street.sinar.camera_id)],
        "modes": ["live", "footage"],
        "purposes": ["criminal_investigation"],
        "max_lookback_hours": 48,
        **changes,
    }


def grant(street: Street, **changes: Any) -> dict[str, Any]:
    response = street.sinar.http.post("/consents", json=grant_body(street, **changes))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def field_errors(response: httpx.Response) -> list[str]:
    assert response.headers["content-type"].startswith("application/problem+json")
    return [error["field"] for error in response.json()["errors"]]


# --- granting and reading -----------------------------------------------------------------


def test_owner_grants_police_access_and_police_sees_the_grant(
    hub: RunningHub, street: Street
) -> None:
    consent = grant(street)

    assert consent["grantor_party_id"] == str(street.sinar.party_id)
    assert consent["camera_ids"] == [str(street.sinar.camera_id)]
    assert consent["status"] == "active"
    with hub.client("polrestabes_cc") as police:
        listed = police.get("/consents", params={"camera_id": str(street.sinar.camera_id)})
        read = police.get(f"/consents/{consent['id']}")
    assert listed.status_code == 200, listed.text
    assert consent["id"] in [item["id"] for item in listed.json()["items"]]
    assert read.status_code == 200
    assert read.json()["purposes"] == ["criminal_investigation"]


def test_owner_grants_by_tag_and_the_grant_covers_the_tagged_camera(street: Street) -> None:
    consent = grant(street, camera_selector="tag", camera_ids=[], selector_tag="storefront")

    listed = street.sinar.http.get(
        "/consents", params={"camera_id": str(street.sinar.camera_id), "status": "active"}
    )
    assert consent["id"] in [item["id"] for item in listed.json()["items"]]


def test_owner_cannot_grant_on_another_owners_camera(street: Street) -> None:
    response = street.sinar.http.post(
        "/consents", json=grant_body(street, camera_ids=[str(street.rejeki.camera_id)])
    )

    assert response.status_code == 422
    assert field_errors(response) == ["camera_ids"]


def test_owner_cannot_grant_in_another_owners_name(street: Street) -> None:
    response = street.sinar.http.post(
        "/consents", json=grant_body(street, grantor_party_id=str(street.rejeki.party_id))
    )

    assert response.status_code == 403


def test_grant_for_a_purpose_outside_the_regulation_is_refused_naming_the_field(
    street: Street,
) -> None:
    response = street.sinar.http.post(
        "/consents", json=grant_body(street, purposes=["public_information"])
    )

    assert response.status_code == 422
    assert field_errors(response) == ["purposes"]
    assert "criminal_investigation" in response.json()["errors"][0]["message"]  # what is allowed


def test_grant_may_only_narrow_the_regulations_limits(street: Street) -> None:
    response = street.sinar.http.post("/consents", json=grant_body(street, max_lookback_hours=500))

    assert response.status_code == 422
    assert field_errors(response) == ["max_lookback_hours"]
    assert "168" in response.json()["detail"]


def test_public_grant_under_a_regulation_that_forbids_it_is_refused(street: Street) -> None:
    response = street.sinar.http.post("/consents", json=grant_body(street, grantee_party_id=None))

    assert response.status_code == 422
    assert field_errors(response) == ["grantee_party_id"]


def test_grant_to_a_party_outside_the_agreement_is_refused(hub: RunningHub, street: Street) -> None:
    outsider = hub.city.parties["psc119"]
    response = street.sinar.http.post(
        "/consents", json=grant_body(street, grantee_party_id=str(outsider))
    )

    assert response.status_code == 422
    assert field_errors(response) == ["grantee_party_id"]


def test_grant_with_an_unknown_mode_is_refused_naming_the_field(street: Street) -> None:
    response = street.sinar.http.post("/consents", json=grant_body(street, modes=["ptz"]))

    assert response.status_code == 422
    assert any(field.startswith("modes") for field in field_errors(response))


def test_owner_cannot_read_or_revoke_another_owners_consent(street: Street) -> None:
    consent = grant(street)

    read = street.rejeki.http.get(f"/consents/{consent['id']}")
    revoke = street.rejeki.http.post(
        f"/consents/{consent['id']}/revoke", json={"reason": "not mine, but let's try"}
    )
    listed = street.rejeki.http.get("/consents")

    assert read.status_code == 404
    assert revoke.status_code == 404
    assert consent["id"] not in [item["id"] for item in listed.json()["items"]]
    assert street.sinar.http.get(f"/consents/{consent['id']}").json()["status"] == "active"


def test_consents_are_listed_a_page_at_a_time(street: Street) -> None:
    for _ in range(3):
        grant(street)

    page = street.sinar.http.get("/consents", params={"limit": 2, "offset": 1}).json()

    assert page["limit"] == 2
    assert page["offset"] == 1
    assert page["total"] >= 3
    assert len(page["items"]) == 2


def test_police_without_consent_write_cannot_grant(hub: RunningHub, street: Street) -> None:
    with hub.client("polrestabes_cc") as police:
        response = police.post("/consents", json=grant_body(street))

    assert response.status_code == 403


# --- revocation ---------------------------------------------------------------------------


def mint_token_on(hub: RunningHub, consent_id: str, requester: uuid.UUID) -> str:
    """Record a live access token resting on ``consent_id``, as the access broker would."""
    jti = uuid.uuid4().hex

    async def mint(session: AsyncSession) -> None:
        now = datetime.now(UTC)
        request = _live_request(requester, "approved", {}, now)
        session.add(request)
        await session.flush()
        session.add(
            AccessToken(
                jti=jti,
                request_id=request.id,
                audience="urn:test",
                mode="live",
                camera_ids=[],
                expires_at=now + timedelta(minutes=10),
                created_at=now,
            )
        )
        await session.flush()
        session.add(TokenConsent(jti=jti, consent_id=uuid.UUID(consent_id)))
        await session.commit()

    hub.query(mint)
    return jti


def test_owner_revokes_consent_and_its_tokens_in_one_audited_step(
    hub: RunningHub, street: Street
) -> None:
    consent = grant(street)
    jti = mint_token_on(hub, consent["id"], street.police_id)

    response = street.sinar.http.post(
        f"/consents/{consent['id']}/revoke", json={"reason": "Toko tutup, kamera dipindah"}
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "revoked"
    assert response.json()["revocation_reason"] == "Toko tutup, kamera dipindah"

    async def afterwards(
        session: AsyncSession,
    ) -> tuple[Consent | None, AccessToken | None, list[AuditEvent]]:
        events = await session.execute(
            select(AuditEvent).where(col(AuditEvent.object_id).in_([consent["id"], jti]))
        )
        return (
            await session.get(Consent, uuid.UUID(consent["id"])),
            await session.get(AccessToken, jti),
            list(events.scalars()),
        )

    stored, token, events = hub.query(afterwards)
    assert stored is not None
    assert stored.status == "revoked"
    assert token is not None
    assert token.revoked_at is not None
    assert token.revocation_reason == "consent revoked"
    by_action = {event.action: event for event in events}
    assert set(by_action) == {"consent.granted", "consent.revoked", "access_token.revoked"}
    revoked = by_action["consent.revoked"]
    assert revoked.actor_party_id == str(street.sinar.party_id)
    assert revoked.details["reason"] == "Toko tutup, kamera dipindah"
    assert revoked.details["revoked_tokens"] == [jti]
    assert (revoked.id or 0) < (by_action["access_token.revoked"].id or 0)  # consent first
    # One clock reading, one transaction: the change and its record carry the same instant.
    assert revoked.occurred_at == stored.revoked_at == by_action["access_token.revoked"].occurred_at


def test_revoking_twice_conflicts(street: Street) -> None:
    consent = grant(street)
    first = street.sinar.http.post(f"/consents/{consent['id']}/revoke", json={"reason": "done"})

    second = street.sinar.http.post(f"/consents/{consent['id']}/revoke", json={"reason": "again"})

    assert first.status_code == 200
    assert second.status_code == 409
    assert second.json()["type"] == "/problems/conflict"


def test_grantee_sees_the_revocation_but_cannot_revoke(hub: RunningHub, street: Street) -> None:
    consent = grant(street)
    street.sinar.http.post(f"/consents/{consent['id']}/revoke", json={"reason": "selesai"})

    with hub.client("polrestabes_cc") as police:
        revoked = police.get(
            "/consents", params={"status": "revoked", "camera_id": str(street.sinar.camera_id)}
        )
        attempt = police.post(f"/consents/{consent['id']}/revoke", json={"reason": "x"})

    assert consent["id"] in [item["id"] for item in revoked.json()["items"]]
    assert attempt.status_code == 403


def test_revocation_needs_a_reason(street: Street) -> None:
    consent = grant(street)

    response = street.sinar.http.post(f"/consents/{consent['id']}/revoke", json={})

    assert response.status_code == 422
    assert any("reason" in field for field in field_errors(response))


# --- agreements and terms -----------------------------------------------------------------


def test_hub_admin_registers_an_agreement_and_its_parties_can_read_it(
    hub: RunningHub, street: Street
) -> None:
    with hub.client("hub_admin") as admin:
        registered = admin.get(f"/agreements/{street.agreement_id}")
    assert registered.status_code == 200
    assert registered.json()["policy_template"] == PERWAL

    mine = street.sinar.http.get("/agreements")
    assert str(street.agreement_id) in [a["id"] for a in mine.json()]
    assert street.sinar.http.get(f"/agreements/{street.agreement_id}").status_code == 200


def test_party_outside_an_agreement_cannot_read_it(hub: RunningHub, street: Street) -> None:
    with hub.client("rw05_owner") as outsider:
        response = outsider.get(f"/agreements/{street.agreement_id}")
        listed = outsider.get("/agreements")

    assert response.status_code == 404
    assert str(street.agreement_id) not in [a["id"] for a in listed.json()]


def test_owner_cannot_register_an_agreement(street: Street) -> None:
    response = street.sinar.http.post("/agreements", json=agreement_body([street.sinar.party_id]))

    assert response.status_code == 403


def test_agreement_under_an_unknown_template_is_refused_naming_the_field(
    hub: RunningHub, street: Street
) -> None:
    with hub.client("hub_admin") as admin:
        response = admin.post(
            "/agreements",
            json=agreement_body([street.sinar.party_id], policy_template="perwal-tanpa-aturan"),
        )

    assert response.status_code == 422
    assert field_errors(response) == ["policy_template"]


def test_anyone_signed_in_can_read_the_terms_with_purpose_labels(hub: RunningHub) -> None:
    with hub.client("polrestabes_cc") as police:
        listed = police.get("/policies")
        perwal = police.get(f"/policies/{PERWAL}")
        missing = police.get("/policies/no-such-terms")
    with hub.anonymous() as anonymous:
        unauthenticated = anonymous.get("/policies")

    assert listed.status_code == 200
    names = [p["name"] for p in listed.json()]
    assert names == sorted(names)
    assert {"city-regulation-private-cctv", "mou-pemkot-polda", "public-cameras"} <= set(names)
    labels = {p["code"]: p["label_en"] for p in perwal.json()["purposes"]}
    assert labels["criminal_investigation"] == "Criminal investigation"
    assert perwal.json()["legal_basis"][0]["purpose"] == "criminal_investigation"
    assert missing.status_code == 404
    assert unauthenticated.status_code == 401


# --- helpers shared by the lifecycle, receipt and objection tests ---------------------------


def register_agreement(hub: RunningHub, parties: list[uuid.UUID], **changes: Any) -> dict[str, Any]:
    """Register an agreement as the hub operator (active unless ``status`` says otherwise)."""
    with hub.client("hub_admin") as admin:
        response = admin.post("/agreements", json=agreement_body(parties, **changes))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def subscribe(hub: RunningHub, party_id: uuid.UUID) -> uuid.UUID:
    """Give a party a webhook subscription to every event (to an address nobody serves)."""

    async def add(session: AsyncSession) -> uuid.UUID:
        subscription = WebhookSubscription(
            party_id=party_id,
            url="http://127.0.0.1:9/hook",
            secret_encrypted=SecretBox(hub.settings).encrypt("test-secret"),
            event_types=["*"],
            created_at=datetime.now(UTC),
        )
        session.add(subscription)
        await session.commit()
        return subscription.id

    return hub.query(add)


def notifications(hub: RunningHub, subscription_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
    """The events queued for a subscription, oldest first: (event type, payload)."""

    async def read(session: AsyncSession) -> list[tuple[str, dict[str, Any]]]:
        rows = await session.execute(
            select(WebhookDelivery)
            .where(col(WebhookDelivery.subscription_id) == subscription_id)
            .order_by(col(WebhookDelivery.created_at))
        )
        return [(row.event_type, dict(row.payload)) for row in rows.scalars()]

    return hub.query(read)


def pending_request_on(
    hub: RunningHub, consent_id: str, agreement_id: uuid.UUID, requester: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID]:
    """Record a request waiting for the owner's approval under ``consent_id``, as the access
    broker would; returns the request's and its approval task's ids."""

    async def add(session: AsyncSession) -> tuple[uuid.UUID, uuid.UUID]:
        now = datetime.now(UTC)
        consent = await session.get(Consent, uuid.UUID(consent_id))
        assert consent is not None
        request = _live_request(
            requester,
            "pending",
            {
                "outcome": "needs_approval",
                "grants": [{"consent_id": consent_id, "agreement_id": str(agreement_id)}],
                "reasons": [],
            },
            now,
            pending_until=now + timedelta(hours=1),
        )
        session.add(request)
        await session.flush()
        task = ApprovalTask(
            request_id=request.id,
            kind="owner",
            approver_party_id=consent.grantor_party_id,
            camera_ids=[],
            consent_id=consent.id,
            created_at=now,
        )
        session.add(task)
        await session.commit()
        return request.id, task.id

    return hub.query(add)


def _live_request(
    requester: uuid.UUID,
    status: str,
    explanation: dict[str, object],
    now: datetime,
    pending_until: datetime | None = None,
) -> AccessRequest:
    """A request for live video for public order, as the access broker records it."""
    return AccessRequest(
        requester_party_id=requester,
        requester_client_id="test",
        camera_ids=[],
        mode="live",
        purpose="public_order",
        status=status,
        explanation=explanation,
        pending_until=pending_until,
        created_at=now,
    )


@dataclass(frozen=True)
class Stopped:
    """What became of a token, a request and its approval task."""

    token_revoked: bool
    token_reason: str | None
    request_status: str
    task_status: str


def stopped_state(hub: RunningHub, jti: str, request_id: uuid.UUID, task_id: uuid.UUID) -> Stopped:
    """Read back a token, a pending request and its task after a cascade."""

    async def read(session: AsyncSession) -> Stopped:
        token = await session.get(AccessToken, jti)
        request = await session.get(AccessRequest, request_id)
        task = await session.get(ApprovalTask, task_id)
        assert token is not None
        assert request is not None
        assert task is not None
        return Stopped(
            token.revoked_at is not None, token.revocation_reason, request.status, task.status
        )

    return hub.query(read)


def audit_actions(hub: RunningHub, object_id: object) -> list[str]:
    """The audit actions recorded on one object, in order."""

    async def read(session: AsyncSession) -> list[str]:
        rows = await session.execute(
            select(col(AuditEvent.action))
            .where(col(AuditEvent.object_id) == str(object_id))
            .order_by(col(AuditEvent.id))
        )
        return list(rows.scalars())

    return hub.query(read)
