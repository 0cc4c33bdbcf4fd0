"""The end-to-end stack as real processes: a synthetic camera (ffmpeg), the hub, nginx.

Each runs from a temporary folder on loopback ports chosen at run time, so nothing needs a
fixed port, a system folder or root. A process that fails to start raises ``StackError``
carrying its log, so the test report says why.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import string
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from sharing.demo import DemoCity
from sharing.settings import Settings
from tests.hubprocess import RunningHub, free_port, hub_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
GATEWAY_TEMPLATE = REPO_ROOT / "deploy" / "nginx" / "gateway.conf.template"
PLAYLIST = "index.m3u8"
STARTUP_TIMEOUT_SECONDS = 30.0
COMMAND_TIMEOUT_SECONDS = 120.0
_SHARING = (sys.executable, "-m", "sharing.cli")
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


class StackError(RuntimeError):
    """A process of the stack did not start or finish; the message carries its output."""


def missing_programs(*names: str) -> list[str]:
    """The programs among ``names`` that are not on PATH."""
    return [name for name in names if shutil.which(name) is None]


# --- the synthetic camera -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Footage:
    """A finished HLS recording: its folder, playlist and segments (named by start epoch)."""

    folder: Path
    started_at: float
    segments: tuple[str, ...]

    def copy_for(self, media_root: Path, camera_id: object) -> Path:
        """Place a copy where the gateway serves ``camera_id``'s footage; return its folder."""
        target = media_root / "footage" / str(camera_id)
        shutil.copytree(self.folder, target, dirs_exist_ok=True)
        return target


@dataclass(frozen=True, slots=True)
class Recording:
    """ffmpeg recording a test pattern as HLS footage, in real time."""

    folder: Path
    started_at: float
    process: subprocess.Popen[bytes]
    log: Path

    def finish(self, timeout: float = 30.0) -> Footage:
        """Wait for the recording to end and read its playlist."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise StackError(
                f"ffmpeg did not finish in {timeout:.0f} s\n{_tail(self.log)}"
            ) from exc
        playlist = self.folder / PLAYLIST
        if code != 0 or not playlist.exists():
            raise StackError(f"ffmpeg failed (exit {code})\n{_tail(self.log)}")
        segments = tuple(
            line for line in playlist.read_text().splitlines() if line and not line.startswith("#")
        )
        return Footage(self.folder, self.started_at, segments)


@contextmanager
def recording(folder: Path, seconds: int = 6) -> Iterator[Recording]:
    """Record ``seconds`` of ffmpeg's test pattern as 2-second HLS segments into ``folder``.

    ``-re`` paces the input in real time, so ``-strftime 1`` names each segment by the
    wall-clock second it starts, the naming the gateway checks footage windows against. (At
    full speed every segment would start within the same second and overwrite the last.)
    """
    folder.mkdir(parents=True, exist_ok=True)
    log = folder.parent / f"{folder.name}-ffmpeg.log"
    command = [
        "ffmpeg", "-hide_banner", "-loglevel", "warning", "-nostdin", "-re",
        "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", str(seconds),
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        # A keyframe every 2 s (20 frames at 10 fps), so each segment is exactly 2 s long.
        "-g", "20", "-keyint_min", "20", "-sc_threshold", "0",
        "-f", "hls", "-hls_time", "2", "-hls_list_size", "0", "-hls_playlist_type", "vod",
        "-strftime", "1", "-hls_segment_filename", "%s.ts", PLAYLIST,
    ]  # fmt: skip
    with log.open("wb") as output:
        started_at = time.time()
        process = subprocess.Popen(command, cwd=folder, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield Recording(folder, started_at, process, log)
    finally:
        _stop(process)


# --- the hub ------------------------------------------------------------------------------


@contextmanager
def running_hub(folder: Path) -> Iterator[RunningHub]:
    """The hub as its own process: ``sharing migrate``, ``sharing demo``, ``sharing serve``.

    The database is a SQLite file in ``folder``; the demo city is read back from the
    credentials file ``sharing demo`` writes, as an operator would.
    """
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    settings = hub_settings(f"sqlite+aiosqlite:///{folder / 'hub.db'}", port)
    environment = hub_environment(settings)
    credentials = folder / "creds.json"
    _run_sharing(["migrate"], environment, folder / "migrate.log")
    _run_sharing(["demo", "--credentials", str(credentials)], environment, folder / "demo.log")
    city = DemoCity.from_json(credentials.read_text())
    log = folder / "serve.log"
    command = [*_SHARING, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with ExitStack() as stack:
        output = stack.enter_context(log.open("wb"))
        process = _start(command, environment, output)
        stack.callback(_stop, process)
        _wait_until_answers(f"{settings.issuer}/health", process, "the hub", log)
        yield RunningHub(url=settings.issuer, settings=settings, city=city)


def hub_environment(settings: Settings) -> dict[str, str]:
    """The environment a ``sharing`` command needs to run with ``settings``."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("SHARING_")}
    return inherited | {
        "SHARING_DATABASE_URL": settings.database_url,
        "SHARING_ISSUER": settings.issuer,
        "SHARING_SECRET_KEY": settings.secret_key.get_secret_value(),
        "SHARING_GATEWAY_AUDIENCE": settings.gateway_audience,
        "SHARING_API_TOKEN_LIFETIME_SECONDS": str(settings.api_token_lifetime_seconds),
        "SHARING_LOG_LEVEL": settings.log_level,
    }


def _run_sharing(arguments: list[str], environment: Mapping[str, str], log: Path) -> None:
    command = [*_SHARING, *arguments]
    with log.open("wb") as output:
        code = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        ).returncode
    if code != 0:
        raise StackError(f"`sharing {' '.join(arguments)}` failed (exit {code})\n{_tail(log)}")


# --- the gateway --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Gateway:
    """nginx serving ``media_root`` on ``url``, asking the hub about every request."""

    url: str
    prefix: Path
    media_root: Path


def render_gateway_config(
    template: str, *, listen: str, hub_upstream: str, media_root: Path, prefix: Path
) -> str:
    """Fill the template's ``${...}`` placeholders; nginx's own ``$variables`` stay as they are.

    Refuses to return a configuration that still holds a placeholder.
    """
    values = {
        "LISTEN": listen,
        "HUB_UPSTREAM": hub_upstream,
        "MEDIA_ROOT": str(media_root),
        "PREFIX": str(prefix),
    }
    rendered = string.Template(template).safe_substitute(values)
    left = sorted(set(_PLACEHOLDER.findall(rendered)))
    if left:
        raise ValueError(f"the gateway template has placeholders nobody filled: {left}")
    return rendered


@contextmanager
def running_gateway(prefix: Path, *, hub_url: str, media_root: Path) -> Iterator[Gateway]:
    """nginx with the rendered gateway template, in the foreground, on a free port."""
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = prefix / "nginx.conf"
    config.write_text(
        render_gateway_config(
            GATEWAY_TEMPLATE.read_text(),
            listen=f"127.0.0.1:{port}",
            hub_upstream=hub_url.removeprefix("http://"),
            media_root=media_root,
            prefix=prefix,
        )
    )
    command = ["nginx", "-p", str(prefix), "-c", str(config), "-g", _nginx_global_directives()]
    checked = subprocess.run(
        [*command, "-t", "-q"], capture_output=True, timeout=COMMAND_TIMEOUT_SECONDS, check=False
    )
    if checked.returncode != 0:
        raise StackError(f"nginx refused the rendered configuration:\n{checked.stderr.decode()}")
    log = prefix / "nginx.out"
    with ExitStack() as stack:
        output = stack.enter_context(log.open("wb"))
        process = _start(command, os.environ, output)
        stack.callback(_stop, process)
        url = f"http://127.0.0.1:{port}"
        _wait_until_answers(f"{url}/", process, "nginx", log, prefix / "error.log")
        yield Gateway(url=url, prefix=prefix, media_root=media_root)


def _nginx_global_directives() -> str:
    # In the foreground, so the test owns the process. As root, nginx would hand requests to
    # workers running as "nobody", which cannot read a private temporary folder: keep the
    # workers as the current user (nginx ignores "user" when it is not root).
    directives = "daemon off;"
    if os.geteuid() == 0:
        user = pwd.getpwuid(os.geteuid()).pw_name
        group = grp.getgrgid(os.getegid()).gr_name
        directives += f" user {user} {group};"
    return directives


# --- processes ----------------------------------------------------------------------------


def _start(
    command: list[str], environment: Mapping[str, str], output: IO[bytes]
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, cwd=REPO_ROOT, env=dict(environment), stdout=output, stderr=subprocess.STDOUT
    )


def _wait_until_answers(url: str, process: subprocess.Popen[bytes], name: str, *logs: Path) -> None:
    """Poll ``url`` until it answers with any status; fail with the logs if it never does."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(f"{name} exited with {process.returncode}\n{_tails(logs)}")
        try:
            httpx.get(url, timeout=1.0)
        except httpx.TransportError:
            time.sleep(0.1)
        else:
            return
    raise StackError(
        f"{name} did not answer {url} in {STARTUP_TIMEOUT_SECONDS:.0f} s\n{_tails(logs)}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ask the process to end, then insist."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _tails(logs: tuple[Path, ...]) -> str:
    return "\n".join(_tail(log) for log in logs)


def _tail(log: Path, lines: int = 60) -> str:
    text = log.read_text(errors="replace") if log.exists() else "(no output)"
    return f"--- {log.name} ---\n" + "\n".join(text.splitlines()[-lines:])
