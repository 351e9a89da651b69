"""Hypothesis against the Docker log stream decoder: any cut of the bytes, any partial lines,
any garbage between frames, TTY chunks in any grouping, a TTY response cut by reads anywhere
and cut off and asked again. A model says what must come out."""

from __future__ import annotations

import asyncio
import itertools
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logship.protocol.docker import LogDecoder
from logship.record import Record, truncation_marker
from logship.sources.docker.logstream import log_stream
from tests.helpers.records import make_meta

TIMES = [f"2026-11-27T05:24:33.{n:09d}Z" for n in (1, 2, 3, 500_000_000)]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# one entry: stream (1 stdout, 2 stderr), which time, the bytes, ends its line or not
Entry = tuple[int, int, bytes, bool]
entries = st.lists(
    st.tuples(
        st.sampled_from([1, 2]),
        st.integers(0, len(TIMES) - 1),
        st.binary(max_size=200).map(lambda b: b.replace(b"\n", b"")),
        st.booleans(),
    ),
    max_size=25,
).map(lambda es: sorted(es, key=lambda e: e[1]))  # the engine's times never go back


def frame(stream: int, ts: str, body: bytes) -> bytes:
    payload = ts.encode() + b" " + body
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def stream_of(items: list[Entry]) -> bytes:
    return b"".join(
        frame(s, TIMES[t], body + (b"\n" if ends else b"")) for s, t, body, ends in items
    )


def model(items: list[Entry], limit: int = 1 << 20) -> list[tuple[str, str, str, int]]:
    """The lines the engine's entries make: pieces of one stream joined until one ends its
    line (at the end, whatever is open), timestamp and seq of the first piece; in the order
    the lines end."""
    out: list[tuple[int, tuple[str, str, str, int]]] = []
    open_: dict[int, tuple[str, int, bytes]] = {}
    last_ts, count = "", 0
    for s, t, body, ends in items:
        ts = TIMES[t]
        count = count + 1 if ts == last_ts else 1
        last_ts = ts
        first_ts, seq, data = open_.pop(s, (ts, count - 1, b""))
        data += body
        if ends:
            out.append((len(out), line(s, first_ts, seq, data, limit)))
        else:
            open_[s] = (first_ts, seq, data)
    for s in sorted(open_, key=lambda k: "stdout" if k == 1 else "stderr"):
        first_ts, seq, data = open_[s]
        out.append((len(out), line(s, first_ts, seq, data, limit)))
    return [x for _, x in out]


def line(stream: int, ts: str, seq: int, data: bytes, limit: int) -> tuple[str, str, str, int]:
    message = data[:limit].decode("utf-8", "replace")
    if len(data) > limit:
        message = message.removesuffix("\ufffd") + truncation_marker(len(data) - limit)
    return (message, "stdout" if stream == 1 else "stderr", ts, seq)


def decode(
    data: bytes, cuts: list[int], *, limit: int = 1 << 20
) -> tuple[list[Record], LogDecoder]:
    """Feed ``data`` cut at ``cuts``; consecutive pieces go in one feed call now and then."""
    decoder = LogDecoder(make_meta(), max_line_bytes=limit)
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    pieces = [data[a:b] for a, b in itertools.pairwise(points)]
    out: list[Record] = []
    for i in range(0, len(pieces), 2):
        out += decoder.feed(pieces[i : i + 2])  # two HTTP chunks read at once
    out += decoder.flush()
    return out, decoder


def as_tuples(records: list[Record]) -> list[tuple[str, str, str, int]]:
    return [(r.message, r.stream, r.timestamp, r.seq) for r in records]


@FUZZ
@given(entries, st.lists(st.integers(0, 10_000), max_size=12))
def test_any_cut_of_a_valid_stream_gives_what_the_model_says(
    items: list[Entry], cuts: list[int]
) -> None:
    data = stream_of(items)
    whole, _ = decode(data, [])
    cut, decoder = decode(data, cuts)
    assert as_tuples(cut) == as_tuples(whole) == model(items)
    assert (decoder.malformed_frames, decoder.skipped_bytes, decoder.truncated_frames) == (0, 0, 0)


@FUZZ
@given(entries, st.integers(1, 300), st.lists(st.integers(0, 10_000), max_size=6))
def test_lines_longer_than_the_limit_are_cut_to_it_with_a_marker(
    items: list[Entry], limit: int, cuts: list[int]
) -> None:
    records, decoder = decode(stream_of(items), cuts, limit=limit)
    assert as_tuples(records) == model(items, limit)
    assert decoder.truncated == sum("[truncated" in r.message for r in records)


# garbage that cannot be taken for a header, nor make one with the bytes around it
garbage = st.binary(min_size=1, max_size=300).filter(lambda b: b"\x00\x00\x00" not in b)


@FUZZ
@given(
    entries.filter(lambda es: len(es) > 0),
    st.lists(st.tuples(st.integers(0, 100), garbage), max_size=4),
    st.lists(st.integers(0, 10_000), max_size=8),
)
def test_garbage_between_frames_is_skipped_and_loses_no_frame(
    items: list[Entry], insertions: list[tuple[int, bytes]], cuts: list[int]
) -> None:
    frames = [frame(s, TIMES[t], body + (b"\n" if ends else b"")) for s, t, body, ends in items]
    where = {at % (len(frames) + 1): junk for at, junk in insertions}  # one stretch per gap
    data = b"".join(where.get(i, b"") + f for i, f in enumerate(frames))
    data += where.get(len(frames), b"")
    records, decoder = decode(data, cuts)
    assert as_tuples(records) == model(items)
    trailing = len(frames) in where
    in_between = {i: j for i, j in where.items() if i < len(frames)}
    assert decoder.malformed_frames == len(in_between) + (
        1 if trailing and len(where[len(frames)]) >= 8 else 0
    )
    skipped = sum(len(j) for j in in_between.values())
    assert skipped <= decoder.skipped_bytes <= skipped + (len(where.get(len(frames), b"")))


@FUZZ
@given(st.binary(max_size=3000), st.lists(st.integers(0, 3000), max_size=10), st.booleans())
def test_arbitrary_bytes_never_raise_and_valid_frames_after_them_are_read(
    noise: bytes, cuts: list[int], tty: bool
) -> None:
    tail = frame(1, TIMES[3], b"the end\n")
    decoder = LogDecoder(make_meta(), tty=tty)
    data = noise + b"\n" + tail if tty else noise + tail
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    out: list[Record] = []
    for a, b in itertools.pairwise(points):
        out += decoder.feed([data[a:b]])
    out += decoder.flush()
    if not tty and b"\x00\x00\x00" not in noise:
        # whatever the noise was read as, the frame after it is found again
        assert any(r.message == "the end" and r.timestamp == TIMES[3] for r in out)


# -- TTY: the HTTP chunks are the entries --------------------------------------------------------

tty_entries = st.lists(
    st.tuples(
        st.integers(0, len(TIMES) - 1),
        st.binary(max_size=120).map(lambda b: b.replace(b"\n", b"")),
        st.booleans(),
    ),
    max_size=20,
).map(lambda es: sorted(es, key=lambda e: e[0]))


def tty_model(items: list[tuple[int, bytes, bool]]) -> list[tuple[str, str, str, int]]:
    out = []
    pending: tuple[str, int, bytes] | None = None
    last_ts, count = "", 0
    for t, body, ends in items:
        ts = TIMES[t]
        count = count + 1 if ts == last_ts else 1
        last_ts = ts
        first_ts, seq, data = pending or (ts, count - 1, b"")
        data += body
        if ends:  # the terminal's CR LF ends it; the CR is not part of the line
            out.append(line(1, first_ts, seq, data, 1 << 20))
            pending = None
        else:
            pending = (first_ts, seq, data)
    if pending is not None:
        out.append(line(1, pending[0], pending[1], pending[2], 1 << 20))
    return out


@FUZZ
@given(tty_entries, st.lists(st.integers(1, 4), max_size=20), st.lists(st.integers(31, 200)))
def test_tty_chunks_in_any_grouping_and_split_after_the_time_give_what_the_model_says(
    items: list[tuple[int, bytes, bool]], groups: list[int], splits: list[int]
) -> None:
    chunks: list[bytes] = []
    for i, (t, body, ends) in enumerate(items):
        chunk = TIMES[t].encode() + b" " + body + (b"\r\n" if ends else b"")
        at = splits[i] if i < len(splits) else 0
        if 31 < at < len(chunk):  # a chunk read in two pieces, the time in the first one
            chunks += [chunk[:at], chunk[at:]]
        else:
            chunks.append(chunk)
    decoder = LogDecoder(make_meta(), tty=True)
    out: list[Record] = []
    i = 0
    for size in [*groups, len(chunks)]:
        out += decoder.feed(chunks[i : i + size])
        i += size
    out += decoder.flush()
    assert as_tuples(out) == tty_model(items)


# -- TTY through the stream protocol: HTTP chunks cut by the socket's reads anywhere ------------

# bodies that may begin with a time of their own, as many applications write
tty_bodies = st.tuples(
    st.sampled_from([b"", TIMES[2].encode() + b" ", b"2026-11-27T"]),
    st.binary(max_size=120).map(lambda b: b.replace(b"\n", b"")),
).map(b"".join)
tty_stream_entries = st.lists(
    st.tuples(st.integers(0, len(TIMES) - 1), tty_bodies, st.booleans()), max_size=20
).map(lambda es: sorted(es, key=lambda e: e[0]))


async def read_http(response: bytes, points: list[int]) -> list[Record]:
    decoder = LogDecoder(make_meta(), tty=True)
    out: list[Record] = []
    stream = log_stream(b"", decoder, out.extend, paced=False)
    for a, b in itertools.pairwise(points):
        stream.data_received(response[a:b])
    assert stream.done.done() and stream.done.exception() is None
    return out + decoder.flush()


@FUZZ
@given(tty_stream_entries, st.lists(st.integers(0, 10_000), max_size=12))
def test_tty_http_chunks_cut_by_reads_anywhere_give_what_the_model_says(
    items: list[tuple[int, bytes, bool]], cuts: list[int]
) -> None:
    chunks = [
        TIMES[t].encode() + b" " + body + (b"\r\n" if ends else b"") for t, body, ends in items
    ]
    response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    response += b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    points = sorted({0, len(response), *(c % (len(response) + 1) for c in cuts)})
    out = asyncio.run(read_http(response, points))
    assert as_tuples(out) == tty_model(items)


def http_response(chunks: list[bytes]) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    return head + b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


@FUZZ
@given(
    tty_stream_entries,
    st.integers(0, 10_000),
    st.lists(st.integers(0, 10_000), max_size=8),
)
def test_tty_a_stream_cut_off_anywhere_and_asked_again_since_its_position_loses_and_repeats_nothing(
    items: list[tuple[int, bytes, bool]], stop: int, cuts: list[int]
) -> None:
    entries = [
        (TIMES[t], TIMES[t].encode() + b" " + body + (b"\r\n" if ends else b""))
        for t, body, ends in items
    ]
    first = http_response([chunk for _, chunk in entries])
    stop %= len(first) + 1

    async def read_twice() -> list[Record]:
        decoder = LogDecoder(make_meta(), tty=True)
        out: list[Record] = []
        stream = log_stream(b"", decoder, out.extend, paced=False)
        points = sorted({0, stop, *(c % (stop + 1) for c in cuts)})
        for a, b in itertools.pairwise(points):
            stream.data_received(first[a:b])
        stream.reopen()  # the connection ends here; the source asks again from the position
        stream.done.exception()  # cut before the status line: an error the source would see
        decoder.resume()
        since = decoder.position[0] if decoder.position else ""
        again = http_response([chunk for ts, chunk in entries if ts >= since])  # as the engine
        stream = log_stream(b"", decoder, out.extend, paced=False)
        points = sorted({0, len(again), *(c % (len(again) + 1) for c in cuts)})
        for a, b in itertools.pairwise(points):
            stream.data_received(again[a:b])
        return out + decoder.flush()

    assert as_tuples(asyncio.run(read_twice())) == tty_model(items)
