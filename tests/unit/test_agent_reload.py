"""The agent applying a reload between two batches: each line goes to the old destinations or
the new ones, never both and never neither; a changed destination's old self drains before its
new self sends; an invalid configuration changes nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from logship.agent import Agent, Reconfiguration, Replacement
from logship.errors import ConfigError
from logship.pipeline.destination import Destination
from logship.pipeline.router import Router
from logship.record import Record
from tests.helpers.records import make_meta, records_of

EVENTS: list[tuple[str, str]] = []  # (sink, what happened), in order


class Sink:
    def __init__(self, name: str) -> None:
        self.name = name
        self.bytes_sent = 0
        self.sent: list[str] = []

    async def open(self) -> None:
        EVENTS.append((self.name, "open"))

    async def send(self, batch: list[Record]) -> None:
        EVENTS.append((self.name, "send"))
        self.sent += [r.message for r in batch]

    async def close(self) -> None:
        EVENTS.append((self.name, "close"))


@pytest.fixture(autouse=True)
def events() -> Iterator[None]:
    EVENTS.clear()
    yield
    EVENTS.clear()


class Source:
    """Emits nothing by itself; the test hands batches to the router."""

    def __init__(self) -> None:
        self.ready = asyncio.Event()

    async def run(self) -> None:
        await asyncio.Event().wait()

    async def stop(self) -> None:
        return None


class Plans:
    """A Reconfigure that hands out the given plans (or raises the given error) in turn."""

    def __init__(self, *plans: Reconfiguration | Exception) -> None:
        self.plans = list(plans)
        self.commits = 0

    def prepare(self) -> Reconfiguration:
        plan = self.plans.pop(0)
        if isinstance(plan, Exception):
            raise plan
        return plan


def destination(name: str) -> tuple[Destination, Sink]:
    sink = Sink(name)
    return Destination(sink, batch=None), sink


def plan(destinations: list[Destination], router: Router, **parts: Any) -> Reconfiguration:
    commits: list[int] = []
    return Reconfiguration(
        destinations=destinations,
        added=parts.get("added", []),
        replacements=parts.get("replacements", []),
        removed=parts.get("removed", []),
        stage=router.stage,
        parse=router.parse,
        summary=parts.get("summary", "test"),
        commit=lambda: commits.append(1),
    )


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0.01)


async def test_a_reload_adds_changes_and_removes_between_two_batches() -> None:
    (kept, kept_sink), (old, old_sink), (gone, gone_sink) = (
        destination(n) for n in ("kept", "old", "gone")
    )
    (new, new_sink), (added, added_sink) = destination("new"), destination("added")
    router = Router([kept.route, old.route, gone.route])
    change = plan(
        [kept, new, added],
        router,
        added=[added],
        replacements=[Replacement(old, new)],
        removed=[gone],
        summary="added 1, removed 1, changed 1",
    )
    agent = Agent(Source(), [kept, old, gone], router=router, reconfigure=Plans(change))
    running = asyncio.create_task(agent.run())
    await settle()
    meta = make_meta()
    router.emit(records_of(meta, "1", "2"))
    assert await agent.reload()
    router.emit(records_of(meta, "3", "4"))
    await settle()
    assert kept_sink.sent == ["1", "2", "3", "4"]  # untouched: everything
    assert old_sink.sent == ["1", "2"] and new_sink.sent == ["3", "4"]
    assert gone_sink.sent == ["1", "2"] and added_sink.sent == ["3", "4"]
    # the changed one's new self opened only once its old self had sent all and closed
    assert EVENTS.index(("old", "close")) < EVENTS.index(("new", "open"))
    assert ("gone", "close") in EVENTS
    assert list(agent.destinations) == [kept, new, added]
    assert (agent.reloads.succeeded, agent.reloads.failed) == (1, 0)
    agent.request_stop()
    assert await running == 0
    assert ("new", "close") in EVENTS and ("added", "close") in EVENTS


async def test_an_invalid_configuration_keeps_the_running_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    (one, sink) = destination("one")
    router = Router([one.route])
    error = ConfigError("invalid configuration:\n  destinations.0.port: too big (got 70000)")
    agent = Agent(Source(), [one], router=router, reconfigure=Plans(error))
    running = asyncio.create_task(agent.run())
    await settle()
    with caplog.at_level(logging.ERROR):
        assert not await agent.reload()
    assert "reload failed, the running configuration is kept" in caplog.text
    assert "destinations.0.port" in caplog.text
    router.emit(records_of(make_meta(), "still"))
    await settle()
    assert sink.sent == ["still"]
    assert (agent.reloads.succeeded, agent.reloads.failed) == (0, 1)
    assert not agent.reloads.last_ok
    agent.request_stop()
    assert await running == 0


async def test_without_a_reconfigure_there_is_nothing_to_reload() -> None:
    (one, _) = destination("one")
    agent = Agent(Source(), [one], router=Router([one.route]))
    assert not await agent.reload()


async def test_a_destination_changed_alone_keeps_the_agent_running() -> None:
    """Its old self ending (drained) is no reason to stop, as a destination failing is."""
    (old, old_sink), (new, new_sink) = destination("old"), destination("new")
    router = Router([old.route])
    change = plan([new], router, replacements=[Replacement(old, new)])
    agent = Agent(Source(), [old], router=router, reconfigure=Plans(change))
    running = asyncio.create_task(agent.run())
    await settle()
    assert await agent.reload()
    await settle()
    assert not running.done()
    router.emit(records_of(make_meta(), "after"))
    await settle()
    assert new_sink.sent == ["after"] and old_sink.sent == []
    agent.request_stop()
    assert await running == 0


class DownSink(Sink):
    async def open(self) -> None:
        from logship.errors import DeliveryError

        EVENTS.append((self.name, "refused"))
        raise DeliveryError("connection refused")


async def test_a_changed_destination_that_is_down_hands_what_it_holds_over_in_its_spool(
    tmp_path: Any,
) -> None:
    """Its old self parks what it holds in the disk spool at once (it is down, as at
    shutdown); its new self opens the same spool afterwards and sends that first."""
    from logship.config.destination import SpoolConfig

    spool = SpoolConfig(enabled=True)
    old = Destination(DownSink("old"), spool_dir=tmp_path / "spool", spool=spool)
    new_sink = Sink("new")
    new = Destination(new_sink, spool_dir=tmp_path / "spool", spool=spool)
    old.open_spool()
    router = Router([old.route])
    change = plan([new], router, replacements=[Replacement(old, new, open_spool=True)])
    agent = Agent(Source(), [old], router=router, reconfigure=Plans(change))
    running = asyncio.create_task(agent.run())
    meta = make_meta()
    router.emit(records_of(meta, "1", "2"))
    await settle()
    assert not old.up
    assert await agent.reload()
    router.emit(records_of(meta, "3", "4"))
    for _ in range(100):
        if len(new_sink.sent) == 4:
            break
        await asyncio.sleep(0.05)
    assert new_sink.sent == ["1", "2", "3", "4"]  # each once, in order
    agent.request_stop()
    assert await running == 0
