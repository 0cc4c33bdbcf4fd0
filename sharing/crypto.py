"""Secrets at rest: encryption for what must be read back, hashing for what is only checked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet

from sharing.settings import Settings

CLIENT_SECRET_BYTES = 32


class SecretBox:
    """Encrypts values the hub must read back (signing keys, stream sources) with Fernet.

    The Fernet key is derived from ``SHARING_SECRET_KEY`` so one operator secret protects them.
    """

    def __init__(self, settings: Settings) -> None:
        digest = hashlib.sha256(settings.secret_key.get_secret_value().encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def encrypt(self, plaintext: str) -> str:
        """Encrypt and authenticate ``plaintext``."""
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        """Decrypt a value made by ``encrypt``; fails loudly if it was altered."""
        return self._fernet.decrypt(ciphertext.encode()).decode()


def new_client_secret() -> str:
    """A fresh 256-bit client secret, shown to its owner once."""
    return secrets.token_urlsafe(CLIENT_SECRET_BYTES)


def hash_client_secret(secret: str) -> str:
    """SHA-256 of a client secret. Secrets are 256-bit random, so a slow KDF adds nothing."""
    return hashlib.sha256(secret.encode()).hexdigest()


def client_secret_matches(secret: str, stored_hash: str | None) -> bool:
    """Compare in constant time."""
    return stored_hash is not None and hmac.compare_digest(hash_client_secret(secret), stored_hash)
