"""Bad input gets a problem document, never a stack trace."""

from __future__ import annotations

from tests.hubprocess import RunningHub


def test_unknown_path_is_a_problem_document(hub: RunningHub) -> None:
    with hub.anonymous() as anonymous:
        response = anonymous.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404


def test_malformed_json_is_a_client_error_not_a_500(hub: RunningHub) -> None:
    with hub.client("polrestabes_cc") as police:
        response = police.post(
            "/access-requests", content=b"{not json", headers={"Content-Type": "application/json"}
        )
    assert 400 <= response.status_code < 500
    assert "Traceback" not in response.text
    assert response.json()["type"].startswith("/problems/")


def test_expired_or_tampered_api_token_is_refused(hub: RunningHub) -> None:
    token = hub.token("polrestabes_cc")
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with hub.anonymous() as anonymous:
        response = anonymous.get(
            "/access-requests", headers={"Authorization": f"Bearer {tampered}"}
        )
    assert response.status_code == 401
    assert response.json()["type"] == "/problems/invalid-token"
