"""The json-file decoder, fed Docker's ``<id>-json.log`` byte for byte as the json-file driver
writes it, no files: lines, 16 KiB pieces joined, TTY line ends, bad input, positions."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logship.protocol.filelog import LogFile
from logship.protocol.jsonfile import JsonFileDecoder
from logship.record import CONTINUED_MARKER, Record, truncation_marker
from tests.helpers.kubelet import (
    Clock,
    JsonFileWriter,
    go_json_string,
    json_entry,
    json_pieces,
)
from tests.helpers.records import make_meta

A = LogFile("/var/lib/docker/containers/5f9a/5f9a-json.log", 2049, 77, "7b226c6f67", 0)
B = LogFile("/var/lib/docker/containers/5f9a/5f9a-json.log", 2049, 78, "7b226c6f67", 1)
NS = 1_796_472_000_123_456_700  # 2026-12-05T12:00:00.1234567Z
T = "2026-12-05T12:00:00.123456700Z"

Row = tuple[str, str, str, int, int]


def decoder(*, tty: bool = False, limit: int = 1 << 20) -> JsonFileDecoder:
    d = JsonFileDecoder(make_meta(tty=tty), max_line_bytes=limit)
    d.next_file(A)
    return d


def rows(records: list[Record]) -> list[Row]:
    return [(r.message, r.stream, r.timestamp, r.seq, r.end[1]) for r in records]  # type: ignore[attr-defined]


def entry(
    log: bytes, tail: bytes = b'"stream":"stdout","time":"2026-12-05T12:00:00.1234567Z"'
) -> bytes:
    return b'{"log":' + log + b"," + tail + b"}\n"


GOLDEN: list[tuple[bytes, str, str, str]] = [
    # (the line as json-file writes it, message, stream, canonical time)
    (entry(b'"hello\\n"'), "hello", "stdout", T),
    (
        entry(b'"oops\\n"', b'"stream":"stderr","time":"2026-12-05T12:00:00Z"'),
        "oops",
        "stderr",
        "2026-12-05T12:00:00.000000000Z",
    ),
    (entry(b'"\\n"'), "", "stdout", T),
    # Go's escapes: <, >, &, control characters, U+2028; invalid UTF-8 was already \ufffd
    (
        entry(b'"\\u003ca\\u0026b\\u003e\\u0009\\u001b[1m\\u2028\\ufffd\\"q\\" \\\\\\n"'),
        '<a&b>\t\x1b[1m\u2028\ufffd"q" \\',
        "stdout",
        T,
    ),
    (entry(b'"caf\xc3\xa9\\n"'), "caf\u00e9", "stdout", T),
    # --log-opt labels=...: attrs, which the container's metadata already has
    (
        entry(
            b'"with attrs\\n"',
            b'"stream":"stdout","attrs":{"app":"web"},"time":"2026-12-05T12:00:00.1234567Z"',
        ),
        "with attrs",
        "stdout",
        T,
    ),
    # a CR before the newline of a container without a TTY is its own: it stays
    (entry(b'"dos\\r\\n"'), "dos\r", "stdout", T),
    # the keys in another order (an older Docker, another writer) read the same
    (
        b'{"time":"2026-12-05T12:00:00.1234567Z","stream":"stdout","log":"reordered\\n"}\n',
        "reordered",
        "stdout",
        T,
    ),
]


@pytest.mark.parametrize(("line", "message", "stream", "ts"), GOLDEN)
def test_each_entry_json_file_writes_is_one_record_with_its_canonical_time(
    line: bytes, message: str, stream: str, ts: str
) -> None:
    d = decoder()
    assert rows(d.feed(line)) == [(message, stream, ts, 0, len(line))]
    assert (d.malformed_lines, d.bad_timestamps, d.truncated) == (0, 0, 0)
    assert d.bytes_read == len(line)  # logship_bytes_read_total: the file as written


def test_the_helper_writes_what_moby_writes() -> None:
    assert json_entry(b"hello", "stdout", NS) == (
        b'{"log":"hello\\n","stream":"stdout","time":"2026-12-05T12:00:00.1234567Z"}\n'
    )
    assert json_entry(b"x", "stderr", NS, last=False, attrs={"b": "<", "a": "1"}) == (
        b'{"log":"x","stream":"stderr","attrs":{"a":"1","b":"\\u003c"},'
        b'"time":"2026-12-05T12:00:00.1234567Z"}\n'
    )
    assert go_json_string(b"\xff\t\xe2\x80\xa9") == b'"\\ufffd\\u0009\\u2029"'


def test_a_tty_containers_cr_lf_loses_its_cr_as_through_the_engine_api() -> None:
    d = decoder(tty=True)
    data = (
        b'{"log":"prompt$ ls\\r\\n","stream":"stdout","time":"2026-12-05T12:00:00.1Z"}\n'
        b'{"log":"only lf\\n","stream":"stdout","time":"2026-12-05T12:00:00.2Z"}\n'
    )
    assert [r.message for r in d.feed(data)] == ["prompt$ ls", "only lf"]


def test_pieces_of_16_kib_join_into_one_line_with_the_time_of_the_first() -> None:
    clock = Clock()
    text = b"a" * 16384 + b"b" * 16384 + b"end"
    data = b"".join(json_entry(p, "stdout", clock(), last=last) for p, last in json_pieces(text))
    (record,) = decoder().feed(data)
    assert record.message == text.decode()
    assert record.timestamp == "2026-12-05T12:00:00.000000000Z"
    assert record.end == (0, len(data), A)  # type: ignore[attr-defined]


def test_a_line_of_exactly_16_kib_is_a_piece_and_an_empty_last_one() -> None:
    pieces = list(json_pieces(b"q" * 16384))
    assert pieces == [(b"q" * 16384, False), (b"", True)]
    data = b"".join(json_entry(p, "stdout", NS, last=last) for p, last in pieces)
    (record,) = decoder().feed(data)
    assert record.message == "q" * 16384


def test_a_tty_line_whose_cr_ends_a_piece_loses_the_cr_all_the_same() -> None:
    """The terminal's CR LF split by the 16 KiB cut: the CR ends one piece, the LF is the
    next (an entry whose text is just ``\\n``)."""
    data = json_entry(b"t" * 16383 + b"\r", "stdout", NS, last=False) + json_entry(
        b"", "stdout", NS, last=True
    )
    (record,) = decoder(tty=True).feed(data)
    assert record.message == "t" * 16383


def test_pieces_of_both_streams_interleaved_join_per_stream_and_resume_before_the_open_one() -> (
    None
):
    lines = [
        json_entry(b"out-1-", "stdout", NS, last=False),
        json_entry(b"err whole", "stderr", NS),
        json_entry(b"out-2", "stdout", NS),
    ]
    assert rows(decoder().feed(b"".join(lines))) == [
        ("err whole", "stderr", T, 1, 0),
        ("out-1-out-2", "stdout", T, 0, sum(map(len, lines))),
    ]


def test_a_line_split_by_a_rotation_is_joined_across_the_two_files() -> None:
    d = decoder()
    assert d.feed(json_entry(b"begun-", "stdout", NS, last=False)) == []
    assert d.next_file(B) == []
    second = json_entry(b"ended", "stdout", NS + 1)
    (record,) = d.feed(second)
    assert (record.message, record.timestamp) == ("begun-ended", T)
    assert record.end == (1, len(second), B)  # type: ignore[attr-defined]


def test_a_line_longer_than_the_limit_is_cut_with_a_marker() -> None:
    d = decoder(limit=10)
    line = json_entry(b"x" * 30, "stdout", NS)
    out = d.feed(line + json_entry(b"short", "stdout", NS))
    assert [r.message for r in out] == ["x" * 10 + truncation_marker(20), "short"]
    assert out[0].end[1] == len(line)  # type: ignore[attr-defined]
    assert d.truncated == 1


def test_the_limit_counts_bytes_not_characters() -> None:
    d = decoder(limit=8)
    (record,) = d.feed(json_entry("ü".encode() * 6, "stdout", NS))
    assert record.message == "ü" * 4 + truncation_marker(4)


@pytest.mark.parametrize(
    "line",
    [
        b"not json at all",
        b"",
        b"[1, 2]",
        b"null",
        b'"a string"',
        b'{"log":"cut off in the mid',
        b'{"stream":"stdout","time":"2026-12-05T12:00:00Z"}',
        b'{"log":5,"stream":"stdout","time":"2026-12-05T12:00:00Z"}',
        b'{"log":"x\\n","stream":"stdin","time":"2026-12-05T12:00:00Z"}',
        b'{"log":"x\\n","stream":["stdout"],"time":"2026-12-05T12:00:00Z"}',
        b'{"log":"x\\n","time":"2026-12-05T12:00:00Z"}',
        b"2026-12-05T12:00:00.1Z stdout F a CRI line",
    ],
)
def test_a_line_that_is_not_an_entry_is_shipped_as_it_is_and_counted(line: bytes) -> None:
    d = decoder()
    good = json_entry(b"good", "stdout", NS)
    out = d.feed(good + line + b"\n" + good)
    assert [r.message for r in out] == ["good", line.decode("utf-8", "replace"), "good"]
    assert out[1].timestamp == T  # the last time known
    assert d.malformed_lines == 1


@pytest.mark.parametrize("time", ['"yesterday"', '"2026-13-01T00:00:00Z"', "12345", "null", '""'])
def test_a_time_that_does_not_read_is_counted_and_the_last_good_time_used(time: str) -> None:
    d = decoder()
    bad = b'{"log":"odd\\n","stream":"stderr","time":' + time.encode() + b"}\n"
    out = d.feed(json_entry(b"good", "stdout", NS) + bad)
    assert [(r.message, r.stream, r.timestamp) for r in out] == [
        ("good", "stdout", T),
        ("odd", "stderr", T),
    ]
    assert (d.bad_timestamps, d.malformed_lines) == (1, 0)


def test_a_bad_time_on_a_tty_line_still_loses_the_cr() -> None:
    d = decoder(tty=True)
    (record,) = d.feed(b'{"log":"x\\r\\n","stream":"stdout","time":"never"}\n')
    assert record.message == "x"


def test_the_last_line_without_newline_is_read_when_the_file_is_final_or_flushed() -> None:
    line = json_entry(b"last", "stdout", NS).rstrip(b"\n")
    d = decoder()
    assert d.feed(line) == []
    (record,) = d.feed(b"", final=True)
    assert record.message == "last"
    d = decoder()
    d.feed(line)
    assert [r.message for r in d.flush()] == ["last"]


def test_a_last_piece_never_ended_is_shipped_at_flush() -> None:
    """A container whose output ended with no newline: json-file wrote a piece and nothing
    after it."""
    d = decoder()
    data = json_entry(b"line", "stdout", NS) + json_entry(b"prompt> ", "stdout", NS, last=False)
    assert [r.message for r in d.feed(data)] == ["line"]
    (record,) = d.flush()
    assert record.message == "prompt> "
    assert record.end == (0, len(data), A)  # type: ignore[attr-defined]


def test_a_file_the_writer_rotated_reads_back_line_for_line(tmp_path: Path) -> None:
    writer = JsonFileWriter(tmp_path / "c-json.log", max_size=300, max_file=3, tty=True)
    for i in range(20):
        writer.write(f"line {i}")
    writer.close()
    files = [tmp_path / "c-json.log.2", tmp_path / "c-json.log.1", tmp_path / "c-json.log"]
    d = JsonFileDecoder(make_meta(tty=True))
    out: list[Record] = []
    for n, path in enumerate(files):
        out += d.next_file(LogFile(str(path), 0, n, "", n))
        out += d.feed(path.read_bytes())
    messages = [r.message for r in out]
    assert messages == [f"line {i}" for i in range(20 - len(messages), 20)]
    assert writer.rotations >= 4


# -- any cut of the same bytes -------------------------------------------------------------------

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TIMES = [NS, NS + 100, NS + 1_000_000_000]
Entry = tuple[str, int, str, bool]
entries = st.lists(
    st.tuples(
        st.sampled_from(["stdout", "stderr"]),
        st.integers(0, len(TIMES) - 1),
        st.text(max_size=30).map(lambda t: t.replace("\n", "")),
        st.booleans(),  # ends its line (else a piece)
    ).filter(lambda e: e[3] or e[2] != ""),  # moby's copier makes no empty piece
    max_size=25,
)


def file_of(items: list[Entry], tty: bool) -> bytes:
    return b"".join(
        json_entry(
            (text + ("\r" if tty and ends else "")).encode(),
            stream,
            TIMES[t],
            last=ends,
        )
        for stream, t, text, ends in items
    )


def decode_cut(data: bytes, cuts: list[int], tty: bool) -> list[Record]:
    d = decoder(tty=tty)
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    out: list[Record] = []
    for a, b in itertools.pairwise(points):
        out += d.feed(data[a:b])
    return out + d.flush()


@FUZZ
@given(entries, st.lists(st.integers(0, 5000), max_size=12), st.booleans())
def test_any_cut_of_the_bytes_into_reads_gives_the_same_records(
    items: list[Entry], cuts: list[int], tty: bool
) -> None:
    data = file_of(items, tty)
    whole = decode_cut(data, [], tty)
    assert rows(decode_cut(data, cuts, tty)) == rows(whole)
    # and the lines are the pieces joined per stream until one ends its line
    joined: dict[str, str] = {}
    expected = []
    for stream, _, text, ends in items:
        joined[stream] = joined.get(stream, "") + text
        if ends:
            expected.append((stream, joined.pop(stream)))
    expected += sorted(joined.items())
    assert [(r.stream, r.message) for r in whole] == expected


def test_an_open_line_split_for_memory_ends_where_its_last_piece_did_and_goes_on() -> None:
    clock = Clock()
    first = b"".join(json_entry(p, "stdout", clock(), last=False) for p in (b"a" * 16384,) * 2)
    d = decoder()
    assert d.feed(first) == []
    (part,) = d.split_held()
    assert part.message == "a" * 32768 + CONTINUED_MARKER
    assert part.end == (0, len(first), A)  # type: ignore[attr-defined]  # resumes after it
    rest = json_entry(b"tail", "stdout", clock(), last=True)
    (record,) = d.feed(rest)
    assert record.message == "tail"
    assert (record.timestamp, record.seq) != (part.timestamp, part.seq)


def test_what_an_open_line_holds_counts_memory_four_bytes_a_character_with_an_emoji() -> None:
    clock = Clock()
    text = "\U0001f600" + "x" * 4000
    d = decoder()
    d.feed(json_entry(text.encode(), "stdout", clock(), last=False))
    assert d.held_bytes >= 4 * len(text)


def test_a_tty_line_that_never_ended_keeps_its_last_cr_when_flushed() -> None:
    # found by the cut test above: pieces "0" and "\r" with no end are the line "0\r", as the
    # Engine API's stream gives it, not a CR LF line
    clock = Clock()
    d = decoder(tty=True)
    d.feed(json_entry(b"0", "stdout", clock(), last=False))
    d.feed(json_entry(b"\r", "stdout", clock(), last=False))
    assert [r.message for r in d.flush()] == ["0\r"]
