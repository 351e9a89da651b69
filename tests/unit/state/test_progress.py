"""Checkpoints move only once every destination has handled a record: sent it, refused it for
good, dropped it from its full buffer, or filtered it out."""

from __future__ import annotations

import asyncio
from typing import Any

from logship.config.filters import DestinationFilter
from logship.errors import DeliveryError
from logship.pipeline.buffer import DropOldestBuffer
from logship.pipeline.retry import Backoff
from logship.pipeline.router import Route
from logship.pipeline.runner import SinkRunner
from logship.record import ContainerMeta, Record
from logship.state.progress import Progress, checkpoint
from tests.helpers.records import make_meta, second

A = make_meta(id="a" * 64, name="a")
B = make_meta(id="b" * 64, name="b")
START = (second(0), 0)


def lines(meta: ContainerMeta, first: int, last: int, stream: str = "stdout") -> list[Record]:
    """Lines ``{name}{first}`` to ``{name}{last}``, line ``n`` written at second ``n``."""
    return [Record(f"{meta.name}{n}", stream, second(n), meta) for n in range(first, last + 1)]


def after(n: int) -> tuple[str, int]:
    """Where reading resumes after the line written at second n (the only one that second)."""
    return (second(n), 1)


def destination(
    filter: DestinationFilter | None = None, max_records: int = 100
) -> tuple[Route, Progress]:
    progress = Progress()
    buffer = DropOldestBuffer(
        max_records=max_records, max_bytes=1 << 20, on_discard=progress.discarded
    )
    return Route(buffer, filter, progress), progress


def test_nothing_is_checkpointed_past_what_a_destination_still_holds() -> None:
    route, progress = destination()
    route.put(lines(A, 1, 5))
    assert checkpoint(A.id, START, [progress]) == START
    batch = route.buffer.take(3)
    progress.sending()
    assert checkpoint(A.id, START, [progress]) == START  # in flight: not handled yet
    progress.done(batch)
    assert checkpoint(A.id, START, [progress]) == after(3)
    progress.sending()
    progress.done(route.buffer.take(10))
    assert checkpoint(A.id, START, [progress]) == after(5)


def test_the_checkpoint_is_the_slowest_destinations_position() -> None:
    (fast, p_fast), (slow, p_slow) = destination(), destination()
    for route in (fast, slow):
        route.put(lines(A, 1, 4))
    p_fast.sending()
    p_fast.done(fast.buffer.take(10))
    p_slow.sending()
    p_slow.done(slow.buffer.take(1))
    assert checkpoint(A.id, START, [p_fast, p_slow]) == after(1)
    assert checkpoint(B.id, START, [p_fast, p_slow]) == START  # never seen: from the start


def test_lines_a_destination_filtered_out_count_as_handled_once_the_rest_is() -> None:
    route, progress = destination(DestinationFilter(sources=["stderr"]))
    route.put(lines(A, 1, 2, "stderr"))
    route.put(lines(A, 3, 6, "stdout"))  # not wanted here
    assert checkpoint(A.id, START, [progress]) == START  # the stderr lines are still held
    progress.sending()
    progress.done(route.buffer.take(10))
    assert checkpoint(A.id, START, [progress]) == after(6)  # through the filtered ones


def test_a_destination_that_wants_none_of_a_container_never_holds_it_back() -> None:
    route, progress = destination(DestinationFilter(name="b"))
    route.put(lines(A, 1, 9))
    assert checkpoint(A.id, START, [progress]) == after(9)


def test_dropped_lines_count_as_handled_but_not_past_a_batch_still_in_flight() -> None:
    route, progress = destination(max_records=4)
    route.put(lines(A, 1, 4))
    in_flight = route.buffer.take(2)  # a1, a2 being sent
    progress.sending()
    route.put(lines(A, 5, 10))  # full: the buffer drops a3.. to make room
    assert route.buffer.dropped > 0
    assert checkpoint(A.id, START, [progress]) == START  # a1, a2 may still fail
    progress.done(in_flight)
    held = route.buffer.take(10)
    assert [r.message for r in held] == ["a7", "a8", "a9", "a10"]  # a3-a6 were dropped
    assert checkpoint(A.id, START, [progress]) == after(6)
    progress.sending()
    progress.done(held)
    assert checkpoint(A.id, START, [progress]) == after(10)


def test_containers_are_tracked_apart_in_one_batch() -> None:
    route, progress = destination()
    route.put(lines(A, 1, 3))
    route.put(lines(B, 4, 6))
    route.put(lines(A, 7, 8))
    progress.sending()
    progress.done(route.buffer.take(6))  # a1-a3, b4-b6
    assert checkpoint(A.id, START, [progress]) == after(3)
    assert checkpoint(B.id, START, [progress]) == after(6)


def test_forgetting_a_container_gone_from_the_engine() -> None:
    route, progress = destination(DestinationFilter(name="nobody"))
    route.put(lines(A, 1, 1))
    route.put(lines(B, 2, 2))
    progress.forget([B.id])
    assert progress.position(A.id) is None  # gone: nothing kept of it
    assert progress.position(B.id) == after(2)


async def test_the_runner_counts_a_batch_refused_for_good_as_handled() -> None:
    class Refusing:
        name = "refusing"

        async def open(self) -> None:
            return None

        async def send(self, batch: list[Record]) -> None:
            raise DeliveryError("mapping error", retriable=False)

        async def close(self) -> None:
            return None

    route, progress = destination()
    runner = SinkRunner(
        Refusing(), route.buffer, observer=progress, backoff=Backoff(initial_secs=0.001)
    )
    route.put(lines(A, 1, 3))
    route.buffer.close()
    await asyncio.wait_for(runner.run(), timeout=5)
    assert runner.rejected == 3
    assert checkpoint(A.id, START, [progress]) == after(3)


# -- destinations a reload adds and removes ----------------------------------------------------


class Followed:
    def __init__(self, meta: ContainerMeta) -> None:
        self.meta = meta
        self.skip_reason = None
        self.start = START


def checkpointer(tmp_path: Any, *destinations: Any) -> Any:
    from types import SimpleNamespace

    from logship.state.checkpointer import Checkpointer
    from logship.state.checkpoints import CheckpointStore

    source = SimpleNamespace(ready=asyncio.Event(), containers=lambda: {A.id: Followed(A)})
    return Checkpointer(CheckpointStore(tmp_path), source, destinations, interval_secs=1)


def sent_all(destination: Any) -> None:
    """What the destination's runner does once its batch is sent."""
    buffer = destination._buffer
    batch = buffer.take(len(buffer))
    destination._observers.sending()
    destination._observers.done(batch)


def test_a_destination_added_while_running_holds_no_checkpoint_before_where_it_began(
    tmp_path: Any,
) -> None:
    from logship.pipeline.destination import Destination

    first, added = Destination(Sink()), Destination(Sink())
    points = checkpointer(tmp_path, first)
    first.route.put(lines(A, 1, 5))
    sent_all(first)
    assert points.snapshot()[0][A.id] == after(5)
    points.follow_from_now(added)  # a reload adds it: from now on
    assert points.snapshot()[0][A.id] == after(5)  # not where reading began
    for destination in (first, added):
        destination.route.put(lines(A, 6, 8))
    sent_all(first)
    assert points.snapshot()[0][A.id] == after(5)  # what the new one holds is not handled yet
    sent_all(added)
    assert points.snapshot()[0][A.id] == after(8)


def test_a_destination_removed_holds_no_checkpoint_back_once_unfollowed(tmp_path: Any) -> None:
    from logship.pipeline.destination import Destination

    steady, going = Destination(Sink()), Destination(Sink())
    points = checkpointer(tmp_path, steady, going)
    for destination in (steady, going):
        destination.route.put(lines(A, 1, 3))
    sent_all(steady)
    assert points.snapshot()[0][A.id] == START  # the other has handled none of them
    points.unfollow(going)
    assert points.snapshot()[0][A.id] == after(3)


class Sink:
    name = "sink"
    bytes_sent = 0

    async def open(self) -> None:
        return None

    async def send(self, batch: list[Record]) -> None:
        return None

    async def close(self) -> None:
        return None
