"""Where reading resumes after a record: asking the engine again from there (``since`` plus
skipping what carries that same timestamp) gives exactly the lines after it."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from logship.protocol.docker import LogDecoder, Position, resume_position
from logship.record import Record
from tests.helpers.records import make_meta

TIMES = [f"2026-11-27T05:24:{s:02d}.000000000Z" for s in range(60)]


def frame(stream: int, ts: str, body: bytes) -> bytes:
    payload = ts.encode() + b" " + body
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def replay(entries: list[tuple[int, str, bytes]], position: Position | None) -> list[Record]:
    """What a new request with ``since=position`` yields, as the engine would send it."""
    decoder = LogDecoder(make_meta(), position=position)
    since = position[0] if position is not None else ""
    data = b"".join(frame(s, ts, body) for s, ts, body in entries if ts >= since)
    return decoder.feed([data]) + decoder.flush()


def texts(records: list[Record]) -> list[tuple[str, str]]:
    return [(r.stream, r.message) for r in records]


entries_strategy = st.lists(
    st.tuples(
        st.sampled_from([1, 2]),  # stdout, stderr
        st.integers(min_value=0, max_value=1),  # same timestamp as the previous entry, or next
        st.binary(min_size=0, max_size=6).map(lambda b: b.replace(b"\n", b".")),
        st.booleans(),  # the entry ends its line (else a 16 KiB piece: the line goes on)
    ),
    max_size=25,
)


def build(spec: list[tuple[int, int, bytes, bool]]) -> list[tuple[int, str, bytes]]:
    entries, t = [], 0
    for stream, step, body, ends in spec:
        t = min(t + step, len(TIMES) - 1)
        entries.append((stream, TIMES[t], body + (b"\n" if ends else b"")))
    return entries


@given(entries_strategy)
def test_resuming_after_any_record_loses_nothing_and_repeats_nothing_on_one_stream(
    spec: list[tuple[int, int, bytes, bool]],
) -> None:
    entries = build([(1, step, body, ends) for _, step, body, ends in spec])
    everything = replay(entries, None)
    for i, record in enumerate(everything):
        assert texts(replay(entries, resume_position(record))) == texts(everything[i + 1 :])


@given(entries_strategy)
def test_resuming_with_stdout_and_stderr_interleaved_loses_nothing(
    spec: list[tuple[int, int, bytes, bool]],
) -> None:
    """A line that ends while the other stream's long line is still open cannot be resumed
    after alone: reading resumes where that open line began, so a few lines may come twice
    (never lost)."""
    entries = build(spec)
    everything = replay(entries, None)
    for i, record in enumerate(everything):
        again = texts(replay(entries, resume_position(record)))
        rest = texts(everything[i + 1 :])
        assert again[len(again) - len(rest) :] == rest  # everything after it comes back
        extra = again[: len(again) - len(rest)]
        assert all(line in texts(everything[: i + 1]) for line in extra)  # repeats only


def test_a_long_line_resumes_after_its_last_piece_not_its_first() -> None:
    t1, t2, t3 = TIMES[1], TIMES[2], TIMES[3]
    entries = [(1, t1, b"x" * 10), (1, t2, b"y" * 10), (1, t2, b"z\n"), (1, t3, b"next\n")]
    long_line, after = replay(entries, None)
    assert (long_line.timestamp, long_line.seq) == (t1, 0)  # the line's own time: its start
    assert resume_position(long_line) == (t2, 2)
    assert texts(replay(entries, resume_position(long_line))) == [("stdout", "next")]
    assert resume_position(after) == (t3, 1)
