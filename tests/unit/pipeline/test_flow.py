"""Back-pressure: a reader of log files waits while a destination that is up holds more than
half of its bound, and never because of one that is down."""

from __future__ import annotations

import asyncio

from logship.errors import DeliveryError
from logship.pipeline.destination import Destination
from logship.pipeline.flow import Backpressure
from logship.record import Record
from tests.helpers.records import make_meta, numbered_lines


class Sink:
    name = "sink"

    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.sent: list[Record] = []

    async def open(self) -> None:
        if self.down:
            raise DeliveryError("connection refused")

    async def send(self, batch: list[Record]) -> None:
        self.sent += batch

    async def close(self) -> None:
        return None


def test_a_destination_up_and_more_than_half_full_is_congested() -> None:
    destination = Destination(Sink(), max_records=10)
    destination.route.put(numbered_lines(make_meta(), 5))
    assert not destination.congested()  # half: not more
    destination.route.put(numbered_lines(make_meta(), 1))
    assert destination.congested()


def test_a_destination_has_room_for_what_it_takes_before_it_is_congested() -> None:
    destination = Destination(Sink(), max_records=10, max_bytes=10_000)
    destination.route.put(numbered_lines(make_meta(), 3))
    flow = Backpressure([destination])
    assert flow.has_room(2, 100)  # 5 of 10: half, not more
    assert not flow.has_room(3, 100)
    # each record takes its text and ~160 bytes more: one of 5,000 is over half of 10,000
    assert not flow.has_room(1, 5000)
    assert flow.has_room(1, 3000)


async def test_a_destination_that_is_down_never_makes_readers_wait() -> None:
    destination = Destination(Sink(down=True), max_records=10, retry_max_secs=0.01)
    running = asyncio.create_task(destination.run())
    await asyncio.sleep(0.05)  # it tried, and is down
    destination.route.put(numbered_lines(make_meta(), 9))
    assert not destination.up
    assert not destination.congested()
    assert destination.has_room(1000, 10**9)
    await asyncio.wait_for(Backpressure([destination]).wait(), 1)
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)


async def test_a_reader_waits_until_the_destination_has_caught_up() -> None:
    sink = Sink()
    destination = Destination(sink, max_records=10)
    flow = Backpressure([destination])
    destination.route.put(numbered_lines(make_meta(), 8))
    waiting = asyncio.create_task(flow.wait())
    await asyncio.sleep(0.05)
    assert not waiting.done()  # nothing was sent yet
    running = asyncio.create_task(destination.run())
    await asyncio.wait_for(waiting, 2)
    assert len(sink.sent) >= 3 and flow.pauses == 1
    destination.close_input()
    await asyncio.wait_for(running, 2)
