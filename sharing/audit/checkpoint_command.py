"""``sharing audit checkpoint``: sign a checkpoint of the log now and print it."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.ext.asyncio import AsyncSession

from sharing.audit.checkpoints import sign_checkpoint
from sharing.clock import SystemClock
from sharing.db import run_with_session
from sharing.settings import Settings

HELP = "sign a checkpoint of the audit log now (if it grew) and print the signed note"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = HELP


def run(settings: Settings, _args: argparse.Namespace) -> int:
    async def sign(session: AsyncSession) -> str | None:
        checkpoint = await sign_checkpoint(session, settings, SystemClock())
        return checkpoint.note if checkpoint else None

    note = run_with_session(settings, sign)
    if note is None:
        print("the audit log is empty: nothing to sign", file=sys.stderr)
        return 1
    print(note, end="")
    return 0
