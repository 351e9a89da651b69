"""Fluentd forward protocol, client side, without sockets: a golden table of PackedForward
messages checked both ways (our encoder writes these bytes; the strict test receiver reads them
back as these events), the server's answers, the shared-key handshake, and Docker's fluentd
driver next to ours for the same container."""

from __future__ import annotations

import calendar
import gzip
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import msgpack
import pytest

from logship.errors import RemoteProtocolError
from logship.protocol.forward import (
    ENRICHMENT_FIELDS,
    Ack,
    ForwardEncoder,
    HandshakeRefused,
    Helo,
    Pong,
    ResponseDecoder,
    check_pong,
    new_salt,
    ping,
)
from logship.protocol.template import TagTemplate
from logship.record import ContainerMeta, Record
from tests.helpers.paths import DRIVER_CAPTURES
from tests.helpers.receivers.forward import (
    Event,
    EventTime,
    ProtocolViolation,
    Request,
    decode_requests,
)
from tests.helpers.records import make_meta

ID = "5f9a6638b642" + "0" * 52
OTHER_ID = "719d5c9a5367" + "1" * 52
TS = "2026-11-23T19:43:24.849838066Z"
SECONDS = calendar.timegm((2026, 11, 23, 19, 43, 24, 0, 0, 0))  # 0x6b04975c
CHUNK = "p8n9gmxTQVC8/nh2wlKKeQ=="


def web_2(**changes: Any) -> ContainerMeta:
    """The test container as web-2 with the ID above; a fresh one each time (encoders cache per
    container, in ``meta.cache``)."""
    fields: dict[str, Any] = {"id": ID, "name": "web-2", "image_id": "sha256:d4e5f6"}
    return make_meta(**(fields | changes))


def line(
    message: str, stream: str = "stdout", ts: str = TS, meta: ContainerMeta | None = None
) -> Record:
    return Record(message, stream, ts, meta or web_2())


# -- msgpack written out by hand, byte by byte ------------------------------------------------


def fixstr(text: str) -> bytes:
    assert len(text.encode()) < 32
    return bytes((0xA0 | len(text.encode()),)) + text.encode()


def bin_(payload: bytes) -> bytes:
    if len(payload) < 256:
        return b"\xc4" + bytes((len(payload),)) + payload  # bin8
    return b"\xc5" + len(payload).to_bytes(2, "big") + payload  # bin16


EVENT_TIME = b"\xd7\x00" + b"\x6b\x04\x97\x5c" + b"\x32\xa7\x7f\xf2"  # fixext8, type 0, s, ns


def docker_fields(stream: str, message: str, name: str = "/web-2", id: str = ID) -> bytes:
    return (
        fixstr("container_id") + b"\xd9\x40" + id.encode()  # str8, 64 bytes
        + fixstr("container_name") + fixstr(name)
        + fixstr("source") + fixstr(stream)
        + fixstr("log") + fixstr(message)
    )  # fmt: skip


ENRICHMENT = (
    fixstr("host") + fixstr("vm")
    + fixstr("host_ip") + fixstr("10.0.0.1")
    + fixstr("image_name") + fixstr("logship-test/busybox")
    + fixstr("image_tag") + fixstr("1.35")
    + fixstr("image_id") + fixstr("sha256:d4e5f6")
)  # fmt: skip


def enrichment_dict() -> dict[str, Any]:
    return {
        "host": "vm",
        "host_ip": "10.0.0.1",
        "image_name": "logship-test/busybox",
        "image_tag": "1.35",
        "image_id": "sha256:d4e5f6",
    }


def record_dict(stream: str, message: str, **extra: Any) -> dict[str, Any]:
    fields = {"container_id": ID, "container_name": "/web-2", "source": stream, "log": message}
    return fields | extra | enrichment_dict()


@dataclass
class Golden:
    name: str
    records: list[Record]
    options: dict[str, Any]
    wire: bytes
    requests: list[Request] = field(default_factory=list)


GOLDEN = [
    Golden(
        "one stdout line: PackedForward, bin entries, EventTime with nanoseconds",
        [line("hi")],
        {},
        b"\x93"  # [tag, entries, option]
        + fixstr("5f9a6638b642")  # Docker's default tag: the short ID
        + bin_(b"\x92" + EVENT_TIME + b"\x89" + docker_fields("stdout", "hi") + ENRICHMENT)
        + b"\x81"
        + fixstr("size")
        + b"\x01",
        [
            Request(
                "PackedForward",
                "5f9a6638b642",
                [Event("5f9a6638b642", EventTime(SECONDS, 849838066), record_dict("stdout", "hi"))],
                {"size": 1},
                "bin",
            )
        ],
    ),
    Golden(
        "with ack the option carries a chunk id; named labels and env are top-level keys",
        [line("oops", "stderr", meta=web_2(labels={"app": "web"}, env=("APP_ENV=prod",)))],
        {"ack": True, "labels": ["app"], "env": ["APP_ENV"], "tag": TagTemplate("{{.Name}}")},
        b"\x93"
        + fixstr("web-2")
        + bin_(
            b"\x92"
            + EVENT_TIME
            + b"\x8b"  # 11 keys
            + docker_fields("stderr", "oops")
            + fixstr("app")
            + fixstr("web")
            + fixstr("APP_ENV")
            + fixstr("prod")
            + ENRICHMENT
        )
        + b"\x82"
        + fixstr("size")
        + b"\x01"
        + fixstr("chunk")
        + fixstr(CHUNK),
        [
            Request(
                "PackedForward",
                "web-2",
                [
                    Event(
                        "web-2",
                        EventTime(SECONDS, 849838066),
                        record_dict("stderr", "oops", app="web", APP_ENV="prod"),
                    )
                ],
                {"size": 1, "chunk": CHUNK},
                "bin",
            )
        ],
    ),
    Golden(
        "time_as_integer sends whole seconds for receivers older than v1",
        [line("hi")],
        {"time_as_integer": True},
        b"\x93"
        + fixstr("5f9a6638b642")
        + bin_(
            b"\x92"
            + b"\xce\x6b\x04\x97\x5c"  # uint32 seconds
            + b"\x89"
            + docker_fields("stdout", "hi")
            + ENRICHMENT
        )
        + b"\x81"
        + fixstr("size")
        + b"\x01",
        [
            Request(
                "PackedForward",
                "5f9a6638b642",
                [Event("5f9a6638b642", SECONDS, record_dict("stdout", "hi"))],
                {"size": 1},
                "bin",
            )
        ],
    ),
]


@pytest.mark.parametrize("case", GOLDEN, ids=[g.name for g in GOLDEN])
def test_the_encoder_writes_the_golden_bytes(case: Golden) -> None:
    encoder = ForwardEncoder(chunk_ids=lambda: CHUNK, **case.options)
    assert b"".join(c.data for c in encoder.encode(case.records)) == case.wire


@pytest.mark.parametrize("case", GOLDEN, ids=[g.name for g in GOLDEN])
def test_a_strict_forward_server_reads_the_golden_bytes_as_these_events(case: Golden) -> None:
    assert decode_requests(case.wire) == case.requests


def test_the_same_container_encodes_the_same_from_its_cache_as_the_first_time() -> None:
    meta = web_2(labels={"app": "web"})
    encoder = ForwardEncoder(labels=["app"])
    first = encoder.encode([line("a", meta=meta), line("b", "stderr", meta=meta)])
    assert len(meta.cache) == 1
    meta.labels["app"] = "changed"  # the cache, not the labels, feeds the second batch
    second = encoder.encode([line("a", meta=meta), line("b", "stderr", meta=meta)])
    assert [c.data for c in second] == [c.data for c in first]
    assert ForwardEncoder(labels=["app"]).encode([line("a", meta=meta)])[0].data != first[0].data


def test_a_batch_of_two_containers_becomes_one_message_per_tag_in_each_containers_order() -> None:
    web, api = web_2(), web_2(id=OTHER_ID, name="api-1")
    batch = [line("w1", meta=web), line("a1", meta=api), line("w2", "stderr", meta=web)]
    chunks = ForwardEncoder(ack=True).encode(batch)
    assert [(c.tag, [r.message for r in c.records]) for c in chunks] == [
        ("5f9a6638b642", ["w1", "w2"]),
        ("719d5c9a5367", ["a1"]),
    ]
    assert len({c.chunk_id for c in chunks}) == 2  # each message has its own chunk id
    requests = decode_requests(b"".join(c.data for c in chunks))
    assert [[e.record["log"] for e in r.events] for r in requests] == [["w1", "w2"], ["a1"]]
    assert [r.chunk for r in requests] == [c.chunk_id for c in chunks]
    assert requests[1].events[0].record["container_name"] == "/api-1"


def test_messages_are_split_at_max_message_bytes_and_a_bigger_record_goes_alone() -> None:
    meta = web_2()
    batch = [line("x" * 300, meta=meta) for _ in range(5)] + [line("y" * 3000, meta=meta)]
    chunks = ForwardEncoder(max_message_bytes=1100).encode(batch)
    assert [len(c.records) for c in chunks] == [2, 2, 1, 1]
    requests = decode_requests(b"".join(c.data for c in chunks))
    assert [e.record["log"] for r in requests for e in r.events] == [r.message for r in batch]
    assert all(len(c.data) < 1100 + 100 for c in chunks[:3])


def test_gzip_sends_compressed_packed_forward_that_a_strict_server_reads() -> None:
    batch = [line(f"line {i}") for i in range(50)]
    (chunk,) = ForwardEncoder(compress="gzip", ack=True, chunk_ids=lambda: CHUNK).encode(batch)
    (request,) = decode_requests(chunk.data)
    assert request.mode == "CompressedPackedForward"
    assert request.option == {"size": 50, "compressed": "gzip", "chunk": CHUNK}
    assert [e.record["log"] for e in request.events] == [f"line {i}" for i in range(50)]
    _, entries, _ = msgpack.unpackb(chunk.data)
    assert len(entries) < len(gzip.decompress(entries)) / 5


def test_nanoseconds_are_docker_s_own_and_the_seconds_follow_each_line() -> None:
    batch = [
        line("a", ts="2026-11-23T19:43:24.000000001Z"),
        line("b", ts="2026-11-23T19:43:25.999999999Z"),
        line("c", ts="1970-01-01T00:00:00.000000000Z"),
    ]
    (request,) = decode_requests(ForwardEncoder().encode(batch)[0].data)
    assert [e.time for e in request.events] == [
        EventTime(SECONDS, 1),
        EventTime(SECONDS + 1, 999_999_999),
        EventTime(0, 0),
    ]


def test_docker_s_fields_always_win_and_named_labels_win_over_the_enrichment() -> None:
    meta = web_2(
        labels={"log": "not the line", "container_id": "x", "host": "from-label", "app": "a"},
        env=("app=from-env", "NOEQUALS", "EMPTY="),
    )
    encoder = ForwardEncoder(
        labels=["log", "container_id", "host", "app", "missing"], env=["app", "EMPTY", "NOEQUALS"]
    )
    (request,) = decode_requests(encoder.encode([line("the line", meta=meta)])[0].data)
    record = request.events[0].record
    assert record["log"] == "the line"
    assert record["container_id"] == ID
    assert record["host"] == "from-label"
    assert record["app"] == "from-env"  # env wins over a label, as in Docker
    assert record["EMPTY"] == ""
    assert "missing" not in record and "NOEQUALS" not in record


def test_a_kubelet_container_carries_a_kubernetes_map() -> None:
    meta = web_2(
        labels={
            "io.kubernetes.pod.namespace": "shop",
            "io.kubernetes.pod.name": "web-7d9f",
            "io.kubernetes.pod.uid": "0b1c-22",
            "io.kubernetes.container.name": "nginx",
        }
    )
    (request,) = decode_requests(ForwardEncoder().encode([line("hi", meta=meta)])[0].data)
    assert request.events[0].record["kubernetes"] == {
        "namespace": "shop",
        "pod_name": "web-7d9f",
        "pod_uid": "0b1c-22",
        "container_name": "nginx",
    }
    (plain,) = decode_requests(ForwardEncoder().encode([line("hi")])[0].data)
    assert "kubernetes" not in plain.events[0].record


def test_a_message_that_is_not_ascii_travels_as_utf8() -> None:
    (request,) = decode_requests(ForwardEncoder().encode([line("héllo \u2603 \U0001f600")])[0].data)
    assert request.events[0].record["log"] == "héllo \u2603 \U0001f600"


# -- Docker's own fluentd driver next to ours ---------------------------------------------------


def test_docker_s_fluentd_driver_and_ours_send_the_same_keys_and_values_per_container() -> None:
    docker = decode_requests((DRIVER_CAPTURES / "fluentd-forward.msgpack").read_bytes())
    decoded = [
        json.loads(text)
        for text in (DRIVER_CAPTURES / "fluentd-forward.decoded.json").read_text().splitlines()
    ]
    assert [[r.tag, r.events[0].time, r.events[0].record, r.option] for r in docker] == decoded
    assert {r.mode for r in docker} == {"Message"}  # Docker sends one Message per line
    theirs = {r.events[0].record["source"]: r for r in docker}
    container_id = theirs["stdout"].events[0].record["container_id"]
    meta = web_2(id=container_id, name="web-5", labels={"app": "web"})
    for stream, message in (("stdout", "hello fluentd"), ("stderr", "err fluentd")):
        ts = "2026-11-23T19:43:25.123456789Z"  # what the engine said for that line
        (ours,) = decode_requests(
            ForwardEncoder(labels=["app"]).encode([line(message, stream, ts, meta)])[0].data
        )
        docker_request, (docker_event,), (event,) = (
            theirs[stream],
            theirs[stream].events,
            ours.events,
        )
        assert ours.tag == docker_request.tag == container_id[:12]
        assert docker_event.record["log"] == message
        # every key Docker sends, with the same value, plus our enrichment and nothing else
        assert {k: event.record[k] for k in docker_event.record} == docker_event.record
        assert set(event.record) - set(docker_event.record) == {
            "host", "host_ip", "image_name", "image_tag", "image_id"
        }  # fmt: skip
        assert set(event.record) - set(docker_event.record) <= set(ENRICHMENT_FIELDS)
        # differences on purpose: EventTime with Docker's nanoseconds, not whole seconds; one
        # PackedForward message per batch, not one Message per line
        assert docker_event.time == 1795463005
        assert event.time == EventTime(1795463005, 123456789)
        assert (docker_request.mode, ours.mode) == ("Message", "PackedForward")
        assert (docker_request.option, ours.option) == ({}, {"size": 1})


# -- what the server says ---------------------------------------------------------------------

NONCE = bytes(range(16))
HELO_WIRE = (
    b"\x92" + fixstr("HELO")
    + b"\x83" + fixstr("nonce") + bin_(NONCE) + fixstr("auth") + bin_(b"")
    + fixstr("keepalive") + b"\xc3"
)  # fmt: skip
RESPONSES: list[tuple[str, bytes, list[Any]]] = [
    ("an ack", b"\x81" + fixstr("ack") + fixstr(CHUNK), [Ack(CHUNK)]),
    ("a HELO as in_forward sends it", HELO_WIRE, [Helo(NONCE, b"", True)]),
    (
        "a HELO with a str nonce, no auth, keepalive off",
        b"\x92"
        + fixstr("HELO")
        + b"\x82"
        + fixstr("nonce")
        + fixstr("abc")
        + fixstr("keepalive")
        + b"\xc2",
        [Helo(b"abc", b"", False)],
    ),
    (
        "a PONG that refuses",
        b"\x95"
        + fixstr("PONG")
        + b"\xc2"
        + fixstr("shared_key mismatch")
        + fixstr("")
        + fixstr(""),
        [Pong(False, "shared_key mismatch", b"", "")],
    ),
    (
        "two acks in one read",
        (b"\x81" + fixstr("ack") + fixstr("a")) * 2,
        [Ack("a"), Ack("a")],
    ),
]


@pytest.mark.parametrize(("name", "wire", "events"), RESPONSES, ids=[r[0] for r in RESPONSES])
def test_the_response_decoder_reads_the_golden_answers(
    name: str, wire: bytes, events: list[Any]
) -> None:
    assert ResponseDecoder().feed(wire) == events


@pytest.mark.parametrize(("name", "wire", "events"), RESPONSES, ids=[r[0] for r in RESPONSES])
def test_the_response_decoder_reads_the_same_answers_fed_a_byte_at_a_time(
    name: str, wire: bytes, events: list[Any]
) -> None:
    decoder = ResponseDecoder()
    got = [event for i in range(len(wire)) for event in decoder.feed(wire[i : i + 1])]
    assert got == events


@pytest.mark.parametrize(
    ("wire", "complaint"),
    [
        (b"\xc1", "invalid msgpack"),
        (b"\x81" + fixstr("ack") + b"\x01", "ack must be a string, got 1"),
        (b"\x92" + fixstr("HELO") + b"\x80", "HELO must carry a nonce"),
        (b"\x92" + fixstr("PONG") + b"\xc3", "expected an ack"),
        (fixstr("hello"), "got b'hello'"),
        (
            b"\x81" + fixstr("ack") + fixstr("a") + b"\x81" + fixstr("nack") + fixstr("a"),
            "got {b'nack': b'a'}",
        ),
    ],
)
def test_anything_else_from_the_server_is_a_remote_protocol_error_quoting_it(
    wire: bytes, complaint: str
) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        ResponseDecoder().feed(wire)
    assert complaint in str(info.value)


def test_a_server_that_never_completes_an_answer_is_stopped_at_a_megabyte() -> None:
    decoder = ResponseDecoder()
    decoder.feed(b"\xdb\x7f\xff\xff\xff")  # str32 announcing 2 GiB
    with pytest.raises(RemoteProtocolError, match="more than 1048576 bytes"):
        for _ in range(20):
            decoder.feed(b"x" * 65536)


# -- the shared-key handshake -----------------------------------------------------------------

KEY = b"s3cr3t"
SALT = "aa" * 16  # 32 hex digits, as new_salt() makes them
SALT_BYTES = SALT.encode()


def sha512_hex(*parts: bytes) -> str:
    return hashlib.sha512(b"".join(parts)).hexdigest()


@pytest.mark.parametrize(
    "helo",
    [Helo(NONCE), Helo(NONCE, auth=bytes(range(16, 32)))],
    ids=["Fluentd's HELO, auth empty", "Fluent Bit's HELO, auth always a 16-byte salt"],
)
def test_ping_answers_helo_with_the_salt_as_a_string_and_empty_credentials(helo: Helo) -> None:
    data = ping(helo, client_hostname="node-1.example.com", shared_key=KEY, salt=SALT)
    digest = sha512_hex(SALT_BYTES, b"node-1.example.com", NONCE, KEY)
    assert data == (
        b"\x96" + fixstr("PING") + fixstr("node-1.example.com")
        + b"\xd9\x20" + SALT_BYTES  # str8 (Fluent Bit refuses a bin salt), 32 hex digits
        + b"\xd9\x80" + digest.encode()  # str8, 128 hex digits
        + fixstr("") + fixstr("")  # no user name, no password
    )  # fmt: skip


def test_a_new_salt_is_32_hex_digits_and_never_the_same() -> None:
    salts = {new_salt() for _ in range(100)}
    assert len(salts) == 100
    assert all(re.fullmatch(r"[0-9a-f]{32}", s) for s in salts)


def test_a_pong_with_the_servers_digest_of_our_salt_and_its_name_is_accepted() -> None:
    pong = Pong(True, "", b"fluentd-1", sha512_hex(SALT_BYTES, b"fluentd-1", NONCE, KEY))
    check_pong(pong, helo=Helo(NONCE), shared_key=KEY, salt=SALT)


def test_a_pong_that_refuses_says_the_servers_reason() -> None:
    with pytest.raises(HandshakeRefused, match=r"refused the shared key: shared_key mismatch$"):
        check_pong(
            Pong(False, "shared_key mismatch", b"", ""), helo=Helo(NONCE), shared_key=KEY, salt=SALT
        )


def test_a_refusal_after_a_helo_with_an_auth_salt_says_users_may_be_required() -> None:
    with pytest.raises(HandshakeRefused, match="may also require a user name and password"):
        check_pong(
            Pong(False, "username/password mismatch", b"", ""),
            helo=Helo(NONCE, auth=b"x" * 16),
            shared_key=KEY,
            salt=SALT,
        )


@pytest.mark.parametrize(
    "digest",
    [
        sha512_hex(SALT_BYTES, b"fluentd-1", NONCE, b"other key"),  # a server with another key
        sha512_hex(SALT_BYTES, b"somebody-else", NONCE, KEY),  # a digest made for another name
        sha512_hex(b"\xbb" * 16, b"fluentd-1", NONCE, KEY),  # replayed from another session
        "",
        "\ufffd" * 128,  # what a digest that is not ASCII decodes to
    ],
)
def test_a_pong_whose_digest_does_not_prove_the_key_is_refused(digest: str) -> None:
    with pytest.raises(HandshakeRefused, match="does not match the shared key"):
        check_pong(
            Pong(True, "", b"fluentd-1", digest), helo=Helo(NONCE), shared_key=KEY, salt=SALT
        )


# -- the test receiver reads every carrier mode, and nothing else --------------------------------

ENTRY = b"\x92" + EVENT_TIME + b"\x81" + fixstr("log") + fixstr("x")
EVENT = Event("t", EventTime(SECONDS, 849838066), {"log": "x"})


@pytest.mark.parametrize(
    ("wire", "mode", "entries_format"),
    [
        (
            b"\x94" + fixstr("t") + EVENT_TIME + b"\x81" + fixstr("log") + fixstr("x") + b"\x80",
            "Message",
            "",
        ),
        (b"\x93" + fixstr("t") + b"\x91" + ENTRY + b"\x80", "Forward", ""),
        (b"\x92" + fixstr("t") + bin_(ENTRY), "PackedForward", "bin"),
        (
            b"\x93" + fixstr("t") + bytes((0xA0 | len(ENTRY),)) + ENTRY + b"\x80",
            "PackedForward",
            "str",
        ),
        (
            b"\x93"
            + fixstr("t")
            + bin_(gzip.compress(ENTRY))
            + b"\x81"
            + fixstr("compressed")
            + fixstr("gzip"),
            "CompressedPackedForward",
            "bin",
        ),
    ],
)
def test_the_test_receiver_reads_all_four_carrier_modes(
    wire: bytes, mode: str, entries_format: str
) -> None:
    (request,) = decode_requests(wire)
    assert (request.mode, request.events, request.entries_format) == (mode, [EVENT], entries_format)


@pytest.mark.parametrize(
    ("wire", "complaint"),
    [
        (
            b"\x93" + fixstr("t") + bin_(ENTRY) + b"\x81" + fixstr("size") + b"\x02",
            "option size 2 but 1 events",
        ),
        (b"\x92" + fixstr("t") + bin_(ENTRY[:-1]), "ends inside an entry"),
        (GOLDEN[0].wire[:-1], "the stream ends inside a request"),
        (b"\x92" + fixstr("t") + bin_(b"\x92\xc3\x80"), "time must be an integer or EventTime"),
        (
            b"\x92" + fixstr("t") + bin_(b"\x92\xc7\x04\x00" + b"\x00" * 4 + b"\x80"),
            "EventTime must hold 8 bytes",
        ),
        (
            b"\x93"
            + fixstr("t")
            + bytes((0xA0 | len(ENTRY),))
            + ENTRY
            + b"\x81"
            + fixstr("compressed")
            + fixstr("gzip"),
            "must be bin",
        ),
        (b"\x92\x01" + bin_(ENTRY), "the tag must be a string"),
        (
            b"\x93" + fixstr("t") + bin_(ENTRY) + b"\x81" + fixstr("chunk") + b"\x01",
            "chunk must be a string",
        ),
    ],
)
def test_the_test_receiver_refuses_what_the_specification_does_not_allow(
    wire: bytes, complaint: str
) -> None:
    with pytest.raises(ProtocolViolation, match=re.escape(complaint)):
        decode_requests(wire)
