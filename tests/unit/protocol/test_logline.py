"""logship's own log lines in JSON: one object a line, ECS names, the exception when there is
one."""

from __future__ import annotations

import json
import logging

from logship.protocol.logline import JsonLogFormatter


def record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    made = logging.LogRecord("logship.runner", logging.WARNING, "x.py", 1, message, args, info)
    made.created, made.msecs = 1796488201.123456, 123.456
    return made


def test_a_line_is_one_json_object_with_ecs_names() -> None:
    line = JsonLogFormatter().format(record("%s: destination is down", "syslog+tcp://h:514"))
    assert "\n" not in line
    assert json.loads(line) == {
        "@timestamp": "2026-12-05T16:30:01.123Z",
        "log": {"level": "warning", "logger": "logship.runner"},
        "message": "syslog+tcp://h:514: destination is down",
    }


def fail() -> None:
    raise ValueError("bad\nthing")


def test_an_exception_comes_as_error_fields_still_on_one_line() -> None:
    try:
        fail()
    except ValueError as exc:
        line = JsonLogFormatter().format(record("failed", exc=exc))
    assert "\n" not in line
    error = json.loads(line)["error"]
    assert (error["type"], error["message"]) == ("ValueError", "bad\nthing")
    assert error["stack_trace"].startswith("Traceback (most recent call last):")
    assert error["stack_trace"].endswith("ValueError: bad\nthing")


def test_text_a_container_could_write_stays_inside_its_string() -> None:
    line = JsonLogFormatter().format(record('skipped "x"}\n{"log": 1 \x1b[2J'))
    assert json.loads(line)["message"] == 'skipped "x"}\n{"log": 1 \x1b[2J'
    assert "\n" not in line and "\x1b" not in line
