"""Hypothesis against every wire encoder: any message, labels, names (unicode, control
characters, huge) encode to output that a real parser reads back: json.loads, msgpack through
the forward receiver's decoder, the GELF receiver's checks, and RFC 5424's grammar."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logship.protocol.bulk import BulkEncoder
from logship.protocol.forward import DOCKER_FIELDS, ForwardEncoder
from logship.protocol.gelf import (
    FieldSelection,
    GelfEncoder,
    GelfUdpEncoder,
    field_name,
    frame_tcp,
)
from logship.protocol.json import JsonEncoder, dedot
from logship.protocol.syslog import SyslogEncoder, frame_non_transparent, frame_octet_counting
from logship.protocol.template import TagTemplate
from logship.record import ContainerMeta, HostMeta, Record
from tests.helpers.receivers.forward import decode_requests
from tests.helpers.receivers.gelf import ChunkAssembler, decompress, parse_message, parse_tcp_frame

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# what a container may write: anything, control characters and all, sometimes a lot
messages = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=50),  # C0 controls, NUL
    st.builds(
        lambda c, n: c * n, st.characters(exclude_categories=["Cs"]), st.integers(1000, 20_000)
    ),
)
# names as the engine reports them: any unicode, within the lengths people use
names = st.text(max_size=64)
host_names = st.text(min_size=1, max_size=64)  # the agent's host always has a name
labels = st.dictionaries(st.text(min_size=1, max_size=40), st.text(max_size=300), max_size=4)
timestamps = st.builds(
    lambda s, ns: (
        f"2026-11-{1 + s // 86400 % 28:02d}T{s // 3600 % 24:02d}:{s // 60 % 60:02d}:"
        f"{s % 60:02d}.{ns:09d}Z"
    ),
    st.integers(0, 10**7),
    st.integers(0, 999_999_999),
)


@st.composite
def records(draw: Any) -> list[Record]:
    meta = ContainerMeta(
        id=draw(st.text("0123456789abcdef", min_size=64, max_size=64)),
        name=draw(names),
        image=draw(names),
        image_id="sha256:" + "a" * 64,
        host=HostMeta(draw(host_names), draw(st.sampled_from(["10.0.0.1", "::1", ""]))),
        labels=draw(labels),
        env=tuple(f"{k}={v}" for k, v in draw(labels).items()),
    )
    return [
        Record(draw(messages), draw(st.sampled_from(["stdout", "stderr"])), draw(timestamps), meta)
        for _ in range(draw(st.integers(1, 3)))
    ]


# -- syslog ---------------------------------------------------------------------------------------

PRINTUSASCII = r"[!-~]"
SD_NAME = r"[!#-<>-\\^-~]{1,32}"  # PRINTUSASCII but = ] " (and space, which is not in it)
PARAM_VALUE = r'(?:[^"\\\]]|\\["\\\]])*'
SD_ELEMENT = rf'\[{SD_NAME}(?: {SD_NAME}="{PARAM_VALUE}")*\]'
RFC5424 = re.compile(
    rf"<(?P<pri>\d{{1,3}})>1 (?P<ts>\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{6}}Z) "
    rf"(?P<host>{PRINTUSASCII}{{1,255}}) (?P<app>{PRINTUSASCII}{{1,48}}) - "
    rf"(?P<msgid>{PRINTUSASCII}{{1,32}}) (?P<sd>-|(?:{SD_ELEMENT})+) (?P<msg>.*)",
    re.DOTALL,
)
RFC3164 = re.compile(
    rb"<(?P<pri>\d{1,3})>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d "
    rb"(?P<host>[!-~]{1,255}) (?P<tag>[!-~]{1,32}): (?P<msg>.*)",
    re.DOTALL,
)
_SD = re.compile(rf'\[({SD_NAME})((?: {SD_NAME}="{PARAM_VALUE}")*)\]')
_PARAM = re.compile(rf'({SD_NAME})="({PARAM_VALUE})"')


def sd_elements(sd: str) -> dict[str, dict[str, str]]:
    return {
        m.group(1): {k: re.sub(r"\\(.)", r"\1", v) for k, v in _PARAM.findall(m.group(2))}
        for m in _SD.finditer(sd)
    }


@FUZZ
@given(records(), st.integers(480, 8192), st.sampled_from(["{{.Name}}", "{{.ImageName}}/x"]))
def test_rfc5424_messages_follow_the_grammar_and_carry_the_line_and_fields(
    batch: list[Record], limit: int, tag: str
) -> None:
    encoder = SyslogEncoder(tag=TagTemplate(tag), max_message_bytes=limit)
    for record, data in zip(batch, encoder.encode(batch), strict=True):
        assert len(data) <= limit
        match = RFC5424.fullmatch(data.decode("utf-8"))  # valid UTF-8, and the grammar
        assert match is not None, data[:300]
        assert match["ts"] == record.timestamp[:26] + "Z"
        assert int(match["pri"]) == 3 * 8 + (6 if record.stream == "stdout" else 3)
        if match["sd"] != "-":  # (only when names are too long for a small limit)
            sd = sd_elements(match["sd"])
            assert sd["logship@32473"]["container_name"] == record.meta.name
            assert sd["logship@32473"]["container_id"] == record.meta.id
        else:
            assert limit < 2048
        if match["msg"] == record.message:
            continue
        assert re.search(r" \[truncated \d+ bytes\]\Z", match["msg"]), match["msg"][-80:]
        kept = match["msg"][: match["msg"].rindex(" [truncated ")]
        assert record.message.startswith(kept)
    # over TCP: each message framed so that a receiver gets exactly it back, newlines and all
    encoded = encoder.encode(batch)
    stream = frame_octet_counting(encoded)
    back, at = [], 0
    while at < len(stream):
        space = stream.index(b" ", at)
        size = int(stream[at:space])
        back.append(stream[space + 1 : space + 1 + size])
        at = space + 1 + size
    assert back == encoded
    lines = frame_non_transparent(encoded).split(b"\n")[:-1]
    assert [len(x) for x in lines] == [len(x) for x in encoded]


@FUZZ
@given(records(), st.integers(480, 8192))
def test_rfc3164_messages_have_their_header_and_the_line(batch: list[Record], limit: int) -> None:
    encoder = SyslogEncoder(format="rfc3164", max_message_bytes=limit)
    for record, data in zip(batch, encoder.encode(batch), strict=True):
        assert len(data) <= limit
        match = RFC3164.fullmatch(data)
        assert match is not None, data[:200]
        message = match["msg"].decode("utf-8")
        assert message == record.message or message.endswith(" bytes]")


# -- GELF -----------------------------------------------------------------------------------------


@FUZZ
@given(records())
def test_gelf_documents_are_valid_gelf_with_the_line_and_every_label(batch: list[Record]) -> None:
    # "(?s)." matches any key, one made of newlines too ("." alone does not, as in Go)
    encoder = GelfEncoder(selection=FieldSelection(labels_regex="(?s).", env_regex="(?s)."))
    documents = encoder.encode(batch)
    for record, document in zip(batch, documents, strict=True):
        message = parse_message(document)  # the GELF receiver's checks, from the specification
        # a record of several lines: its first as short_message, all of them as full_message
        assert message.get("full_message", message["short_message"]) == record.message
        assert message["short_message"] == record.message.partition("\n")[0]
        assert message["_container_name"] == record.meta.name
        assert all(field_name(k) in message for k in record.meta.labels)
    # over TCP a null byte ends each message: none inside one
    frames = frame_tcp(documents).split(b"\0")
    assert frames[-1] == b""
    assert [parse_tcp_frame(f) for f in frames[:-1]] == [json.loads(d) for d in documents]


@FUZZ
@given(records(), st.sampled_from(["gzip", "zlib", "none"]), st.integers(200, 1420))
def test_gelf_datagrams_reassemble_into_the_documents(
    batch: list[Record], compression: str, chunk_size: int
) -> None:
    encoder = GelfUdpEncoder(
        GelfEncoder(),
        compression=compression,  # type: ignore[arg-type]
        chunk_size_bytes=chunk_size,
    )
    assembler = ChunkAssembler()
    received = []
    for datagram in encoder.encode(batch):
        assert len(datagram) <= chunk_size
        whole = assembler.feed(datagram)
        if whole is not None:
            received.append(parse_message(decompress(whole[0])))
    assert len(received) == len(batch) - encoder.dropped
    for record, message in zip(batch, received, strict=False):
        text = message.get("full_message", message["short_message"])  # several lines: all
        assert text == record.message or "[truncated" in text


# -- Elasticsearch _bulk, JSON console ------------------------------------------------------


@FUZZ
@given(records())
def test_bulk_entries_are_two_json_lines_each_with_the_line_and_labels(
    batch: list[Record],
) -> None:
    for record, entry in zip(batch, BulkEncoder().encode(batch), strict=True):
        assert entry.endswith(b"\n") and entry.count(b"\n") == 2
        action_line, source_line = entry.splitlines()
        action = json.loads(action_line)
        source = json.loads(source_line)
        assert set(action) == {"create"} and action["create"]["_id"]
        assert source["message"] == record.message
        assert source["container"]["name"] == record.meta.name
        assert source["container"].get("labels", {}) == dedot(record.meta.labels)


@FUZZ
@given(records())
def test_json_lines_are_one_object_each_with_the_line(batch: list[Record]) -> None:
    for record, line in zip(batch, JsonEncoder().encode(batch), strict=True):
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert json.loads(line)["message"] == record.message


# -- forward ----------------------------------------------------------------------------------


@FUZZ
@given(records(), st.sampled_from(["none", "gzip"]), st.booleans())
def test_forward_messages_decode_to_the_records(
    batch: list[Record], compress: str, time_as_integer: bool
) -> None:
    encoder = ForwardEncoder(
        labels=list(batch[0].meta.labels),
        ack=True,
        compress=compress,  # type: ignore[arg-type]
        time_as_integer=time_as_integer,
    )
    events = []
    for chunk in encoder.encode(batch):
        (request,) = decode_requests(chunk.data)  # the receiver's decoder, from the spec
        assert request.chunk == chunk.chunk_id
        events += request.events
    assert [e.record["log"] for e in events] == [r.message for r in batch]
    for event in events:
        assert event.record["container_name"] == "/" + batch[0].meta.name
        for key, value in batch[0].meta.labels.items():
            if key not in DOCKER_FIELDS:
                assert event.record[key] == value
