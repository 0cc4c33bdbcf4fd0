"""The committed OpenAPI document is the one the app generates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sharing.app import create_app
from sharing.settings import Settings


def test_committed_openapi_document_is_current(repo_root: Path) -> None:
    generated = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:")).openapi_schema
    committed = json.loads((repo_root / "openapi" / "openapi.json").read_text())
    assert committed == json.loads(json.dumps(generated.to_schema())), (
        "openapi/openapi.json is stale: run `make openapi` and commit the result"
    )


def test_every_operation_has_a_summary_and_documents_its_errors(repo_root: Path) -> None:
    document = json.loads((repo_root / "openapi" / "openapi.json").read_text())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            takes_input = operation.get("parameters") or operation.get("requestBody")
            public = operation.get("security") in ([], [{}])
            if not takes_input and public:
                continue  # a public document with no input (JWKS, metadata) has no 4xx to give
            errors = [code for code in operation["responses"] if code.startswith(("4", "5"))]
            assert errors, f"{method.upper()} {path} documents no error response"


def test_openapi_document_does_not_depend_on_hash_seed(tmp_path: Path) -> None:
    outputs = []
    for seed in ("1", "2", "3"):
        target = tmp_path / f"openapi-{seed}.json"
        subprocess.run(
            [sys.executable, "-m", "sharing.cli", "openapi", "--output", str(target)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
            capture_output=True,
            timeout=120,
        )
        outputs.append(target.read_text())
    assert outputs[0] == outputs[1] == outputs[2], "the generated document is not deterministic"
