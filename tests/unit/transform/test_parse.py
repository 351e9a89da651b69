"""The JSON stage: which lines become fields, what a line that is no JSON object becomes (itself,
counted), per-container labels, levels and times; and that the joiner never joins a parsed
line."""

from __future__ import annotations

import pytest

from logship.config.labels import read_labels
from logship.config.multiline import MultilineConfig
from logship.config.parse import ParseConfig, severity_of
from logship.pipeline.buffer import DropOldestBuffer
from logship.pipeline.router import Route, Router
from logship.record import Parsed, Record, resume_position
from logship.transform.multiline import stage_of
from logship.transform.parse import ParseStage
from tests.helpers.records import TS, make_meta, records_of

ON = ParseConfig.model_validate("json")


def test_a_json_object_line_becomes_its_fields_message_and_level() -> None:
    stage = ParseStage(ON)
    line = '{"msg":"paid","level":"warn","order":42,"user":{"id":7}}'
    (record,) = stage.push(records_of(make_meta(), line))
    assert isinstance(record, Parsed)
    assert record.message == line  # the line as written stays
    assert record.text == "paid"
    assert record.fields == {"order": 42, "user": {"id": 7}}
    assert (record.level, record.severity) == ("warn", 4)
    assert record.timestamp == TS and record.time is None
    assert (stage.parsed, stage.not_json) == (1, 0)


@pytest.mark.parametrize(
    "line", ["plain text", "{not json", '["a", "list"]', '"a string"', "{", "42"]
)
def test_a_line_that_is_no_json_object_passes_as_it_is_and_is_counted(line: str) -> None:
    stage = ParseStage(ON)
    (record,) = stage.push(records_of(make_meta(), line))
    assert type(record) is Record and record.message == line
    assert (stage.parsed, stage.not_json) == (0, 1)


def test_the_message_field_is_the_first_of_msg_message_and_log_or_the_one_chosen() -> None:
    line = '{"log":"c","message":"b","msg":"a"}'
    (record,) = ParseStage(ON).push(records_of(make_meta(), line))
    assert isinstance(record, Parsed) and record.text == "a"
    assert record.fields == {"log": "c", "message": "b"}
    chosen = ParseConfig(format="json", message_field="log")
    (record,) = ParseStage(chosen).push(records_of(make_meta(), line))
    assert isinstance(record, Parsed) and record.text == "c"
    (record,) = ParseStage(ON).push(records_of(make_meta(), '{"a":1}'))
    assert isinstance(record, Parsed) and record.text == '{"a":1}'  # none: the whole line


def test_the_lines_own_time_replaces_dockers_only_when_asked() -> None:
    line = '{"msg":"x","time":"2026-11-27T06:24:33.5+01:00"}'
    (record,) = ParseStage(ON).push(records_of(make_meta(), line))
    assert isinstance(record, Parsed) and record.time is None and "time" in record.fields
    asked = ParseConfig(format="json", use_time=True)
    (record,) = ParseStage(asked).push(records_of(make_meta(), line))
    assert isinstance(record, Parsed) and record.time == "2026-11-27T05:24:33.500000000Z"
    assert record.timestamp == TS and "time" not in record.fields  # Docker's kept for resuming
    (record,) = ParseStage(asked).push(records_of(make_meta(), '{"ts":1795000000.25}'))
    assert isinstance(record, Parsed) and record.time == "2026-11-18T11:06:40.250000000Z"
    (record,) = ParseStage(asked).push(records_of(make_meta(), '{"time":"yesterday"}'))
    assert isinstance(record, Parsed) and record.time is None
    assert record.fields == {"time": "yesterday"}


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        ("ERROR", 3),
        ("fatal", 2),
        ("debug", 7),
        ("information", 6),
        (5, 5),
        (30, 6),
        (50, 3),
        ("chatty", None),
        (True, None),
        (99, None),
    ],
)
def test_levels_map_to_syslog_severities(level: object, severity: int | None) -> None:
    assert severity_of(level) == severity


def test_parsing_is_off_by_default_and_a_containers_label_turns_it_on_or_off() -> None:
    line = '{"msg":"x"}'
    off = ParseStage(ParseConfig())
    on_by_label = make_meta(labels={"logship.parse": "json"})
    plain = make_meta()
    out = off.push(records_of(on_by_label, line) + records_of(plain, line))
    assert [type(r) for r in out] == [Parsed, Record]
    off_by_label = make_meta(labels={"logship.parse": "off"})
    (record,) = ParseStage(ON).push(records_of(off_by_label, line))
    assert type(record) is Record
    assert read_labels({"logship.parse": "yaml"}).problems == (
        "label logship.parse='yaml': expected json or off",
    )


def test_a_parsed_line_is_never_joined_and_ends_the_trace_before_it() -> None:
    buffer = DropOldestBuffer(max_records=100, max_bytes=1 << 20)
    router = Router(
        [Route(buffer)],
        stage=stage_of(MultilineConfig(preset="java")),
        parse=ParseStage(ON),
    )
    meta = make_meta()
    lines = [
        "java.lang.IllegalStateException: boom",
        "\tat com.example.A.run(A.java:1)",
        '{"msg":"next","level":"info"}',
        "\tat com.example.B.run(B.java:2)",
    ]
    router.emit([Record(m, "stdout", TS, meta, seq) for seq, m in enumerate(lines)])
    router.flush()
    routed = buffer.take(100)
    assert [r.message for r in routed] == [
        "java.lang.IllegalStateException: boom\n\tat com.example.A.run(A.java:1)",
        '{"msg":"next","level":"info"}',
        "\tat com.example.B.run(B.java:2)",
    ]
    assert isinstance(routed[1], Parsed) and routed[1].text == "next"


def test_a_parsed_line_given_out_while_another_stream_holds_a_line_keeps_its_fields() -> None:
    stage = stage_of(MultilineConfig(preset="indented"))
    meta = make_meta()
    assert stage.push([Record("earlier", "stdout", TS, meta, 0)], 0) == []
    held = Record("trace", "stderr", TS, meta, 1)
    parsed = ParseStage(ON).push([Record('{"msg":"x","a":1}', "stdout", TS, meta, 2)])
    earlier, record = stage.push([held, *parsed], 0)
    assert earlier.message == "earlier"
    assert isinstance(record, Parsed) and record.fields == {"a": 1} and record is not parsed[0]
    assert resume_position(record) == (TS, 1)  # not past the stderr line still open
