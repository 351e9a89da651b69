"""How each encoder writes a line read as JSON fields (golden documents), and that a plain line
of the same container is written as before."""

from __future__ import annotations

import json
from typing import Any

import pytest

from logship.config.parse import ParseConfig
from logship.protocol.bulk import BulkEncoder, default_data_stream, record_source
from logship.protocol.forward import ForwardEncoder
from logship.protocol.gelf import GelfEncoder
from logship.protocol.json import JsonEncoder
from logship.protocol.syslog import SyslogEncoder
from logship.protocol.template import TagTemplate
from logship.record import Parsed, Record
from logship.transform.parse import ParseStage
from tests.helpers.receivers.forward import decode_requests
from tests.helpers.records import CONTAINER_ID, IMAGE, IMAGE_ID, TS, make_meta

LINE = (
    '{"msg":"payment failed","level":"error","order":42,"host":"app-7",'
    '"ctx":{"retry":true},"time":"2026-11-27T05:24:33.5Z","none":null}'
)
# what Filebeat's documents have as well: Elasticsearch documents keep these names too
FILEBEAT_NAMES = LINE[:-1] + ',"event":{"action":"pay"},"stream":"payments"}'


def parsed(line: str = LINE, *, use_time: bool = False, **labels: str) -> list[Record]:
    meta = make_meta(labels=labels)
    stage = ParseStage(ParseConfig(format="json", use_time=use_time))
    return stage.push([Record(line, "stdout", TS, meta, 3), Record("plain", "stdout", TS, meta, 4)])


def test_elasticsearch_puts_the_fields_at_the_top_level_never_over_its_own() -> None:
    records = parsed(FILEBEAT_NAMES)
    action, source, _, plain = b"".join(BulkEncoder().encode(records)).splitlines()
    assert json.loads(action) == {
        "create": {
            "_index": "logs-docker.container_logs-default",
            "_id": f"{CONTAINER_ID[:16]}-{TS}-3",
        }
    }
    doc = json.loads(source)
    assert doc["@timestamp"] == TS
    assert doc["message"] == "payment failed"
    assert doc["log"] == {"iostream": "stdout", "level": "error"}
    assert doc["host"] == {"name": "vm", "ip": "10.0.0.1"}  # logship's host stays
    assert doc["host_"] == "app-7"
    # the names Filebeat's documents have too stay logship's
    assert (doc["stream"], doc["stream_"]) == ("stdout", "payments")
    assert (doc["event"], doc["event_"]) == (
        {"dataset": "docker.container_logs"},
        {"action": "pay"},
    )
    assert (doc["order"], doc["ctx"], doc["none"]) == (42, {"retry": True}, None)
    assert doc["time"] == "2026-11-27T05:24:33.5Z"
    assert doc["container"]["id"] == CONTAINER_ID
    assert json.loads(plain)["message"] == "plain" and "level" not in json.loads(plain)["log"]
    assert len(source) == len(json.dumps(doc, separators=(",", ":")).encode())  # no key twice


def test_elasticsearch_puts_the_fields_under_a_key_when_told_and_may_use_the_lines_time() -> None:
    (data,) = BulkEncoder(fields_key="app").encode(parsed(use_time=True)[:1])
    doc = json.loads(data.splitlines()[1])
    assert doc["@timestamp"] == "2026-11-27T05:24:33.500000000Z"
    assert doc["app"] == {"order": 42, "host": "app-7", "ctx": {"retry": True}, "none": None}
    assert json.loads(data.splitlines()[0])["create"]["_id"].endswith(f"-{TS}-3")  # Docker's


def test_a_containers_own_field_is_not_replaced_by_a_lines_field() -> None:
    (data,) = BulkEncoder().encode(parsed('{"team":"x"}', **{"logship.field.team": "pay"})[:1])
    doc = json.loads(data.splitlines()[1])
    assert (doc["team"], doc["team_"]) == ("pay", "x")


def test_gelf_sends_the_fields_as_additional_fields_and_the_level_as_its_severity() -> None:
    doc, plain = (json.loads(d) for d in GelfEncoder(tag=TagTemplate("web")).encode(parsed()))
    expected: dict[str, Any] = {
        "version": "1.1",
        "host": "vm",
        "short_message": "payment failed",
        "timestamp": doc["timestamp"],
        "level": 3,
        "_order": 42,
        "_host": "app-7",
        "_ctx": '{"retry":true}',
        "_time": "2026-11-27T05:24:33.5Z",
        "_container_id": CONTAINER_ID,
        "_container_name": "web-2",
        "_image_name": IMAGE,
        "_image_id": IMAGE_ID,
        "_image_tag": "1.35",
        "_command": "",
        "_created": "",
        "_tag": "web",
        "_host_ip": "10.0.0.1",
        "_stream": "stdout",
    }
    assert doc == expected
    assert (plain["short_message"], plain["level"]) == ("plain", 6)


def test_gelf_renames_a_field_that_logship_sets_and_uses_the_lines_time_when_asked() -> None:
    line = '{"msg":"x","stream":"s","container_name":"c","level":"chatty","ts":1795000000.5}'
    (data,) = GelfEncoder().encode(parsed(line, use_time=True)[:1])
    doc = json.loads(data)
    assert (doc["_stream"], doc["_stream_"], doc["_container_name_"]) == ("stdout", "s", "c")
    assert doc["level"] == 6  # an unknown level: the stream's
    assert doc["timestamp"] == 1795000000.5


def test_syslog_keeps_the_line_and_takes_its_severity_from_the_level() -> None:
    encoder = SyslogEncoder(format="rfc5424", tag=TagTemplate("web"), labels="none")
    line, plain = encoder.encode(parsed())
    assert line.startswith(b"<27>1 2026-11-23T19:43:24.849838Z vm web - web [logship@32473 ")
    assert line.endswith(b"] " + LINE.encode())
    assert plain.startswith(b"<30>1 ")
    (old,) = SyslogEncoder(format="rfc3164", tag=TagTemplate("web")).encode(
        parsed(use_time=True)[:1]
    )
    assert old == b"<27>Nov 27 05:24:33 vm web: " + LINE.encode()


def test_console_json_has_the_fields_message_and_level() -> None:
    doc, plain = (json.loads(d) for d in JsonEncoder().encode(parsed()))
    assert (doc["message"], doc["log"], doc["order"], doc["host_"]) == (
        "payment failed",
        {"iostream": "stdout", "level": "error"},
        42,
        "app-7",
    )
    assert plain["message"] == "plain"


def test_syslog_sends_the_fields_as_structured_data_only_when_asked() -> None:
    asked = SyslogEncoder(
        format="rfc5424", tag=TagTemplate("web"), labels="none", parsed_fields=True
    )
    line, plain = asked.encode(parsed())
    assert (
        b'[json@32473 order="42" host="app-7" ctx="{\\"retry\\":true}" '
        b'time="2026-11-27T05:24:33.5Z" none="null"] ' + LINE.encode()
    ) in line
    assert b"json@" not in plain
    (micro,) = SyslogEncoder(format="rfc5424micro", parsed_fields=True).encode(parsed()[:1])
    assert b"json@" not in micro  # structured data is rfc5424's


def test_forward_records_carry_the_fields_as_keys_as_fluentds_parser_filter_makes_them() -> None:
    """Docker's four keys (log: the line as written) and logship's, then the line's message,
    level and fields as keys of the record, a name taken by those getting ``_``."""
    encoder = ForwardEncoder(tag=TagTemplate("web"), labels=["app"])
    records = parsed(app="shop")
    (request,) = decode_requests(b"".join(c.data for c in encoder.encode(records)))
    line, plain = (event.record for event in request.events)
    assert (line["log"], line["source"], line["container_id"]) == (LINE, "stdout", CONTAINER_ID)
    assert (line["message"], line["level"]) == ("payment failed", "error")
    assert (line["order"], line["ctx"], line["none"]) == (42, {"retry": True}, None)
    assert (line["host"], line["host_"], line["app"]) == ("vm", "app-7", "shop")
    assert line["time"] == "2026-11-27T05:24:33.5Z"
    assert set(plain) == set(line) - {"message", "level", "order", "ctx", "none", "host_", "time"}
    assert plain["log"] == "plain"


def test_forward_takes_the_lines_own_time_when_asked() -> None:
    chunks = ForwardEncoder().encode(parsed(use_time=True)[:1])
    ((event,),) = (r.events for r in decode_requests(b"".join(c.data for c in chunks)))
    assert event.time.ns == 1795757073_500000000  # type: ignore[union-attr]
    assert "time" not in event.record  # taken out of the fields, as for the other encoders


@pytest.mark.parametrize(
    ("line", "stream", "use_time"),
    [
        ('{"msg":"ok","level":"info","path":"/a","status":200}', "stdout", False),
        ('{"msg":"ok","level":"info","path":"/a","status":200}', "stderr", False),
        ('{"msg":"no level","n":1.5,"tags":["a","b"]}', "stdout", False),
        ('{"message":"é ✓","lvl":"WARN \\"x\\"","obj":{"k":null}}', "stderr", False),
        (
            '{"msg":"own time","level":"debug","time":"2026-11-27T05:24:33.5Z","a":1}',
            "stdout",
            True,
        ),
        ('{"level":"info","a":1}', "stdout", False),  # no message field: the line is the message
    ],
)
def test_elasticsearch_writes_every_usual_parsed_line_as_the_whole_document_says(
    line: str, stream: str, use_time: bool
) -> None:
    meta = make_meta()
    stage = ParseStage(ParseConfig(format="json", use_time=use_time))
    encoder = BulkEncoder()
    for seq in (3, 4):  # the second line of the container is written from what the first kept
        (record,) = stage.push([Record(line, stream, TS, meta, seq)])
        assert isinstance(record, Parsed)
        (data,) = encoder.encode([record])
        action, source = data.splitlines()
        assert json.loads(action)["create"]["_id"] == f"{CONTAINER_ID[:16]}-{TS}-{seq}"
        expected = record_source(record, encoder.agent, default_data_stream(meta))
        expected["@timestamp"] = record.time or TS
        expected["message"] = record.text
        expected["log"] = {"iostream": stream, **({"level": record.level} if record.level else {})}
        expected.update(record.fields)
        assert json.loads(source) == expected
        assert len(source) == len(
            json.dumps(expected, separators=(",", ":"), ensure_ascii=False).encode()
        )
