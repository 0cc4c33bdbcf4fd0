"""What a grant must satisfy before it becomes a consent.

The agreement must be in force and bind the grantor and the grantee; the grantee must be of a
kind the agreement's policy template allows; modes, purposes and limits may only narrow the
template's terms; listed cameras must belong to the grantor. Every refusal is an
``InvalidInput`` naming the field at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.cameras.models import Camera
from sharing.clock import as_utc
from sharing.consent.facts import CameraSelector
from sharing.consent.links import parties_bound
from sharing.consent.models import Agreement
from sharing.consent.schemas import ConsentCreate
from sharing.consent.templates import PUBLIC_GRANTEE, PolicyLibrary, PolicyTemplate
from sharing.errors import InvalidInput
from sharing.parties.models import Party
from sharing.vocabulary import AgreementStatus


@dataclass(frozen=True, slots=True)
class CheckedGrant:
    """A grant that passed its checks: its agreement, its listed cameras and its period."""

    agreement: Agreement
    camera_ids: list[UUID]
    valid_from: datetime
    valid_until: datetime | None


async def check_grant(
    session: AsyncSession,
    data: ConsentCreate,
    grantor_id: UUID,
    policies: PolicyLibrary,
    now: datetime,
) -> CheckedGrant:
    """Check ``data``, granted by ``grantor_id`` (an existing party), against its agreement
    and the agreement's policy template; raise ``InvalidInput`` on the first fault."""
    grantee_id = data.grantee_party_id
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
    await _check_grantee(session, grantee_id, grantor_id, agreement, members, template)
    _check_terms(data, template)
    camera_ids = await _check_selection(session, data, grantor_id)
    valid_from = as_utc(data.valid_from) if data.valid_from else now
    valid_until = as_utc(data.valid_until) if data.valid_until else None
    if valid_until is not None and valid_until <= max(valid_from, now):
        raise InvalidInput("valid_until", "must be in the future and after valid_from")
    return CheckedGrant(agreement, camera_ids, valid_from, valid_until)


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
    grantee_id: UUID | None,
    grantor_id: UUID,
    agreement: Agreement,
    members: set[UUID],
    template: PolicyTemplate,
) -> None:
    allowed = ", ".join(sorted(template.grantee_kinds))
    if grantee_id is None:
        if PUBLIC_GRANTEE not in template.grantee_kinds:
            raise InvalidInput(
                "grantee_party_id",
                f"the terms of {template.name} do not allow public grants; name a grantee "
                f"party of kind {allowed}",
            )
        return
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


def _check_terms(data: ConsentCreate, template: PolicyTemplate) -> None:
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
    session: AsyncSession, data: ConsentCreate, grantor_id: UUID
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
