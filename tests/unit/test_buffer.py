"""The per-destination buffer: bounded, drop-oldest, never blocking the source."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logship.pipeline.buffer import RECORD_OVERHEAD_BYTES, DropOldestBuffer
from logship.record import ContainerMeta, HostMeta, Record

META = ContainerMeta(id="c" * 64, name="web", image="x", image_id="", host=HostMeta("vm", "::1"))
TS = "2026-11-27T05:24:33.719017066Z"


def records(*messages: str) -> list[Record]:
    return [Record(m, "stdout", TS, META) for m in messages]


def texts(batch: list[Record]) -> list[str]:
    return [r.message for r in batch]


def cost(*messages: str) -> int:
    return sum(len(m) + RECORD_OVERHEAD_BYTES for m in messages)


async def blocks(awaitable: object, secs: float = 0.05) -> bool:
    """True when ``awaitable`` is still waiting after ``secs``."""
    try:
        await asyncio.wait_for(awaitable, secs)  # type: ignore[arg-type]
    except TimeoutError:
        return True
    return False


@pytest.mark.parametrize(("max_records", "max_bytes"), [(0, 1024), (1, 0), (-1, -1)])
def test_a_buffer_without_room_for_one_record_is_refused(max_records: int, max_bytes: int) -> None:
    with pytest.raises(ValueError, match="at least one record"):
        DropOldestBuffer(max_records=max_records, max_bytes=max_bytes)


def test_records_within_both_bounds_are_all_kept_and_counted() -> None:
    buffer = DropOldestBuffer(max_records=10, max_bytes=10_000)
    buffer.put(records("a", "bb", "ccc"))
    assert len(buffer) == 3
    assert buffer.bytes == cost("a", "bb", "ccc")
    assert (buffer.accepted, buffer.dropped) == (3, 0)


def test_an_empty_put_changes_nothing() -> None:
    buffer = DropOldestBuffer(max_records=10, max_bytes=10_000)
    buffer.put([])
    assert (len(buffer), buffer.bytes, buffer.accepted, buffer.dropped) == (0, 0, 0, 0)


def test_over_the_record_bound_the_oldest_records_are_dropped_and_counted() -> None:
    buffer = DropOldestBuffer(max_records=3, max_bytes=1_000_000)
    buffer.put(records("1", "2"))
    buffer.put(records("3", "4", "5"))
    assert texts(buffer.take(10)) == ["3", "4", "5"]
    assert (buffer.accepted, buffer.dropped) == (5, 2)


def test_one_put_larger_than_the_record_bound_keeps_only_its_newest_records() -> None:
    buffer = DropOldestBuffer(max_records=2, max_bytes=1_000_000)
    buffer.put(records("old"))
    buffer.put(records("1", "2", "3", "4"))
    assert texts(buffer.take(10)) == ["3", "4"]
    assert buffer.dropped == 3


def test_over_the_byte_bound_the_oldest_records_are_dropped_and_counted() -> None:
    buffer = DropOldestBuffer(max_records=1000, max_bytes=cost("aaaa", "bbbb", "cccc"))
    buffer.put(records("aaaa", "bbbb", "cccc"))
    assert buffer.dropped == 0
    buffer.put(records("d"))
    assert texts(buffer.take(10)) == ["bbbb", "cccc", "d"]
    assert buffer.dropped == 1


def test_a_big_record_drops_as_many_old_records_as_its_size_needs() -> None:
    buffer = DropOldestBuffer(max_records=1000, max_bytes=cost("x" * 10) * 4)
    buffer.put(records(*("x" * 10 for _ in range(4))))
    big = "y" * (10 * 3 + RECORD_OVERHEAD_BYTES * 2)  # costs as much as three small ones
    buffer.put(records(big))
    assert texts(buffer.take(10)) == ["x" * 10, big]
    assert buffer.dropped == 3


def test_the_byte_count_follows_drops_and_takes_exactly() -> None:
    buffer = DropOldestBuffer(max_records=3, max_bytes=1_000_000)
    buffer.put(records("a", "bb", "ccc", "dddd"))
    assert buffer.bytes == cost("bb", "ccc", "dddd")
    buffer.take(1)
    assert buffer.bytes == cost("ccc", "dddd")
    buffer.take(5)
    assert buffer.bytes == 0


def test_a_record_bigger_than_the_whole_byte_bound_is_dropped_itself() -> None:
    buffer = DropOldestBuffer(max_records=10, max_bytes=1024)
    buffer.put(records("small"))
    buffer.put(records("x" * 2000))
    assert (len(buffer), buffer.bytes, buffer.dropped) == (0, 0, 2)


def test_take_returns_the_oldest_records_first_up_to_the_limit() -> None:
    buffer = DropOldestBuffer(max_records=100, max_bytes=1_000_000)
    buffer.put(records("1", "2", "3"))
    buffer.put(records("4", "5"))
    assert texts(buffer.take(2)) == ["1", "2"]
    assert texts(buffer.take(2)) == ["3", "4"]
    assert texts(buffer.take(2)) == ["5"]
    assert buffer.take(2) == []
    assert len(buffer) == 0


def test_take_of_exactly_what_is_there_empties_the_buffer() -> None:
    buffer = DropOldestBuffer(max_records=100, max_bytes=1_000_000)
    buffer.put(records("1", "2"))
    assert texts(buffer.take(2)) == ["1", "2"]
    assert (len(buffer), buffer.bytes) == (0, 0)


def test_taken_records_are_the_very_objects_that_were_put() -> None:
    buffer = DropOldestBuffer(max_records=100, max_bytes=1_000_000)
    batch = records("a", "b")
    buffer.put(batch)
    taken = buffer.take(10)
    assert all(x is y for x, y in zip(taken, batch, strict=True))


@given(
    st.integers(1, 8),
    st.integers(1, 1500),
    st.lists(st.lists(st.integers(0, 400), max_size=6), max_size=12),
)
def test_after_any_puts_the_buffer_holds_the_longest_newest_run_that_fits(
    max_records: int, max_bytes: int, puts: list[list[int]]
) -> None:
    buffer = DropOldestBuffer(max_records=max_records, max_bytes=max_bytes)
    everything: list[str] = []
    for sizes in puts:
        batch = [f"{len(everything) + i}:".ljust(size, "x") for i, size in enumerate(sizes)]
        everything += batch
        buffer.put(records(*batch))
    kept: list[str] = []
    for message in reversed(everything):
        if len(kept) + 1 > max_records or cost(message, *kept) > max_bytes:
            break
        kept.insert(0, message)
    assert buffer.accepted == len(everything)
    assert buffer.dropped == len(everything) - len(kept)
    assert buffer.bytes == cost(*kept)
    assert texts(buffer.take(len(everything) + 1)) == kept


# -- waiting ----------------------------------------------------------------------------------


async def test_wait_blocks_while_the_buffer_is_empty() -> None:
    buffer = DropOldestBuffer(max_records=10, max_bytes=10_000)
    assert await blocks(buffer.wait())


async def test_wait_returns_at_once_when_records_are_there() -> None:
    buffer = DropOldestBuffer(max_records=10, max_bytes=10_000)
    buffer.put(records("a"))
    assert not await blocks(buffer.wait())


async def test_a_put_wakes_a_waiting_consumer() -> None:
    buffer = DropOldestBuffer(max_records=10, max_bytes=10_000)
    waiter = asyncio.create_task(buffer.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    buffer.put(records("a"))
    await asyncio.wait_for(waiter, 1)
    assert texts(buffer.take(10)) == ["a"]


async def test_an_empty_put_does_not_wake_a_waiting_consumer() -> None:
    buffer = DropOldestBuffer(max_records=10, max_bytes=10_000)
    waiter = asyncio.create_task(buffer.wait())
    buffer.put([])
    assert await blocks(asyncio.shield(waiter))
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter


async def test_wait_blocks_again_once_the_consumer_has_taken_everything() -> None:
    buffer = DropOldestBuffer(max_records=10, max_bytes=10_000)
    buffer.put(records("a", "b"))
    await buffer.wait()
    buffer.take(1)
    assert not await blocks(buffer.wait())
    buffer.take(1)
    assert await blocks(buffer.wait())


async def test_wait_blocks_after_a_put_whose_records_were_all_dropped() -> None:
    # a consumer loop (take -> nothing -> wait) must not spin on an empty buffer
    buffer = DropOldestBuffer(max_records=10, max_bytes=1024)
    buffer.put(records("x" * 2000))
    assert len(buffer) == 0
    assert await blocks(buffer.wait())


async def test_wait_blocks_after_a_put_that_dropped_the_records_already_there() -> None:
    buffer = DropOldestBuffer(max_records=10, max_bytes=1024)
    buffer.put(records("small"))
    buffer.put(records("x" * 2000))
    assert buffer.take(10) == []
    assert await blocks(buffer.wait())


async def test_close_wakes_a_waiting_consumer() -> None:
    buffer = DropOldestBuffer(max_records=10, max_bytes=10_000)
    waiter = asyncio.create_task(buffer.wait())
    await asyncio.sleep(0)
    buffer.close()
    await asyncio.wait_for(waiter, 1)
    assert buffer.closed


async def test_wait_on_a_closed_empty_buffer_returns_at_once() -> None:
    buffer = DropOldestBuffer(max_records=10, max_bytes=10_000)
    buffer.close()
    assert not await blocks(buffer.wait())
    assert buffer.take(10) == []
    assert not await blocks(buffer.wait())


async def test_a_closed_buffer_still_hands_out_what_it_holds() -> None:
    buffer = DropOldestBuffer(max_records=10, max_bytes=10_000)
    buffer.put(records("a", "b"))
    buffer.close()
    assert texts(buffer.take(1)) == ["a"]
    assert texts(buffer.take(1)) == ["b"]
    assert buffer.take(1) == []
    assert not await blocks(buffer.wait())


def test_put_never_waits_even_with_no_event_loop_running() -> None:
    buffer = DropOldestBuffer(max_records=2, max_bytes=10_000)
    for i in range(1000):
        buffer.put(records(str(i)))
    assert (len(buffer), buffer.dropped) == (2, 998)


def test_records_dropped_to_make_room_are_reported_oldest_first() -> None:
    told: list[list[str]] = []
    buffer = DropOldestBuffer(
        max_records=2, max_bytes=1 << 20, on_discard=lambda gone: told.append(texts(gone))
    )
    buffer.put(records("a", "b", "c", "d"))
    buffer.put(records("e"))
    assert told == [["a", "b"], ["c"]]
    assert texts(buffer.take(10)) == ["d", "e"]
