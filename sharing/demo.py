"""The demo city: Medan's command center, its agencies, the police, shops and an RW.

Loaded by ``sharing demo`` (``make run``) and by the test suite, so the story a newcomer tries
with curl is the story the tests prove. Credentials are generated at load time and written
to a file beside the database (mode 0600); none live in the repository.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.service import record
from sharing.cameras.models import Camera, CameraTag
from sharing.clock import Clock
from sharing.consent.models import Agreement, AgreementParty, Consent, ConsentCamera
from sharing.crypto import SecretBox, hash_client_secret, new_client_secret
from sharing.parties.models import Member, OAuthClient, Party
from sharing.principal import Actor
from sharing.settings import Settings
from sharing.vocabulary import Scope

OWNER_SCOPES = "registry:read registry:write consent:read consent:write audit:read"
POLICE_SCOPES = "registry:read consent:read access:request"
ALL_SCOPES = " ".join(scope.value for scope in Scope)

# key: (name, kind, parent key)
PARTIES: list[tuple[str, str, str, str | None]] = [
    ("command_center", "Medan Command Center (Diskominfo)", "command_center", None),
    ("pemkot", "Pemerintah Kota Medan", "government", None),
    ("dishub", "Dinas Perhubungan Kota Medan", "government", "pemkot"),
    ("diskominfo", "Dinas Komunikasi dan Informatika Kota Medan", "government", "pemkot"),
    ("polda", "Polda Sumatera Utara", "police", None),
    ("polrestabes", "Polrestabes Medan", "police", "polda"),
    ("psc119", "PSC 119 Kota Medan", "emergency", "pemkot"),
    ("shop_sinar", "Toko Sinar Jaya (Jl. Gatot Subroto)", "business", None),
    ("shop_rejeki", "Toko Rejeki Baru (Jl. Sutomo)", "business", None),
    ("rw05", "RW 05 Kelurahan Sei Sikambing B", "resident", None),
]

# key: (owner, name, lat, lon, district, village, rw, tags, visibility)
CAMERAS: list[tuple[str, str, str, float, float, str, str, str, tuple[str, ...], str]] = [
    (
        "sinar_front",
        "shop_sinar",
        "Sinar Jaya - depan toko",
        3.5912,
        98.6513,
        "Medan Sunggal",
        "Sei Sikambing B",
        "05",
        ("storefront",),
        "partners",
    ),
    (
        "sinar_back",
        "shop_sinar",
        "Sinar Jaya - gudang belakang",
        3.5914,
        98.6510,
        "Medan Sunggal",
        "Sei Sikambing B",
        "05",
        ("warehouse",),
        "private",
    ),
    (
        "sinar_parking",
        "shop_sinar",
        "Sinar Jaya - parkir",
        3.5910,
        98.6516,
        "Medan Sunggal",
        "Sei Sikambing B",
        "05",
        ("parking",),
        "private",
    ),
    (
        "rejeki_front",
        "shop_rejeki",
        "Rejeki Baru - depan toko",
        3.5951,
        98.6889,
        "Medan Timur",
        "Gaharu",
        "02",
        ("storefront",),
        "private",
    ),
    (
        "rejeki_cashier",
        "shop_rejeki",
        "Rejeki Baru - kasir",
        3.5951,
        98.6890,
        "Medan Timur",
        "Gaharu",
        "02",
        ("indoor",),
        "private",
    ),
    (
        "rejeki_alley",
        "shop_rejeki",
        "Rejeki Baru - gang samping",
        3.5953,
        98.6887,
        "Medan Timur",
        "Gaharu",
        "02",
        ("alley",),
        "private",
    ),
    (
        "rw05_gate",
        "rw05",
        "Gerbang RW 05",
        3.5921,
        98.6498,
        "Medan Sunggal",
        "Sei Sikambing B",
        "05",
        ("gate",),
        "private",
    ),
    (
        "rw05_field",
        "rw05",
        "Lapangan RW 05",
        3.5925,
        98.6502,
        "Medan Sunggal",
        "Sei Sikambing B",
        "05",
        ("gate", "field"),
        "private",
    ),
    (
        "dishub_gatsu",
        "dishub",
        "Simpang Jl. Gatot Subroto - Jl. Iskandar Muda",
        3.5886,
        98.6617,
        "Medan Petisah",
        "Petisah Tengah",
        "",
        ("traffic", "intersection"),
        "public",
    ),
    (
        "dishub_merdeka",
        "dishub",
        "Lapangan Merdeka",
        3.5903,
        98.6776,
        "Medan Barat",
        "Kesawan",
        "",
        ("traffic",),
        "public",
    ),
    (
        "dishub_amplas",
        "dishub",
        "Terminal Amplas",
        3.5325,
        98.7163,
        "Medan Amplas",
        "Timbang Deli",
        "",
        ("traffic", "terminal"),
        "public",
    ),
    (
        "dishub_pinang_baris",
        "dishub",
        "Terminal Pinang Baris",
        3.5930,
        98.6024,
        "Medan Sunggal",
        "Lalang",
        "",
        ("traffic", "terminal"),
        "partners",
    ),
    (
        "dishub_sudirman",
        "dishub",
        "Simpang Jl. Sudirman",
        3.5804,
        98.6650,
        "Medan Polonia",
        "Anggrung",
        "",
        ("traffic", "intersection"),
        "public",
    ),
    (
        "dishub_sm_raja",
        "dishub",
        "Jl. Sisingamangaraja - Simpang Limun",
        3.5689,
        98.6932,
        "Medan Kota",
        "Teladan Barat",
        "",
        ("traffic", "intersection"),
        "public",
    ),
    (
        "dishub_aksara",
        "dishub",
        "Simpang Aksara",
        3.6017,
        98.7111,
        "Medan Perjuangan",
        "Tegal Rejo",
        "",
        ("traffic", "flood"),
        "public",
    ),
    (
        "dishub_belawan",
        "dishub",
        "Jl. Yos Sudarso - Belawan",
        3.7752,
        98.6837,
        "Medan Belawan",
        "Belawan I",
        "",
        ("traffic", "port"),
        "partners",
    ),
    (
        "dishub_kesawan",
        "dishub",
        "Jl. Ahmad Yani - Kesawan",
        3.5877,
        98.6795,
        "Medan Barat",
        "Kesawan",
        "",
        ("traffic",),
        "partners",
    ),
    (
        "dishub_bundaran",
        "dishub",
        "Bundaran SIB",
        3.5720,
        98.6549,
        "Medan Baru",
        "Padang Bulan",
        "",
        ("traffic", "flood"),
        "public",
    ),
    (
        "kominfo_balaikota",
        "diskominfo",
        "Balai Kota Medan - lobi",
        3.5897,
        98.6781,
        "Medan Barat",
        "Kesawan",
        "",
        ("government_building",),
        "private",
    ),
    (
        "kominfo_parkir",
        "diskominfo",
        "Balai Kota Medan - parkir",
        3.5895,
        98.6784,
        "Medan Barat",
        "Kesawan",
        "",
        ("government_building", "parking"),
        "private",
    ),
]


@dataclass
class DemoClient:
    """Credentials of one demo OAuth client: a secret, or a private JWK for private_key_jwt."""

    client_id: str
    party: str
    scopes: str
    secret: str | None = None
    private_jwk: dict[str, Any] | None = None


@dataclass
class DemoCity:
    """Ids of everything the demo created, by short name."""

    parties: dict[str, uuid.UUID] = field(default_factory=dict)
    members: dict[str, uuid.UUID] = field(default_factory=dict)
    cameras: dict[str, uuid.UUID] = field(default_factory=dict)
    agreements: dict[str, uuid.UUID] = field(default_factory=dict)
    consents: dict[str, uuid.UUID] = field(default_factory=dict)
    clients: dict[str, DemoClient] = field(default_factory=dict)

    def to_json(self) -> str:
        """Serialize, ids as strings, for the credentials file."""
        return json.dumps(asdict(self), default=str, indent=2)

    @classmethod
    def from_json(cls, text: str) -> DemoCity:
        """Read back what ``to_json`` wrote."""
        raw = json.loads(text)
        ids = {
            key: {k: uuid.UUID(v) for k, v in raw[key].items()}
            for key in ("parties", "members", "cameras", "agreements", "consents")
        }
        clients = {k: DemoClient(**v) for k, v in raw["clients"].items()}
        return cls(**ids, clients=clients)


class _Loader:
    def __init__(self, session: AsyncSession, settings: Settings, now: datetime) -> None:
        self.session, self.now, self.box = session, now, SecretBox(settings)
        self.city = DemoCity()
        self.actor = Actor.system("demo")
        # Rows that reference rows added in the same step; written after those are flushed,
        # since the tables carry foreign keys but no ORM relationships to order inserts by.
        self.tags: list[CameraTag] = []
        self.links: list[AgreementParty | ConsentCamera] = []

    async def flush(self) -> None:
        await self.session.flush()
        self.session.add_all([*self.tags, *self.links])
        self.tags, self.links = [], []
        await self.session.flush()

    def audit(self, action: str, object_type: str, object_id: object, **details: object) -> None:
        record(
            self.session,
            at=self.now,
            actor=self.actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            details=details,
        )

    def party(self, key: str, name: str, kind: str, parent: str | None) -> None:
        row = Party(
            name=name,
            kind=kind,
            created_at=self.now,
            parent_id=self.city.parties[parent] if parent else None,
        )
        self.session.add(row)
        self.city.parties[key] = row.id
        self.audit("party.registered", "party", row.id, name=name, kind=kind)

    def member(self, key: str, party: str, name: str, role: str) -> uuid.UUID:
        row = Member(party_id=self.city.parties[party], name=name, role=role, created_at=self.now)
        self.session.add(row)
        self.city.members[key] = row.id
        self.audit("member.added", "member", row.id, party_id=str(row.party_id), role=role)
        return row.id

    def client(
        self,
        key: str,
        party: str,
        scopes: str,
        member: str | None = None,
        private_key_jwt: bool = False,
    ) -> None:
        client_id = f"demo-{key.replace('_', '-')}"
        demo = DemoClient(client_id=client_id, party=party, scopes=scopes)
        row = OAuthClient(
            client_id=client_id,
            party_id=self.city.parties[party],
            name=key,
            member_id=self.city.members[member] if member else None,
            scopes=scopes,
            created_at=self.now,
            auth_method="private_key_jwt" if private_key_jwt else "client_secret_basic",
        )
        if private_key_jwt:
            demo.private_jwk, row.jwks = _new_client_key(client_id)
        else:
            demo.secret = new_client_secret()
            row.secret_hash = hash_client_secret(demo.secret)
        self.session.add(row)
        self.city.clients[key] = demo
        self.audit(
            "client.registered",
            "oauth_client",
            client_id,
            party_id=str(row.party_id),
            auth_method=row.auth_method,
            scopes=scopes,
        )

    def camera(
        self,
        key: str,
        owner: str,
        name: str,
        lat: float,
        lon: float,
        district: str,
        village: str,
        rw: str,
        tags: tuple[str, ...],
        visibility: str,
    ) -> None:
        row = Camera(
            owner_party_id=self.city.parties[owner],
            name=name,
            latitude=lat,
            longitude=lon,
            address=name,
            province="Sumatera Utara",
            city="Medan",
            district=district,
            village=village,
            rw=rw,
            visibility=visibility,
            stream_source_encrypted=self.box.encrypt(f"rtsp://10.20.0.1/{key}"),
            created_at=self.now,
            updated_at=self.now,
        )
        self.session.add(row)
        self.tags.extend(CameraTag(camera_id=row.id, tag=tag) for tag in tags)
        self.city.cameras[key] = row.id
        self.audit(
            "camera.registered",
            "camera",
            row.id,
            owner_party_id=str(row.owner_party_id),
            name=name,
            tags=list(tags),
            visibility=visibility,
        )

    def agreement(
        self, key: str, kind: str, number: str, title: str, template: str, parties: list[str]
    ) -> None:
        row = Agreement(
            kind=kind,
            number=number,
            title=title,
            status="active",
            policy_template=template,
            document_sha256="0" * 64,
            valid_from=self.now - timedelta(days=365),
            created_at=self.now,
        )
        self.session.add(row)
        self.city.agreements[key] = row.id
        self.links.extend(
            AgreementParty(agreement_id=row.id, party_id=self.city.parties[p]) for p in parties
        )
        self.audit("agreement.registered", "agreement", row.id, number=number, template=template)

    def consent(
        self,
        key: str,
        grantor: str,
        grantee: str | None,
        agreement: str,
        *,
        modes: list[str],
        purposes: list[str],
        cameras: list[str] | None = None,
        tag: str | None = None,
        lookback_hours: int | None = None,
    ) -> None:
        selector = "cameras" if cameras else ("tag" if tag else "all")
        consent_id = uuid.uuid4()
        row = Consent(
            id=consent_id,
            lineage_id=consent_id,
            grantor_party_id=self.city.parties[grantor],
            grantee_party_id=self.city.parties[grantee] if grantee else None,
            grantee_scope="party" if grantee else "public",
            agreement_id=self.city.agreements[agreement],
            camera_selector=selector,
            selector_tag=tag,
            modes=modes,
            purposes=purposes,
            max_lookback_hours=lookback_hours,
            valid_from=self.now - timedelta(days=1),
            created_at=self.now,
        )
        self.session.add(row)
        self.city.consents[key] = row.id
        self.links.extend(
            ConsentCamera(consent_id=row.id, camera_id=self.city.cameras[c]) for c in cameras or []
        )
        self.audit(
            "consent.granted",
            "consent",
            row.id,
            grantor=grantor,
            grantee=grantee,
            selector=selector,
            modes=modes,
            purposes=purposes,
        )


def _new_client_key(client_id: str) -> tuple[dict[str, Any], dict[str, object]]:
    """A fresh P-256 key pair for a private_key_jwt client: (private JWK, public JWK Set)."""
    from cryptography.hazmat.primitives import serialization

    private_key = ec.generate_private_key(ec.SECP256R1())
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    private_jwk = {**jwk.construct(pem, "ES256").to_dict(), "kid": f"{client_id}-1", "alg": "ES256"}
    public_jwk = {k: v for k, v in private_jwk.items() if k != "d"}
    return private_jwk, {"keys": [public_jwk]}


async def demo_city_loaded(session: AsyncSession) -> bool:
    """Whether the demo city is already in this database."""
    found = await session.execute(
        select(col(Party.id)).where(col(Party.name) == PARTIES[0][1]).limit(1)
    )
    return found.first() is not None


async def load_demo_city(session: AsyncSession, settings: Settings, clock: Clock) -> DemoCity:
    """Create the demo city in one transaction, with an audit event for every object."""
    loader = _Loader(session, settings, clock.now())
    for key, name, kind, parent in PARTIES:
        loader.party(key, name, kind, parent)
        await loader.flush()  # a parent row must exist before its children
    loader.member("cc_operator", "command_center", "Operator Command Center", "operator")
    loader.member("officer_budi", "polrestabes", "Bripka Budi Santoso", "officer")
    loader.member("polda_desk", "polda", "Piket Command Center Polda", "officer")
    loader.member("sinar_owner", "shop_sinar", "Ibu Sinta (pemilik)", "owner")
    loader.member("rejeki_owner", "shop_rejeki", "Pak Rudi (pemilik)", "owner")
    loader.member("rw05_head", "rw05", "Ketua RW 05", "owner")
    loader.member("dishub_operator", "dishub", "Operator Dishub", "operator")
    loader.member("auditor", "command_center", "Inspektorat Kota Medan", "auditor")
    loader.member("psc_dispatcher", "psc119", "Dispatcher PSC 119", "officer")
    await loader.flush()
    loader.client("hub_admin", "command_center", ALL_SCOPES, member="cc_operator")
    loader.client("polrestabes_cc", "polrestabes", POLICE_SCOPES, member="officer_budi")
    loader.client("polda_cc", "polda", POLICE_SCOPES, member="polda_desk", private_key_jwt=True)
    loader.client("sinar_owner", "shop_sinar", OWNER_SCOPES, member="sinar_owner")
    loader.client("rejeki_owner", "shop_rejeki", OWNER_SCOPES, member="rejeki_owner")
    loader.client("rw05_owner", "rw05", OWNER_SCOPES, member="rw05_head")
    loader.client(
        "dishub_operator",
        "dishub",
        "registry:read registry:write consent:read consent:write",
        member="dishub_operator",
    )
    loader.client("psc119_cc", "psc119", POLICE_SCOPES, member="psc_dispatcher")
    loader.client(
        "auditor", "command_center", "audit:read registry:read consent:read", member="auditor"
    )
    for camera in CAMERAS:
        loader.camera(*camera)
    await loader.flush()
    await _load_agreements_and_consents(loader)
    await session.commit()
    return loader.city


async def _load_agreements_and_consents(loader: _Loader) -> None:
    everyone_under_perwal = [
        "pemkot",
        "polrestabes",
        "polda",
        "shop_sinar",
        "shop_rejeki",
        "rw05",
        "psc119",
    ]
    for key, kind, number, title, template, parties in [
        (
            "perwal",
            "regulation",
            "Perwal Medan No. 12 Tahun 2025",
            "Peraturan Wali Kota tentang pemanfaatan CCTV milik masyarakat dan badan usaha",
            "city-regulation-private-cctv",
            everyone_under_perwal,
        ),
        (
            "mou",
            "mou",
            "MoU No. 180/2025 - B/45/2025",
            "Nota Kesepahaman Pemkot Medan dan Polda Sumut tentang integrasi CCTV",
            "mou-pemkot-polda",
            ["pemkot", "dishub", "polda", "polrestabes"],
        ),
        (
            "public",
            "regulation",
            "Keputusan Kadishub No. 551/2025",
            "Kamera lalu lintas yang dibuka untuk publik",
            "public-cameras",
            ["pemkot", "dishub"],
        ),
    ]:
        loader.agreement(key, kind, number, title, template, parties)
    await loader.flush()
    for key, grantor, grantee, agreement, kwargs in [
        (
            "sinar_to_polrestabes",
            "shop_sinar",
            "polrestabes",
            "perwal",
            {
                "modes": ["live", "footage"],
                "purposes": ["criminal_investigation", "public_order"],
                "cameras": ["sinar_front", "sinar_back"],
                "lookback_hours": 72,
            },
        ),
        (
            "dishub_to_polrestabes",
            "dishub",
            "polrestabes",
            "mou",
            {
                "modes": ["live", "footage"],
                "purposes": ["traffic_management", "public_order", "criminal_investigation"],
            },
        ),
        (
            "dishub_public",
            "dishub",
            None,
            "public",
            {"modes": ["live"], "purposes": ["public_information"], "tag": "traffic"},
        ),
        (
            "rw05_to_psc119",
            "rw05",
            "psc119",
            "perwal",
            {"modes": ["live"], "purposes": ["emergency_response"], "tag": "gate"},
        ),
    ]:
        loader.consent(key, grantor, grantee, agreement, **kwargs)  # type: ignore[arg-type]
    await loader.flush()


def write_credentials(city: DemoCity, path: Path) -> None:
    """Write the demo credentials where only this user can read them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(city.to_json())
