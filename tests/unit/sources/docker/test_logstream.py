"""The logs response as the engine sends it, HTTP chunked, fed to the stream's protocol in reads
cut anywhere, no sockets: what comes out must not depend on where the socket cut the bytes."""

from __future__ import annotations

import itertools
import struct

import pytest

from logship.protocol.docker import LogDecoder
from logship.record import Record
from logship.sources.docker.logstream import log_stream
from tests.helpers.records import make_meta

T1 = "2026-11-27T05:24:33.719017066Z"
T2 = "2026-11-27T05:24:33.719192737Z"
T3 = "2026-11-27T05:24:34.000000001Z"
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
HEAD += b"Transfer-Encoding: chunked\r\n\r\n"


def http_chunks(bodies: list[bytes]) -> bytes:
    """The response as Docker's HTTP server writes it: one chunk per write, then the end."""
    return HEAD + b"".join(b"%x\r\n%s\r\n" % (len(b), b) for b in bodies) + b"0\r\n\r\n"


def frame(stream: int, ts: str, body: bytes) -> bytes:
    payload = ts.encode() + b" " + body
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def read(response: bytes, cuts: list[int], *, tty: bool) -> tuple[list[Record], LogDecoder]:
    """Feed ``response`` to the logs protocol as reads cut at ``cuts``, as the socket would."""
    decoder = LogDecoder(make_meta(name="tty-1"), tty=tty)
    got: list[Record] = []
    stream = log_stream(b"", decoder, got.extend, paced=False)
    points = [0, *sorted(set(cuts)), len(response)]
    for a, b in itertools.pairwise(points):
        stream.data_received(response[a:b])
    assert stream.done.done() and stream.done.exception() is None
    return got + decoder.flush(), decoder


def lines(records: list[Record]) -> list[tuple[str, str, int]]:
    return [(r.message, r.timestamp, r.seq) for r in records]


# What a TTY container's log looks like: the terminal's CR LF, a line Docker cut at 16 KiB into
# two entries, a line that begins with the application's own timestamp, a prompt at the end.
TTY_ENTRIES = [
    f"{T1} hello\r\n".encode(),
    f"{T1} {'x' * 16384}".encode(),
    f"{T2} {'y' * 100}\r\n".encode(),
    f"{T2} {T3} app says: started\r\n".encode(),
    f"{T3} prompt$ ".encode(),
]
TTY_LINES = [
    ("hello", T1, 0),
    ("x" * 16384 + "y" * 100, T1, 1),
    (f"{T3} app says: started", T2, 1),
    ("prompt$ ", T3, 0),
]
TTY_RESPONSE = http_chunks(TTY_ENTRIES)


async def test_a_tty_response_read_whole_gives_one_line_per_terminal_line() -> None:
    records, decoder = read(TTY_RESPONSE, [], tty=True)
    assert lines(records) == TTY_LINES
    assert decoder.bad_timestamps == 0


def cut_points() -> list[int]:
    """Every byte of the short entries, and around the timestamps and ends of the 16 KiB one."""
    points: set[int] = set()
    at = len(HEAD)
    for body in TTY_ENTRIES:
        size_line = len(b"%x\r\n" % len(body))
        start, end = at + size_line, at + size_line + len(body)
        points.update(range(at, min(end, start + 80)))
        points.update(range(max(start, end - 40), end + 3))
        at = end + 2
    return sorted(points)


@pytest.mark.parametrize("cut", cut_points())
async def test_a_tty_response_cut_by_a_read_anywhere_gives_the_same_lines(cut: int) -> None:
    records, decoder = read(TTY_RESPONSE, [cut], tty=True)
    assert lines(records) == TTY_LINES
    assert decoder.bad_timestamps == 0


async def test_a_tty_response_read_a_few_bytes_at_a_time_gives_the_same_lines() -> None:
    for step in (5, 31, 4096):
        records, _ = read(TTY_RESPONSE, list(range(step, len(TTY_RESPONSE), step)), tty=True)
        assert lines(records) == TTY_LINES, step


async def test_a_multiplexed_response_cut_anywhere_gives_the_same_lines() -> None:
    response = http_chunks([frame(1, T1, b"out\n"), frame(2, T2, b"err\n"), frame(1, T3, b"x")])
    for cut in range(len(HEAD), len(response)):
        records, _ = read(response, [cut], tty=False)
        assert [(r.message, r.stream) for r in records] == [
            ("out", "stdout"),
            ("err", "stderr"),
            ("x", "stdout"),
        ]


async def test_a_tty_body_that_is_not_chunked_is_read_as_it_comes() -> None:
    body = b"".join(TTY_ENTRIES[:1] + TTY_ENTRIES[3:])
    response = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    records, _ = read(response, [len(response) - len(body) + len(TTY_ENTRIES[0])], tty=True)
    assert lines(records) == [TTY_LINES[0], (f"{T3} app says: started", T2, 0), TTY_LINES[3]]


async def test_a_chunk_larger_than_any_entry_is_not_held_whole_and_the_next_line_is_intact() -> (
    None
):
    huge = f"{T1} ".encode() + b"z" * (3 << 20) + b"\r\n"
    response = http_chunks([huge, f"{T2} after\r\n".encode()])
    decoder = LogDecoder(make_meta(name="tty-1"), tty=True)
    got: list[Record] = []
    stream = log_stream(b"", decoder, got.extend, paced=False)
    held = []
    for i in range(0, len(response), 65536):
        stream.data_received(response[i : i + 65536])
        held.append(sum(map(len, stream.parts)))  # what waits for the end of the chunk
    assert max(held) <= (1 << 20) + 65536
    first, second = got
    assert first.message == "z" * (1 << 20) + " [truncated 2097152 bytes]"
    assert (first.timestamp, second.message, second.timestamp) == (T1, "after", T2)
