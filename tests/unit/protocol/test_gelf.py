"""GELF: a golden table checked both ways (our encoder, the spec-following decoder of
tests/helpers/receivers/gelf.py), compression and chunking, truncation at 128 chunks, field
names, what Docker's own gelf driver sent for the same container, and the destination's
options."""

from __future__ import annotations

import gzip
import json
import random
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from logship.config.destination import NetworkDestinationConfig
from logship.errors import ConfigError, LocalProtocolError
from logship.protocol import gelf as gelf_protocol
from logship.protocol.gelf import (
    MAX_CHUNKS,
    FieldSelection,
    GelfEncoder,
    GelfUdpEncoder,
    compress,
    field_name,
    frame_http_bulk,
    frame_tcp,
    max_payload_bytes,
    split_chunks,
)
from logship.protocol.template import TagTemplate
from logship.record import ContainerMeta, Record, timestamp_ns
from logship.settings import load_settings
from logship.sinks.gelf.config import GelfConfig
from tests.helpers.paths import DRIVER_CAPTURES
from tests.helpers.receivers.gelf import (
    ChunkAssembler,
    NullDelimited,
    Rejected,
    compression_of,
    decompress,
    parse_message,
    parse_tcp_frame,
)
from tests.helpers.records import K8S_LABELS, make_meta

TS = "2026-11-23T19:43:24.373123456Z"


def web_1(**changes: Any) -> ContainerMeta:
    """The test container as web-1, with the command and creation time GELF carries; a fresh
    one each time (encoders cache per container, in ``meta.cache``)."""
    fields: dict[str, Any] = {
        "name": "web-1",
        "command": 'sh -c echo "hi"',
        "created": "2026-11-23T19:43:24.126498242Z",
    }
    return make_meta(**(fields | changes))


def random_text(length: int, alphabet: str = "0123456789abcdef", seed: int = 1) -> str:
    """Text that compresses no better than its alphabet allows (4 bits a character here)."""
    rng = random.Random(seed)
    return "".join(rng.choices(alphabet, k=length))


def decode(data: bytes) -> dict[str, Any]:
    """Whatever one datagram or body holds, decoded as the spec says (magic bytes first)."""
    return parse_message(decompress(data))


def reassemble(datagrams: list[bytes]) -> list[tuple[bytes, int]]:
    assembler = ChunkAssembler()
    out = [assembler.feed(d) for d in datagrams]
    return [c for c in out if c is not None]


# -- the golden table: encode to exactly these bytes, and decode them back --------------------


@dataclass
class Golden:
    id: str
    record: Record
    data: bytes
    tag: str = "{{.ID}}"
    selection: dict[str, Any] = field(default_factory=dict)

    def encoder(self) -> GelfEncoder:
        return GelfEncoder(tag=TagTemplate(self.tag), selection=FieldSelection(**self.selection))


CONTAINER = (
    b'"_command":"sh -c echo \\"hi\\"",'
    b'"_container_id":"5f9a6638b642c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffee0123",'
    b'"_container_name":"web-1","_created":"2026-11-23T19:43:24.126498242Z",'
    b'"_host_ip":"10.0.0.1",'
    b'"_image_id":"sha256:d4e5f6a7b8c91111111111111111111111111111111111111111111111111111",'
    b'"_image_name":"logship-test/busybox:1.35","_image_tag":"1.35",'
)

GOLDEN = [
    Golden(
        "a stdout line: level 6, Docker's fields, the short ID as tag",
        Record("hello", "stdout", TS, web_1()),
        b'{"version":"1.1","host":"vm","short_message":"hello","timestamp":1795463004.373123,'
        b'"level":6,' + CONTAINER + b'"_stream":"stdout","_tag":"5f9a6638b642"}',
    ),
    Golden(
        "a stderr line: level 3",
        Record("oops", "stderr", TS, web_1()),
        b'{"version":"1.1","host":"vm","short_message":"oops","timestamp":1795463004.373123,'
        b'"level":3,' + CONTAINER + b'"_stream":"stderr","_tag":"5f9a6638b642"}',
    ),
    Golden(
        "labels and env named in the options, renamed by the rule; env beats a label",
        Record(
            'say "hi"\n\ttab \x00 ünï €',
            "stdout",
            "2026-11-23T19:43:24.000000999Z",
            web_1(
                labels={"app": "web", "id": "7", "team name": "pay", "stream": "b", "x": "no"},
                env=("APP_ENV=prod", "app=from-env", "NO_EQUALS_SIGN"),
            ),
        ),
        b'{"version":"1.1","host":"vm",'
        b'"short_message":"say \\"hi\\"",'  # a line break: the first line, and all of them
        b'"full_message":"say \\"hi\\"\\n\\ttab \\u0000 \xc3\xbcn\xc3\xaf \xe2\x82\xac",'
        b'"timestamp":1795463004.000000,"level":6,"_APP_ENV":"prod","_app":"from-env",'
        + CONTAINER.replace(b'"_image_id"', b'"_id_":"7","_image_id"')
        + b'"_stream":"stdout","_stream_":"b","_tag":"logship-test/busybox:1.35/web-1",'
        b'"_team_name":"pay"}',
        tag="{{.ImageName}}/{{.Name}}",
        selection={"labels": ["app", "id", "team name", "stream"], "env": ["APP_ENV", "app"]},
    ),
    Golden(
        "a pod's container: the kubernetes fields; an empty line stays empty",
        Record("", "stdout", "1970-01-01T00:00:01.000001000Z", web_1(labels=K8S_LABELS)),
        b'{"version":"1.1","host":"vm","short_message":"","timestamp":1.000001,"level":6,'
        + CONTAINER
        + b'"_kubernetes_container_name":"nginx","_kubernetes_namespace":"shop",'
        b'"_kubernetes_pod_name":"web-7d9f","_kubernetes_pod_uid":"0b1c-22",'
        b'"_stream":"stdout","_tag":"5f9a6638b642"}',
    ),
]


@pytest.mark.parametrize("golden", GOLDEN, ids=[g.id for g in GOLDEN])
def test_a_record_encodes_to_exactly_the_golden_bytes(golden: Golden) -> None:
    assert golden.encoder().encode([golden.record]) == [golden.data]


@pytest.mark.parametrize("golden", GOLDEN, ids=[g.id for g in GOLDEN])
def test_the_golden_bytes_decode_by_the_spec_back_to_the_record(golden: Golden) -> None:
    message = decode(golden.data)
    record, meta = golden.record, golden.record.meta
    assert message["version"] == "1.1"
    assert message["host"] == meta.host.name
    assert message.get("full_message", message["short_message"]) == record.message
    assert message["short_message"] == record.message.partition("\n")[0]
    assert message["level"] == {"stdout": 6, "stderr": 3}[record.stream]
    assert message["_stream"] == record.stream
    # Docker's time to the microsecond, exactly (read as a decimal, not a float)
    stamp = json.loads(golden.data, parse_float=Decimal)["timestamp"]
    assert stamp == Decimal(timestamp_ns(record.timestamp) // 1000) / 1_000_000
    assert (message["_container_id"], message["_container_name"]) == (meta.id, meta.name)
    assert (message["_image_name"], message["_image_id"]) == (meta.image, meta.image_id)
    assert (message["_command"], message["_created"]) == (meta.command, meta.created)


def test_everything_constant_per_container_is_built_once_and_cached() -> None:
    meta = web_1()
    encoder = GelfEncoder()
    first = encoder.encode([Record("a", "stdout", TS, meta)])
    meta.name = "renamed-after-caching"  # the cache, not the live meta, is read from now on
    second = encoder.encode([Record("a", "stdout", TS, meta)])
    assert first == second
    assert GelfEncoder().encode([Record("a", "stdout", TS, meta)]) != first


def test_lines_of_two_containers_in_one_batch_each_get_their_own_fields() -> None:
    a, b = web_1(name="a"), web_1(name="b", labels=K8S_LABELS)
    records = [Record(str(i), "stdout", TS, m) for i, m in enumerate((a, b, a, b))]
    decoded = [decode(d) for d in GelfEncoder().encode(records)]
    assert [m["_container_name"] for m in decoded] == ["a", "b", "a", "b"]
    assert ["_kubernetes_pod_name" in m for m in decoded] == [False, True, False, True]


@given(st.text(), st.sampled_from(["stdout", "stderr"]), st.integers(0, 2**33 * 10**9))
def test_any_line_at_any_time_decodes_back_to_itself(text: str, stream: str, ns: int) -> None:
    from logship.record import format_timestamp_ns

    record = Record(text, stream, format_timestamp_ns(ns), web_1())
    (data,) = GelfEncoder().encode([record])
    message = decode(data)
    assert message.get("full_message", message["short_message"]) == text
    assert message["short_message"] == text.partition("\n")[0]
    assert json.loads(data, parse_float=Decimal)["timestamp"] == Decimal(ns // 1000) / 10**6


def test_a_record_of_several_lines_has_the_first_as_short_message_and_all_as_full() -> None:
    trace = "java.lang.IllegalStateException: boom\n\tat a.B.c(B.java:1)\n\tat a.B.d(B.java:2)"
    (data,) = GelfEncoder().encode([Record(trace, "stderr", TS, web_1())])
    message = decode(data)
    assert message["short_message"] == "java.lang.IllegalStateException: boom"
    assert message["full_message"] == trace
    (one_line,) = GelfEncoder().encode([Record("GET /", "stdout", TS, web_1())])
    assert "full_message" not in decode(one_line)


# -- field names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("app", "_app"),
        ("com.example.team", "_com.example.team"),  # dots kept, as Docker keeps them
        ("APP_ENV", "_APP_ENV"),
        ("_private", "_private"),  # already prefixed: kept, as Docker does
        ("team name", "_team_name"),
        ("a/b:c", "_a_b_c"),
        ("ünï", "__n_"),  # \w in GELF's regex is Java's: ASCII only
        ("id", "_id_"),  # GELF forbids _id
        ("_id", "_id_"),
        ("stream", "_stream_"),  # logship's own fields are never overwritten
        ("container_id", "_container_id_"),
    ],
)
def test_a_label_or_env_name_becomes_a_field_name_by_the_documented_rule(
    name: str, field: str
) -> None:
    assert field_name(name) == field


@given(st.dictionaries(st.text(min_size=1), st.text(), max_size=8))
def test_whatever_labels_a_container_has_the_message_passes_the_spec(
    labels: dict[str, str],
) -> None:
    meta = web_1(labels=labels)
    encoder = GelfEncoder(selection=FieldSelection(labels_regex="."))
    message = decode(encoder.encode([Record("x", "stdout", TS, meta)])[0])
    assert len([k for k in message if k.startswith("_")]) >= len({field_name(k) for k in labels})


def test_labels_and_env_are_chosen_by_name_or_regex_like_dockers_log_options() -> None:
    meta = web_1(
        labels={"app": "web", "com.example.team": "pay", "com.example.tier": "1", "x": "no"},
        env=("APP_ENV=prod", "APP_REGION=eu", "PATH=/bin", "EQ=a=b"),
    )
    selection = FieldSelection(
        labels=["app", "missing"], labels_regex=r"^com\.example\.", env=["EQ"], env_regex="^APP_"
    )
    assert selection.fields(meta) == {
        "_app": "web",
        "_com.example.team": "pay",
        "_com.example.tier": "1",
        "_APP_ENV": "prod",
        "_APP_REGION": "eu",
        "_EQ": "a=b",
    }


# -- compression ------------------------------------------------------------------------------

LINE = GOLDEN[0].data


@pytest.mark.parametrize(("method", "magic"), [("gzip", b"\x1f\x8b"), ("zlib", b"\x78")])
@pytest.mark.parametrize("level", range(1, 10))
def test_compressed_messages_start_with_the_magic_bytes_receivers_look_for(
    method: Any, magic: bytes, level: int
) -> None:
    data = compress(LINE, method, level)
    assert data.startswith(magic)
    assert compression_of(data) == method
    assert decompress(data) == LINE
    # and what the standard libraries make of it
    assert (gzip.decompress(data) if method == "gzip" else zlib.decompress(data)) == LINE


@pytest.mark.parametrize("level", [1, 6, 9])
def test_zlib_streams_carry_the_header_zlib_itself_writes_for_the_level(level: int) -> None:
    assert compress(LINE, "zlib", level)[:2] == zlib.compress(LINE, level)[:2]


@pytest.mark.parametrize("size", [0, 1, 511, 512, 513, 5000, 40_000, 200_000])
@pytest.mark.parametrize("method", ["gzip", "zlib"])
def test_compression_round_trips_at_every_size_and_is_as_small_as_zlibs(
    size: int, method: Any
) -> None:
    data = (LINE * (size // len(LINE) + 1))[:size]
    packed = compress(data, method)
    assert decompress(packed) == data
    assert len(packed) <= len(zlib.compress(data, 1)) + 32


def test_no_compression_leaves_the_message_as_it_is() -> None:
    assert compress(LINE, "none") is LINE
    assert compression_of(LINE) == "none"


def test_an_unknown_compression_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="unknown GELF compression 'lz4'; expected gzip, zlib"):
        compress(LINE, "lz4")  # type: ignore[arg-type]


# -- chunking: a golden table, decoded in any order -------------------------------------------

MESSAGE_ID = bytes.fromhex("0011223344556677")
CHUNK_GOLDEN = [
    ("fits in one datagram: no chunk header", b"abcdefgh", 20, [b"abcdefgh"]),
    ("exactly one datagram's worth", b"a" * 20, 20, [b"a" * 20]),
    (
        "three chunks, the last one short",
        b"abcdefghijklmnopqrstuv",
        20,
        [
            b"\x1e\x0f" + MESSAGE_ID + b"\x00\x03abcdefgh",
            b"\x1e\x0f" + MESSAGE_ID + b"\x01\x03ijklmnop",
            b"\x1e\x0f" + MESSAGE_ID + b"\x02\x03qrstuv",
        ],
    ),
    (
        "128 chunks, the most GELF allows",
        bytes(range(128)),
        13,
        [b"\x1e\x0f" + MESSAGE_ID + bytes((i, 128, i)) for i in range(128)],
    ),
]


@pytest.mark.parametrize(("data", "size", "datagrams"), [g[1:] for g in CHUNK_GOLDEN])
def test_a_payload_splits_into_exactly_the_golden_datagrams(
    data: bytes, size: int, datagrams: list[bytes]
) -> None:
    assert split_chunks(data, MESSAGE_ID, size) == datagrams
    assert all(len(d) <= size for d in datagrams)


@pytest.mark.parametrize(("data", "datagrams"), [(g[1], g[3]) for g in CHUNK_GOLDEN])
@pytest.mark.parametrize("order", ["as sent", "reversed", "shuffled"])
def test_the_golden_datagrams_reassemble_in_any_order(
    data: bytes, datagrams: list[bytes], order: str
) -> None:
    arriving = list(datagrams)
    if order == "reversed":
        arriving.reverse()
    elif order == "shuffled":
        random.Random(7).shuffle(arriving)
    assert reassemble(arriving) == [(data, len(datagrams))]


def test_a_payload_that_needs_129_chunks_is_refused_not_sent_broken() -> None:
    with pytest.raises(LocalProtocolError, match="needs 129 chunks of 13 bytes; GELF allows 128"):
        split_chunks(bytes(129), MESSAGE_ID, 13)


def test_chunks_of_two_messages_interleaved_are_told_apart_by_message_id() -> None:
    a = split_chunks(b"A" * 30, b"\x00" * 8, 22)
    b = split_chunks(b"B" * 30, b"\x01" * 8, 22)
    assert len(a) == len(b) == 3
    assert reassemble([a[2], b[0], a[0], b[2], b[1], a[1]]) == [(b"B" * 30, 3), (b"A" * 30, 3)]


# -- the UDP encoder: compress, chunk, cut ----------------------------------------------------


def udp(**options: Any) -> GelfUdpEncoder:
    return GelfUdpEncoder(GelfEncoder(), first_message_id=41, **options)


def test_a_short_line_is_one_unchunked_gzip_datagram_by_default() -> None:
    record = GOLDEN[0].record
    (datagram,) = udp().encode([record])
    assert datagram[:2] == b"\x1f\x8b"
    assert decode(datagram)["short_message"] == "hello"


@pytest.mark.parametrize("compression", ["gzip", "zlib", "none"])
def test_a_long_line_is_chunked_to_the_chunk_size_and_reassembles_whole(compression: Any) -> None:
    text = random_text(40_000)
    record = Record(text, "stderr", TS, web_1())
    datagrams = udp(compression=compression).encode([record])
    assert len(datagrams) > 2
    assert all(len(d) <= 1420 for d in datagrams)
    assert all(d[:2] == b"\x1e\x0f" and d[2:10] == (41).to_bytes(8, "big") for d in datagrams)
    ((payload, chunks),) = reassemble(list(reversed(datagrams)))
    assert chunks == len(datagrams)
    assert compression_of(payload) == compression
    assert decode(payload)["short_message"] == text


def test_each_chunked_message_gets_the_next_message_id() -> None:
    big = Record("x" * 5000, "stdout", TS, web_1())
    encoder = udp(compression="none")
    datagrams = encoder.encode([big, GOLDEN[0].record, big])
    ids = {d[2:10] for d in datagrams if d[:2] == b"\x1e\x0f"}
    assert ids == {(41).to_bytes(8, "big"), (42).to_bytes(8, "big")}
    assert GelfUdpEncoder(GelfEncoder()).encode([big])[0][2:10] != (41).to_bytes(8, "big")


@pytest.mark.parametrize("chunk_size", [512, 1420, 8192])
@pytest.mark.parametrize(
    ("compression", "make_text"),
    [
        ("none", lambda room: "x" * (room + 1000)),
        ("none", lambda room: "é" * room),  # two bytes a character, never cut in two
        ("none", lambda room: '"' * room),  # twice as long once escaped
        ("gzip", lambda room: random_text(3 * room)),
    ],
    ids=["ascii", "two-byte characters", "escaped quotes", "incompressible gzip"],
)
def test_a_line_too_long_for_128_chunks_is_cut_with_the_marker_counting_the_bytes_dropped(
    chunk_size: int, compression: Any, make_text: Any
) -> None:
    text = make_text(max_payload_bytes(chunk_size))
    record = Record(text, "stdout", TS, web_1())
    encoder = udp(compression=compression, chunk_size_bytes=chunk_size)
    datagrams = encoder.encode([record, GOLDEN[0].record])
    assert encoder.truncated == 1
    assert 1 < len(datagrams) <= MAX_CHUNKS + 1
    assert all(len(d) <= chunk_size for d in datagrams)
    (payload, chunks), (after, _) = reassemble(datagrams)
    assert chunks <= MAX_CHUNKS
    message = decode(payload)["short_message"]
    m = re.fullmatch(r"(.*) \[truncated (\d+) bytes\]", message, re.DOTALL)
    assert m is not None
    assert text.startswith(m[1])
    assert len(m[1].encode()) + int(m[2]) == len(text.encode())
    # most of the room is used: cut to fit, not cut to nothing
    assert len(payload) > 0.9 * max_payload_bytes(chunk_size)
    assert decode(after)["short_message"] == "hello"


def test_a_line_that_fits_in_128_chunks_is_not_cut() -> None:
    room = max_payload_bytes(1420)
    overhead = len(GelfEncoder().encode([Record("", "stdout", TS, web_1())])[0])
    record = Record("x" * (room - overhead), "stdout", TS, web_1())
    encoder = udp(compression="none")
    datagrams = encoder.encode([record])
    assert (len(datagrams), encoder.truncated) == (MAX_CHUNKS, 0)
    ((payload, _),) = reassemble(datagrams)
    assert decode(payload)["short_message"] == record.message


def test_a_message_whose_fields_alone_overflow_128_chunks_is_dropped_and_counted() -> None:
    meta = web_1(labels={"huge": "y" * 200_000})
    encoder = GelfUdpEncoder(
        GelfEncoder(selection=FieldSelection(labels=["huge"])), compression="none"
    )
    assert encoder.encode([Record("hello", "stdout", TS, meta)]) == []
    assert (encoder.dropped, encoder.truncated) == (1, 0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"compression": "lz4"}, "unknown GELF compression 'lz4'"),
        ({"chunk_size_bytes": 12}, "chunk size 12 out of range"),
        ({"compression_level": 0}, "compression level 0 out of range 1..9"),
    ],
)
def test_the_udp_encoder_refuses_options_it_cannot_honour(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        GelfUdpEncoder(GelfEncoder(), **options)


# -- stream framing ---------------------------------------------------------------------------


def test_tcp_frames_end_each_message_with_a_null_byte_and_split_back_byte_by_byte() -> None:
    documents = [g.data for g in GOLDEN]
    stream = frame_tcp(documents)
    assert stream.count(b"\0") == len(documents) and stream.endswith(b"\0")
    frames = NullDelimited()
    got = [frame for i in range(len(stream)) for frame in frames.feed(stream[i : i + 1])]
    assert got == documents and frames.pending == 0


def test_the_receiver_refuses_a_compressed_message_over_tcp() -> None:
    assert parse_tcp_frame(LINE)["short_message"] == "hello"
    with pytest.raises(Rejected, match=r"compressed message over TCP \(gzip\)"):
        parse_tcp_frame(compress(LINE, "gzip"))


def test_a_bulk_http_body_is_the_messages_one_per_line() -> None:
    documents = [g.data for g in GOLDEN]
    assert frame_http_bulk(documents).split(b"\n") == documents


# -- the spec-following decoder refuses what the spec refuses ---------------------------------


def _without(name: str) -> bytes:
    message = json.loads(LINE)
    del message[name]
    return json.dumps(message).encode()


def _with(**fields: Any) -> bytes:
    return json.dumps({**json.loads(LINE), **fields}).encode()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_without("version"), "missing version"),
        (_without("host"), "missing host"),
        (_without("short_message"), "missing short_message"),
        (_with(version="1.0"), "version '1.0'"),
        (_with(host=""), "host '' is not a non-empty string"),
        (_with(_id="x"), "_id is not allowed"),
        (_with(**{"_a b": "x"}), "does not match"),
        (_with(**{"_ünï": "x"}), "does not match"),
        (_with(_list=[1]), "not a string or number"),
        (_with(_flag=True), "not a string or number"),
        (_with(timestamp="now"), "timestamp 'now' has the wrong type"),
        (_with(extra="x"), "neither a GELF field nor additional"),
        (b'{"version":"1.1",', "invalid JSON"),
        (b"[1, 2]", "JSON object"),
        (b"\x1f\x8bnot gzip at all", "invalid gzip data"),
        (LINE + b"\n" + LINE, "invalid JSON"),
    ],
)
def test_the_decoder_rejects_what_the_spec_rejects(data: bytes, reason: str) -> None:
    with pytest.raises(Rejected, match=re.escape(reason)):
        decode(data)


def test_the_decoder_accepts_a_minimal_message_and_every_optional_field() -> None:
    assert decode(b'{"version":"1.1","host":"h","short_message":""}')["host"] == "h"
    full = _with(full_message="trace", timestamp=1.5, level=1, facility="f", line=3, file="a.c")
    assert decode(full)["full_message"] == "trace"


@pytest.mark.parametrize(
    ("datagrams", "reason"),
    [
        ([b"\x1e\x0f" + MESSAGE_ID + bytes((0, 129)) + b"x"], "sequence count 129"),
        ([b"\x1e\x0f" + MESSAGE_ID + bytes((0, 0)) + b"x"], "sequence count 0"),
        ([b"\x1e\x0f" + MESSAGE_ID + bytes((3, 3)) + b"x"], "sequence number 3 not below"),
        ([b"\x1e\x0f" + MESSAGE_ID + bytes((0, 2))], "no room for data"),
        (
            [
                b"\x1e\x0f" + MESSAGE_ID + bytes((0, 3)) + b"x",
                b"\x1e\x0f" + MESSAGE_ID + bytes((1, 2)) + b"x",
            ],
            "chunk count mismatch",
        ),
    ],
)
def test_the_chunk_assembler_rejects_what_the_spec_rejects(
    datagrams: list[bytes], reason: str
) -> None:
    assembler = ChunkAssembler()
    with pytest.raises(Rejected, match=re.escape(reason)):
        for datagram in datagrams:
            assembler.feed(datagram)
    assert assembler.pending == 0


def test_chunks_that_do_not_all_arrive_within_5_seconds_are_discarded() -> None:
    now = [100.0]
    assembler = ChunkAssembler(clock=lambda: now[0])
    first, second = split_chunks(b"a" * 30, MESSAGE_ID, 27)
    assert assembler.feed(first) is None
    now[0] += 5.5
    assert assembler.feed(second) is None  # the first one is gone: this one starts over
    assert (assembler.expired, assembler.pending) == (1, 1)


def test_a_duplicated_chunk_is_ignored() -> None:
    first, second = split_chunks(b"a" * 30, MESSAGE_ID, 27)
    assert reassemble([first, first, second]) == [(b"a" * 30, 2)]


# -- next to what Docker's own gelf driver sent -----------------------------------------------


def docker_messages() -> list[dict[str, Any]]:
    lines = (DRIVER_CAPTURES / "gelf-udp.ndjson").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_dockers_gelf_messages_pass_our_spec_following_decoder() -> None:
    for line in (DRIVER_CAPTURES / "gelf-udp.ndjson").read_bytes().splitlines():
        decode(line)


def test_our_message_has_dockers_field_names_and_value_shapes_for_the_same_container() -> None:
    """web-1 of tests/data/docker-log-drivers: --label app=web --label com.example.team=payments
    -e APP_ENV=prod, driver options labels=app,com.example.team env=APP_ENV."""
    docker = {m["short_message"]: m for m in docker_messages()}
    theirs_out = docker["hello gelf stdout"]
    meta = web_1(
        id=theirs_out["_container_id"],
        image_id=theirs_out["_image_id"],
        command=theirs_out["_command"],
        created=theirs_out["_created"],
        labels={"app": "web", "com.example.team": "payments", "other": "not asked for"},
        env=("APP_ENV=prod", "PATH=/usr/bin"),
    )
    encoder = GelfEncoder(
        selection=FieldSelection(labels=["app", "com.example.team"], env=["APP_ENV"])
    )
    for theirs in docker.values():
        stream = "stdout" if theirs["level"] == 6 else "stderr"
        ns = int(Decimal(str(theirs["timestamp"])) * 10**9) + 123_456
        from logship.record import format_timestamp_ns

        record = Record(theirs["short_message"], stream, format_timestamp_ns(ns), meta)
        (data,) = encoder.encode([record])
        ours = decode(data)
        # every field Docker sends, with the same value
        same = {k for k in theirs if k != "timestamp"}
        assert {k: ours[k] for k in same} == {k: theirs[k] for k in same}
        assert type(ours["timestamp"]) is type(theirs["timestamp"]) is float
        # differences on purpose: microseconds where Docker has milliseconds ...
        assert re.fullmatch(r"\d+\.\d{3}", str(theirs["timestamp"]))
        assert re.search(rb'"timestamp":\d+\.\d{6},', data)
        assert round(ours["timestamp"], 3) == theirs["timestamp"]
        # ... and logship's enrichment on top of Docker's fields
        assert set(ours) - set(theirs) == {"_image_tag", "_host_ip", "_stream"}
        assert (ours["_image_tag"], ours["_stream"]) == ("1.35", stream)
        # the same order: GELF fields first, then additional fields sorted by name
        assert list(ours)[:5] == list(theirs)[:5]
        assert [k for k in ours if k in theirs] == list(theirs)


# -- the destination's options ----------------------------------------------------------------


def gelf(uri: str) -> GelfConfig:
    (config,) = load_settings(destinations=[uri]).destinations
    assert isinstance(config, GelfConfig)
    return config


def gelf_error(destination: str | dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(destinations=[destination])
    return str(info.value)


def test_each_gelf_scheme_picks_its_transport_and_compression_default() -> None:
    assert [
        (c.transport, c.port, c.effective_compression, c.describe())
        for c in map(
            gelf,
            [
                "gelf://graylog",
                "gelf+udp://graylog:5000",
                "gelf+tcp://graylog",
                "gelf+http://graylog",
                "gelf+https://graylog:443/custom/path",
            ],
        )
    ] == [
        ("udp", 12201, "gzip", "gelf+udp://graylog:12201"),
        ("udp", 5000, "gzip", "gelf+udp://graylog:5000"),
        ("tcp", 12201, "none", "gelf+tcp://graylog:12201"),
        ("http", 12201, "none", "gelf+http://graylog:12201/gelf"),
        ("https", 443, "none", "gelf+https://graylog:443/custom/path"),
    ]


def test_a_uri_and_a_yaml_block_with_the_same_options_are_the_same_destination() -> None:
    uri = gelf(
        "gelf+udp://graylog:12201?compression=zlib&chunk_size_bytes=8192&tag={{.Name}}"
        "&labels=app,com.example.team&env=APP_ENV&labels_regex=^io\\.&compression_level=9"
    )
    block = load_settings(
        destinations=[
            {
                "type": "gelf",
                "transport": "udp",
                "host": "graylog",
                "compression": "zlib",
                "chunk_size_bytes": 8192,
                "tag": "{{.Name}}",
                "labels": ["app", "com.example.team"],
                "env": ["APP_ENV"],
                "labels_regex": "^io\\.",
                "compression_level": 9,
            }
        ]
    ).destinations[0]
    assert uri == block


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("gelf://h?chunk_size_bytes=9000", "less than or equal to 8192 (got '9000')"),
        ("gelf://h?chunk_size_bytes=100", "greater than or equal to 512 (got '100')"),
        ("gelf://h?compression=lz4", "'gzip', 'zlib', 'none' or 'auto' (got 'lz4')"),
        ("gelf://h?compression_level=0", "greater than or equal to 1"),
        ("gelf://h?tag={{.Nope}}", "unknown placeholder '{{.Nope}}'"),
        ("gelf://h?labels_regex=(", "'(' is not a regular expression"),
        ("gelf+tcp://h?compression=gzip", "compression 'gzip' cannot be used with gelf+tcp"),
        ("gelf+tcp://h?chunk_size_bytes=8192", "'chunk_size_bytes' applies to gelf+udp"),
        ("gelf+udp://h/gelf", "'path' applies to gelf+http and gelf+https, not to gelf+udp"),
        ("gelf+http://h?tls.verify=false", "'tls' applies to gelf+https, not to gelf+http"),
        ("gelf+tcp://h?bulk=true", "'bulk' applies to gelf+http"),
        ("gelf+http://h?path=gelf", "path 'gelf' must start with '/'"),
        ("gelf+udp://h?user_name=x", "user_name"),
    ],
)
def test_a_bad_gelf_option_is_a_config_error_quoting_the_value_and_what_was_expected(
    uri: str, expected: str
) -> None:
    error = gelf_error(uri)
    assert "destinations.0" in error
    assert expected in error


def test_every_gelf_option_is_documented() -> None:
    own = set(GelfConfig.model_fields) - set(NetworkDestinationConfig.model_fields) - {"type"}
    assert {"compression", "chunk_size_bytes", "labels", "env", "path", "tls"} <= own
    for name in own | {"port"}:
        assert GelfConfig.model_fields[name].description, name


@pytest.mark.parametrize("deflate", [gelf_protocol._deflate_zlib, gelf_protocol._deflate_isal])
@pytest.mark.parametrize("level", range(1, 10))
def test_both_deflaters_write_what_any_gzip_or_zlib_reader_reads(
    deflate: Callable[[bytes, int], bytes], level: int
) -> None:
    document = orjson.dumps({"short_message": "GET /orders/12345 200 " * 20, "level": 6})
    raw = deflate(document, level)
    assert zlib.decompress(raw, -15) == document
    with mock.patch.object(gelf_protocol, "_deflate", deflate):
        assert gzip.decompress(gelf_protocol.compress(document, "gzip", level)) == document
        assert zlib.decompress(gelf_protocol.compress(document, "zlib", level)) == document
    assert len(raw) < len(document) / 3  # it compresses


def test_auto_sends_what_fits_in_one_datagram_uncompressed_and_compresses_the_rest() -> None:
    short = GOLDEN[0].record
    long = Record(random_text(40_000), "stderr", TS, web_1())
    first, *chunks = udp(compression="auto").encode([short, long])
    assert first[:1] == b"{" and decode(first)["short_message"] == "hello"
    ((payload, _),) = reassemble(chunks)
    assert compression_of(payload) == "gzip"
    assert decode(payload)["short_message"] == long.message


def test_auto_compression_is_for_udp_only() -> None:
    with pytest.raises(ConfigError, match="'auto' is for gelf\\+udp only"):
        load_settings(destinations=["gelf+http://127.0.0.1:12201?compression=auto"])
