"""HTTP routes of the audit trail."""

from __future__ import annotations

from litestar import Controller, get
from litestar.params import Parameter

from sharing.audit.log_service import reads_everything
from sharing.audit.schemas import AuditEventPage, AuditEventRead
from sharing.audit.service import list_events
from sharing.clock import as_utc
from sharing.dependencies import PrincipalDep, SessionDep
from sharing.openapi import problem_responses
from sharing.vocabulary import Scope


class AuditController(Controller):
    """Read the audit trail."""

    path = "/audit"
    tags = ["audit"]

    @get(
        "/events",
        summary="List audit events in order",
        description=(
            "Needs `audit:read`. The hub operator's own party (kind `command_center`, e.g. its "
            "inspectorate) and registry admins read every event; any other party reads the "
            "events its own members and clients caused."
        ),
        responses=problem_responses(401, 403),
    )
    async def events(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        after: int = Parameter(
            default=-1,
            ge=-1,
            description="Return events after this id; ids start at 0 (the first leaf).",
        ),
        limit: int = Parameter(default=100, ge=1, le=1000),
        object_id: str | None = Parameter(default=None, max_length=64),
        action: list[str] | None = Parameter(default=None, description="Repeat to match several."),
    ) -> AuditEventPage:
        """A page of events after ``after``."""
        principal.require(Scope.AUDIT_READ)
        party_filter = (
            None if await reads_everything(session, principal) else str(principal.party_id)
        )
        events = await list_events(
            session,
            after_id=after,
            limit=limit,
            object_id=object_id,
            actions=action,
            party_id=party_filter,
        )
        items = [
            AuditEventRead(
                id=int(e.id or 0),
                occurred_at=as_utc(e.occurred_at),
                action=e.action,
                actor_party_id=e.actor_party_id,
                actor_member_id=e.actor_member_id,
                actor_client_id=e.actor_client_id,
                object_type=e.object_type,
                object_id=e.object_id,
                purpose=e.purpose,
                outcome=e.outcome,
                details=e.details,
            )
            for e in events
        ]
        return AuditEventPage(items=items, next_after=items[-1].id if len(items) == limit else None)
