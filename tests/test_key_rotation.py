"""`sharing keys rotate`: a new key signs, the old one keeps verifying through the overlap."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
from jose import jwt

from tests.hubprocess import RunningHub


def kids(hub: RunningHub) -> list[str]:
    response = httpx.get(f"{hub.url}/.well-known/jwks.json", timeout=10)
    return [key["kid"] for key in response.json()["keys"]]


def test_operator_rotates_keys_and_tokens_from_before_keep_working(hub: RunningHub) -> None:
    old_token = hub.token("rejeki_owner", scope="registry:read")
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    env = {
        **os.environ,
        "SHARING_DATABASE_URL": hub.settings.database_url,
        "SHARING_SECRET_KEY": hub.settings.secret_key.get_secret_value(),
        "SHARING_ISSUER": hub.settings.issuer,
    }
    result = subprocess.run(
        [sys.executable, "-m", "sharing.cli", "keys", "rotate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    new_kid = result.stdout.split("new current signing key: ")[1].split()[0]

    deadline = time.monotonic() + 5
    while kids(hub)[0] != new_kid and time.monotonic() < deadline:
        time.sleep(0.1)
    assert kids(hub)[0] == new_kid, "the running hub did not pick up the rotated key"
    assert old_kid in kids(hub), "the retired key must stay published during the overlap"

    new_token = hub.token("rejeki_owner", scope="registry:read")
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    for token in (old_token, new_token):
        response = httpx.get(
            f"{hub.url}/access-requests", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert response.status_code != 401, response.text
