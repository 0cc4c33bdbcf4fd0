"""What the decision loads from the hub's database: the requester's ancestors, the
memberships that bind it and its suspended emergency rights."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sharing.consent.decision_inputs import DecisionInputs, decision_inputs, requester_ancestors
from sharing.consent.facts import RequestFacts
from sharing.consent.models import AgreementParty, Consent
from sharing.emergency.models import EmergencySuspension
from sharing.parties.models import Party
from tests.hubprocess import RunningHub


def test_polrestabes_is_known_to_sit_under_the_polda(hub: RunningHub) -> None:
    city = hub.city
    polrestabes, polda = city.parties["polrestabes"], city.parties["polda"]

    async def load(session: AsyncSession) -> DecisionInputs:
        return await decision_inputs(session, [city.cameras["sinar_front"]], polrestabes)

    inputs = hub.query(load)
    request = RequestFacts(polrestabes, "police", (), "live", "public_order", "", None, None, None)

    assert inputs.requester_ancestor_ids == {polda}
    assert inputs.request_facts(request).requester_ancestor_ids == {polda}
    perwal = inputs.agreements[city.agreements["perwal"]]
    assert perwal.party_ids == {polrestabes, polda}  # only the requester and its ancestors
    assert not perwal.emergency_suspended
    assert hub.query(lambda session: requester_ancestors(session, polda)) == frozenset()


def test_fire_brigade_whose_emergency_right_is_suspended_is_known_as_such(
    hub: RunningHub,
) -> None:
    city = hub.city
    perwal, rw05 = city.agreements["perwal"], city.parties["rw05"]
    gate = city.cameras["rw05_gate"]
    now = datetime.now(UTC)
    damkar, pos = uuid.uuid4(), uuid.uuid4()  # the brigade and one of its fire stations

    async def suspend_and_load(session: AsyncSession) -> tuple[DecisionInputs, DecisionInputs]:
        session.add(Party(id=damkar, name="Damkar Uji", kind="emergency", created_at=now))
        await session.flush()
        session.add(
            Party(id=pos, name="Pos Damkar Uji", kind="emergency", parent_id=damkar, created_at=now)
        )
        session.add(AgreementParty(agreement_id=perwal, party_id=damkar))
        consent_id = uuid.uuid4()
        session.add(
            Consent(
                id=consent_id,
                lineage_id=consent_id,
                grantor_party_id=rw05,
                grantee_party_id=damkar,
                grantee_scope="party_and_subunits",
                agreement_id=perwal,
                camera_selector="tag",
                selector_tag="gate",
                modes=["live"],
                purposes=["emergency_response"],
                valid_from=now - timedelta(hours=1),
                created_at=now,
            )
        )
        session.add(
            EmergencySuspension(
                party_id=damkar, agreement_id=perwal, reason="three unratified", suspended_at=now
            )
        )
        await session.commit()
        return (
            await decision_inputs(session, [gate], damkar),
            await decision_inputs(session, [gate], pos),
        )

    brigade, station = hub.query(suspend_and_load)

    assert brigade.agreements[perwal].emergency_suspended
    assert any(c.grantee_party_id == damkar for c in brigade.consents)
    # The station reaches the consent through its brigade; its own right is not suspended.
    assert station.requester_ancestor_ids == {damkar}
    assert any(c.grantee_scope == "party_and_subunits" for c in station.consents)
    assert station.agreements[perwal].party_ids == {damkar}
    assert not station.agreements[perwal].emergency_suspended
