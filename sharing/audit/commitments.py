"""Salted commitments: a detail an event must prove without showing it.

A commitment is ``base64(SHA-256(b"sharing-commitment-v1\\0" || salt || utf8(value)))``
with a fresh 16-byte random salt, written in standard base64 with padding (44 characters).
The leaf of the event carries only the commitment; the *opening* (salt and value) is kept
encrypted at rest (``AuditOpening``) for the party whose detail it is, who may disclose it
to a named auditor. Anyone holding an opening checks it with ``verify`` (or by hashing the
same bytes themselves); the salt keeps short values such as report numbers from being
guessed from the commitment, and the domain tag keeps the hash from meaning anything else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from sharing.audit.models import AuditOpening
from sharing.crypto import SecretBox

DOMAIN = b"sharing-commitment-v1\x00"
SALT_BYTES = 16

CASE_REFERENCE = "case_reference"
"""The opening of a request's case reference (its ``legal_basis``)."""
OFFICER = "officer"
"""The opening of the requesting officer's member id."""
FIELDS = (CASE_REFERENCE, OFFICER)


def commitment_of(value: str, salt: bytes) -> str:
    """The commitment to ``value`` under ``salt``."""
    digest = hashlib.sha256(DOMAIN + salt + value.encode("utf-8")).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True, slots=True)
class Opening:
    """What opens a commitment: the value and the salt it was hashed with."""

    value: str
    salt: bytes

    @classmethod
    def fresh(cls, value: str) -> Opening:
        """An opening of ``value`` with a new random salt."""
        return cls(value, secrets.token_bytes(SALT_BYTES))

    @property
    def commitment(self) -> str:
        """The commitment this opening opens."""
        return commitment_of(self.value, self.salt)

    @property
    def salt_b64(self) -> str:
        """The salt in standard base64, as disclosed."""
        return base64.b64encode(self.salt).decode("ascii")

    def seal(self, box: SecretBox) -> str:
        """The opening encrypted for storage."""
        return box.encrypt(json.dumps({"salt": self.salt_b64, "value": self.value}))

    @classmethod
    def unseal(cls, box: SecretBox, stored: str) -> Opening:
        """An opening read back from storage."""
        raw = json.loads(box.decrypt(stored))
        return cls(str(raw["value"]), base64.b64decode(raw["salt"]))


def verify(commitment: str, value: str, salt_b64: str) -> bool:
    """Whether ``value`` and ``salt_b64`` (standard base64) open ``commitment``."""
    try:
        salt = base64.b64decode(salt_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(salt) == SALT_BYTES and hmac.compare_digest(commitment_of(value, salt), commitment)


def store_opening(
    session: AsyncSession,
    box: SecretBox,
    *,
    event_id: int,
    field: str,
    holder_party_id: uuid.UUID,
    opening: Opening,
) -> None:
    """Keep ``opening`` for the event ``event_id`` (already flushed), for its holder."""
    session.add(
        AuditOpening(
            event_id=event_id,
            field=field,
            holder_party_id=holder_party_id,
            opening_encrypted=opening.seal(box),
        )
    )
