"""Policy templates: the terms each kind of legal instrument allows, and their loading.

Templates are TOML files in ``policies/``, one per legal instrument, validated when the hub
starts; a bad file stops the hub with a message naming the file and the field.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Literal, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from sharing.vocabulary import AgreementKind, Mode, PartyKind, Purpose

PUBLIC_GRANTEE = "public"
"""The grantee kind a template lists to allow public grants (consents without a grantee)."""


class PolicyFileError(ValueError):
    """A policy file cannot be read or breaks the template schema."""

    def __init__(self, path: Path, field: str, message: str) -> None:
        super().__init__(f"{path.name}: {field}: {message}")
        self.path = path
        self.field = field
        self.message = message


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


class EmergencyClause(BaseModel):
    """When an emergency request may go ahead without waiting for the owner.

    An emergency request (``emergency`` set) whose mode, purpose and requester kind all fit
    the clause is granted with a token no longer than ``max_token_lifetime_seconds``, without
    the owner's per-request approval if ``skips_owner_approval``, and always opens an
    after-the-fact review. Every other condition of the consent and the template still holds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed: bool = Field(description="Whether the instrument allows emergency access at all.")
    purposes: frozenset[Purpose] = Field(min_length=1, description="Emergency purposes.")
    grantee_kinds: frozenset[PartyKind] = Field(
        min_length=1, description="Kinds of party that may ask in an emergency."
    )
    modes: frozenset[Mode] = Field(min_length=1, description="Modes allowed in an emergency.")
    max_token_lifetime_seconds: int = Field(
        ge=10, le=3600, description="The longest life of an emergency token."
    )
    skips_owner_approval: bool = Field(
        description="Whether an emergency goes ahead without the owner's per-request approval."
    )

    def fits(self, mode: str, purpose: str, requester_kind: str) -> bool:
        """Whether a request of this mode, purpose and requester kind is an emergency the
        clause covers."""
        # The enums are StrEnums, so plain strings find their members.
        return (
            self.allowed
            and mode in self.modes
            and purpose in self.purposes
            and requester_kind in self.grantee_kinds
        )


class DisclosureTerms(BaseModel):
    """What the instrument lets the police keep from a camera's owner, and for how long.

    ``officer_identity``: ``plain`` names the requesting officer in the owner's access
    report; ``commitment`` shows the owner only a salted commitment the police can open for
    an auditor. ``max_seal_days``: how long after an access the police may keep its details
    sealed from the owner (0: never). Case references are always commitments, whatever the
    terms say.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    officer_identity: Literal["plain", "commitment"] = Field(
        default="plain", description="How the owner's report names the requesting officer."
    )
    max_seal_days: int = Field(
        default=0, ge=0, le=366, description="Longest seal of an access, in days; 0 forbids it."
    )

    @property
    def hides_officer(self) -> bool:
        """Whether the officer appears to the owner as a commitment."""
        return self.officer_identity == "commitment"


PLAIN_DISCLOSURE = DisclosureTerms()
"""The strictest terms: the officer named, no seal. Used where no template speaks."""


def strictest_disclosure(terms: Sequence[DisclosureTerms]) -> DisclosureTerms:
    """The terms of a request touching several templates: the officer is hidden only if
    every template allows it, and a seal is as short as the shortest allowed."""
    if not terms:
        return PLAIN_DISCLOSURE
    return DisclosureTerms(
        officer_identity="commitment" if all(t.hides_officer for t in terms) else "plain",
        max_seal_days=min(t.max_seal_days for t in terms),
    )


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
    emergency: EmergencyClause | None = Field(
        default=None, description="The emergency clause, if the instrument has one."
    )
    disclosure: DisclosureTerms = Field(
        default=PLAIN_DISCLOSURE,
        description="What the owner's access report may hide, and for how long.",
    )

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

    @field_validator("emergency")
    @classmethod
    def _emergency_within_terms(
        cls, clause: EmergencyClause | None, info: ValidationInfo
    ) -> EmergencyClause | None:
        # An emergency widens nothing: it only waives the wait for approval and shortens the
        # token, so each of its lists must sit inside the template's own terms.
        if clause is None:
            return None
        for term in ("modes", "purposes", "grantee_kinds"):
            if term not in info.data:  # the term itself was wrong and is reported already
                continue
            stray = sorted(str(value) for value in set(getattr(clause, term)) - info.data[term])
            if stray:
                raise ValueError(
                    f"{term} {stray} are not allowed by the template's own {term}; "
                    "an emergency clause may only narrow the terms"
                )
        ceiling = info.data.get("max_token_lifetime_seconds")
        if ceiling is not None and clause.max_token_lifetime_seconds > ceiling:
            raise ValueError(
                f"max_token_lifetime_seconds {clause.max_token_lifetime_seconds} is above the "
                f"template's max_token_lifetime_seconds {ceiling}"
            )
        return clause

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
