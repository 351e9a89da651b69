"""The Docker source when the engine fails to describe a container for a moment.

No real engine can be made to answer an inspect with an error on cue, so the client here is a
stand-in following the Engine API contract: ``GET /containers/{id}/json`` answers 200 with the
container, 404 when there is no such container, 500 on a server error (the real client raises
:class:`DockerAPIError` with that status).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from logship.errors import DockerAPIError
from logship.protocol.docker import Position
from logship.sources.base import ReadOptions, Resume
from logship.sources.docker import source as docker_source
from logship.sources.docker.source import DockerSource
from logship.sources.docker.tracked import Tracked
from tests.helpers.records import HOST

CID = "a" * 64
SAVED: Position = ("2026-11-27T08:00:00.000000000Z", 3)  # what the last run shipped up to
NOW = "2026-11-27T10:00:00.000000000Z"


def described(container_id: str) -> dict[str, Any]:
    """The engine's inspect of a running container."""
    return {
        "Id": container_id,
        "Name": f"/web-{container_id[0]}",
        "Created": "2020-09-13T12:26:40.000000000Z",
        "Config": {"Image": "nginx"},
        "State": {"Running": True},
    }


class StandInEngine:
    """What the source asks of every engine here: the version, and events (none come)."""

    api_version = "1.41"
    endpoint = "unix:///var/run/docker.sock"

    async def negotiate(self) -> dict[str, Any]:
        return {"Version": "20.10.24"}

    async def events(self, since: str | None = None) -> AsyncIterator[dict[str, Any]]:
        await asyncio.Event().wait()  # no event comes
        yield {}


class BusyEngine(StandInEngine):
    """Lists one running container and fails its first inspect with a server error."""

    def __init__(self, failures: int) -> None:
        self.failures = failures

    async def list_containers(self, *, stopped: bool = False) -> list[dict[str, Any]]:
        return [{"Id": CID, "State": "running", "Created": 1_600_000_000}]

    async def inspect(self, container_id: str) -> dict[str, Any]:
        if self.failures:
            self.failures -= 1
            raise DockerAPIError(500, "server error", path=f"/containers/{container_id}/json")
        return described(CID)


async def followed_from(engine: BusyEngine) -> list[Position | None]:
    source = DockerSource(
        engine,  # type: ignore[arg-type]
        lambda records: None,
        host=HOST,
        options=ReadOptions(since=NOW),
        resume=Resume({CID: SAVED}, created_after=NOW),
    )
    started: list[Position | None] = []

    def start(tracked: Tracked) -> None:
        started.append(tracked.start)

    source._start = start  # type: ignore[method-assign]
    task = asyncio.create_task(source.run())
    try:
        await asyncio.wait_for(source.ready.wait(), 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return started


async def test_a_container_the_engine_fails_to_describe_once_is_followed_from_its_checkpoint() -> (
    None
):
    assert await followed_from(BusyEngine(failures=1)) == [SAVED]


async def test_a_container_the_engine_never_describes_is_given_up_after_a_few_tries() -> None:
    engine = BusyEngine(failures=100)
    assert await followed_from(engine) == []
    assert engine.failures == 97


STUCK = "b" * 64  # a container the engine cannot describe for now (its shim died, say)


class StuckEngine(StandInEngine):
    """Lists two running containers; the inspect of STUCK answers only once ``answer`` is set
    (until then the request hangs, as dockerd's does for a container it cannot reach), the
    other's at once."""

    def __init__(self) -> None:
        self.answer = asyncio.Event()

    async def list_containers(self, *, stopped: bool = False) -> list[dict[str, Any]]:
        return [
            {"Id": STUCK, "State": "running", "Created": 1_600_000_000},
            {"Id": CID, "State": "running", "Created": 1_600_000_000},
        ]

    async def inspect(self, container_id: str) -> dict[str, Any]:
        if container_id == STUCK:
            await self.answer.wait()
        return described(container_id)


def stuck_source(engine: StuckEngine, *, follow: bool) -> tuple[DockerSource, dict[str, Any]]:
    source = DockerSource(
        engine,  # type: ignore[arg-type]
        lambda records: None,
        host=HOST,
        options=ReadOptions(since=NOW, follow=follow),
        resume=Resume({STUCK: SAVED, CID: SAVED}, created_after=NOW),
    )
    started: dict[str, Any] = {}

    def start(tracked: Tracked) -> None:
        started[tracked.meta.id] = tracked.start

    source._start = start  # type: ignore[method-assign]
    return source, started


async def test_a_container_stuck_in_the_engine_holds_up_neither_the_start_nor_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(docker_source, "INSPECT_TIMEOUT_SECS", 0.2)
    engine = StuckEngine()
    source, started = stuck_source(engine, follow=True)
    task = asyncio.create_task(source.run())
    try:
        await asyncio.wait_for(source.ready.wait(), 5)
        assert started == {CID: SAVED}  # the other one, at once
        engine.answer.set()  # the engine can describe it again
        for _ in range(100):
            if STUCK in started:
                break
            await asyncio.sleep(0.05)
        assert started[STUCK] == SAVED  # followed from its checkpoint, kept for it
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_one_off_read_skips_a_container_stuck_in_the_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(docker_source, "INSPECT_TIMEOUT_SECS", 0.2)
    source, started = stuck_source(StuckEngine(), follow=False)
    await asyncio.wait_for(source.run(), 5)
    assert started == {CID: SAVED}
