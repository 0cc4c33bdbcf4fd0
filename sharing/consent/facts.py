"""What an access decision is made of: the facts it reads and the outcome it gives.

Frozen dataclasses and enums with no I/O behind them: ``sharing.consent.decision_inputs`` loads
the facts from the database, ``sharing.consent.policy.decide`` turns them into a ``Decision``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID


class ConsentStatus(StrEnum):
    """Where a consent is in its life. Revocation is final; a change makes a new version."""

    ACTIVE = "active"
    REVOKED = "revoked"


class CameraSelector(StrEnum):
    """How a consent names its cameras."""

    CAMERAS = "cameras"
    ALL = "all"
    TAG = "tag"


@dataclass(frozen=True, slots=True)
class CameraFacts:
    """What a decision needs to know about one camera."""

    id: UUID
    owner_party_id: UUID
    status: str
    visibility: str
    tags: frozenset[str]


@dataclass(frozen=True, slots=True)
class ConsentFacts:
    """One consent as a decision sees it. ``grantee_party_id`` None means public.

    ``camera_ids`` may be limited to the cameras being decided on.
    """

    id: UUID
    version: int
    grantor_party_id: UUID
    grantee_party_id: UUID | None
    agreement_id: UUID
    camera_selector: str
    selector_tag: str | None
    camera_ids: frozenset[UUID]
    modes: frozenset[str]
    purposes: frozenset[str]
    max_lookback_hours: int | None
    max_window_minutes: int | None
    max_token_lifetime_seconds: int | None
    valid_from: datetime
    valid_until: datetime | None
    status: str


@dataclass(frozen=True, slots=True)
class AgreementFacts:
    """One agreement as a decision sees it."""

    id: UUID
    number: str
    status: str
    policy_template: str
    valid_from: datetime
    valid_until: datetime | None
    party_ids: frozenset[UUID]


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What is asked: by whom, for which cameras, how, why and on which legal basis."""

    requester_party_id: UUID
    requester_party_kind: str
    camera_ids: tuple[UUID, ...]
    mode: str
    purpose: str
    legal_basis: str
    footage_start: datetime | None
    footage_end: datetime | None
    requested_lifetime_seconds: int | None


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a camera was refused, for people (``message``) and programs (``code``, ``rule``)."""

    code: str
    message: str
    camera_id: UUID | None = None
    consent_id: UUID | None = None
    rule: str | None = None

    def to_dict(self) -> dict[str, object]:
        """A JSON-able form."""
        return {
            "code": self.code,
            "message": self.message,
            "camera_id": _str_or_none(self.camera_id),
            "consent_id": _str_or_none(self.consent_id),
            "rule": self.rule,
        }


@dataclass(frozen=True, slots=True)
class Grant:
    """Why a camera was allowed: the consent and agreement it rests on, or owner access."""

    camera_id: UUID
    consent_id: UUID | None
    consent_version: int | None
    agreement_id: UUID | None
    rule: str

    def to_dict(self) -> dict[str, object]:
        """A JSON-able form."""
        return {
            "camera_id": str(self.camera_id),
            "consent_id": _str_or_none(self.consent_id),
            "consent_version": self.consent_version,
            "agreement_id": _str_or_none(self.agreement_id),
            "rule": self.rule,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for a whole request: every camera allowed, or a denial with all reasons."""

    outcome: Literal["allow", "deny"]
    grants: tuple[Grant, ...]
    reasons: tuple[Reason, ...]
    token_lifetime_seconds: int
    decided_at: datetime | None = None

    @property
    def allowed(self) -> bool:
        """Whether access may be given."""
        return self.outcome == "allow"

    @property
    def consent_ids(self) -> frozenset[UUID]:
        """The consents the grants rest on; revoking any of them revokes the access."""
        return frozenset(g.consent_id for g in self.grants if g.consent_id is not None)

    def explanation(self) -> dict[str, object]:
        """What decided, in a JSON-able form a person and a program can both read."""
        return {
            "outcome": self.outcome,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "token_lifetime_seconds": self.token_lifetime_seconds,
            "grants": [grant.to_dict() for grant in self.grants],
            "reasons": [reason.to_dict() for reason in self.reasons],
        }


def _str_or_none(value: UUID | None) -> str | None:
    return None if value is None else str(value)
