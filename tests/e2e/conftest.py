"""The real stack for end-to-end tests: ffmpeg footage, the hub as a process, nginx in front.

Everything is started once per session, in the order that overlaps the slow parts: ffmpeg
records in real time while the hub migrates, loads the demo city and starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.stack import (
    Footage,
    Gateway,
    Recording,
    StackError,
    missing_programs,
    recording,
    running_gateway,
    running_hub,
)
from tests.hubprocess import RunningHub

# The demo camera that is recorded, and the cameras that get a copy of its footage: one that
# the police may not see (no consent) and one whose consent a test grants and revokes.
RECORDED_CAMERA = "sinar_front"
COPIED_CAMERAS = ("rejeki_front", "sinar_parking")


@pytest.fixture(scope="session", autouse=True)
def _programs() -> None:
    """Skip the end-to-end tests, saying why, where nginx or ffmpeg is not installed."""
    missing = missing_programs("nginx", "ffmpeg")
    if missing:
        pytest.skip(
            f"end-to-end tests need {' and '.join(missing)} on PATH "
            "(Debian: apt-get install nginx-light ffmpeg; .ci/run installs them)"
        )


@pytest.fixture(scope="session")
def stack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder every process of the stack works in (logs stay there after a failure)."""
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session", autouse=True)
def camera_recording(_programs: None, stack_dir: Path) -> Iterator[Recording]:
    """ffmpeg recording the synthetic camera; started first because it takes real time."""
    with recording(stack_dir / "recording") as started:
        yield started


@pytest.fixture(scope="session")
def hub(stack_dir: Path) -> Iterator[RunningHub]:
    """The demo city served by a separate ``sharing serve`` process on a SQLite file.

    Overrides the suite's in-process ``hub``: here the hub runs exactly as operators run it.
    """
    try:
        with running_hub(stack_dir / "hub") as started:
            yield started
    except StackError as exc:
        pytest.fail(f"the hub did not start:\n{exc}", pytrace=False)


@pytest.fixture(scope="session")
def media_root(stack_dir: Path) -> Path:
    """The folder nginx serves ``live/`` and ``footage/`` from."""
    root = stack_dir / "media"
    root.mkdir()
    return root


@pytest.fixture(scope="session")
def footage(camera_recording: Recording, hub: RunningHub, media_root: Path) -> Footage:
    """The finished recording, placed as footage of the recorded camera and of its copies."""
    try:
        finished = camera_recording.finish()
    except StackError as exc:
        pytest.fail(f"the synthetic camera failed:\n{exc}", pytrace=False)
    for name in (RECORDED_CAMERA, *COPIED_CAMERAS):
        finished.copy_for(media_root, hub.city.cameras[name])
    return finished


@pytest.fixture(scope="session")
def gateway(hub: RunningHub, media_root: Path, stack_dir: Path) -> Iterator[Gateway]:
    """nginx running ``deploy/nginx/gateway.conf.template`` in front of the hub."""
    try:
        with running_gateway(stack_dir / "nginx", hub_url=hub.url, media_root=media_root) as ready:
            yield ready
    except StackError as exc:
        pytest.fail(f"nginx did not start:\n{exc}", pytrace=False)
