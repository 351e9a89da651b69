"""The per-destination buffer: bounded, drop-oldest, never blocking the source."""

from __future__ import annotations

import asyncio
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from logship.pipeline.buffer import RECORD_OVERHEAD_BYTES, DropOldestBuffer
from logship.record import ContainerMeta, Record
from tests.helpers.records import TS, make_meta, records_of

WEB = make_meta()


def records(*messages: str) -> list[Record]:
    return records_of(WEB, *messages)


def texts(batch: list[Record]) -> list[str]:
    return [r.message for r in batch]


def cost(*messages: str) -> int:
    return sum(sys.getsizeof(m) + RECORD_OVERHEAD_BYTES for m in messages)


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
    big = "y" * (cost("x" * 10) * 3 - cost(""))  # costs as much as three small ones
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


# -- fairness between containers -----------------------------------------------------------------


def container(n: int) -> ContainerMeta:
    return make_meta(id=f"{n:064x}", name=f"app-{n}")


NOISY, QUIET, OTHER = container(1), container(2), container(3)


def test_a_flooding_container_loses_its_own_oldest_lines_not_its_quiet_neighbours() -> None:
    buffer = DropOldestBuffer(max_records=10, max_bytes=1 << 20)
    buffer.put(records_of(QUIET, "q1"))
    buffer.put(records_of(NOISY, *(f"n{i}" for i in range(8))))
    buffer.put(records_of(QUIET, "q2"))
    buffer.put(records_of(NOISY, *(f"n{i}" for i in range(8, 20))))
    kept = texts(buffer.take(100))
    assert kept == ["q1", "q2", *(f"n{i}" for i in range(12, 20))]
    assert buffer.dropped == 12
    assert buffer.dropped_by_container == {NOISY.id: 12}


def test_lines_come_out_in_the_order_they_went_in_minus_the_dropped_ones() -> None:
    buffer = DropOldestBuffer(max_records=6, max_bytes=1 << 20)
    buffer.put(records_of(NOISY, "n1", "n2"))
    buffer.put(records_of(QUIET, "q1"))
    buffer.put(records_of(NOISY, "n3", "n4"))
    buffer.put(records_of(OTHER, "o1"))
    buffer.put(records_of(NOISY, "n5", "n6"))  # 8 held: n1 and n2 go
    assert texts(buffer.take(3)) == ["q1", "n3", "n4"]
    assert texts(buffer.take(10)) == ["o1", "n5", "n6"]


def test_one_batch_mixing_containers_is_split_fairly_too() -> None:
    buffer = DropOldestBuffer(max_records=4, max_bytes=1 << 20)
    buffer.put([*records_of(QUIET, "q1"), *records_of(NOISY, "n1", "n2", "n3", "n4", "n5")])
    assert texts(buffer.take(10)) == ["q1", "n3", "n4", "n5"]


def test_containers_equally_full_lose_alike() -> None:
    buffer = DropOldestBuffer(max_records=8, max_bytes=1 << 20)
    buffer.put(records_of(NOISY, "a1", "a2", "a3", "a4"))
    buffer.put(records_of(OTHER, "b1", "b2", "b3", "b4"))
    buffer.put(records_of(QUIET, "q1", "q2"))  # 10 held: the two fullest lose one each
    assert texts(buffer.take(100)) == ["a2", "a3", "a4", "b2", "b3", "b4", "q1", "q2"]
    assert buffer.dropped_by_container == {NOISY.id: 1, OTHER.id: 1}


def test_over_the_byte_bound_the_container_holding_the_most_bytes_loses() -> None:
    buffer = DropOldestBuffer(max_records=100, max_bytes=cost("x" * 900, "s", "s", "s", "s"))
    buffer.put(records_of(QUIET, "s", "s", "s", "s"))  # more records, few bytes
    buffer.put(records_of(NOISY, "x" * 900))
    buffer.put(records_of(NOISY, "y" * 900))
    assert texts(buffer.take(100)) == ["s", "s", "s", "s", "y" * 900]
    assert buffer.dropped_by_container == {NOISY.id: 1}


def test_after_a_byte_shed_the_record_bound_still_sheds_the_one_holding_most_records() -> None:
    # the byte shed picks NOISY (most bytes) and learns nothing of its lead in records: its
    # next lines must not make it look far enough ahead in records to lose alone
    bound = cost(*"abcdefgh") * 2 + cost("n1", "n2", "n3")
    buffer = DropOldestBuffer(max_records=10, max_bytes=bound)
    buffer.put(records_of(QUIET, *"abcdefgh"))  # 8 records, few bytes
    buffer.put(records_of(NOISY, "x" * 2500))  # over the byte bound: NOISY loses it
    assert buffer.dropped_by_container == {NOISY.id: 1}
    for n in ("n1", "n2", "n3"):  # the third is one record too many: QUIET holds the most
        buffer.put(records_of(NOISY, n))
    assert buffer.held_by_container() == {QUIET.id: 7, NOISY.id: 3}
    assert buffer.dropped_by_container == {NOISY.id: 1, QUIET.id: 1}


def test_a_container_shed_by_both_bounds_in_turn_is_never_asked_for_more_than_it_holds() -> None:
    # what a shed by one bound takes from the container shedding goes from its lead in the
    # other bound too; a lead left too high once made a later shed pop more records than that
    # container held (IndexError out of put, and the buffer's counts wrong ever after)
    told: list[Record] = []
    bound = 2 * cost("x" * 1000)
    buffer = DropOldestBuffer(max_records=10, max_bytes=bound, on_discard=told.extend)
    big = "x" * 1000
    put = [
        records_of(NOISY, *[""] * 7),
        records_of(NOISY, *[big] * 8),  # over both bounds: NOISY sheds by records, then bytes
        records_of(NOISY, *[big] * 5),
        records_of(QUIET, *[""] * 6),
        records_of(QUIET, *[big] * 5),  # 12 records, QUIET holds the most of them
    ]
    for batch in put:
        buffer.put(batch)
        assert len(buffer) <= 10
        assert buffer.bytes <= bound
    assert len(buffer) == sum(buffer.held_by_container().values())
    taken = buffer.take(100)
    assert sorted(map(id, taken + told)) == sorted(id(r) for batch in put for r in batch)
    assert (len(buffer), buffer.bytes) == (0, 0)


def test_what_each_container_holds_is_reported_and_its_drops_counted() -> None:
    buffer = DropOldestBuffer(max_records=5, max_bytes=1 << 20)
    buffer.put(records_of(QUIET, "q1", "q2"))
    buffer.put(records_of(NOISY, *"abcdef"))
    assert buffer.held_by_container() == {QUIET.id: 2, NOISY.id: 3}
    assert buffer.dropped_by_container == {NOISY.id: 3}
    buffer.take(100)
    assert buffer.held_by_container() == {}
    assert buffer.dropped_by_container == {NOISY.id: 3}  # counters outlive the records


def test_drop_counters_are_kept_for_a_bounded_number_of_containers() -> None:
    from logship.pipeline.buffer import MAX_DROP_COUNTERS

    buffer = DropOldestBuffer(max_records=1, max_bytes=1 << 20)
    for n in range(MAX_DROP_COUNTERS + 10):
        buffer.put(records_of(container(n), "a", "b"))
        buffer.take(10)
    counters = buffer.dropped_by_container
    assert len(counters) == MAX_DROP_COUNTERS
    assert container(MAX_DROP_COUNTERS + 9).id in counters  # the most recent ones are kept
    assert container(0).id not in counters
    assert buffer.dropped == MAX_DROP_COUNTERS + 10


def test_every_dropped_record_of_every_container_is_reported_once() -> None:
    told: list[Record] = []
    buffer = DropOldestBuffer(max_records=3, max_bytes=1 << 20, on_discard=told.extend)
    batch_a = records_of(NOISY, "n1", "n2", "n3")
    batch_b = records_of(QUIET, "q1", "q2", "q3")
    buffer.put(batch_a)
    buffer.put(batch_b)
    taken = buffer.take(10)
    assert sorted(map(id, told + taken)) == sorted(map(id, batch_a + batch_b))
    assert len(told) == buffer.dropped == 3


def test_a_big_buffer_sheds_a_little_more_than_needed_so_tiny_puts_stay_cheap() -> None:
    buffer = DropOldestBuffer(max_records=8192, max_bytes=1 << 30)
    metas = [container(n) for n in range(8)]
    for i in range(8192):
        buffer.put(records_of(metas[i % 8], "x"))
    buffer.put(records_of(metas[0], "x"))
    assert 8192 - 8192 // 256 - 8 <= len(buffer) < 8192  # shed its slack, fairly: all lost
    assert set(buffer.dropped_by_container) == {m.id for m in metas}


@given(
    st.integers(1, 12),
    st.integers(300, 3000),
    st.lists(
        st.one_of(
            st.lists(st.tuples(st.integers(0, 3), st.integers(0, 120)), min_size=1, max_size=8),
            st.integers(0, 6),  # a take of that many
        ),
        max_size=40,
    ),
)
def test_any_mix_of_containers_puts_and_takes_keeps_every_promise(
    max_records: int, max_bytes: int, steps: list[list[tuple[int, int]] | int]
) -> None:
    metas = [container(n) for n in range(4)]
    told: list[Record] = []
    buffer = DropOldestBuffer(max_records=max_records, max_bytes=max_bytes, on_discard=told.extend)
    put: list[Record] = []
    taken: list[Record] = []
    for step in steps:
        if isinstance(step, int):
            taken += buffer.take(step)
            continue
        batch = [
            Record(f"{len(put) + i}".ljust(size, "x"), "stdout", TS, metas[c])
            for i, (c, size) in enumerate(step)
        ]
        put += batch
        buffer.put(batch)
        assert len(buffer) <= max_records
        assert buffer.bytes <= max_bytes
    taken += buffer.take(len(put) + 1)
    position = {id(r): i for i, r in enumerate(put)}
    # nothing lost unreported, nothing reported twice, nothing out of order
    assert sorted(map(id, taken + told)) == sorted(map(id, put))
    assert [position[id(r)] for r in taken] == sorted(position[id(r)] for r in taken)
    assert buffer.dropped == len(told)
    assert buffer.accepted == len(put)
    assert (len(buffer), buffer.bytes) == (0, 0)
    assert sum(buffer.dropped_by_container.values()) == len(told)


@given(
    st.integers(1, 30),
    st.lists(st.tuples(st.integers(0, 4), st.integers(1, 12), st.integers(0, 8)), max_size=40),
)
def test_only_the_fullest_containers_lose_and_they_keep_as_many_as_anyone_else(
    max_records: int, steps: list[tuple[int, int, int]]
) -> None:
    metas = [container(n) for n in range(5)]
    told: list[Record] = []
    buffer = DropOldestBuffer(max_records=max_records, max_bytes=1 << 30, on_discard=told.extend)
    for c, n, take in steps:
        before = len(told)
        buffer.put(records_of(metas[c], *("x" * n)))
        losers = {r.meta.id for r in told[before:]}
        held = buffer.held_by_container()
        spared = [count for key, count in held.items() if key not in losers]
        for loser in losers:  # among equally full ones, one may lose a record the other keeps
            assert all(held.get(loser, 0) >= count - 1 for count in spared)
        buffer.take(take)


class BothBoundsAgainstAList(RuleBasedStateMachine):
    """Puts of small and big lines of three containers, so that both bounds shed in turn, and
    takes, against a plain list of what should be held: the buffer's bookkeeping (runs, lanes,
    skips, the shedding container's lead) must never drift from it."""

    MAX_RECORDS, MAX_BYTES = 10, 2000

    def __init__(self) -> None:
        super().__init__()
        self.told: list[Record] = []
        self.buffer = DropOldestBuffer(
            max_records=self.MAX_RECORDS, max_bytes=self.MAX_BYTES, on_discard=self.told.extend
        )
        self.held: list[Record] = []
        self.metas = [container(n) for n in range(3)]

    @rule(c=st.integers(0, 2), n=st.integers(1, 8), big=st.booleans())
    def put(self, c: int, n: int, big: bool) -> None:
        batch = records_of(self.metas[c], *["x" * (900 if big else 0)] * n)
        by_records_only = self.buffer.bytes + cost(*(r.message for r in batch)) <= self.MAX_BYTES
        before = len(self.told)
        self.buffer.put(batch)
        gone = {id(r) for r in self.told[before:]}
        self.held = [r for r in self.held + batch if id(r) not in gone]
        if by_records_only:  # only the record bound shed: the fullest in records lost
            losers = {r.meta.id for r in self.told[before:]}
            held = self.buffer.held_by_container()
            spared = [count for key, count in held.items() if key not in losers]
            for loser in losers:
                assert all(held.get(loser, 0) >= count - 1 for count in spared)

    @rule(k=st.integers(1, 12))
    def take(self, k: int) -> None:
        taken = self.buffer.take(k)
        assert list(map(id, taken)) == list(map(id, self.held[:k]))
        del self.held[:k]

    @invariant()
    def holds_what_the_list_holds(self) -> None:
        assert len(self.buffer) == len(self.held) <= self.MAX_RECORDS
        assert self.buffer.bytes == cost(*(r.message for r in self.held)) <= self.MAX_BYTES
        assert sum(self.buffer.held_by_container().values()) == len(self.held)


test_both_bounds_against_a_list = BothBoundsAgainstAList.TestCase


def test_the_byte_bound_counts_memory_so_wide_characters_cost_what_they_take() -> None:
    # one emoji makes Python hold every character of the line in 4 bytes
    wide = "😀" + "x" * 999
    assert sys.getsizeof(wide) > 4000
    buffer = DropOldestBuffer(max_records=1000, max_bytes=cost("x" * 1000) * 4)
    buffer.put(records(*(wide for _ in range(4))))
    # four such lines take about four times the bound's worth of ASCII lines: one fits
    assert buffer.bytes == cost(wide) <= buffer.max_bytes
    assert len(buffer) == 1 and buffer.dropped == 3
