"""Checkpoints as C2SP signed notes, and C2SP tlog-cosignature/v1 cosignatures, with no I/O.

A checkpoint body is three lines (origin, tree size, base64 root hash). The log signs it
with an Ed25519 note key (signature type 0x01); a witness signs ``cosignature/v1``, a
``time`` line and the same body with its own key (type 0x04). Keys travel as *vkeys*:
``name+hex(key id)+base64(type || public key)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

NOTE_SIGNATURE = 0x01
COSIGNATURE_V1 = 0x04
_DASH = "\u2014 "  # every signature line starts with an em dash and a space


class NoteError(ValueError):
    """A note, key or signature that does not parse or does not verify."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's signed statement of its size and root hash."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        """The note text that is signed, final newline included."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse_body(cls, body: str) -> Checkpoint:
        lines = body.split("\n")
        if len(lines) < 4 or lines[-1] != "" or not lines[0]:
            raise NoteError("a checkpoint is origin, size and root hash, one per line")
        origin, size_text, root_text = lines[0], lines[1], lines[2]
        if not size_text.isdigit() or (size_text.startswith("0") and size_text != "0"):
            raise NoteError(f"the checkpoint size {size_text!r} is not a decimal number")
        root = _b64decode(root_text, "root hash")
        if len(root) != 32:
            raise NoteError("the checkpoint root hash is not 32 bytes")
        return cls(origin, int(size_text), root)


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature line of a note: the signer's name, key id and signature bytes."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        payload = base64.b64encode(self.key_id + self.signature).decode()
        return f"{_DASH}{self.name} {payload}\n"


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A public key with its name and signature type, as a vkey string names it."""

    name: str
    kind: int
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.kind, self.public_key)

    def vkey(self) -> str:
        material = base64.b64encode(bytes([self.kind]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{material}"

    @classmethod
    def parse(cls, vkey: str) -> VerifierKey:
        name, _, rest = vkey.strip().partition("+")
        hex_id, _, material_text = rest.partition("+")
        _check_name(name)
        material = _b64decode(material_text, "verifier key")
        if len(material) != 33 or material[0] not in (NOTE_SIGNATURE, COSIGNATURE_V1):
            raise NoteError("a verifier key is one type byte (1 or 4) and a 32-byte Ed25519 key")
        key = cls(name, material[0], material[1:])
        if key.key_id.hex() != hex_id.lower():
            raise NoteError(f"the verifier key for {name!r} names the wrong key id")
        return key

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True, slots=True)
class NoteSigner:
    """An Ed25519 private key that signs under ``name`` with signature type ``kind``."""

    name: str
    kind: int
    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str, kind: int) -> NoteSigner:
        _check_name(name)
        return cls(name, kind, Ed25519PrivateKey.generate())

    @property
    def verifier(self) -> VerifierKey:
        raw = self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return VerifierKey(self.name, self.kind, raw)

    def sign(self, message: bytes) -> Signature:
        return Signature(self.name, self.verifier.key_id, self.private_key.sign(message))


@dataclass(frozen=True, slots=True)
class SignedNote:
    """A note's text and its signature lines."""

    body: str
    signatures: tuple[Signature, ...]

    def text(self) -> str:
        return self.body + "\n" + "".join(s.line() for s in self.signatures)

    @classmethod
    def parse(cls, text: str) -> SignedNote:
        body, separator, signature_block = text.rpartition("\n\n")
        if not separator or not signature_block.endswith("\n"):
            raise NoteError("a signed note is its text, a blank line, then signature lines")
        signatures = tuple(_parse_signature(line) for line in signature_block[:-1].split("\n"))
        return cls(body + "\n", signatures)

    def signed_by(self, key: VerifierKey) -> Signature | None:
        """The first signature by ``key`` that verifies over this note, if any."""
        for signature in self.signatures:
            if signature.name != key.name or signature.key_id != key.key_id:
                continue
            message = _signed_message(key.kind, self.body, signature)
            if key.verify(message, signature.signature[-64:]):
                return signature
        return None


def b64(raw: bytes) -> str:
    """Standard base64 with padding, as notes and the RFC 9162 JSON shapes write hashes."""
    return base64.b64encode(raw).decode("ascii")


def key_id(name: str, kind: int, public_key: bytes) -> bytes:
    """The 4-byte key id: SHA-256(name || newline || type || key), truncated."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public_key).digest()[:4]


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> SignedNote:
    """The log's signed checkpoint."""
    body = checkpoint.body()
    return SignedNote(body, (signer.sign(body.encode()),))


def cosign(checkpoint_body: str, signer: NoteSigner, timestamp: int) -> Signature:
    """A witness's tlog-cosignature/v1 over a checkpoint body, made at ``timestamp``."""
    message = _cosigned_message(checkpoint_body, timestamp)
    raw = signer.private_key.sign(message)
    return Signature(signer.name, signer.verifier.key_id, struct.pack(">Q", timestamp) + raw)


def cosignature_timestamp(signature: Signature) -> int:
    """The time a cosignature says it was made."""
    if len(signature.signature) != 72:
        raise NoteError("a cosignature is an 8-byte timestamp and a 64-byte signature")
    return int(struct.unpack(">Q", signature.signature[:8])[0])


def _signed_message(kind: int, body: str, signature: Signature) -> bytes:
    if kind == COSIGNATURE_V1:
        return _cosigned_message(body, cosignature_timestamp(signature))
    return body.encode()


def _cosigned_message(body: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def _parse_signature(line: str) -> Signature:
    if not line.startswith(_DASH):
        raise NoteError(f"a signature line must start with an em dash: {line[:40]!r}")
    name, _, payload_text = line[len(_DASH) :].partition(" ")
    _check_name(name)
    payload = _b64decode(payload_text, "signature")
    if len(payload) < 5:
        raise NoteError("a signature is a 4-byte key id and the signature bytes")
    return Signature(name, payload[:4], payload[4:])


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"a key name must be non-empty, with no spaces or '+': {name!r}")


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"the {what} is not valid base64") from exc
