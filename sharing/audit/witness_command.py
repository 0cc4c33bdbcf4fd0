"""``sharing audit witness``: witness a partner hub's audit log once and print the result."""

from __future__ import annotations

import argparse
import sys

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from sharing.audit.witnessing import WitnessResult, witness_log
from sharing.clock import SystemClock
from sharing.db import run_with_session
from sharing.errors import DomainError
from sharing.settings import Settings

HELP = (
    "check a partner hub's latest audit checkpoint against the last one this hub cosigned, "
    "then cosign it and send the cosignature"
)
TIMEOUT_SECONDS = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = HELP
    parser.add_argument("--log", required=True, metavar="URL", help="the partner hub's base URL")
    parser.add_argument(
        "--log-key",
        metavar="VKEY",
        help="the log's checkpoint vkey; needed the first time (then remembered), obtained "
        "from its operator out of band and compared with its /audit/log",
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        result = run_with_session(settings, lambda session: _witness(session, settings, args))
    except DomainError as exc:
        print(f"not cosigned: {exc.detail}", file=sys.stderr)
        return 1
    grew = (
        f"grew from {result.previous_size} to {result.tree_size}"
        if result.previous_size
        else f"first seen at {result.tree_size}"
    )
    stored = "stored" if result.stored_by_log else "already held"
    print(f"cosigned {result.origin} at size {result.tree_size} ({grew}); the log {stored} it")
    print(result.cosignature, end="")
    return 0


async def _witness(
    session: AsyncSession, settings: Settings, args: argparse.Namespace
) -> WitnessResult:
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as http:
        return await witness_log(
            session,
            http,
            url=args.log,
            settings=settings,
            clock=SystemClock(),
            log_vkey=args.log_key,
        )
