"""``sharing audit ...``: the audit log's operator and auditor commands.

Each command lives beside the code it drives, as a module with ``HELP``,
``add_arguments(parser)`` and ``run(settings, args) -> int`` (the exit status).
"""

from __future__ import annotations

import argparse
import importlib
from types import ModuleType
from typing import Any

from sharing.settings import Settings

# command name -> module implementing it
COMMANDS = {
    "checkpoint": "sharing.audit.checkpoint_command",
    "export": "sharing.audit.export_command",
    "verify": "sharing.audit.verify_command",
    "archive": "sharing.audit.archive_command",
    "witness": "sharing.audit.witness_command",
}


def add_audit_commands(commands: Any) -> None:
    """Add ``audit`` and its subcommands to the ``sharing`` parser's subcommands."""
    audit = commands.add_parser("audit", help="the verifiable audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    for name, module_name in COMMANDS.items():
        module = _module(module_name)
        module.add_arguments(audit_commands.add_parser(name, help=module.HELP))


def run_audit_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run the ``audit`` subcommand ``args`` names."""
    return int(_module(COMMANDS[args.audit_command]).run(settings, args))


def _module(name: str) -> ModuleType:
    return importlib.import_module(name)
