"""The party registry over HTTP: the hub operator onboards parties, their people and their
software; parties manage their own people; secrets are shown once and never again."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jose import jwk
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.models import AuditEvent
from tests.hubprocess import RunningHub


def register_party(hub: RunningHub, **fields: Any) -> dict[str, Any]:
    """Register a party as the hub administrator."""
    body = {"name": f"Pihak uji {uuid.uuid4().hex[:8]}", "kind": "business", **fields}
    with hub.client("hub_admin") as admin:
        response = admin.post("/parties", json=body)
    assert response.status_code == 201, response.text
    party: dict[str, Any] = response.json()
    return party


def register_client(hub: RunningHub, party_id: str, **fields: Any) -> httpx.Response:
    """Ask, as the hub administrator, for a client of ``party_id``."""
    body = {
        "name": "Aplikasi uji",
        "auth_method": "client_secret_basic",
        "scopes": ["registry:read"],
        **fields,
    }
    with hub.client("hub_admin") as admin:
        return admin.post(f"/parties/{party_id}/clients", json=body)


def client_with_secret(hub: RunningHub, client_id: str, secret: str) -> httpx.Client:
    """An HTTP client holding a token obtained with a newly registered client's secret."""
    response = httpx.post(
        f"{hub.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    return httpx.Client(base_url=hub.url, timeout=10, headers={"Authorization": f"Bearer {token}"})


def public_jwk_set() -> dict[str, Any]:
    """A fresh P-256 public key as a JWK Set, and nothing private."""
    public_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    key = jwk.construct(pem, "ES256").to_dict()
    return {"keys": [{**key, "kid": "uji-1", "alg": "ES256", "use": "sig"}]}


def audit_events(hub: RunningHub, object_id: str) -> list[AuditEvent]:
    """The audit events about one object, oldest first."""

    async def events(session: AsyncSession) -> list[AuditEvent]:
        query = (
            select(AuditEvent)
            .where(col(AuditEvent.object_id) == object_id)
            .order_by(col(AuditEvent.id))
        )
        return list(await session.scalars(query))

    return hub.query(events)


def test_admin_registers_a_party_with_a_parent_a_member_and_a_client(hub: RunningHub) -> None:
    polrestabes = str(hub.city.parties["polrestabes"])
    party = register_party(hub, name="Polsek Medan Baru", kind="police", parent_id=polrestabes)
    assert party["parent_id"] == polrestabes
    assert party["kind"] == "police"
    assert party["active"] is True
    with hub.client("hub_admin") as admin:
        member = admin.post(
            f"/parties/{party['id']}/members", json={"name": "Aiptu Joko", "role": "officer"}
        )
    assert member.status_code == 201, member.text
    created = register_client(hub, party["id"], member_id=member.json()["id"])
    assert created.status_code == 201, created.text
    client = created.json()
    secret = client["client_secret"]
    assert secret
    assert client["member_id"] == member.json()["id"]

    with hub.client("hub_admin") as admin:
        listed = admin.get(f"/parties/{party['id']}/clients")
    assert listed.status_code == 200
    [shown] = listed.json()
    assert shown["client_id"] == client["client_id"]
    assert "client_secret" not in shown
    assert "secret_hash" not in shown
    assert secret not in listed.text

    with client_with_secret(hub, client["client_id"], secret) as new_client:
        assert new_client.get(f"/parties/{party['id']}").status_code == 200

    assert [e.action for e in audit_events(hub, party["id"])] == ["party.registered"]
    assert [e.action for e in audit_events(hub, member.json()["id"])] == ["member.added"]
    [registered] = audit_events(hub, client["client_id"])
    assert registered.action == "client.registered"
    assert secret not in json.dumps(registered.details)


def test_unknown_parent_is_refused_naming_parent_id(hub: RunningHub) -> None:
    with hub.client("hub_admin") as admin:
        response = admin.post(
            "/parties", json={"name": "Polsek X", "kind": "police", "parent_id": str(uuid.uuid4())}
        )
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "parent_id", "message": "no party has this id"}]


def test_private_key_jwt_client_must_register_public_keys_only(hub: RunningHub) -> None:
    party = register_party(hub, kind="police")
    without_keys = register_client(hub, party["id"], auth_method="private_key_jwt")
    keys = public_jwk_set()
    leaked = {"keys": [{**keys["keys"][0], "d": "c2VjcmV0LXByaXZhdGUtc2NhbGFy"}]}
    with_private_key = register_client(hub, party["id"], auth_method="private_key_jwt", jwks=leaked)
    accepted = register_client(hub, party["id"], auth_method="private_key_jwt", jwks=keys)
    for refused in (without_keys, with_private_key):
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["jwks"]
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["client_secret"] is None
    assert accepted.json()["jwks"] == keys


def test_registry_admin_scope_is_only_for_the_operators_own_party(hub: RunningHub) -> None:
    police = str(hub.city.parties["polrestabes"])
    response = register_client(hub, police, scopes=["registry:read", "registry:admin"])
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "scopes"


def test_non_admin_cannot_register_parties(hub: RunningHub) -> None:
    for name in ("sinar_owner", "polrestabes_cc"):
        with hub.client(name) as caller:
            response = caller.post("/parties", json={"name": "Pihak liar", "kind": "business"})
        assert response.status_code == 403, name
        assert response.json()["required_scope"] == "registry:admin"


def test_party_directory_is_searchable_by_kind_parent_and_name(hub: RunningHub) -> None:
    parties = hub.city.parties
    with hub.client("sinar_owner") as owner:
        police = owner.get("/parties", params={"kind": "police", "q": "POLRESTABES"}).json()
        under_pemkot = owner.get("/parties", params={"parent_id": str(parties["pemkot"])}).json()
        first = owner.get("/parties", params={"parent_id": str(parties["pemkot"]), "limit": 1})
    assert [p["id"] for p in police["items"]] == [str(parties["polrestabes"])]
    assert {str(parties[k]) for k in ("dishub", "diskominfo", "psc119")} <= {
        p["id"] for p in under_pemkot["items"]
    }
    assert first.json()["total"] == under_pemkot["total"]
    assert len(first.json()["items"]) == 1


def test_other_parties_cannot_see_a_partys_members_or_clients(hub: RunningHub) -> None:
    rejeki = hub.city.parties["shop_rejeki"]
    sinar = hub.city.parties["shop_sinar"]
    with hub.client("sinar_owner") as owner:
        members = owner.get(f"/parties/{rejeki}/members")
        clients = owner.get(f"/parties/{rejeki}/clients")
        added = owner.post(f"/parties/{rejeki}/members", json={"name": "Penyusup", "role": "owner"})
        own_members = owner.get(f"/parties/{sinar}/members")
    assert (members.status_code, clients.status_code, added.status_code) == (404, 404, 404)
    assert own_members.status_code == 200
    assert str(hub.city.members["sinar_owner"]) in {m["id"] for m in own_members.json()}


def test_party_renames_itself_and_adds_members_but_only_an_admin_deactivates_it(
    hub: RunningHub,
) -> None:
    party = register_party(hub)
    created = register_client(hub, party["id"], scopes=["registry:read", "registry:write"])
    assert created.status_code == 201, created.text
    client = created.json()
    with client_with_secret(hub, client["client_id"], client["client_secret"]) as own:
        renamed = own.patch(f"/parties/{party['id']}", json={"name": "Toko Baru Jaya"})
        deactivated = own.patch(f"/parties/{party['id']}", json={"active": False})
        other = own.patch(f"/parties/{hub.city.parties['shop_sinar']}", json={"name": "Milik saya"})
        member = own.post(
            f"/parties/{party['id']}/members", json={"name": "Kasir Baru", "role": "operator"}
        )
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["name"] == "Toko Baru Jaya"
        assert (deactivated.status_code, other.status_code) == (403, 403)
        assert member.status_code == 201, member.text

        with hub.client("hub_admin") as admin:
            by_admin = admin.patch(f"/parties/{party['id']}", json={"active": False})
        assert by_admin.status_code == 200
        assert by_admin.json()["active"] is False
        # A deactivated party's software is shut out at once.
        assert own.get(f"/parties/{party['id']}").status_code == 401

    updates = [e for e in audit_events(hub, party["id"]) if e.action == "party.updated"]
    assert [e.details for e in updates] == [
        {"changed": {"name": "Toko Baru Jaya"}},
        {"changed": {"active": False}},
    ]
