"""``sharing audit checkpoint``: sign a checkpoint of the log now and print it."""

from __future__ import annotations

import argparse
import asyncio
import sys

from sharing.audit.checkpoints import sign_checkpoint
from sharing.clock import SystemClock
from sharing.db import create_engine, create_sessionmaker
from sharing.settings import Settings

HELP = "sign a checkpoint of the audit log now (if it grew) and print the signed note"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = HELP


def run(settings: Settings, _args: argparse.Namespace) -> int:
    async def sign() -> str | None:
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session:
                checkpoint = await sign_checkpoint(session, settings, SystemClock())
                return checkpoint.note if checkpoint else None
        finally:
            await engine.dispose()

    note = asyncio.run(sign())
    if note is None:
        print("the audit log is empty: nothing to sign", file=sys.stderr)
        return 1
    print(note, end="")
    return 0
