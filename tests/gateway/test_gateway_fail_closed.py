"""A verdict the hub cannot record is no verdict: the gateway check fails closed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Row, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.models import AuditEvent, AuditLogHead
from tests.access.test_access_requests import footage_request
from tests.gateway.test_gateway_check import check, mint
from tests.hubprocess import RunningHub, private_hub


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def own_hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningHub]:
    """A hub of its own: these tests break its audit log for a while."""
    with private_hub(request.param, tmp_path_factory.mktemp("fail-closed")) as hub:
        yield hub


async def _take_head(session: AsyncSession) -> Row[tuple[int, int, bytes, bytes]]:
    head = (await session.execute(select(AuditLogHead.__table__))).one()  # type: ignore[attr-defined]
    await session.execute(delete(AuditLogHead))
    await session.commit()
    return head


async def _count_gateway_events(session: AsyncSession) -> int:
    query = select(func.count()).where(col(AuditEvent.action).like("gateway.%"))
    return int(await session.scalar(query) or 0)


def test_a_verdict_that_cannot_be_recorded_is_refused_and_nothing_is_served(
    own_hub: RunningHub,
) -> None:
    camera = own_hub.city.cameras["sinar_front"]
    token = mint(own_hub, footage_request(camera))["access_token"]
    playlist = f"/footage/{camera}/index.m3u8"
    assert check(own_hub, playlist, token).status_code == 204
    recorded = own_hub.query(_count_gateway_events)

    head = own_hub.query(_take_head)  # the log can no longer be appended to
    try:
        for token_or_none in (token, None):  # an allow and a deny alike
            refused = check(own_hub, playlist, token_or_none)
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "1"
            assert refused.json()["type"].endswith("audit-unavailable")
        assert own_hub.query(_count_gateway_events) == recorded
    finally:

        async def restore(session: AsyncSession) -> None:
            await session.execute(insert(AuditLogHead.__table__).values(**head._mapping))  # type: ignore[attr-defined]
            await session.commit()

        own_hub.query(restore)

    assert check(own_hub, playlist, token).status_code == 204
    assert own_hub.query(_count_gateway_events) == recorded + 1
