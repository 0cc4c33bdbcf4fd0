"""`sharing operator`: the first operator of an empty hub, then everything through the API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sharing.audit.models import AuditEvent
from sharing.db import run_with_session
from tests.hubprocess import free_port, hub_settings, serve_in_thread

SHARING = Path(sys.executable).parent / "sharing"


def sharing(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHARING_DATABASE_URL": database_url}
    return subprocess.run(
        [str(SHARING), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_first_operator_is_installed_once_and_administers_the_hub(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    assert sharing(url, "migrate").returncode == 0
    made = sharing(url, "operator", "--party", "Diskominfo Binjai", "--admin", "Operator Satu")
    assert made.returncode == 0, made.stderr
    credentials = json.loads(made.stdout)

    again = sharing(url, "operator", "--party", "Another", "--admin", "Someone")
    assert again.returncode == 1
    assert "already has an operator" in again.stderr

    port = free_port()
    settings = hub_settings(url, port)
    with serve_in_thread(settings, port):
        token = httpx.post(
            f"{settings.issuer}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(credentials["client_id"], credentials["client_secret"]),
            timeout=10,
        )
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        party = httpx.post(
            f"{settings.issuer}/parties",
            json={"name": "Polres Binjai", "kind": "police"},
            headers=headers,
            timeout=10,
        )
        assert party.status_code == 201, party.text

    async def install_events(session: AsyncSession) -> list[tuple[str, str | None]]:
        rows = await session.execute(
            select(col(AuditEvent.action), col(AuditEvent.actor_client_id)).order_by(
                col(AuditEvent.id)
            )
        )
        return [(str(action), client) for action, client in rows]

    events = run_with_session(settings, install_events)
    assert events[:2] == [
        ("party.registered", "system:install"),
        ("client.registered", "system:install"),
    ]
    assert ("party.registered", credentials["client_id"]) in events
    assert credentials["client_secret"] not in json.dumps(events)
