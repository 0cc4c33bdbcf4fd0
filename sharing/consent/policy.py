"""Policy templates and the access decision.

Templates are TOML files in ``policies/``, one per legal instrument, validated when the hub
starts. ``decide`` is a pure function of the request, the cameras, the consents, the
agreements, the templates and the time: it does no I/O, so it can be tested exhaustively and
called on the hot path (a camera costs tens of microseconds).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Literal, cast
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from sharing.vocabulary import AgreementKind, AgreementStatus, Mode, PartyKind, Purpose

PUBLIC_GRANTEE = "public"
"""The grantee kind a template lists to allow public grants (consents without a grantee)."""

OWNER_ACCESS_RULE = "owner_access"

_Fail = Callable[[str, str, str], None]
"""Records one failure of a consent: ``fail(code, message, rule)``."""

# Gateways and clients run on their own clocks; a footage window that ends this little after
# the hub's "now" is treated as ending now rather than refused as being in the future.
CLOCK_SKEW_TOLERANCE = timedelta(seconds=60)


class ConsentStatus(StrEnum):
    """Where a consent is in its life. Revocation is final; a change makes a new version."""

    ACTIVE = "active"
    REVOKED = "revoked"


class CameraSelector(StrEnum):
    """How a consent names its cameras."""

    CAMERAS = "cameras"
    ALL = "all"
    TAG = "tag"


class PolicyFileError(ValueError):
    """A policy file cannot be read or breaks the template schema."""

    def __init__(self, path: Path, field: str, message: str) -> None:
        super().__init__(f"{path.name}: {field}: {message}")
        self.path = path
        self.field = field
        self.message = message


# --- the template file schema -----------------------------------------------------------


class LocalizedText(BaseModel):
    """A text in Indonesian (the instrument's language) and English."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, description="Indonesian.")
    en: str = Field(min_length=1, description="English.")


class LegalBasisRule(BaseModel):
    """What a request must state as its legal basis for one purpose."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    required: bool = Field(description="Whether a request for this purpose must name one.")
    pattern: str | None = Field(
        default=None, description="Regular expression the whole legal basis must match."
    )
    description: str = Field(min_length=1, description="What a valid legal basis looks like.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from exc
        return pattern

    def model_post_init(self, context: object, /) -> None:
        """Compile the pattern at load, so that decisions never compile regexes."""
        _ = self.compiled

    @cached_property
    def compiled(self) -> re.Pattern[str] | None:
        """The compiled pattern (a plain attribute after the first use, so reads are cheap)."""
        return re.compile(self.pattern) if self.pattern is not None else None

    def accepts(self, legal_basis: str) -> bool:
        """Whether ``legal_basis`` (non-empty) matches the pattern, if there is one."""
        compiled = self.compiled
        return compiled is None or compiled.fullmatch(legal_basis) is not None


class PolicyTemplate(BaseModel):
    """The terms a legal instrument allows; one TOML file in ``policies/``.

    Limits are ceilings: a consent under the template may only narrow them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,99}$", description="Equals the file name.")
    title: LocalizedText
    instrument_kind: AgreementKind
    description: str = Field(min_length=1)
    modes: frozenset[Mode] = Field(min_length=1)
    purposes: frozenset[Purpose] = Field(min_length=1)
    grantee_kinds: frozenset[PartyKind | Literal["public"]] = Field(min_length=1)
    max_lookback_hours: int = Field(ge=0, le=24 * 366)
    max_window_minutes: int = Field(ge=0, le=7 * 24 * 60)
    max_token_lifetime_seconds: int = Field(ge=10, le=86_400)
    legal_basis: dict[Purpose, LegalBasisRule] = Field(default_factory=dict)

    @field_validator("max_lookback_hours", "max_window_minutes")
    @classmethod
    def _footage_needs_limits(cls, value: int, info: ValidationInfo) -> int:
        if value == 0 and Mode.FOOTAGE in info.data.get("modes", ()):
            raise ValueError("must be above 0 when the template allows footage")
        return value

    @field_validator("legal_basis")
    @classmethod
    def _only_allowed_purposes(
        cls, value: dict[Purpose, LegalBasisRule], info: ValidationInfo
    ) -> dict[Purpose, LegalBasisRule]:
        if "purposes" in info.data:  # absent when the purposes themselves were wrong
            stray = sorted(set(value) - info.data["purposes"])
            if stray:
                raise ValueError(f"names purposes the template does not allow: {stray}")
        return value

    def legal_basis_rule(self, purpose: str) -> LegalBasisRule | None:
        """The legal-basis rule for ``purpose``, if the template sets one."""
        # Purpose is a StrEnum, so a plain string finds its member's entry.
        return cast(Mapping[str, LegalBasisRule], self.legal_basis).get(purpose)


class PolicyLibrary:
    """The loaded templates, by name."""

    def __init__(self, templates: Sequence[PolicyTemplate]) -> None:
        self._templates = {template.name: template for template in templates}

    def get(self, name: str) -> PolicyTemplate | None:
        """The template called ``name``, or None."""
        return self._templates.get(name)

    def names(self) -> list[str]:
        """Template names, sorted."""
        return sorted(self._templates)

    def all(self) -> list[PolicyTemplate]:
        """Every template, sorted by name."""
        return [self._templates[name] for name in self.names()]


def load_policy_library(directory: Path) -> PolicyLibrary:
    """Load and validate every ``*.toml`` in ``directory``; refuse the first bad file."""
    if not directory.is_dir():
        raise PolicyFileError(directory, "(directory)", "is not a directory of policy files")
    return PolicyLibrary([_load_template(path) for path in sorted(directory.glob("*.toml"))])


def _load_template(path: Path) -> PolicyTemplate:
    try:
        with path.open("rb") as file:
            raw = tomllib.load(file)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyFileError(path, "(syntax)", str(exc)) from exc
    try:
        template = PolicyTemplate.model_validate(raw)
    except ValidationError as exc:
        problems = [(_location(error["loc"]), error["msg"]) for error in exc.errors()]
        field, message = problems[0]
        if len(problems) > 1:
            message += "; also " + "; ".join(f"{f}: {m}" for f, m in problems[1:])
        raise PolicyFileError(path, field, message) from exc
    if template.name != path.stem:
        raise PolicyFileError(path, "name", f"must equal the file name '{path.stem}'")
    return template


def _location(loc: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(file)"


# --- decision inputs and outputs ----------------------------------------------------------


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


# --- the decision -------------------------------------------------------------------------


def decide(
    request: RequestFacts,
    cameras: Mapping[UUID, CameraFacts],
    consents: Sequence[ConsentFacts],
    agreements: Mapping[UUID, AgreementFacts],
    policies: PolicyLibrary,
    now: datetime,
    max_token_lifetime_seconds: int,
) -> Decision:
    """Decide a request, all or nothing over its cameras.

    Each camera is allowed for its owner, or by the first consent (granted by the owner to
    the requester's party or to the public) whose own conditions, agreement and template
    all accept the request. A request with any refused camera is denied and lists every
    reason for every refused camera, so the requester learns everything at once.
    """
    by_grantor: dict[UUID, list[ConsentFacts]] = {}
    for consent in consents:
        by_grantor.setdefault(consent.grantor_party_id, []).append(consent)

    grants: list[Grant] = []
    reasons: list[Reason] = []
    requested = request.requested_lifetime_seconds
    lifetime = (
        max_token_lifetime_seconds
        if requested is None
        else min(requested, max_token_lifetime_seconds)
    )
    if not request.camera_ids:
        reasons.append(Reason("no_cameras_requested", "The request names no camera."))
    for camera_id in dict.fromkeys(request.camera_ids):  # each camera once, in request order
        outcome = _decide_camera(
            request, camera_id, cameras.get(camera_id), by_grantor, agreements, policies, now
        )
        if isinstance(outcome, _Allowed):
            grants.append(outcome.grant)
            lifetime = min((lifetime, *outcome.lifetime_limits))
        else:
            reasons.extend(outcome)

    if reasons:
        return Decision("deny", (), tuple(reasons), 0, now)
    return Decision("allow", tuple(grants), (), max(lifetime, 0), now)


@dataclass(frozen=True, slots=True)
class _Allowed:
    grant: Grant
    lifetime_limits: tuple[int, ...]


def _decide_camera(
    request: RequestFacts,
    camera_id: UUID,
    camera: CameraFacts | None,
    by_grantor: Mapping[UUID, Sequence[ConsentFacts]],
    agreements: Mapping[UUID, AgreementFacts],
    policies: PolicyLibrary,
    now: datetime,
) -> _Allowed | list[Reason]:
    if camera is None:
        return [
            Reason(
                "camera_not_found",
                "This camera is not registered on this hub.",
                camera_id,
                rule="camera.registered",
            )
        ]
    if camera.status != "active":
        return [
            Reason(
                "camera_inactive",
                f"This camera is {camera.status}, not active; it cannot be accessed.",
                camera_id,
                rule="camera.status",
            )
        ]
    if camera.owner_party_id == request.requester_party_id:
        return _Allowed(Grant(camera_id, None, None, None, OWNER_ACCESS_RULE), ())

    candidates = [
        consent
        for consent in by_grantor.get(camera.owner_party_id, ())
        if (
            consent.grantee_party_id is None
            or consent.grantee_party_id == request.requester_party_id
        )
        and _covers(consent, camera)
    ]
    if not candidates:
        return [
            Reason(
                "no_consent",
                "The owner of this camera has not granted your party access.",
                camera_id,
                rule="consent",
            )
        ]

    failures: list[Reason] = []
    for consent in candidates:
        agreement = agreements.get(consent.agreement_id)
        template = policies.get(agreement.policy_template) if agreement else None
        problems = _consent_failures(request, camera_id, consent, agreement, template, now)
        if not problems:
            limits = [consent.max_token_lifetime_seconds]
            if template is not None:
                limits.append(template.max_token_lifetime_seconds)
            grant = Grant(
                camera_id,
                consent.id,
                consent.version,
                consent.agreement_id,
                template.name if template else "consent",
            )
            return _Allowed(grant, tuple(limit for limit in limits if limit is not None))
        failures.extend(problems)
    return failures


def _covers(consent: ConsentFacts, camera: CameraFacts) -> bool:
    if consent.camera_selector == CameraSelector.ALL:
        return True
    if consent.camera_selector == CameraSelector.TAG:
        return consent.selector_tag is not None and consent.selector_tag in camera.tags
    return camera.id in consent.camera_ids


def _consent_failures(
    request: RequestFacts,
    camera_id: UUID,
    consent: ConsentFacts,
    agreement: AgreementFacts | None,
    template: PolicyTemplate | None,
    now: datetime,
) -> list[Reason]:
    """Every reason this consent does not allow the request for this camera."""
    failures: list[Reason] = []

    def fail(code: str, message: str, rule: str) -> None:
        failures.append(Reason(code, message, camera_id, consent.id, rule))

    _check_consent_state(consent, now, fail)
    _check_agreement(request, consent, agreement, template, now, fail)
    _check_mode_and_purpose(request, consent, template, fail)
    if template is not None:
        _check_legal_basis(request, template, fail)
    if request.mode == Mode.FOOTAGE:
        _check_footage_window(request, consent, template, now, fail)
    return failures


def _check_consent_state(consent: ConsentFacts, now: datetime, fail: _Fail) -> None:
    if consent.status == ConsentStatus.REVOKED:
        fail(
            "consent_revoked",
            f"Consent {consent.id} was revoked by the camera's owner.",
            "consent.status",
        )
    elif consent.status != ConsentStatus.ACTIVE:
        fail(
            "consent_not_in_force",
            f"Consent {consent.id} is {consent.status}, not active.",
            "consent.status",
        )
    if consent.valid_from > now:
        fail(
            "consent_not_in_force",
            f"Consent {consent.id} takes effect only at {consent.valid_from.isoformat()}.",
            "consent.valid_from",
        )
    if consent.valid_until is not None and consent.valid_until <= now:
        fail(
            "consent_not_in_force",
            f"Consent {consent.id} ended at {consent.valid_until.isoformat()}.",
            "consent.valid_until",
        )


def _check_agreement(
    request: RequestFacts,
    consent: ConsentFacts,
    agreement: AgreementFacts | None,
    template: PolicyTemplate | None,
    now: datetime,
    fail: _Fail,
) -> None:
    if agreement is None:
        fail(
            "agreement_not_active",
            f"The agreement consent {consent.id} rests on is not known to this hub.",
            "agreement",
        )
        return
    label = f"Agreement {agreement.number}"
    if agreement.status != AgreementStatus.ACTIVE:
        fail(
            "agreement_not_active",
            f"{label} is {agreement.status}, not active.",
            "agreement.status",
        )
    elif agreement.valid_from > now:
        fail(
            "agreement_not_active",
            f"{label} takes effect only at {agreement.valid_from.isoformat()}.",
            "agreement.valid_from",
        )
    elif agreement.valid_until is not None and agreement.valid_until <= now:
        fail(
            "agreement_not_active",
            f"{label} ended at {agreement.valid_until.isoformat()}.",
            "agreement.valid_until",
        )
    public = consent.grantee_party_id is None
    if not public and request.requester_party_id not in agreement.party_ids:
        fail(
            "not_party_to_agreement", f"Your party is not a party to {label}.", "agreement.parties"
        )
    if template is None:
        fail(
            "template_missing",
            f"{label} names the policy template '{agreement.policy_template}', which this "
            "hub does not have; nothing can be allowed under it.",
            "agreement.policy_template",
        )
        return
    kind = PUBLIC_GRANTEE if public else request.requester_party_kind
    if kind not in template.grantee_kinds:
        allowed = ", ".join(sorted(template.grantee_kinds))
        fail(
            "grantee_kind_not_allowed",
            f"The terms of {label} ({template.name}) allow grants to {allowed}; "
            f"not to {'the public' if public else 'a party of kind ' + kind}.",
            f"{template.name}.grantee_kinds",
        )


def _check_mode_and_purpose(
    request: RequestFacts, consent: ConsentFacts, template: PolicyTemplate | None, fail: _Fail
) -> None:
    if request.mode not in consent.modes:
        fail(
            "mode_not_consented",
            f"Consent {consent.id} allows {_listed(consent.modes)} access; "
            f"you asked for {request.mode}.",
            "consent.modes",
        )
    if template is not None and request.mode not in template.modes:
        fail(
            "mode_outside_terms",
            f"The terms of {template.name} allow {_listed(template.modes)} access; "
            f"you asked for {request.mode}.",
            f"{template.name}.modes",
        )
    if request.purpose not in consent.purposes:
        fail(
            "purpose_not_consented",
            f"Consent {consent.id} allows the purposes {_listed(consent.purposes)}; "
            f"you asked for {request.purpose}.",
            "consent.purposes",
        )
    if template is not None and request.purpose not in template.purposes:
        fail(
            "purpose_outside_terms",
            f"The terms of {template.name} allow the purposes {_listed(template.purposes)}; "
            f"you asked for {request.purpose}.",
            f"{template.name}.purposes",
        )


def _check_legal_basis(request: RequestFacts, template: PolicyTemplate, fail: _Fail) -> None:
    rule = template.legal_basis_rule(request.purpose)
    if rule is None:
        return
    legal_basis = request.legal_basis.strip()
    rule_name = f"{template.name}.legal_basis.{request.purpose}"
    if not legal_basis:
        if rule.required:
            fail(
                "legal_basis_required",
                f"The terms of {template.name} require a legal basis for "
                f"{request.purpose}: {rule.description}",
                rule_name,
            )
    elif not rule.accepts(legal_basis):
        fail(
            "legal_basis_invalid",
            f"'{legal_basis}' is not a valid legal basis for {request.purpose} under "
            f"{template.name}: {rule.description}",
            rule_name,
        )


def _check_footage_window(
    request: RequestFacts,
    consent: ConsentFacts,
    template: PolicyTemplate | None,
    now: datetime,
    fail: _Fail,
) -> None:
    start, end = request.footage_start, request.footage_end
    if start is None or end is None:
        fail(
            "footage_window_missing",
            "Footage requests must give the start and end of the footage wanted.",
            "request.footage_window",
        )
        return
    if end <= start:
        fail(
            "footage_window_invalid",
            "The footage window must end after it starts.",
            "request.footage_window",
        )
        return
    if end > now + CLOCK_SKEW_TOLERANCE:
        fail(
            "footage_window_in_future",
            f"The footage window ends at {end.isoformat()}, which is in the future; "
            "only recorded footage can be requested.",
            "request.footage_window",
        )

    # A live-only template's zero limits only repeat "no footage", which mode_outside_terms
    # already says; its limits count only where it allows footage.
    terms = template if template is not None and Mode.FOOTAGE in template.modes else None
    lookback_hours = (now - start) / timedelta(hours=1)
    limit, setter = _tightest(
        consent.max_lookback_hours, terms, terms.max_lookback_hours if terms else None
    )
    if limit is not None and lookback_hours > limit:
        who, rule = _set_by(consent, setter)
        fail(
            "lookback_exceeded",
            f"Footage look-back is limited to {limit} hours by {who}; "
            f"you asked for {_number(lookback_hours)} hours.",
            f"{rule}.max_lookback_hours",
        )

    window_minutes = (end - start) / timedelta(minutes=1)
    limit, setter = _tightest(
        consent.max_window_minutes, terms, terms.max_window_minutes if terms else None
    )
    if limit is not None and window_minutes > limit:
        who, rule = _set_by(consent, setter)
        fail(
            "window_too_long",
            f"A footage window may be at most {limit} minutes long under {who}; "
            f"you asked for {_number(window_minutes)} minutes.",
            f"{rule}.max_window_minutes",
        )


def _tightest(
    consent_limit: int | None, terms: PolicyTemplate | None, template_limit: int | None
) -> tuple[int | None, PolicyTemplate | None]:
    """The smaller of the consent's and the template's limit, and the template if it set it."""
    if terms is None or template_limit is None:
        return consent_limit, None
    if consent_limit is not None and consent_limit <= template_limit:
        return consent_limit, None
    return template_limit, terms


def _set_by(consent: ConsentFacts, terms: PolicyTemplate | None) -> tuple[str, str]:
    """Who set a limit, in words and as a rule name."""
    if terms is None:
        return f"consent {consent.id}", "consent"
    return f"the terms of {terms.name}", terms.name


def _listed(values: Iterable[str]) -> str:
    return ", ".join(sorted(str(value) for value in values)) or "no"


def _number(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"
