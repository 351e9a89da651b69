"""Where reading resumes after a record: asking the engine again from there (``since`` plus
skipping, in the log's order, what was consumed) gives exactly the lines after it, even where
Docker's timestamps go backwards between stdout and stderr."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from logship.protocol.docker import RESUME_SLACK_NS, LogDecoder, Position
from logship.record import Record, format_timestamp_ns, resume_position, timestamp_ns
from tests.helpers.records import make_meta

TIMES = [f"2026-11-27T05:24:{s:02d}.000000000Z" for s in range(60)]


def frame(stream: int, ts: str, body: bytes) -> bytes:
    payload = ts.encode() + b" " + body
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def replay(entries: list[tuple[int, str, bytes]], position: Position | None) -> list[Record]:
    """What a new request from ``position`` yields: the engine sends, in the log's order, the
    entries not older than the ``since`` the decoder asks for."""
    decoder = LogDecoder(make_meta(), position=position)
    since = decoder.since or ""
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


BASE_NS = timestamp_ns(TIMES[30])
disordered_strategy = st.lists(
    st.tuples(
        st.sampled_from([1, 2]),
        # milliseconds from the previous entry's time: Docker's two copiers race, so the time
        # of an entry can be older than the one before it (by up to 2.2 ms measured). None:
        # the very same time as the entry before. (Two entries apart never share a time to
        # the nanosecond: Docker takes it from the clock as each is copied.)
        st.one_of(st.none(), st.integers(min_value=-3, max_value=3)),
        st.binary(min_size=1, max_size=4).map(lambda b: b.replace(b"\n", b".")),
    ),
    max_size=25,
)


@given(disordered_strategy)
def test_resuming_where_timestamps_go_backwards_loses_nothing_and_repeats_nothing(
    spec: list[tuple[int, int | None, bytes]],
) -> None:
    entries, ns = [], BASE_NS
    for i, (stream, step_ms, body) in enumerate(spec):
        if step_ms is not None:
            ns += step_ms * 1_000_000 + i + 1  # +i+1 ns: no time met twice apart
        entries.append((stream, format_timestamp_ns(ns), body + b"\n"))
    everything = replay(entries, None)
    assert len(everything) == len(entries)
    for i, record in enumerate(everything):
        assert texts(replay(entries, resume_position(record))) == texts(everything[i + 1 :])


def test_an_entry_written_after_the_position_with_an_older_time_is_not_lost() -> None:
    """The case above, as it happened: "done" on stdout was consumed; the stderr line written
    after it carries a time 1 ms older. Asking from "done"'s own time, the engine would not
    send it."""
    t = BASE_NS
    entries = [
        (2, format_timestamp_ns(t), b"trace\n"),
        (1, format_timestamp_ns(t + 2_000_000), b"done\n"),
        (2, format_timestamp_ns(t + 1_000_000), b"  at Main.main\n"),
    ]
    _, done, _ = replay(entries, None)
    decoder = LogDecoder(make_meta(), position=resume_position(done))
    assert decoder.since == format_timestamp_ns(t + 2_000_000 - RESUME_SLACK_NS)
    assert texts(replay(entries, resume_position(done))) == [("stderr", "  at Main.main")]


def test_when_the_positions_entry_is_gone_reading_goes_on_from_what_is_newer() -> None:
    """The file holding the position's entry was rotated away while nobody read: what is
    left is newer than the position by more than the slack, and all of it is shipped."""
    t = BASE_NS
    gone = (format_timestamp_ns(t), 1)
    later = format_timestamp_ns(t + RESUME_SLACK_NS + 1)
    entries = [(1, later, b"kept\n"), (1, later, b"too\n")]
    assert texts(replay(entries, gone)) == [("stdout", "kept"), ("stdout", "too")]


def test_a_position_that_is_a_time_asks_from_that_time_and_takes_all_from_it() -> None:
    t = BASE_NS
    start = (format_timestamp_ns(t), 0)  # "from when the agent started": no entry consumed
    assert LogDecoder(make_meta(), position=start).since == start[0]
    entries = [(1, format_timestamp_ns(t - 1), b"old\n"), (1, format_timestamp_ns(t), b"new\n")]
    assert texts(replay(entries, start)) == [("stdout", "new")]
