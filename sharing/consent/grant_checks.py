"""What a grant must satisfy before it becomes a consent (or a new version of one).

The agreement must be in force and bind the grantor and the grantee; the grantee scope must
fit the grantee given; the grantee must be of a kind the agreement's policy template allows;
modes, purposes and limits may only narrow the template's terms; hours, days and timezone
must make sense; a legal obligation names its regulation and a public task is a government's;
listed cameras must belong to the grantor. Every refusal is an ``InvalidInput`` naming the
field at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.cameras.models import Camera
from sharing.clock import as_utc
from sharing.consent.consent_schemas import ConsentCreate, ConsentVersionCreate
from sharing.consent.facts import CameraSelector, GranteeScope, LegalBasis
from sharing.consent.links import parties_bound
from sharing.consent.models import Agreement
from sharing.consent.templates import PUBLIC_GRANTEE, PolicyLibrary, PolicyTemplate
from sharing.errors import InvalidInput
from sharing.parties.models import Party
from sharing.vocabulary import AgreementStatus, PartyKind

ConsentTerms = ConsentCreate | ConsentVersionCreate
"""What a grant states: a first grant, or the full terms of a new version."""

# A public task is the government's own: its cameras, its agencies, its command center.
_PUBLIC_TASK_KINDS = frozenset({PartyKind.GOVERNMENT, PartyKind.COMMAND_CENTER})


@dataclass(frozen=True, slots=True)
class CheckedGrant:
    """A grant that passed its checks: its agreement, its listed cameras, its period and its
    grantee scope (resolved: ``party`` with a grantee, ``public`` without, unless given)."""

    agreement: Agreement
    camera_ids: list[UUID]
    valid_from: datetime
    valid_until: datetime | None
    grantee_scope: GranteeScope = GranteeScope.PARTY


async def check_grant(
    session: AsyncSession,
    data: ConsentTerms,
    grantor_id: UUID,
    policies: PolicyLibrary,
    now: datetime,
) -> CheckedGrant:
    """Check ``data``, granted by ``grantor_id`` (an existing party), against its agreement
    and the agreement's policy template; raise ``InvalidInput`` on the first fault."""
    grantee_id = data.grantee_party_id
    scope = grantee_scope_of(data)
    members = await parties_bound(
        session, data.agreement_id, [grantor_id] if grantee_id is None else [grantor_id, grantee_id]
    )
    agreement = await _agreement_for_grant(session, data.agreement_id, grantor_id in members, now)
    template = policies.get(agreement.policy_template)
    if template is None:
        raise InvalidInput(
            "agreement_id",
            f"agreement {agreement.number} names the policy template "
            f"'{agreement.policy_template}', which this hub does not have",
        )
    await _check_grantee(session, scope, grantee_id, grantor_id, agreement, members, template)
    _check_terms(data, template)
    check_schedule(data.hours_start, data.hours_end, data.days_of_week, data.timezone)
    await _check_legal_basis(session, data, grantor_id)
    camera_ids = await _check_selection(session, data, grantor_id)
    valid_from = as_utc(data.valid_from) if data.valid_from else now
    valid_until = as_utc(data.valid_until) if data.valid_until else None
    if valid_until is not None and valid_until <= max(valid_from, now):
        raise InvalidInput("valid_until", "must be in the future and after valid_from")
    return CheckedGrant(agreement, camera_ids, valid_from, valid_until, scope)


def grantee_scope_of(data: ConsentTerms) -> GranteeScope:
    """The grant's scope: as given, else ``party`` with a grantee and ``public`` without."""
    if data.grantee_scope is not None:
        return data.grantee_scope
    return GranteeScope.PARTY if data.grantee_party_id is not None else GranteeScope.PUBLIC


def check_schedule(
    hours_start: int | None,
    hours_end: int | None,
    days_of_week: list[int] | None,
    timezone: str,
) -> None:
    """Hours come together and differ, days are ISO days, the timezone is a real one."""
    if (hours_start is None) != (hours_end is None):
        missing = "hours_end" if hours_end is None else "hours_start"
        raise InvalidInput(missing, "give hours_start and hours_end together, or neither")
    if hours_start is not None and hours_start == hours_end:
        raise InvalidInput(
            "hours_end",
            "must differ from hours_start; for access at any hour give neither "
            "(22 to 6 is the night, 0 to 24 the whole day)",
        )
    if days_of_week is not None:
        wrong = sorted({day for day in days_of_week if not 1 <= day <= 7})
        if wrong:
            raise InvalidInput("days_of_week", f"days are 1 (Monday) to 7 (Sunday); not {wrong}")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            "timezone", f"'{timezone}' is not an IANA time zone, e.g. Asia/Jakarta"
        ) from None


async def _check_legal_basis(session: AsyncSession, data: ConsentTerms, grantor_id: UUID) -> None:
    if data.legal_basis == LegalBasis.LEGAL_OBLIGATION and not data.regulation_ref:
        raise InvalidInput(
            "regulation_ref",
            "a legal obligation must name the regulation that imposes it, e.g. "
            "'Perwal Medan No. 12 Tahun 2024 Pasal 7'",
        )
    if data.legal_basis == LegalBasis.PUBLIC_TASK:
        grantor = await session.get(Party, grantor_id)
        if grantor is None or grantor.kind not in _PUBLIC_TASK_KINDS:
            kind = grantor.kind if grantor else "unknown"
            raise InvalidInput(
                "legal_basis",
                "public_task is the basis of the government's own cameras; the grantor is "
                f"of kind {kind}: use consent or legal_obligation",
            )


async def _agreement_for_grant(
    session: AsyncSession, agreement_id: UUID, grantor_is_party: bool, now: datetime
) -> Agreement:
    agreement = await session.get(Agreement, agreement_id)
    # One message for "no such agreement" and "not yours", so ids cannot be probed.
    if agreement is None or not grantor_is_party:
        raise InvalidInput(
            "agreement_id",
            f"agreement {agreement_id} does not exist or the grantor is not a party to it",
        )
    in_force = as_utc(agreement.valid_from) <= now and (
        agreement.valid_until is None or as_utc(agreement.valid_until) > now
    )
    if agreement.status != AgreementStatus.ACTIVE or not in_force:
        raise InvalidInput(
            "agreement_id",
            f"agreement {agreement.number} is not in force (status {agreement.status}); "
            "consent can only be granted under an active agreement",
        )
    return agreement


async def _check_grantee(
    session: AsyncSession,
    scope: GranteeScope,
    grantee_id: UUID | None,
    grantor_id: UUID,
    agreement: Agreement,
    members: set[UUID],
    template: PolicyTemplate,
) -> None:
    allowed = ", ".join(sorted(template.grantee_kinds))
    if scope in (GranteeScope.PUBLIC, GranteeScope.AGREEMENT_PARTIES):
        if grantee_id is not None:
            raise InvalidInput("grantee_party_id", f"must be null for the grantee scope '{scope}'")
        if scope == GranteeScope.PUBLIC and PUBLIC_GRANTEE not in template.grantee_kinds:
            raise InvalidInput(
                "grantee_party_id",
                f"the terms of {template.name} do not allow public grants; name a grantee "
                f"party of kind {allowed}",
            )
        # Every party of the agreement: those of kinds outside the terms are refused when
        # they ask, with the reason, rather than the grant being refused here.
        return
    if grantee_id is None:
        raise InvalidInput("grantee_party_id", f"the grantee scope '{scope}' needs a grantee party")
    if grantee_id == grantor_id:
        raise InvalidInput("grantee_party_id", "an owner does not need consent from itself")
    grantee = await session.get(Party, grantee_id)
    if grantee is None or not grantee.active:
        raise InvalidInput("grantee_party_id", f"there is no active party {grantee_id}")
    if grantee_id not in members:
        raise InvalidInput(
            "grantee_party_id",
            f"{grantee.name} is not a party to agreement {agreement.number}",
        )
    if grantee.kind not in template.grantee_kinds:
        raise InvalidInput(
            "grantee_party_id",
            f"the terms of {template.name} allow grants to {allowed}; "
            f"{grantee.name} is of kind {grantee.kind}",
        )


def _check_terms(data: ConsentTerms, template: PolicyTemplate) -> None:
    """Modes, purposes and limits may only narrow the template's terms."""
    for field, asked, allowed in (
        ("modes", data.modes, template.modes),
        ("purposes", data.purposes, template.purposes),
    ):
        outside = sorted(set(asked) - set(allowed))
        if outside:
            raise InvalidInput(
                field,
                f"outside the terms of {template.name}: {', '.join(outside)}; "
                f"allowed: {', '.join(sorted(allowed))}",
            )
    for field, value, ceiling, unit in (
        ("max_lookback_hours", data.max_lookback_hours, template.max_lookback_hours, "hours"),
        ("max_window_minutes", data.max_window_minutes, template.max_window_minutes, "minutes"),
        (
            "max_token_lifetime_seconds",
            data.max_token_lifetime_seconds,
            template.max_token_lifetime_seconds,
            "seconds",
        ),
    ):
        if value is not None and value > ceiling:
            raise InvalidInput(
                field,
                f"may only narrow the terms of {template.name}, which allow at most "
                f"{ceiling} {unit}; you asked for {value}",
            )


async def _check_selection(
    session: AsyncSession, data: ConsentTerms, grantor_id: UUID
) -> list[UUID]:
    """The consent's listed cameras, after checking the selector is used consistently."""
    if data.camera_selector != CameraSelector.CAMERAS:
        if data.camera_ids:
            raise InvalidInput("camera_ids", "list cameras only with camera_selector 'cameras'")
        if data.camera_selector == CameraSelector.TAG and not data.selector_tag:
            raise InvalidInput("selector_tag", "camera_selector 'tag' needs a selector_tag")
        if data.camera_selector == CameraSelector.ALL and data.selector_tag is not None:
            raise InvalidInput("selector_tag", "give a selector_tag only with selector 'tag'")
        return []
    if data.selector_tag is not None:
        raise InvalidInput("selector_tag", "give a selector_tag only with selector 'tag'")
    camera_ids = list(dict.fromkeys(data.camera_ids))
    if not camera_ids:
        raise InvalidInput("camera_ids", "camera_selector 'cameras' needs at least one camera")
    owned = set(
        (
            await session.execute(
                select(col(Camera.id)).where(
                    col(Camera.id).in_(camera_ids), col(Camera.owner_party_id) == grantor_id
                )
            )
        ).scalars()
    )
    foreign = [camera_id for camera_id in camera_ids if camera_id not in owned]
    if foreign:
        # Same words for unknown and someone else's camera: ids cannot be probed.
        raise InvalidInput(
            "camera_ids", f"camera {foreign[0]} is not registered to the granting party"
        )
    return camera_ids
