"""The one bound on what lines still being read hold, all readers together."""

from __future__ import annotations

from logship.sources.held import HeldLines, Holder


class Reader:
    """A reader whose decoder holds ``held`` bytes; split ships them all (or cannot)."""

    def __init__(self, held: HeldLines, name: str, *, can_split: bool = True) -> None:
        self.bound = held
        self.size = 0
        self.splits = 0
        self.can_split = can_split
        self.holder = Holder(name, self.split)

    def read(self, size: int) -> None:
        self.size += size
        self.bound.update(self.holder, self.size)

    def split(self) -> int:
        self.splits += 1
        if self.can_split:
            self.size = 0
        return self.size


def test_under_the_bound_nothing_is_split() -> None:
    held = HeldLines(max_bytes=100)
    a, b = Reader(held, "a"), Reader(held, "b")
    a.read(50)
    b.read(50)
    assert (held.bytes, a.splits, b.splits, held.splits) == (100, 0, 0, 0)


def test_past_the_bound_the_reader_holding_the_most_splits_even_when_it_is_not_reading() -> None:
    held = HeldLines(max_bytes=100)
    big, small = Reader(held, "big"), Reader(held, "small")
    big.read(90)
    small.read(20)  # small's read passes the bound; big holds the most
    assert (big.splits, small.splits) == (1, 0)
    assert held.bytes == 20 and held.splits == 1


def test_a_reader_that_cannot_let_go_is_not_asked_again_and_again() -> None:
    held = HeldLines(max_bytes=100)
    stuck, other = Reader(held, "stuck", can_split=False), Reader(held, "other")
    stuck.read(150)
    assert stuck.splits == 1
    other.read(10)
    assert (stuck.splits, other.splits) == (1, 1)  # the next largest went instead


def test_a_reader_done_gives_back_what_it_held() -> None:
    held = HeldLines(max_bytes=100)
    a = Reader(held, "a")
    a.read(60)
    held.release(a.holder)
    assert held.bytes == 0
