"""The sink runner: retries what can be retried, drops what cannot, survives a sink's bug."""

from __future__ import annotations

import asyncio
import logging

import pytest

from logship.errors import DeliveryError, OutputClosed
from logship.pipeline.buffer import DropOldestBuffer
from logship.pipeline.retry import Backoff
from logship.pipeline.runner import SinkRunner
from logship.record import Record
from tests.helpers.records import make_meta, numbered_lines


class ScriptedSink:
    """Fails as told, then takes everything."""

    name = "scripted"

    def __init__(self, failures: list[BaseException]) -> None:
        self.failures = failures
        self.received: list[str] = []
        self.closed = False

    async def open(self) -> None:
        return None

    async def send(self, batch: list[Record]) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.received += [r.message for r in batch]

    async def close(self) -> None:
        self.closed = True


def runner_for(sink: ScriptedSink) -> SinkRunner:
    buffer = DropOldestBuffer(max_records=100, max_bytes=1 << 20)
    return SinkRunner(sink, buffer, backoff=Backoff(initial_secs=0.001, maximum_secs=0.001))


async def drain(runner: SinkRunner, batch: list[Record]) -> None:
    runner.buffer.put(batch)
    runner.buffer.close()
    await asyncio.wait_for(runner.run(), timeout=5)


async def test_a_retriable_failure_is_retried_until_the_batch_goes_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = ScriptedSink([DeliveryError("refused"), DeliveryError("refused again")])
    runner = runner_for(sink)
    with caplog.at_level(logging.WARNING):
        await drain(runner, numbered_lines(make_meta(), 3))
    assert sink.received == ["line 0", "line 1", "line 2"]
    assert runner.retries == 2 and runner.sent == 3
    messages = [r.getMessage() for r in caplog.records]
    assert sum("is down" in m for m in messages) == 1  # said once, not per retry
    assert sum("is back" in m for m in messages) == 1
    assert sink.closed


async def test_a_batch_rejected_for_good_is_counted_and_not_retried() -> None:
    sink = ScriptedSink([DeliveryError("mapping error", retriable=False)])
    runner = runner_for(sink)
    await drain(runner, numbered_lines(make_meta(), 4))
    assert runner.rejected == 4 and runner.retries == 0 and sink.received == []


class PickySink(ScriptedSink):
    """Fails with a bug of its own on any batch holding a record whose message is in ``bad``,
    or, while ``down`` holds failures, with those first."""

    def __init__(self, bad: set[str], down: list[BaseException] | None = None) -> None:
        super().__init__([])
        self.bad = bad
        self.down = down or []
        self.calls = 0

    async def send(self, batch: list[Record]) -> None:
        self.calls += 1
        if any(r.message in self.bad for r in batch):
            raise UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogates not allowed")
        if self.down:
            raise self.down.pop(0)
        self.received += [r.message for r in batch]


async def test_a_record_a_sink_fails_on_is_rejected_alone_and_the_rest_of_its_batch_is_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = PickySink({"line 1", "line 5", "line 6"})
    runner = runner_for(sink)
    runner.max_batch = 4
    with caplog.at_level(logging.WARNING):
        await drain(runner, numbered_lines(make_meta(), 10))
    assert sink.received == [f"line {i}" for i in (0, 2, 3, 4, 7, 8, 9)]
    assert (runner.sent, runner.rejected, runner.encode_errors) == (7, 3, 3)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    # one line for the first, with its traceback; the others in one count at the end
    assert [r.getMessage().split(":")[0] for r in errors] == ["scripted", "scripted"]
    assert errors[0].exc_info is not None and "encode_error" in errors[0].getMessage()
    assert "2 more records" in errors[1].getMessage()
    assert "line" not in " ".join(r.getMessage() for r in errors)  # no record's text


async def test_a_destination_going_down_while_a_batch_is_sent_one_by_one_retries_the_rest() -> None:
    sink = PickySink({"line 0"}, down=[DeliveryError("connection reset")])
    runner = runner_for(sink)
    await drain(runner, numbered_lines(make_meta(), 4))
    assert sink.received == ["line 1", "line 2", "line 3"]
    assert (runner.sent, runner.rejected, runner.encode_errors, runner.retries) == (3, 1, 1, 1)


async def test_closed_output_stops_the_runner() -> None:
    sink = ScriptedSink([OutputClosed("gone")])
    with pytest.raises(OutputClosed):
        await drain(runner_for(sink), numbered_lines(make_meta(), 1))


async def test_a_partly_taken_batch_is_retried_with_only_what_is_left() -> None:
    batch = numbered_lines(make_meta(), 5)
    sink = ScriptedSink(
        [DeliveryError("2 items: 429", remaining=batch[3:], rejected=1)]  # 0-1 taken, 2 bad
    )
    runner = runner_for(sink)
    await drain(runner, batch)
    assert sink.received == ["line 3", "line 4"]
    assert (runner.sent, runner.rejected, runner.retries) == (4, 1, 1)
