"""The ``sharing`` command: serve, migrate, demo, operator, keys, audit, federation, openapi."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from sharing.audit.cli import add_audit_commands, run_audit_command
from sharing.clock import SystemClock
from sharing.db import create_engine, create_sessionmaker, run_migrations
from sharing.federation.cli import add_federation_commands, run_federation_command
from sharing.settings import Settings

DEFAULT_CREDENTIALS = Path("var/demo-credentials.json")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sharing`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    settings = Settings()
    handler = {
        "serve": _serve,
        "migrate": _migrate,
        "demo": _demo,
        "operator": _operator,
        "keys": _keys,
        "audit": run_audit_command,
        "federation": run_federation_command,
        "openapi": _openapi,
    }[args.command]
    return handler(settings, args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sharing", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the hub over HTTP (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    commands.add_parser("migrate", help="upgrade the database schema to the newest revision")
    demo = commands.add_parser("demo", help="load the demo city (once) and print what to try")
    demo.add_argument(
        "--credentials",
        type=Path,
        default=DEFAULT_CREDENTIALS,
        help="where the demo clients' credentials are written (mode 0600)",
    )
    operator = commands.add_parser(
        "operator", help="create the first operator of an empty hub and print its credentials"
    )
    operator.add_argument("--party", required=True, help="the operator's party, e.g. its agency")
    operator.add_argument("--admin", required=True, help="the administrator's name")
    keys = commands.add_parser("keys", help="signing keys")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    keys_commands.add_parser(
        "rotate",
        help="make a new current signing key; the old one stays "
        "published for SHARING_KEY_ROTATION_OVERLAP_SECONDS",
    )
    keys_commands.add_parser("list", help="list signing keys and their status")
    add_audit_commands(commands)
    add_federation_commands(commands)
    openapi = commands.add_parser("openapi", help="write the OpenAPI document")
    openapi.add_argument("--output", type=Path, default=Path("openapi/openapi.json"))
    return parser


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from sharing.app import create_app

    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
    return 0


def _migrate(settings: Settings, _: argparse.Namespace) -> int:
    run_migrations(settings)
    print(f"database at {settings.database_url.split('@')[-1]} is at the newest revision")
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from sharing.demo import DemoCity, demo_city_loaded, load_demo_city, write_credentials

    async def load() -> DemoCity | None:
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session:
                if await demo_city_loaded(session):
                    return None
                return await load_demo_city(session, settings, SystemClock())
        finally:
            await engine.dispose()

    city = asyncio.run(load())
    if city is not None:
        write_credentials(city, args.credentials)
        print(f"demo city loaded; credentials written to {args.credentials}")
    elif not args.credentials.exists():
        print(
            f"the demo city is loaded but {args.credentials} is missing; "
            "delete the database to start afresh",
            file=sys.stderr,
        )
        return 1
    city = DemoCity.from_json(args.credentials.read_text())
    print(_hints(settings, city))
    return 0


def _hints(settings: Settings, city: object) -> str:
    from sharing.demo import DemoCity

    assert isinstance(city, DemoCity)
    police = city.clients["polrestabes_cc"]
    owner = city.clients["sinar_owner"]
    base = settings.issuer
    camera = city.cameras["sinar_front"]
    return f"""
Demo city: Pemkot Medan, Polda Sumut / Polrestabes Medan, two shops, RW 05, {len(city.cameras)} cameras.
Try, in another terminal:

  # 1. the police command center signs in (OAuth2 client credentials)
  TOKEN=$(curl -s -u {police.client_id}:{police.secret} -d grant_type=client_credentials \\
          {base}/oauth/token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

  # 2. ask for the last hour of footage of Toko Sinar Jaya's front camera (consented: allowed)
  curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' {base}/access-requests \\
    -d '{{"camera_ids": ["{camera}"], "mode": "footage", "purpose": "criminal_investigation",
         "legal_basis": "LP/B/1234/XI/2026/SPKT", "justification": "pencurian motor",
         "footage_start": "'$(date -u -d '-1 hour' +%FT%TZ)'", "footage_end": "'$(date -u +%FT%TZ)'"}}'

  # 3. the same for Toko Rejeki Baru, which granted nothing: refused, with reasons
  curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' {base}/access-requests \\
    -d '{{"camera_ids": ["{city.cameras["rejeki_front"]}"], "mode": "live", "purpose": "public_order"}}'

  # the shop owner's own view: {owner.client_id} / secret in {DEFAULT_CREDENTIALS}
  API docs: {base}/schema  (Swagger UI: {base}/schema/swagger)   metadata: {base}/.well-known/oauth-authorization-server
"""


def _operator(settings: Settings, args: argparse.Namespace) -> int:
    from sharing.db import run_with_session
    from sharing.errors import Conflict
    from sharing.parties.install import install_operator

    try:
        made = run_with_session(
            settings,
            lambda session: install_operator(
                session, party_name=args.party, admin_name=args.admin, clock=SystemClock()
            ),
        )
    except Conflict as exc:
        print(exc.detail, file=sys.stderr)
        return 1
    # The secret is shown here once; the hub keeps only its hash.
    print(
        json.dumps(
            {
                "party_id": made.party_id,
                "client_id": made.client_id,
                "client_secret": made.client_secret,
            },
            indent=2,
        )
    )
    return 0


def _keys(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from sharing.oauth.keys import KeyRing
    from sharing.oauth.models import SigningKey
    from sharing.principal import Actor

    async def run() -> int:
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session:
                keyring = KeyRing(settings, SystemClock())
                await keyring.load(session)
                if args.keys_command == "rotate":
                    kid = await keyring.rotate(session, Actor.system("cli"))
                    print(f"new current signing key: {kid}")
                for key in (await session.execute(select(SigningKey))).scalars():
                    until = f" published until {key.publish_until}" if key.publish_until else ""
                    print(f"{key.kid}  {key.algorithm}  {key.status}{until}")
            return 0
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _openapi(settings: Settings, args: argparse.Namespace) -> int:
    from sharing.app import create_app

    document = create_app(settings).openapi_schema.to_schema()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
