"""The hub's signing keys: the one place that signs and verifies tokens.

Keys live in the database with the private half encrypted by ``SecretBox``. One key is
current; retired keys stay published in the JWKS for an overlap period so that tokens
signed just before a rotation keep verifying.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk, jwt
from jose.exceptions import JOSEError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.service import record
from sharing.clock import Clock, as_utc
from sharing.crypto import SecretBox
from sharing.errors import Unauthenticated
from sharing.oauth.models import SigningKey
from sharing.principal import Actor
from sharing.settings import Settings

_MIN_RELOAD_INTERVAL = timedelta(seconds=1)


class InvalidToken(Unauthenticated):
    """A token failed signature, algorithm, issuer, audience or expiry checks."""

    slug = "invalid-token"
    title = "Invalid token"


@dataclass(frozen=True, slots=True)
class _LoadedKey:
    kid: str
    algorithm: str
    # jose key object for signing, built once: given a PEM, jose re-parses it on every sign.
    signer: Any
    public_jwk: dict[str, Any]
    verifier: Any  # jose key object, built once: constructing it per call costs more than verifying


class KeyRing:
    """Signing keys held in memory, loaded from (and rotated in) the database."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._box = SecretBox(settings)
        self._current: _LoadedKey | None = None
        self._published: dict[str, _LoadedKey] = {}
        self.loaded_at: datetime | None = None

    async def load(self, session: AsyncSession) -> None:
        """Read the current and still-published keys; create the first key if there is none."""
        now = self._clock.now()
        rows = list((await session.execute(select(SigningKey))).scalars())
        if not any(row.status == "current" for row in rows):
            rows.append(await self._create_key(session, now))
            await session.commit()
        published: dict[str, _LoadedKey] = {}
        current: _LoadedKey | None = None
        for row in rows:
            if row.status == "retired" and row.publish_until and as_utc(row.publish_until) < now:
                continue
            loaded = self._load_row(row)
            published[row.kid] = loaded
            if row.status == "current":
                current = loaded
        self._current, self._published, self.loaded_at = current, published, now

    async def rotate(self, session: AsyncSession, actor: Actor) -> str:
        """Make a new current key; the old one stays published for the overlap period."""
        now = self._clock.now()
        overlap = timedelta(seconds=self._settings.key_rotation_overlap_seconds)
        for row in (
            await session.execute(select(SigningKey).where(col(SigningKey.status) == "current"))
        ).scalars():
            row.status, row.retired_at, row.publish_until = "retired", now, now + overlap
            record(
                session,
                at=now,
                actor=actor,
                action="signing_key.retired",
                object_type="signing_key",
                object_id=row.kid,
                details={"publish_until": (now + overlap).isoformat()},
            )
        new = await self._create_key(session, now, actor)
        await session.commit()
        await self.load(session)
        return new.kid

    async def _create_key(
        self, session: AsyncSession, now: datetime, actor: Actor | None = None
    ) -> SigningKey:
        algorithm = self._settings.signing_algorithm
        private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = (
            ec.generate_private_key(ec.SECP256R1())
            if algorithm == "ES256"
            else rsa.generate_private_key(public_exponent=65537, key_size=3072)
        )
        private_pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public_pem = (
            private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        kid = secrets.token_urlsafe(12)
        public_jwk = {
            **jwk.construct(public_pem, algorithm).to_dict(),
            "kid": kid,
            "use": "sig",
            "alg": algorithm,
        }
        row = SigningKey(
            kid=kid,
            algorithm=algorithm,
            private_pem_encrypted=self._box.encrypt(private_pem),
            public_jwk=public_jwk,
            status="current",
            created_at=now,
        )
        session.add(row)
        record(
            session,
            at=now,
            actor=actor or Actor.system("keys"),
            action="signing_key.created",
            object_type="signing_key",
            object_id=kid,
            details={"algorithm": algorithm},
        )
        return row

    def _load_row(self, row: SigningKey) -> _LoadedKey:
        private_pem = self._box.decrypt(row.private_pem_encrypted)
        public_jwk = dict(row.public_jwk)
        return _LoadedKey(
            row.kid,
            row.algorithm,
            jwk.construct(private_pem, row.algorithm),
            public_jwk,
            jwk.construct(public_jwk, row.algorithm),
        )

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The public keys, current first, as an RFC 7517 JWK Set."""
        keys = sorted(self._published.values(), key=lambda k: k is not self._current)
        return {"keys": [k.public_jwk for k in keys]}

    @property
    def current_kid(self) -> str:
        """The id of the key new tokens are signed with."""
        return self._require_current().kid

    def sign(self, claims: Mapping[str, Any], token_type: str = "JWT") -> str:
        """Sign ``claims`` with the current key, naming it in the ``kid`` header."""
        key = self._require_current()
        return cast(
            str,
            jwt.encode(
                dict(claims),
                key.signer,
                algorithm=key.algorithm,
                headers={"kid": key.kid, "typ": token_type},
            ),
        )

    def verify(self, token: str, *, audience: str, token_type: str | None = None) -> dict[str, Any]:
        """Verify signature (algorithm pinned to the key's), issuer, audience and expiry."""
        try:
            header = jwt.get_unverified_header(token)
        except JOSEError as exc:
            raise InvalidToken("the token is not a well-formed JWT") from exc
        key = self._published.get(str(header.get("kid")))
        if key is None:
            raise InvalidToken(
                "the token was not signed by a key of this hub", kid=header.get("kid")
            )
        if token_type is not None and header.get("typ") != token_type:
            raise InvalidToken(f"the token is not of type {token_type}")
        try:
            claims = jwt.decode(
                token,
                key.verifier,
                algorithms=[key.algorithm],
                audience=audience,
                issuer=self._settings.issuer,
                options={
                    "require_exp": True,
                    "require_iat": True,
                    "require_jti": True,
                    "require_aud": True,
                    "require_iss": True,
                    "leeway": 0,
                },
            )
        except JOSEError as exc:
            raise InvalidToken(f"the token was refused: {exc}") from exc
        return cast(dict[str, Any], claims)

    async def refresh_for(self, token: str, session: AsyncSession) -> None:
        """Reload the keys if ``token`` names one this ring lacks (another node may have
        rotated), at most once a second, so forged ``kid`` values cannot force a reload
        per request."""
        try:
            kid = str(jwt.get_unverified_header(token).get("kid"))
        except JOSEError:
            return  # malformed: verification will refuse it, reloading would not help
        if kid in self._published:
            return
        loaded_at = self.loaded_at
        if loaded_at is None or self._clock.now() - loaded_at >= _MIN_RELOAD_INTERVAL:
            await self.load(session)

    def _require_current(self) -> _LoadedKey:
        if self._current is None:
            raise RuntimeError("the key ring was not loaded; call KeyRing.load first")
        return self._current
