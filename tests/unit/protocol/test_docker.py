"""The Docker log stream decoder, fed bytes as the engine sends them, no sockets."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logship.protocol.docker import LogDecoder
from logship.record import CONTINUED_MARKER as CONTINUED
from tests.helpers.records import make_meta

T1 = "2026-11-27T05:24:33.719017066Z"
T2 = "2026-11-27T05:24:33.719192737Z"
T3 = "2026-11-27T05:24:34.000000001Z"


def frame(stream: int, ts: str, body: bytes) -> bytes:
    payload = ts.encode() + b" " + body
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def lines(records: list) -> list[tuple[str, str, str, int]]:
    return [(r.message, r.stream, r.timestamp, r.seq) for r in records]


def test_frames_become_records_with_stream_and_docker_timestamp() -> None:
    d = LogDecoder(make_meta())
    data = frame(1, T1, b"hello\n") + frame(2, T2, b"err line\n")
    assert lines(d.feed([data])) == [
        ("hello", "stdout", T1, 0),
        ("err line", "stderr", T2, 0),
    ]
    assert d.position == (T2, 1)


@pytest.mark.parametrize("cut", range(1, 60))
def test_a_frame_split_across_reads_at_any_byte_decodes_the_same(cut: int) -> None:
    data = frame(1, T1, b"hello\n") + frame(2, T2, b"second line\n")
    d = LogDecoder(make_meta())
    out = d.feed([data[:cut]]) + d.feed([data[cut:]])
    assert lines(out) == [("hello", "stdout", T1, 0), ("second line", "stderr", T2, 0)]
    assert d.bytes_read == len(data)  # logship_bytes_read_total: the stream, headers and all


def test_docker_16k_partial_entries_merge_back_into_one_line() -> None:
    d = LogDecoder(make_meta())
    data = frame(1, T1, b"a" * 16384) + frame(1, T2, b"a" * 16384) + frame(1, T3, b"tail\n")
    (record,) = d.feed([data])
    assert record.message == "a" * 32768 + "tail"
    assert record.timestamp == T1
    assert d.position == (T3, 1)


def test_partial_lines_of_stdout_and_stderr_interleave_without_mixing() -> None:
    d = LogDecoder(make_meta())
    data = frame(1, T1, b"out-part-") + frame(2, T1, b"err whole\n") + frame(1, T2, b"out-end\n")
    assert lines(d.feed([data])) == [
        ("err whole", "stderr", T1, 1),
        ("out-part-out-end", "stdout", T1, 0),
    ]


def test_a_last_line_without_newline_is_kept_when_the_stream_is_over() -> None:
    d = LogDecoder(make_meta())
    assert d.feed([frame(1, T1, b"hello\n") + frame(1, T2, b"nonl")]) != []
    assert lines(d.flush()) == [("nonl", "stdout", T2, 0)]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    d = LogDecoder(make_meta())
    (record,) = d.feed([frame(1, T1, b"caf\xe9 \xff\n")])
    assert record.message == "caf\ufffd \ufffd"


def test_a_line_longer_than_the_limit_is_cut_with_a_marker_and_the_stream_goes_on() -> None:
    d = LogDecoder(make_meta(), max_line_bytes=20000)
    data = frame(1, T1, b"x" * 16384) + frame(1, T2, b"y" * 16384 + b"\n")
    data += frame(1, T3, b"next\n")
    first, second = d.feed([data])
    assert first.message.startswith("x" * 16384 + "y" * (20000 - 16384))
    assert first.message.endswith(" [truncated 12768 bytes]")
    assert second.message == "next"
    assert d.truncated == 1


def test_lines_sharing_a_timestamp_get_increasing_seq() -> None:
    d = LogDecoder(make_meta())
    out = d.feed([frame(1, T1, b"a\n") + frame(1, T1, b"b\n") + frame(2, T1, b"c\n")])
    assert [r.seq for r in out] == [0, 1, 2]
    assert d.position == (T1, 3)


def test_resume_from_position_skips_exactly_what_was_consumed() -> None:
    d = LogDecoder(make_meta())
    replay = frame(1, T1, b"a\n") + frame(1, T1, b"b\n")
    assert [r.message for r in d.feed([replay])] == ["a", "b"]
    # the engine ended early; ask again with since=T1: it replays both T1 lines, then more
    d.resume()
    again = replay + frame(1, T1, b"c\n") + frame(1, T2, b"d\n")
    assert lines(d.feed([again])) == [("c", "stdout", T1, 2), ("d", "stdout", T2, 0)]


def test_resume_drops_a_half_read_partial_line_and_rereads_it_whole() -> None:
    d = LogDecoder(make_meta())
    assert [r.message for r in d.feed([frame(1, T1, b"one\n") + frame(1, T2, b"par")])] == ["one"]
    assert d.position == (T1, 1)
    d.resume()
    again = frame(1, T1, b"one\n") + frame(1, T2, b"par") + frame(1, T3, b"tial\n")
    assert [r.message for r in d.feed([again])] == ["partial"]


def test_garbage_between_frames_is_skipped_counted_and_the_frames_after_it_kept() -> None:
    d = LogDecoder(make_meta())
    out = d.feed([frame(1, T1, b"good\n") + b"\x07garbage" + frame(1, T2, b"after\n")])
    assert [r.message for r in out] == ["good", "after"]
    assert (d.malformed_frames, d.skipped_bytes) == (1, len(b"\x07garbage"))
    assert d.position == (T2, 1)


def test_an_entry_without_a_timestamp_is_kept_with_the_last_known_time() -> None:
    d = LogDecoder(make_meta())
    payload = b"no timestamp here\n"
    raw = struct.pack(">BxxxL", 1, len(payload)) + payload
    out = d.feed([frame(1, T1, b"first\n") + raw])
    assert lines(out)[1] == ("no timestamp here", "stdout", T1, 1)
    assert d.bad_timestamps == 1


def test_tty_chunks_are_entries_and_crlf_is_stripped() -> None:
    d = LogDecoder(make_meta(), tty=True)
    chunks = [f"{T1} hello\r\n".encode(), f"{T2} world\r\n".encode()]
    assert lines(d.feed(chunks)) == [("hello", "stdout", T1, 0), ("world", "stdout", T2, 0)]


def test_tty_partial_entries_merge_and_a_chunk_cut_mid_entry_continues_it() -> None:
    d = LogDecoder(make_meta(), tty=True)
    chunks = [f"{T1} aaa".encode(), b"bbb", f"{T2} ccc\r\n".encode()]
    assert lines(d.feed(chunks)) == [("aaabbbccc", "stdout", T1, 0)]


def test_tty_last_line_without_newline_is_flushed() -> None:
    d = LogDecoder(make_meta(), tty=True)
    assert d.feed([f"{T1} prompt$ ".encode()]) == []
    assert [r.message for r in d.flush()] == ["prompt$ "]


def test_tty_a_line_starting_with_the_applications_own_time_keeps_dockers() -> None:
    d = LogDecoder(make_meta(), tty=True)
    (record,) = d.feed([f"{T2} {T3} GET /health 200\r\n".encode()])
    assert (record.message, record.timestamp) == (f"{T3} GET /health 200", T2)


def test_tty_a_chunk_holding_several_entries_gives_each_its_own_time() -> None:
    d = LogDecoder(make_meta(), tty=True)
    chunk = f"{T1} one\r\n{T2} two\r\n{T2} thr".encode()
    assert lines(d.feed([chunk, f"{T3} ee\r\n".encode()])) == [
        ("one", "stdout", T1, 0),
        ("two", "stdout", T2, 0),
        ("three", "stdout", T2, 1),
    ]


def test_tty_a_time_in_another_zone_is_converted_to_utc() -> None:
    d = LogDecoder(make_meta(), tty=True)
    local = "2026-11-27T06:24:33.719017066+01:00"  # the local driver, daemon not in UTC
    (record,) = d.feed([f"{local} hello\r\n".encode()])
    assert (record.message, record.timestamp, d.bad_timestamps) == ("hello", T1, 0)


def test_tty_an_error_from_the_engine_is_counted_logged_and_not_a_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    d = LogDecoder(make_meta(), tty=True)
    error = b"Error grabbing logs: log message is too large (2097152 > 1048576)\n"
    out = d.feed([f"{T1} before\r\n".encode(), error, f"{T2} after\r\n".encode()])
    assert [r.message for r in out] == ["before", "after"]
    assert d.engine_errors == 1
    assert "log message is too large" in caplog.text


@given(st.binary(max_size=2000), st.integers(min_value=1, max_value=64))
def test_arbitrary_bytes_never_raise(data: bytes, step: int) -> None:
    for tty in (False, True):
        d = LogDecoder(make_meta(), tty=tty)
        for i in range(0, len(data), step):
            d.feed([data[i : i + step]])
        d.flush()


@given(
    st.lists(
        st.tuples(
            st.sampled_from([1, 2]), st.binary(max_size=300).filter(lambda b: b"\n" not in b)
        ),
        max_size=30,
    ),
    st.integers(min_value=1, max_value=97),
)
def test_any_lines_cut_anywhere_come_out_whole_and_in_order(
    entries: list[tuple[int, bytes]], step: int
) -> None:
    data = b"".join(frame(s, T1, body + b"\n") for s, body in entries)
    d = LogDecoder(make_meta())
    out = []
    for i in range(0, len(data), step):
        out += d.feed([data[i : i + step]])
    assert [(r.stream, r.message) for r in out] == [
        ("stdout" if s == 1 else "stderr", body.decode("utf-8", "replace")) for s, body in entries
    ]
    assert [r.seq for r in out] == list(range(len(entries)))


# -- bad input: handled, counted, logged once, and the stream goes on --------------------------


def test_nul_bytes_ansi_escapes_and_carriage_returns_are_kept_as_the_container_wrote_them() -> None:
    body = b"a\x00b \x1b[31mred\x1b[0m progress\r50%\r100%\r"
    d = LogDecoder(make_meta())
    (record,) = d.feed([frame(1, T1, body + b"\n")])
    assert record.message == body.decode()


def test_a_line_of_more_than_a_mib_is_cut_with_a_marker_and_the_next_line_is_whole() -> None:
    piece = b"z" * 16384
    pieces = 70  # 1.09 MiB in Docker's 16 KiB entries
    data = b"".join(frame(1, T1, piece) for _ in range(pieces)) + frame(1, T1, b"end\n")
    data += frame(1, T2, b"next\n")
    d = LogDecoder(make_meta())  # the default limit, 1 MiB
    out = []
    for i in range(0, len(data), 65536):
        out += d.feed([data[i : i + 65536]])
    first, second = out
    total = pieces * 16384 + 3
    assert first.message == "z" * (1024 * 1024) + f" [truncated {total - 1024 * 1024} bytes]"
    assert second.message == "next"
    assert d.truncated == 1


@pytest.mark.parametrize("tty", [False, True])
def test_a_limit_below_one_entry_still_cuts_a_line_that_fits_in_one_entry(tty: bool) -> None:
    d = LogDecoder(make_meta(), tty=tty, max_line_bytes=1024)
    body = "é" * 1500  # 3000 bytes, cut in the middle of a character
    if tty:
        out = d.feed([f"{T1} {body}\r\n".encode(), f"{T2} short\r\n".encode()])
    else:
        out = d.feed([frame(1, T1, body.encode() + b"\n") + frame(1, T2, b"short\n")])
    assert [r.message for r in out] == ["é" * 512 + " [truncated 1976 bytes]", "short"]
    assert d.truncated == 1


def docker_entries(output: bytes) -> list[bytes]:
    """What the engine makes of a container's output: one entry per line (newline kept),
    lines longer than 16 KiB in 16 KiB pieces without newline."""
    entries = []
    for line in output.splitlines(keepends=True):
        entries += [line[i : i + 16384] for i in range(0, len(line), 16384)]
    return entries


def test_a_binary_flood_becomes_lines_and_the_text_after_it_arrives_intact() -> None:
    import random

    noise = random.Random(7).randbytes(200_000) + b"\n"
    data = b"".join(frame(1, T1, e) for e in docker_entries(noise))
    data += frame(1, T2, b"after the flood\n")
    d = LogDecoder(make_meta())
    out = []
    for i in range(0, len(data), 4096):
        out += d.feed([data[i : i + 4096]])
    assert out[-1].message == "after the flood"
    assert out[-1].timestamp == T2
    assert [r.message for r in out[:-1]] == [
        line.decode("utf-8", "replace") for line in noise.split(b"\n")[:-1]
    ]
    assert (d.malformed_frames, d.skipped_bytes) == (0, 0)


def test_garbage_spread_over_many_reads_is_one_malformed_stretch_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    garbage = b"\xff" * 5000
    data = frame(1, T1, b"before\n") + garbage + frame(2, T2, b"after\n") + b"\x09" * 30
    data += frame(1, T3, b"again\n")
    d = LogDecoder(make_meta())
    out = []
    for i in range(0, len(data), 7):
        out += d.feed([data[i : i + 7]])
    assert [r.message for r in out] == ["before", "after", "again"]
    assert (d.malformed_frames, d.skipped_bytes) == (2, 5030)
    warnings = [r for r in caplog.records if "not a Docker log frame" in r.getMessage()]
    assert len(warnings) == 1
    assert "web-2" in warnings[0].getMessage()


def test_a_header_announcing_a_huge_frame_is_not_waited_for() -> None:
    bogus = struct.pack(">BxxxL", 1, 0xFFFFFFF0)
    d = LogDecoder(make_meta())
    out = d.feed([frame(1, T1, b"one\n") + bogus + frame(1, T2, b"two\n")])
    assert [r.message for r in out] == ["one", "two"]
    assert d.malformed_frames == 1


def test_an_error_frame_from_the_engine_is_counted_logged_and_not_a_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    error = b"Error grabbing logs: invalid character '\\x00' looking for beginning of value\n"
    err_frame = struct.pack(">BxxxL", 3, len(error)) + error
    d = LogDecoder(make_meta())
    out = d.feed([frame(1, T1, b"one\n") + err_frame + frame(2, T2, b"two\n")])
    assert [r.message for r in out] == ["one", "two"]
    assert d.engine_errors == 1
    assert "Error grabbing logs" in caplog.text


def test_a_frame_cut_off_by_the_end_of_the_stream_is_counted_when_it_is_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    d = LogDecoder(make_meta())
    cut = frame(1, T2, b"never finished\n")[:20]
    assert [r.message for r in d.feed([frame(1, T1, b"one\n") + cut])] == ["one"]
    assert d.flush() == []
    assert d.truncated_frames == 1
    assert "ended inside a frame" in caplog.text
    # a header cut at the end is no different
    d = LogDecoder(make_meta())
    d.feed([frame(1, T1, b"one\n") + cut[:5]])
    d.flush()
    assert d.truncated_frames == 1


def test_an_open_line_split_for_memory_comes_in_parts_each_its_own_record() -> None:
    d = LogDecoder(make_meta())
    assert d.feed([frame(1, T1, b"a" * 16384), frame(1, T2, b"b" * 16384)]) == []
    assert d.held_bytes == 2 * 16384
    (part,) = d.split_held()
    assert (part.message, part.timestamp, part.seq) == (
        "a" * 16384 + "b" * 16384 + CONTINUED,
        T1,
        0,
    )
    assert d.held_bytes == 0
    (rest,) = d.feed([frame(1, T3, b"c" * 10 + b"\n")])
    # the rest is a record of its own, with its piece's time: no two records share an id
    assert (rest.message, rest.timestamp, rest.seq) == ("c" * 10, T3, 0)
    assert d.position == (T3, 1)


def test_splitting_with_nothing_open_ships_nothing() -> None:
    d = LogDecoder(make_meta())
    d.feed([frame(1, T1, b"done\n")])
    assert (d.held_bytes, d.split_held()) == (0, [])
