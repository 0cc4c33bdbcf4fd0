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
    """Where a consent is in its life. Revocation is final; a change makes a new version and
    leaves the old one ``superseded``."""

    ACTIVE = "active"
    SUPERSEDED = "superseded"
    REVOKED = "revoked"


class CameraSelector(StrEnum):
    """How a consent names its cameras."""

    CAMERAS = "cameras"
    ALL = "all"
    TAG = "tag"


class GranteeScope(StrEnum):
    """Who receives a consent."""

    PARTY = "party"
    """The grantee party only."""
    PARTY_AND_SUBUNITS = "party_and_subunits"
    """The grantee party and every party below it (a Polda and its Polres)."""
    AGREEMENT_PARTIES = "agreement_parties"
    """Every party bound by the consent's agreement."""
    PUBLIC = "public"
    """Anyone, the public included."""


class LegalBasis(StrEnum):
    """The lawful basis of an arrangement under UU PDP No. 27/2022.

    Decisions treat all three alike; they differ in who may end the arrangement (only a
    ``consent`` can be revoked by the owner; under the other two the owner may object).
    """

    CONSENT = "consent"
    LEGAL_OBLIGATION = "legal_obligation"
    PUBLIC_TASK = "public_task"


ApprovalKind = Literal["owner", "supervisor"]

# Stands in for "not given" in ConsentFacts.lineage_id: a first version is its own lineage.
_OWN_LINEAGE = UUID(int=0)


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
    """One consent version as a decision sees it.

    ``grantee_party_id`` None means public, whatever ``grantee_scope`` says (consents made
    before scopes existed). ``camera_ids`` may be limited to the cameras being decided on.
    Hours are whole hours of the day in ``timezone``: ``hours_start`` (0-23) inclusive to
    ``hours_end`` (1-24) exclusive, wrapping past midnight when it is not after the start;
    ``days_of_week`` are ISO days (1 = Monday .. 7 = Sunday). None means no restriction.
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
    grantee_scope: str = GranteeScope.PARTY
    legal_basis: str = LegalBasis.CONSENT
    hours_start: int | None = None
    hours_end: int | None = None
    days_of_week: frozenset[int] | None = None
    timezone: str = "Asia/Jakarta"
    requires_owner_approval: bool = False
    requires_supervisor_approval: bool = False
    lineage_id: UUID = _OWN_LINEAGE
    """The id shared by every version of the consent; defaults to ``id`` (a first version)."""
    regulation_ref: str | None = None
    """The regulation a ``legal_obligation`` rests on, named in explanations."""

    def __post_init__(self) -> None:
        if self.lineage_id == _OWN_LINEAGE:
            object.__setattr__(self, "lineage_id", self.id)


@dataclass(frozen=True, slots=True)
class AgreementFacts:
    """One agreement as a decision sees it.

    ``party_ids`` may be limited to the requester and its ancestors: a decision only asks
    whether they are bound. ``emergency_suspended``: the requester's emergency right under
    this agreement is suspended (after repeated unratified emergency use).
    """

    id: UUID
    number: str
    status: str
    policy_template: str
    valid_from: datetime
    valid_until: datetime | None
    party_ids: frozenset[UUID]
    emergency_suspended: bool = False


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What is asked: by whom, for which cameras, how, why and on which legal basis.

    ``requester_ancestor_ids`` are the parties above the requester (its Polda, its city), for
    consents granted to a party and its sub-units. ``granted_approvals`` are the approvals
    already given, as (kind, approving party id): the decision treats those needs as met.
    """

    requester_party_id: UUID
    requester_party_kind: str
    camera_ids: tuple[UUID, ...]
    mode: str
    purpose: str
    legal_basis: str
    footage_start: datetime | None
    footage_end: datetime | None
    requested_lifetime_seconds: int | None
    requester_ancestor_ids: frozenset[UUID] = frozenset()
    emergency: bool = False
    granted_approvals: frozenset[tuple[str, UUID]] = frozenset()


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
    """Why a camera was allowed: the consent version and agreement it rests on, or owner
    access. ``emergency``: allowed under the template's emergency clause."""

    camera_id: UUID
    consent_id: UUID | None
    consent_version: int | None
    agreement_id: UUID | None
    rule: str
    emergency: bool = False
    lineage_id: UUID | None = None
    legal_basis: str | None = None
    message: str = ""

    def to_dict(self) -> dict[str, object]:
        """A JSON-able form."""
        return {
            "camera_id": str(self.camera_id),
            "consent_id": _str_or_none(self.consent_id),
            "consent_version": self.consent_version,
            "consent_lineage_id": _str_or_none(self.lineage_id),
            "agreement_id": _str_or_none(self.agreement_id),
            "legal_basis": self.legal_basis,
            "rule": self.rule,
            "emergency": self.emergency,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class ApprovalNeed:
    """An approval a request waits for: who (``kind``, ``party_id``) must approve which
    cameras, and the consent asking for it (None when several of that party's consents do)."""

    kind: ApprovalKind
    party_id: UUID
    camera_ids: tuple[UUID, ...]
    consent_id: UUID | None
    message: str = ""

    @property
    def code(self) -> str:
        """``owner_approval_required`` or ``supervisor_approval_required``."""
        return f"{self.kind}_approval_required"

    def to_dict(self) -> dict[str, object]:
        """A JSON-able form."""
        return {
            "kind": self.kind,
            "code": self.code,
            "party_id": str(self.party_id),
            "camera_ids": [str(camera_id) for camera_id in self.camera_ids],
            "consent_id": _str_or_none(self.consent_id),
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for a whole request, all or nothing over its cameras.

    ``allow``: every camera is granted. ``deny``: ``reasons`` lists every reason for every
    refused camera. ``needs_approval``: every camera would be granted (``grants``, with
    ``token_lifetime_seconds``) once each of ``approvals`` is given.
    """

    outcome: Literal["allow", "deny", "needs_approval"]
    grants: tuple[Grant, ...]
    reasons: tuple[Reason, ...]
    token_lifetime_seconds: int
    decided_at: datetime | None = None
    approvals: tuple[ApprovalNeed, ...] = ()

    @property
    def allowed(self) -> bool:
        """Whether access may be given now."""
        return self.outcome == "allow"

    @property
    def needs_approval(self) -> bool:
        """Whether access waits for the approvals in ``approvals``."""
        return self.outcome == "needs_approval"

    @property
    def emergency(self) -> bool:
        """Whether any camera is granted under an emergency clause (so needs a review)."""
        return any(grant.emergency for grant in self.grants)

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
            "emergency": self.emergency,
            "grants": [grant.to_dict() for grant in self.grants],
            "reasons": [reason.to_dict() for reason in self.reasons],
            "approvals": [need.to_dict() for need in self.approvals],
        }


def _str_or_none(value: UUID | None) -> str | None:
    return None if value is None else str(value)
