"""The CRI log decoder, fed pod log files byte for byte as containerd and CRI-O write them, no
files: lines, joined pieces, cut lines, bad input, and where reading resumes after each record."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logship.protocol.cri import CriDecoder
from logship.protocol.filelog import EPOCH, LogFile
from logship.record import Record, truncation_marker
from tests.helpers.kubelet import Clock, cri_entries
from tests.helpers.records import make_meta

A = LogFile("/var/log/pods/shop_web-7d9f_0b1c-22/nginx/0.log", 2049, 131, "32303236", 0)
B = LogFile("/var/log/pods/shop_web-7d9f_0b1c-22/nginx/0.log", 2049, 132, "32303236", 1)
T = "2026-12-05T12:00:00.123456789Z"

Row = tuple[str, str, str, int, int]  # message, stream, timestamp, seq, end offset


def decoder(limit: int = 1 << 20) -> CriDecoder:
    d = CriDecoder(make_meta(), max_line_bytes=limit)
    d.next_file(A)
    return d


def rows(records: list[Record]) -> list[Row]:
    return [(r.message, r.stream, r.timestamp, r.seq, r.end[1]) for r in records]  # type: ignore[attr-defined]


def at(*lines: bytes) -> list[int]:
    """The offset after each line."""
    return list(itertools.accumulate(len(line) for line in lines))


# -- one line at a time: the golden table ---------------------------------------------------------

GOLDEN: list[tuple[bytes, str, str, str]] = [
    # (the line as the runtime writes it, message, stream, canonical time)
    (b"2026-12-05T12:00:00.123456789Z stdout F hello\n", "hello", "stdout", T),
    (
        b"2026-12-05T12:00:00.5Z stderr F trimmed\n",
        "trimmed",
        "stderr",
        "2026-12-05T12:00:00.500000000Z",
    ),
    (
        b"2026-12-05T12:00:00Z stdout F no fraction\n",
        "no fraction",
        "stdout",
        "2026-12-05T12:00:00.000000000Z",
    ),
    (b"2026-12-05T12:00:00.00125Z stdout F x\n", "x", "stdout", "2026-12-05T12:00:00.001250000Z"),
    # CRI-O: local time, nine digits, an offset
    (
        b"2026-12-05T13:00:00.000000001+01:00 stdout F crio\n",
        "crio",
        "stdout",
        "2026-12-05T12:00:00.000000001Z",
    ),
    (
        b"2026-12-05T07:30:00.100000000-04:30 stderr F west\n",
        "west",
        "stderr",
        "2026-12-05T12:00:00.100000000Z",
    ),
    (
        b"2026-12-05T12:00:00.000000000+00:00 stdout F utc\n",
        "utc",
        "stdout",
        "2026-12-05T12:00:00.000000000Z",
    ),
    # an empty line keeps the space after its tag; some writers drop it
    (b"2026-12-05T12:00:00.123456789Z stdout F \n", "", "stdout", T),
    (b"2026-12-05T12:00:00.123456789Z stdout F\n", "", "stdout", T),
    # the text is everything after the third space, spaces included
    (b"2026-12-05T12:00:00.123456789Z stdout F  two  spaces \n", " two  spaces ", "stdout", T),
    # tags after the first, separated by ':', say nothing here
    (b"2026-12-05T12:00:00.123456789Z stdout F:x tagged\n", "tagged", "stdout", T),
    (b"2026-12-05T12:00:00.123456789Z stdout F:x:y more tags\n", "more tags", "stdout", T),
    # bytes that are not UTF-8 are replaced; a CR inside the text stays
    (b"2026-12-05T12:00:00.123456789Z stdout F caf\xe9 \xff\n", "caf\ufffd \ufffd", "stdout", T),
    (b"2026-12-05T12:00:00.123456789Z stdout F caf\xc3\xa9\n", "caf\u00e9", "stdout", T),
    (b"2026-12-05T12:00:00.123456789Z stdout F a\rb\n", "a\rb", "stdout", T),
    (
        b'2026-12-05T12:00:00.123456789Z stdout F {"level":"info"}\n',
        '{"level":"info"}',
        "stdout",
        T,
    ),
]


@pytest.mark.parametrize(("line", "message", "stream", "ts"), GOLDEN)
def test_each_line_the_runtime_writes_is_one_record_with_its_canonical_time(
    line: bytes, message: str, stream: str, ts: str
) -> None:
    d = decoder()
    assert rows(d.feed(line)) == [(message, stream, ts, 0, len(line))]
    assert d.position == (0, len(line), A)
    assert (d.malformed_lines, d.bad_timestamps, d.truncated) == (0, 0, 0)


def test_lines_of_one_time_are_told_apart_by_seq_and_a_new_time_starts_again_at_zero() -> None:
    lines = [
        b"2026-12-05T12:00:00.1Z stdout F one\n",
        b"2026-12-05T12:00:00.1Z stderr F two\n",
        b"2026-12-05T12:00:00.1Z stdout F three\n",
        b"2026-12-05T12:00:00.2Z stdout F four\n",
    ]
    t1, t2 = "2026-12-05T12:00:00.100000000Z", "2026-12-05T12:00:00.200000000Z"
    ends = at(*lines)
    assert rows(decoder().feed(b"".join(lines))) == [
        ("one", "stdout", t1, 0, ends[0]),
        ("two", "stderr", t1, 1, ends[1]),
        ("three", "stdout", t1, 2, ends[2]),
        ("four", "stdout", t2, 0, ends[3]),
    ]


def test_what_the_helper_writes_for_containerd_reads_back_as_written() -> None:
    clock = Clock()
    entries = [
        *cri_entries(b"first", clock=clock),
        *cri_entries(b"", "stderr", clock=clock),
        *cri_entries(b"x" * 40000, clock=clock),
        *cri_entries(b"crio", clock=clock, offset_secs=3600),
    ]
    out = decoder().feed(b"".join(entries))
    assert [(r.message, r.stream) for r in out] == [
        ("first", "stdout"),
        ("", "stderr"),
        ("x" * 40000, "stdout"),
        ("crio", "stdout"),
    ]
    times = [r.timestamp for r in out]
    assert times == sorted(times) and len(set(times)) == 4


# -- pieces of long lines --------------------------------------------------------------------------


def test_p_pieces_of_16_kib_and_their_f_are_one_line_with_the_time_of_the_first_piece() -> None:
    entries = cri_entries(b"a" * 16384 + b"b" * 16384 + b"tail", clock=Clock())
    assert [e.split(b" ")[2] for e in entries] == [b"P", b"P", b"F"]
    assert all(len(e.split(b" ", 3)[3]) == 16384 + 1 for e in entries[:2])  # + the newline
    first_time = "2026-12-05T12:00:00.000000000Z"
    assert rows(decoder().feed(b"".join(entries))) == [
        ("a" * 16384 + "b" * 16384 + "tail", "stdout", first_time, 0, sum(map(len, entries)))
    ]


def test_a_line_of_exactly_16_kib_is_one_f_entry() -> None:
    (entry,) = cri_entries(b"z" * 16384, clock=Clock())
    assert entry.split(b" ")[2] == b"F"
    (record,) = decoder().feed(entry)
    assert record.message == "z" * 16384


def test_a_character_the_16_kib_cut_splits_between_two_pieces_is_read_whole() -> None:
    text = "a" * 16383 + "€ and after"  # the euro sign's three bytes: one in P, two in F
    entries = cri_entries(text.encode(), clock=Clock())
    assert entries[0].endswith(b"a\xe2\n") and b" F \x82\xac and after" in entries[1]
    (record,) = decoder().feed(b"".join(entries))
    assert record.message == text


def test_bytes_that_are_not_utf_8_in_a_piece_are_still_replaced_once_joined() -> None:
    data = b"2026-12-05T12:00:00.1Z stdout P bad \xff \xe2\n2026-12-05T12:00:00.1Z stdout F \xff\n"
    (record,) = decoder().feed(data)
    assert record.message == "bad \ufffd \ufffd\ufffd"


def test_pieces_of_stdout_and_stderr_interleaved_join_per_stream() -> None:
    lines = [
        b"2026-12-05T12:00:00.1Z stdout P out-1-\n",
        b"2026-12-05T12:00:00.2Z stderr P err-1-\n",
        b"2026-12-05T12:00:00.3Z stdout F out-2\n",
        b"2026-12-05T12:00:00.4Z stderr F err-2\n",
    ]
    starts = [0, *at(*lines)]
    assert rows(decoder().feed(b"".join(lines))) == [
        # finished while the stderr line is open: resuming must start where that line starts
        ("out-1-out-2", "stdout", "2026-12-05T12:00:00.100000000Z", 0, starts[1]),
        ("err-1-err-2", "stderr", "2026-12-05T12:00:00.200000000Z", 0, starts[4]),
    ]


def test_a_whole_line_of_one_stream_inside_an_open_line_of_the_other_resumes_before_it() -> None:
    lines = [
        b"2026-12-05T12:00:00.1Z stdout F before\n",
        b"2026-12-05T12:00:00.2Z stdout P open-\n",
        b"2026-12-05T12:00:00.3Z stderr F whole\n",
        b"2026-12-05T12:00:00.4Z stdout F closed\n",
    ]
    ends = at(*lines)
    d = decoder()
    out = d.feed(b"".join(lines[:3]))
    assert rows(out) == [
        ("before", "stdout", "2026-12-05T12:00:00.100000000Z", 0, ends[0]),
        ("whole", "stderr", "2026-12-05T12:00:00.300000000Z", 0, ends[0]),  # where "open-" starts
    ]
    assert d.position == (0, ends[0], A)  # what is wholly read: up to the open line
    assert rows(d.feed(lines[3])) == [
        ("open-closed", "stdout", "2026-12-05T12:00:00.200000000Z", 0, ends[3])
    ]
    assert d.position == (0, ends[3], A)


def test_resuming_at_a_records_end_loses_nothing_and_repeats_only_lines_inside_an_open_one() -> (
    None
):
    lines = [
        b"2026-12-05T12:00:00.1Z stdout P open-\n",
        b"2026-12-05T12:00:00.2Z stderr F inside\n",
        b"2026-12-05T12:00:00.3Z stdout F closed\n",
        b"2026-12-05T12:00:00.4Z stderr F after\n",
    ]
    data = b"".join(lines)
    everything = decoder().feed(data)
    again = {}
    for record in everything:
        offset = record.end[1]  # type: ignore[attr-defined]
        again[record.message] = [
            r.message for r in CriDecoder(make_meta(), A, offset=offset).feed(data[offset:])
        ]
    assert again == {
        # "inside" ended while "open-" was open: resuming where "open-" starts reads it again
        "inside": ["inside", "open-closed", "after"],
        "open-closed": ["after"],
        "after": [],
    }


def test_a_line_split_by_a_rotation_is_joined_across_the_two_files() -> None:
    d = decoder()
    whole = b"2026-12-05T12:00:00.1Z stdout F whole\n"
    begun = b"2026-12-05T12:00:00.2Z stdout P begun-\n"
    assert rows(d.feed(whole + begun)) == [
        ("whole", "stdout", "2026-12-05T12:00:00.100000000Z", 0, len(whole))
    ]
    assert d.next_file(B) == []
    second = b"2026-12-05T12:00:00.3Z stdout F ended\n"
    (record,) = d.feed(second)
    assert (record.message, record.timestamp) == ("begun-ended", "2026-12-05T12:00:00.200000000Z")
    assert record.end == (1, len(second), B)  # type: ignore[attr-defined]
    assert d.position == (1, len(second), B)


def test_a_record_ended_in_the_next_file_while_a_line_of_the_old_is_open_resumes_in_the_old() -> (
    None
):
    d = decoder()
    first = b"2026-12-05T12:00:00.1Z stdout P begun-\n"
    d.feed(first)
    d.next_file(B)
    (record,) = d.feed(b"2026-12-05T12:00:00.2Z stderr F other\n")
    assert record.end == (0, 0, A)  # type: ignore[attr-defined]
    assert d.position == (0, 0, A)


def test_what_the_old_file_left_without_a_newline_is_a_line_of_its_own_at_a_rotation() -> None:
    d = decoder()
    assert d.feed(b"2026-12-05T12:00:00.1Z stdout F cut short") == []
    assert d.pending_bytes > 0
    (record,) = d.next_file(B)
    assert record.message == "cut short"
    assert d.position == (1, 0, B)


# -- lines longer than the limit -------------------------------------------------------------------


def test_a_line_longer_than_the_limit_is_cut_to_it_with_a_marker() -> None:
    d = decoder(limit=10)
    line = b"2026-12-05T12:00:00.1Z stdout F " + b"x" * 25 + b"\n"
    (record,) = d.feed(line + b"2026-12-05T12:00:00.2Z stdout F next\n")[:1]
    assert record.message == "x" * 10 + truncation_marker(15)
    assert record.end[1] == len(line)  # type: ignore[attr-defined]
    assert d.truncated == 1


def test_pieces_past_the_limit_are_counted_not_kept_and_the_line_still_ends_at_its_f() -> None:
    d = decoder(limit=10)
    data = b"".join(
        b"2026-12-05T12:00:00.1Z stdout " + tag + b" " + body + b"\n"
        for tag, body in ((b"P", b"a" * 8), (b"P", b"b" * 8), (b"F", b"c" * 4))
    )
    (record,) = d.feed(data + b"2026-12-05T12:00:00.2Z stdout F next\n")[:1]
    assert record.message == "a" * 8 + "bb" + truncation_marker(10)
    assert record.end[1] == len(data)  # type: ignore[attr-defined]


def test_the_limit_counts_bytes_not_characters() -> None:
    d = decoder(limit=8)
    line = "é" * 6  # 12 bytes of UTF-8
    (record,) = d.feed(b"2026-12-05T12:00:00.1Z stdout F " + line.encode() + b"\n")
    assert record.message == "é" * 4 + truncation_marker(4)
    assert d.truncated == 1


def test_a_cut_never_leaves_half_a_character() -> None:
    d = decoder(limit=7)
    (record,) = d.feed(
        b"2026-12-05T12:00:00.1Z stdout P "
        + "é".encode() * 2
        + b"\n"
        + b"2026-12-05T12:00:00.1Z stdout F "
        + "é".encode() * 4
        + b"\n"
    )
    assert record.message == "é" * 3 + truncation_marker(12 - 6)


# -- what is not the format ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        b"plain text from somewhere else",
        b"",
        b"2026-12-05T12:00:00.1Z",
        b"2026-12-05T12:00:00.1Z stdout",
        b"2026-12-05T12:00:00.1Z stdin F typed",
        b"2026-12-05T12:00:00.1Z STDOUT F shouting",
        b"2026-12-05T12:00:00.1Z stdout X unknown tag",
        b"2026-12-05T12:00:00.1Z stdout p lower case",
        b'{"log":"a json-file line\\n","stream":"stdout","time":"2026-12-05T12:00:00Z"}',
        b"\xff\xfe binary",
    ],
)
def test_a_line_that_is_not_the_format_is_shipped_as_it_is_and_counted(line: bytes) -> None:
    d = decoder()
    good = b"2026-12-05T12:00:00.1Z stdout F good\n"
    out = d.feed(good + line + b"\n" + good)
    assert [(r.message, r.stream) for r in out] == [
        ("good", "stdout"),
        (line.decode("utf-8", "replace"), "stdout"),
        ("good", "stdout"),
    ]
    assert out[1].timestamp == "2026-12-05T12:00:00.100000000Z"  # the last time known
    assert out[1].end[1] == len(good) + len(line) + 1  # type: ignore[attr-defined]
    assert d.malformed_lines == 1 and d.bad_timestamps == 0


def test_a_malformed_first_line_gets_the_epoch_as_its_time() -> None:
    d = decoder()
    (record,) = d.feed(b"nothing like it\n")
    assert record.timestamp == EPOCH


@pytest.mark.parametrize("stream", [b"stdout", b"stderr"])
def test_a_malformed_line_between_pieces_is_a_line_of_its_own_and_the_pieces_still_join(
    stream: bytes,
) -> None:
    d = decoder()
    lines = [
        b"2026-12-05T12:00:00.1Z " + stream + b" P begun-\n",
        b"garbage\n",
        b"2026-12-05T12:00:00.2Z " + stream + b" F ended\n",
    ]
    out = d.feed(b"".join(lines))
    assert [(r.message, r.stream) for r in out] == [
        ("garbage", "stdout"),
        ("begun-ended", stream.decode()),
    ]
    assert out[0].end == (0, 0, A)  # type: ignore[attr-defined]  # "begun-" is still open
    assert d.malformed_lines == 1


def test_a_malformed_last_line_at_the_end_of_a_file_is_a_line_of_its_own() -> None:
    d = decoder()
    d.feed(b"2026-12-05T12:00:00.1Z stdout P begun-\ngarbage without newline")
    out = d.flush()
    assert [r.message for r in out] == ["garbage without newline", "begun-"]


@pytest.mark.parametrize(
    "stamp", [b"2026-13-45T00:00:00Z", b"2026-12-05T25:00:00Z", b"2026-12-05", b"20261205T120000Z"]
)
def test_a_time_that_does_not_read_is_counted_and_the_last_good_time_used(stamp: bytes) -> None:
    d = decoder()
    out = d.feed(b"2026-12-05T12:00:00.1Z stdout F before\n" + stamp + b" stderr F odd time\n")
    assert [(r.message, r.stream, r.timestamp) for r in out] == [
        ("before", "stdout", "2026-12-05T12:00:00.100000000Z"),
        ("odd time", "stderr", "2026-12-05T12:00:00.100000000Z"),
    ]
    assert (d.bad_timestamps, d.malformed_lines) == (1, 0)


# -- the end of a file -----------------------------------------------------------------------------


def test_a_last_line_without_newline_waits_for_more_then_is_a_line_when_the_file_is_final() -> None:
    d = decoder()
    line = b"2026-12-05T12:00:00.1Z stdout F no newline yet"
    assert d.feed(line[:30]) == []
    assert d.feed(line[30:]) == []
    (record,) = d.feed(b"", final=True)
    assert record.message == "no newline yet"
    assert record.end == (0, len(line), A)  # type: ignore[attr-defined]


def test_flush_ships_a_last_line_without_newline() -> None:
    d = decoder()
    d.feed(b"2026-12-05T12:00:00.1Z stdout F hello\n2026-12-05T12:00:00.2Z stderr F bye")
    (record,) = d.flush()
    assert (record.message, record.stream) == ("bye", "stderr")


def test_output_the_container_ended_without_a_newline_is_a_p_entry_shipped_at_flush() -> None:
    clock = Clock()
    data = b"".join(
        [*cri_entries(b"line", clock=clock), *cri_entries(b"prompt> ", clock=clock, finished=False)]
    )
    d = decoder()
    assert [r.message for r in d.feed(data)] == ["line"]
    (record,) = d.flush()
    assert record.message == "prompt> "
    assert record.end == (0, len(data), A)  # type: ignore[attr-defined]


def test_flush_ships_the_open_lines_of_both_streams_in_stream_order() -> None:
    d = decoder()
    data = b"2026-12-05T12:00:00.1Z stderr P e\n2026-12-05T12:00:00.2Z stdout P o\n"
    assert d.feed(data) == []
    out = d.flush()
    assert [(r.message, r.stream) for r in out] == [("e", "stderr"), ("o", "stdout")]
    assert out[0].end == (0, 34, A)  # type: ignore[attr-defined]  # stdout's line is still open
    assert out[1].end == (0, len(data), A)  # type: ignore[attr-defined]


# -- any cut of the same bytes -------------------------------------------------------------------

TIMES = [b"2026-12-05T12:00:00.1Z", b"2026-12-05T12:00:00.2Z", b"2026-12-05T13:00:00.2+01:00"]
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# one entry: stream, time, text, P or F (or, now and then, a line that is not the format)
Entry = tuple[str, int, bytes, str]
entries = st.lists(
    st.tuples(
        st.sampled_from(["stdout", "stderr"]),
        st.integers(0, len(TIMES) - 1),
        st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")),
        st.sampled_from(["F", "F", "P", "F:x", "junk"]),
    ),
    max_size=30,
)


def file_of(items: list[Entry]) -> bytes:
    out = []
    for stream, t, text, tag in items:
        if tag == "junk":
            out.append(b"junk " + text + b"\n")
        else:
            out.append(
                TIMES[t] + b" " + stream.encode() + b" " + tag.encode() + b" " + text + b"\n"
            )
    return b"".join(out)


def model(items: list[Entry], limit: int) -> list[tuple[str, str, str, int, int]]:
    """Pieces of a stream joined until its F (junk: a line of its own, stdout, the last time),
    the time and seq of the first piece; each record ends after its last entry, or where the
    first line still open starts; at the end, open lines in stream order."""
    canon = {0: "2026-12-05T12:00:00.100000000Z", 1: "2026-12-05T12:00:00.200000000Z"}
    canon[2] = canon[1]
    out: list[tuple[str, str, str, int, int]] = []
    open_: dict[str, tuple[str, int, bytes, int]] = {}
    last_ts, count, offset = "", 0, 0
    for stream, t, text, tag in items:
        start = offset
        offset += len(file_of([(stream, t, text, tag)]))
        ts = canon[t] if tag != "junk" else (last_ts or EPOCH)
        count = count + 1 if ts == last_ts else 1
        last_ts = ts
        if tag == "junk":  # a line of its own; what is open stays open
            end = min((o[3] for o in open_.values()), default=offset)
            out.append((cut(b"junk " + text, limit), "stdout", ts, count - 1, end))
            continue
        first_ts, seq, data, begun = open_.pop(stream, (ts, count - 1, b"", start))
        data += text
        if tag == "P":
            open_[stream] = (first_ts, seq, data, begun)
            continue
        end = min((o[3] for o in open_.values()), default=offset)
        out.append((cut(data, limit), stream, first_ts, seq, end))
    for stream in sorted(open_):
        first_ts, seq, data, _ = open_.pop(stream)
        end = min((o[3] for o in open_.values()), default=offset)
        out.append((cut(data, limit), stream, first_ts, seq, end))
    return out


def cut(data: bytes, limit: int) -> str:
    if len(data) <= limit:
        return data.decode("utf-8", "replace")
    kept = data[:limit].decode("utf-8", "replace").removesuffix("\ufffd")
    return kept + truncation_marker(len(data) - len(kept.encode("utf-8", "replace")))


def decode_cut(data: bytes, cuts: list[int], limit: int) -> tuple[list[Record], CriDecoder]:
    d = decoder(limit)
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    out: list[Record] = []
    for a, b in itertools.pairwise(points):
        out += d.feed(data[a:b])
    return out + d.flush(), d


@FUZZ
@given(entries, st.lists(st.integers(0, 5000), max_size=12))
def test_any_cut_of_the_bytes_into_reads_gives_the_same_records(
    items: list[Entry], cuts: list[int]
) -> None:
    data = file_of(items)
    whole, _ = decode_cut(data, [], 1 << 20)
    pieces, d = decode_cut(data, cuts, 1 << 20)
    assert rows(pieces) == rows(whole)
    assert d.malformed_lines == sum(tag == "junk" for *_, tag in items)


@FUZZ
@given(entries, st.lists(st.integers(0, 5000), max_size=6))
def test_the_records_are_what_the_model_says(items: list[Entry], cuts: list[int]) -> None:
    data = file_of(items)
    records, _ = decode_cut(data, cuts, 1 << 20)
    assert rows(records) == model(items, 1 << 20)


@FUZZ
@given(
    entries.map(lambda es: [e for e in es if "\ufffd" not in e[2].decode("utf-8", "replace")]),
    st.integers(1, 60),
    st.lists(st.integers(0, 5000), max_size=6),
)
def test_lines_longer_than_the_limit_are_cut_to_it_with_a_marker(
    items: list[Entry], limit: int, cuts: list[int]
) -> None:
    records, d = decode_cut(file_of(items), cuts, limit)
    assert rows(records) == model(items, limit)
    assert d.truncated == sum("[truncated" in r.message for r in records)
