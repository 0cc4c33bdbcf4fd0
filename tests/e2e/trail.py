"""The audit trail as the end-to-end tests read it: over HTTP, searchable, in order."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import httpx


def all_events(auditor: httpx.Client) -> list[dict[str, Any]]:
    """Every audit event, in order, following the pages."""
    events: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        response = auditor.get("/audit/events", params={"after": after, "limit": 1000})
        assert response.status_code == 200, response.text
        page = response.json()
        events.extend(page["items"])
        after = page["next_after"]
    return events


class Trail:
    """Audit events, searchable by action and object."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events

    def all(self, action: str, object_id: str) -> list[dict[str, Any]]:
        """Every event of ``action`` on ``object_id``, in order."""
        return [e for e in self.events if e["action"] == action and e["object_id"] == object_id]

    def one(self, action: str, object_id: str) -> dict[str, Any]:
        """The single event of ``action`` on ``object_id``."""
        found = self.all(action, object_id)
        assert len(found) == 1, f"expected one {action} on {object_id}, found {len(found)}"
        return found[0]

    def first(
        self, action: str, object_id: str, *, path: str, after: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The first gateway event of ``action`` for ``path`` (after an event, if given)."""
        for event in self.all(action, object_id):
            if event["details"].get("path") == path and event["id"] > (after or {"id": 0})["id"]:
                return event
        raise AssertionError(f"no {action} on {object_id} for {path}")

    @staticmethod
    def assert_in_order(*events: dict[str, Any]) -> None:
        """The events were recorded in this order."""
        ids = [event["id"] for event in events]
        order = [(event["id"], event["action"]) for event in events]
        assert all(a < b for a, b in pairwise(ids)), order
