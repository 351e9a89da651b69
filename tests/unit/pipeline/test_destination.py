"""One destination assembled from its options: what watches it is told what happens to its
records, whenever it registered before the destination runs; its counts say what it did."""

from __future__ import annotations

import asyncio
from pathlib import Path

from logship.config.destination import BatchConfig, SpoolConfig
from logship.config.filters import DestinationFilter
from logship.errors import DeliveryError
from logship.pipeline.destination import Destination
from logship.pipeline.observer import DeliveryObserver
from logship.record import Record
from tests.helpers.records import make_meta, numbered_lines

WEB = make_meta()


class Collecting:
    name = "collecting"

    def __init__(self, fail_first: int = 0) -> None:
        self.batches: list[list[Record]] = []
        self.fail_first = fail_first
        self.bytes_sent = 0  # a byte a character, as if every message were sent as it is

    async def open(self) -> None:
        return None

    async def send(self, batch: list[Record]) -> None:
        if self.fail_first:
            self.fail_first -= 1
            raise DeliveryError("receiver restarting")
        self.batches.append(batch)
        self.bytes_sent += sum(len(r.message) for r in batch)

    async def close(self) -> None:
        return None


class Recorder(DeliveryObserver):
    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    def routed(self, records: list[Record], selected: list[Record]) -> None:
        self.events.append(("routed", len(selected)))

    def sending(self) -> None:
        self.events.append(("sending", 0))

    def sent(self, batch: list[Record], seconds: float) -> None:
        self.events.append(("sent", len(batch)))

    def done(self, batch: list[Record]) -> None:
        self.events.append(("done", len(batch)))

    def discarded(self, records: list[Record]) -> None:
        self.events.append(("discarded", len(records)))


async def drain(destination: Destination) -> None:
    destination.close_input()
    await asyncio.wait_for(destination.run(), 5)


async def test_an_observer_registered_after_it_was_built_is_told_every_step() -> None:
    destination = Destination(Collecting(), max_records=3, batch=BatchConfig(timeout_secs=0))
    recorder = Recorder()
    destination.observe(recorder)
    destination.route.put(numbered_lines(WEB, 5))  # two more than it holds: the oldest two are shed
    await drain(destination)
    assert recorder.events == [
        ("routed", 5),
        ("discarded", 2),
        ("sending", 0),
        ("sent", 3),
        ("done", 3),
    ]


async def test_every_observer_is_told_and_a_retried_batch_is_done_once() -> None:
    destination = Destination(Collecting(fail_first=1), retry_max_secs=0.01)
    first, second = Recorder(), Recorder()
    destination.observe(first)
    destination.observe(second)
    destination.route.put(numbered_lines(WEB, 2))
    await drain(destination)
    assert (
        first.events
        == second.events
        == [
            ("routed", 2),
            ("sending", 0),
            ("sent", 2),
            ("done", 2),
        ]
    )


async def test_stats_say_what_it_sent_shed_filtered_and_holds() -> None:
    sink = Collecting()
    destination = Destination(
        sink, filter=DestinationFilter(sources=["stderr"]), max_records=2, retry_max_secs=7
    )
    destination.route.put(numbered_lines(WEB, 3, stream="stderr") + numbered_lines(WEB, 4))
    stats = destination.stats()
    assert (stats.name, stats.shed, stats.filtered, stats.buffered) == ("collecting", 1, 4, 2)
    assert (stats.max_records, stats.retry_window_secs, stats.spool) == (2, 7, None)
    assert destination.held_by_container() == {WEB.id: 2}
    assert destination.shed_by_container() == {WEB.id: 1}
    await drain(destination)
    stats = destination.stats()
    assert (stats.sent, stats.buffered, stats.up, stats.down_secs) == (2, 0, True, 0.0)
    assert stats.bytes_sent == sum(len(r.message) for batch in sink.batches for r in batch) > 0


async def test_stats_count_failed_attempts_by_reason() -> None:
    sink = Collecting(fail_first=2)  # the receiver restarts: two sends fail, then it takes all
    destination = Destination(sink)
    destination.route.put(numbered_lines(WEB, 3))
    await drain(destination)
    stats = destination.stats()
    assert stats.sent == 3
    assert stats.errors == {"connect": 0, "send": 2, "partial": 0, "rejected": 0, "encode": 0}


async def test_what_a_full_buffer_sheds_goes_to_the_spool_and_counts_as_handled_once_on_disk(
    tmp_path: Path,
) -> None:
    destination = Destination(
        Collecting(),
        max_records=2,
        spool_dir=tmp_path / "spool",
        spool=SpoolConfig(enabled=True, max_bytes=1 << 20),
    )
    destination.open_spool()
    recorder = Recorder()
    destination.observe(recorder)
    destination.route.put(numbered_lines(WEB, 5))
    assert ("discarded", 3) not in recorder.events  # not on disk yet
    destination.close_input()
    destination.park()  # at shutdown: what it holds goes to disk too
    stats = destination.stats()
    assert stats.spool is not None
    assert (stats.spool.received, stats.spool.records) == (3, 5)
    # shed and parked lines reached the disk in one flush: handled, all five
    assert recorder.events == [("routed", 5), ("discarded", 5)]
