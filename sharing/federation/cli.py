"""``sharing federation ...``: the operator's peer commands, run on the hub's host.

``add-peer URL --party ID --agreement ID [--name]``, ``list``, ``status [URL]``,
``suspend URL [--reason]``, ``resume URL``, ``sync [URL]``. They act on the database
directly as the hub's operator (audit events name ``system:federation-cli``) and reach peers
with the hub's own keys, like the running hub does.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sharing.clock import SystemClock
from sharing.db import create_engine, create_sessionmaker
from sharing.errors import DomainError, NotFound
from sharing.federation import peers
from sharing.federation.client import PeerClient
from sharing.federation.schemas import PeerCreate, PeerRead, SyncResult
from sharing.federation.sync import sync_all_peers, sync_peer
from sharing.oauth.keys import KeyRing
from sharing.principal import Actor
from sharing.settings import Settings

OPERATOR = Actor.system("federation-cli")


def add_federation_commands(commands: Any) -> None:
    """Add ``federation`` and its subcommands to the ``sharing`` parser's subcommands."""
    federation = commands.add_parser("federation", help="peer hubs and their catalogs")
    sub = federation.add_subparsers(dest="federation_command", required=True)
    add = sub.add_parser("add-peer", help="discover a peer hub and register it")
    add.add_argument("url", help="the peer's issuer URL")
    add.add_argument("--party", required=True, type=uuid.UUID, help="local party for the peer")
    add.add_argument("--agreement", required=True, type=uuid.UUID, help="inter-hub agreement")
    add.add_argument("--name", help="a name for the peer (default: its URL)")
    sub.add_parser("list", help="list peers, one line each")
    status = sub.add_parser("status", help="each peer's sync status, or one peer's")
    status.add_argument("url", nargs="?", help="only this peer")
    suspend = sub.add_parser("suspend", help="stop trusting a peer (its client, sync, forwards)")
    suspend.add_argument("url")
    suspend.add_argument("--reason")
    resume = sub.add_parser("resume", help="trust a suspended peer again")
    resume.add_argument("url")
    sync = sub.add_parser("sync", help="sync every active peer's catalog now, or one peer's")
    sync.add_argument("url", nargs="?")


def run_federation_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run the ``federation`` subcommand ``args`` names; 1 and a message on failure."""
    command = _COMMANDS[args.federation_command]
    try:
        lines = asyncio.run(_with_tools(settings, lambda tools: command(tools, args)))
    except DomainError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    except ValidationError as exc:
        print(f"error: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0


@dataclass(frozen=True, slots=True)
class _Tools:
    sessionmaker: async_sessionmaker[AsyncSession]
    peer_client: PeerClient


async def _with_tools(
    settings: Settings, command: Callable[[_Tools], Awaitable[list[str]]]
) -> list[str]:
    async with _tools(settings) as tools:
        return await command(tools)


@asynccontextmanager
async def _tools(settings: Settings) -> AsyncIterator[_Tools]:
    engine = create_engine(settings)
    clock = SystemClock()
    keyring = KeyRing(settings, clock)
    try:
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker() as session:
            await keyring.load(session)
        async with httpx.AsyncClient() as http:
            client = PeerClient(http, settings=settings, keyring=keyring, clock=clock)
            yield _Tools(sessionmaker, client)
    finally:
        await engine.dispose()


async def _add_peer(tools: _Tools, args: argparse.Namespace) -> list[str]:
    data = PeerCreate(
        issuer=args.url, party_id=args.party, agreement_id=args.agreement, name=args.name
    )
    async with tools.sessionmaker() as session:
        peer = await peers.register_peer(session, OPERATOR, data, tools.peer_client, SystemClock())
    return [f"registered {peer.issuer} as peer {peer.id} (keys: {', '.join(peer.key_ids)})"]


async def _list(tools: _Tools, _: argparse.Namespace) -> list[str]:
    async with tools.sessionmaker() as session:
        found = await peers.list_peers(session)
    return [f"{p.issuer}  {p.status}  {p.name}  {p.id}" for p in found] or ["no peers"]


async def _status(tools: _Tools, args: argparse.Namespace) -> list[str]:
    async with tools.sessionmaker() as session:
        found = await peers.list_peers(session)
    if args.url:
        found = [p for p in found if p.issuer == args.url.rstrip("/")] or _no_peer(args.url)
    return [line for peer in found for line in _status_lines(peer)] or ["no peers"]


async def _suspend(tools: _Tools, args: argparse.Namespace) -> list[str]:
    async with tools.sessionmaker() as session:
        peer = await _peer_id(session, args.url)
        read = await peers.suspend_peer(
            session, OPERATOR, peer, args.reason, SystemClock(), tools.peer_client
        )
    return [f"suspended {read.issuer}"]


async def _resume(tools: _Tools, args: argparse.Namespace) -> list[str]:
    async with tools.sessionmaker() as session:
        read = await peers.resume_peer(
            session, OPERATOR, await _peer_id(session, args.url), SystemClock()
        )
    return [f"resumed {read.issuer}"]


async def _sync(tools: _Tools, args: argparse.Namespace) -> list[str]:
    if args.url:
        async with tools.sessionmaker() as session:
            result = await sync_peer(session, tools.peer_client, await _peer_id(session, args.url))
        return [_sync_line(result.issuer, result)]
    results = await sync_all_peers(tools.sessionmaker, tools.peer_client)
    return [_sync_line(peer_id, result) for peer_id, result in results.items()] or ["no peers"]


def _sync_line(name: str, result: SyncResult | str) -> str:
    if isinstance(result, str):
        return f"{name}: failed: {result}"
    change = "new catalog" if result.changed else "unchanged"
    return f"{result.issuer}: {change}, {result.remote_cameras} cameras, {result.latency_ms} ms"


def _status_lines(peer: PeerRead) -> list[str]:
    error = f"{peer.last_error} (at {peer.last_error_at})" if peer.last_error else "none"
    return [
        f"{peer.issuer} ({peer.name}): {peer.status}",
        f"  last sync: {peer.last_sync_at or 'never'}; latency: {peer.last_latency_ms} ms; "
        f"remote cameras: {peer.remote_cameras}",
        f"  last error: {error}",
    ]


async def _peer_id(session: AsyncSession, url: str) -> uuid.UUID:
    peer = await peers.peer_by_issuer(session, url.rstrip("/"))
    if peer is None:
        _no_peer(url)
    assert peer is not None
    return peer.id


def _no_peer(url: str) -> list[PeerRead]:
    raise NotFound(f"no peer with issuer {url}")


_COMMANDS: dict[str, Callable[[_Tools, argparse.Namespace], Awaitable[list[str]]]] = {
    "add-peer": _add_peer,
    "list": _list,
    "status": _status,
    "suspend": _suspend,
    "resume": _resume,
    "sync": _sync,
}
