"""The Docker log stream decoder, fed bytes as the engine sends them, no sockets."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logship.protocol.docker import LogDecoder
from logship.record import ContainerMeta, HostMeta

META = ContainerMeta(
    id="5f9a6638b642" + "0" * 52,
    name="web-2",
    image="logship-test/busybox:1.35",
    image_id="sha256:" + "d" * 64,
    host=HostMeta("vm", "10.0.0.1"),
)
T1 = "2026-11-27T05:24:33.719017066Z"
T2 = "2026-11-27T05:24:33.719192737Z"
T3 = "2026-11-27T05:24:34.000000001Z"


def frame(stream: int, ts: str, body: bytes) -> bytes:
    payload = ts.encode() + b" " + body
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def lines(records: list) -> list[tuple[str, str, str, int]]:
    return [(r.message, r.stream, r.timestamp, r.seq) for r in records]


def test_frames_become_records_with_stream_and_docker_timestamp() -> None:
    d = LogDecoder(META)
    data = frame(1, T1, b"hello\n") + frame(2, T2, b"err line\n")
    assert lines(d.feed([data])) == [
        ("hello", "stdout", T1, 0),
        ("err line", "stderr", T2, 0),
    ]
    assert d.position == (T2, 1)


@pytest.mark.parametrize("cut", range(1, 60))
def test_a_frame_split_across_reads_at_any_byte_decodes_the_same(cut: int) -> None:
    data = frame(1, T1, b"hello\n") + frame(2, T2, b"second line\n")
    d = LogDecoder(META)
    out = d.feed([data[:cut]]) + d.feed([data[cut:]])
    assert lines(out) == [("hello", "stdout", T1, 0), ("second line", "stderr", T2, 0)]


def test_docker_16k_partial_entries_merge_back_into_one_line() -> None:
    d = LogDecoder(META)
    data = frame(1, T1, b"a" * 16384) + frame(1, T2, b"a" * 16384) + frame(1, T3, b"tail\n")
    (record,) = d.feed([data])
    assert record.message == "a" * 32768 + "tail"
    assert record.timestamp == T1
    assert d.position == (T3, 1)


def test_partial_lines_of_stdout_and_stderr_interleave_without_mixing() -> None:
    d = LogDecoder(META)
    data = frame(1, T1, b"out-part-") + frame(2, T1, b"err whole\n") + frame(1, T2, b"out-end\n")
    assert lines(d.feed([data])) == [
        ("err whole", "stderr", T1, 1),
        ("out-part-out-end", "stdout", T1, 0),
    ]


def test_a_last_line_without_newline_is_kept_when_the_stream_is_over() -> None:
    d = LogDecoder(META)
    assert d.feed([frame(1, T1, b"hello\n") + frame(1, T2, b"nonl")]) != []
    assert lines(d.flush()) == [("nonl", "stdout", T2, 0)]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    d = LogDecoder(META)
    (record,) = d.feed([frame(1, T1, b"caf\xe9 \xff\n")])
    assert record.message == "caf\ufffd \ufffd"


def test_a_line_longer_than_the_limit_is_cut_with_a_marker_and_the_stream_goes_on() -> None:
    d = LogDecoder(META, max_line_bytes=20000)
    data = frame(1, T1, b"x" * 16384) + frame(1, T2, b"y" * 16384 + b"\n")
    data += frame(1, T3, b"next\n")
    first, second = d.feed([data])
    assert first.message.startswith("x" * 16384 + "y" * (20000 - 16384))
    assert first.message.endswith(" [truncated 12768 bytes]")
    assert second.message == "next"
    assert d.truncated == 1


def test_lines_sharing_a_timestamp_get_increasing_seq() -> None:
    d = LogDecoder(META)
    out = d.feed([frame(1, T1, b"a\n") + frame(1, T1, b"b\n") + frame(2, T1, b"c\n")])
    assert [r.seq for r in out] == [0, 1, 2]
    assert d.position == (T1, 3)


def test_resume_from_position_skips_exactly_what_was_consumed() -> None:
    d = LogDecoder(META)
    replay = frame(1, T1, b"a\n") + frame(1, T1, b"b\n")
    assert [r.message for r in d.feed([replay])] == ["a", "b"]
    # the engine ended early; ask again with since=T1: it replays both T1 lines, then more
    d.resume()
    again = replay + frame(1, T1, b"c\n") + frame(1, T2, b"d\n")
    assert lines(d.feed([again])) == [("c", "stdout", T1, 2), ("d", "stdout", T2, 0)]


def test_resume_drops_a_half_read_partial_line_and_rereads_it_whole() -> None:
    d = LogDecoder(META)
    assert [r.message for r in d.feed([frame(1, T1, b"one\n") + frame(1, T2, b"par")])] == ["one"]
    assert d.position == (T1, 1)
    d.resume()
    again = frame(1, T1, b"one\n") + frame(1, T2, b"par") + frame(1, T3, b"tial\n")
    assert [r.message for r in d.feed([again])] == ["partial"]


def test_a_corrupt_frame_header_stops_decoding_and_keeps_what_came_before() -> None:
    d = LogDecoder(META)
    out = d.feed([frame(1, T1, b"good\n") + b"\x07garbage" + frame(1, T2, b"lost\n")])
    assert [r.message for r in out] == ["good"]
    assert d.error is not None and "frame header" in d.error
    assert d.position == (T1, 1)
    d.resume()
    assert d.error is None


def test_an_entry_without_a_timestamp_is_kept_with_the_last_known_time() -> None:
    d = LogDecoder(META)
    payload = b"no timestamp here\n"
    raw = struct.pack(">BxxxL", 1, len(payload)) + payload
    out = d.feed([frame(1, T1, b"first\n") + raw])
    assert lines(out)[1] == ("no timestamp here", "stdout", T1, 1)
    assert d.bad_timestamps == 1


def test_tty_chunks_are_entries_and_crlf_is_stripped() -> None:
    d = LogDecoder(META, tty=True)
    chunks = [f"{T1} hello\r\n".encode(), f"{T2} world\r\n".encode()]
    assert lines(d.feed(chunks)) == [("hello", "stdout", T1, 0), ("world", "stdout", T2, 0)]


def test_tty_partial_entries_merge_and_a_chunk_cut_mid_entry_continues_it() -> None:
    d = LogDecoder(META, tty=True)
    chunks = [f"{T1} aaa".encode(), b"bbb", f"{T2} ccc\r\n".encode()]
    assert lines(d.feed(chunks)) == [("aaabbbccc", "stdout", T1, 0)]


def test_tty_last_line_without_newline_is_flushed() -> None:
    d = LogDecoder(META, tty=True)
    assert d.feed([f"{T1} prompt$ ".encode()]) == []
    assert [r.message for r in d.flush()] == ["prompt$ "]


@given(st.binary(max_size=2000), st.integers(min_value=1, max_value=64))
def test_arbitrary_bytes_never_raise(data: bytes, step: int) -> None:
    for tty in (False, True):
        d = LogDecoder(META, tty=tty)
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
    d = LogDecoder(META)
    out = []
    for i in range(0, len(data), step):
        out += d.feed([data[i : i + step]])
    assert [(r.stream, r.message) for r in out] == [
        ("stdout" if s == 1 else "stderr", body.decode("utf-8", "replace")) for s, body in entries
    ]
    assert [r.seq for r in out] == list(range(len(entries)))
