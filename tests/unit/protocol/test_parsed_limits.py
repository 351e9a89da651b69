"""A line read as JSON fields at the encoders' limits: a GELF message too big for 128 chunks,
a syslog header too long for max_message_bytes, an Elasticsearch index named by date. What
was read from the line (its fields, level and own time) stays wherever it fits."""

from __future__ import annotations

import json
from typing import Any

from logship.config.parse import ParseConfig
from logship.protocol.bulk import BulkEncoder, IndexPattern
from logship.protocol.gelf import (
    CHUNK_HEADER_BYTES,
    GelfEncoder,
    GelfUdpEncoder,
    max_payload_bytes,
)
from logship.protocol.syslog import SyslogEncoder
from logship.record import Record
from logship.transform.parse import ParseStage
from tests.helpers.records import TS, make_meta
from tests.helpers.syslog_wire import parse_rfc5424

LINE_TIME = "2026-11-27T05:24:33.5Z"  # four days after Docker's TS


def parsed_line(obj: dict[str, Any], *, use_time: bool = True, **labels: str) -> Record:
    stage = ParseStage(ParseConfig(format="json", use_time=use_time))
    (record,) = stage.push([Record(json.dumps(obj), "stdout", TS, make_meta(labels=labels), 3)])
    return record


def gelf_message(datagrams: list[bytes]) -> dict[str, Any]:
    """The one uncompressed message these datagrams carry (chunked or not)."""
    if datagrams[0][:2] != b"\x1e\x0f":
        (data,) = datagrams
        return dict(json.loads(data))
    return dict(json.loads(b"".join(d[CHUNK_HEADER_BYTES:] for d in datagrams)))


def test_elasticsearch_files_a_line_by_its_own_time_when_asked() -> None:
    record = parsed_line({"msg": "late", "time": LINE_TIME})
    dated = IndexPattern("logship-%Y.%m.%d")
    action, source = BulkEncoder(index=dated).encode([record])[0].splitlines()
    assert json.loads(source)["@timestamp"] == "2026-11-27T05:24:33.500000000Z"
    # the index of the day the line says it happened, the _id still Docker's (one per line)
    assert json.loads(action)["create"]["_index"] == "logship-2026.11.27"
    assert json.loads(action)["create"]["_id"].endswith(f"-{TS}-3")
    # without use_time: the day Docker read it
    (data,) = BulkEncoder(index=dated).encode(
        [parsed_line({"msg": "x", "time": LINE_TIME}, use_time=False)]
    )
    assert json.loads(data.splitlines()[0])["create"]["_index"] == "logship-2026.11.23"


def test_a_parsed_line_too_big_for_gelf_udp_is_cut_in_its_message_and_keeps_its_fields() -> None:
    room = max_payload_bytes(1420)
    record = parsed_line(
        {"msg": "x" * (room + 500), "level": "error", "order": 42, "time": LINE_TIME}
    )
    encoder = GelfUdpEncoder(GelfEncoder(), compression="none")
    message = gelf_message(encoder.encode([record]))
    assert encoder.truncated == 1
    assert message["short_message"].startswith("xxx")
    assert message["short_message"].endswith(" bytes]")
    assert not message["short_message"].startswith("{")  # the message field, not the line
    assert (message["_order"], message["level"]) == (42, 3)
    assert message["timestamp"] == 1795757073.5  # the line's own time


def test_gelf_leaves_out_the_biggest_fields_when_the_fields_alone_are_too_big() -> None:
    room = max_payload_bytes(1420)
    record = parsed_line({"msg": "hello", "level": "warn", "order": 42, "dump": "y" * room})
    encoder = GelfUdpEncoder(GelfEncoder(), compression="none")
    message = gelf_message(encoder.encode([record]))
    assert (encoder.truncated, encoder.dropped) == (1, 0)
    assert "_dump" not in message
    assert (message["_order"], message["level"]) == (42, 4)
    assert message["short_message"].startswith("hello")


def test_a_parsed_line_whose_syslog_header_is_too_long_keeps_its_severity_time_and_fields() -> None:
    labels = {f"label{i}": "v" * 60 for i in range(20)}
    record = parsed_line({"msg": "m", "level": "error", "order": 42, "time": LINE_TIME}, **labels)
    encoder = SyslogEncoder(max_message_bytes=1024, parsed_fields=True)
    (data,) = encoder.encode([record])
    assert len(data) <= 1024
    fields = parse_rfc5424(data)
    assert fields["pri"] == 27  # daemon.err: the line's level
    assert fields["timestamp"] == "2026-11-27T05:24:33.500000Z"
    # the labels left out, the line's own fields kept
    assert [sd_id for sd_id, _ in fields["sd"]] == ["logship@32473", "json@32473"]
    assert dict(fields["sd"])["json@32473"] == [("order", "42")]
