"""A container's own ``logship.*`` labels: read once, bad ones logged once and ignored, and
what each one does to that container's records (and to no other container's)."""

from __future__ import annotations

import json
import logging

import pytest

from logship.config.labels import Multiline, container_options, read_labels
from logship.config.multiline import MultilineConfig
from logship.pipeline.buffer import DropOldestBuffer
from logship.pipeline.router import Route, Router
from logship.protocol.bulk import BulkEncoder
from logship.protocol.forward import ForwardEncoder
from logship.protocol.gelf import GelfEncoder
from logship.protocol.syslog import SyslogEncoder
from logship.record import ContainerMeta, Record
from logship.transform.multiline import stage_of
from tests.helpers.receivers.forward import decode_requests
from tests.helpers.receivers.gelf import parse_message
from tests.helpers.records import TS, make_meta
from tests.helpers.syslog_wire import parse_rfc5424

TRACE = ["java.lang.Error: boom", "\tat a.B.c(B.java:1)"]


def record(meta: ContainerMeta, message: str = "hello", stream: str = "stdout") -> Record:
    return Record(message, stream, TS, meta)


# -- reading ----------------------------------------------------------------------------------


def test_labels_are_read_into_the_containers_options() -> None:
    options = read_labels(
        {
            "logship.multiline": "Java",
            "logship.field.team": "payments",
            "logship.field.service.name": "billing",
            "logship.tag": "billing-{{.Name}}",
            "logship.destinations": "es, syslog",
            "com.example.other": "x",
            "logship.bench": "someone else's",  # a logship.* label we do not know: left alone
        }
    )
    assert options.multiline == Multiline(preset="java")
    assert options.fields == {"service.name": "billing", "team": "payments"}
    assert options.tag == "billing-{{.Name}}"
    assert options.destinations == {"es", "syslog"}
    assert options.problems == ()


@pytest.mark.parametrize(
    ("labels", "problem"),
    [
        ({"logship.multiline": "ruby"}, "expected one of java, python, go, nodejs, indented"),
        ({"logship.multiline.pattern": "(open"}, "no regular expression"),
        ({"logship.field.1st": "x"}, "is no field name"),
        ({"logship.destinations": " , "}, "expected destination names"),
        ({"logship.tag": "a\nb"}, "printable characters"),
    ],
)
def test_a_label_that_cannot_be_used_is_a_problem_and_not_applied(
    labels: dict[str, str], problem: str
) -> None:
    options = read_labels(labels)
    (said,) = options.problems
    assert problem in said
    assert (options.multiline, options.fields, options.tag, options.destinations) == (
        None,
        {},
        None,
        None,
    )


def test_a_bad_label_is_logged_once_with_the_containers_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    meta = make_meta(name="shop-api", labels={"logship.multiline": "ruby"})
    with caplog.at_level(logging.WARNING, logger="logship"):
        for _ in range(3):
            container_options(meta)
    (said,) = [r.getMessage() for r in caplog.records]
    assert "container shop-api" in said
    assert "logship.multiline='ruby'" in said
    assert "ignored" in said


def test_multiline_off_and_a_pattern_are_read_too() -> None:
    assert read_labels({"logship.multiline": "off"}).multiline == Multiline()
    assert read_labels({"logship.multiline.pattern": r"^\d"}).multiline == Multiline(
        start_pattern=r"^\d"
    )


# -- multiline --------------------------------------------------------------------------------


def joined(config: MultilineConfig, meta: ContainerMeta) -> list[str]:
    stage = stage_of(config)
    out = stage.push([record(meta, m, "stderr") for m in TRACE], 0)
    for batch in stage.due(None):
        out += batch
    return [r.message for r in out]


def test_a_containers_multiline_label_wins_over_the_setting() -> None:
    java = make_meta(labels={"logship.multiline": "java"})
    plain = make_meta(labels={"logship.multiline": "off"})
    assert joined(MultilineConfig(), java) == ["\n".join(TRACE)]  # the setting is off
    assert joined(MultilineConfig(preset="java"), plain) == TRACE
    assert joined(MultilineConfig(), make_meta()) == TRACE  # no label: the setting


def test_a_containers_pattern_joins_within_the_settings_bounds() -> None:
    meta = make_meta(labels={"logship.multiline.pattern": "^java"})
    lines = [TRACE[0], *(f"\tat f{i}" for i in range(5))]
    stage = stage_of(MultilineConfig(max_lines=3))
    out = stage.push([record(meta, m) for m in lines], 0) + stage.due(None)[0]
    assert [r.message.count("\n") + 1 for r in out] == [3, 3]


# -- destinations -----------------------------------------------------------------------------


def routes(honor: bool) -> tuple[Route, Route]:
    def route(name: str) -> Route:
        buffer = DropOldestBuffer(max_records=100, max_bytes=1 << 20)
        return Route(buffer, name=name, honor_opt_outs=honor)

    return route("audit"), route("es")


@pytest.mark.parametrize("honor", [True, False])
def test_a_container_chooses_its_destinations_only_while_the_operator_lets_it(
    honor: bool,
) -> None:
    audit, es = routes(honor)
    chooser = make_meta(name="app", labels={"logship.destinations": "es"})
    other = make_meta(name="other")
    router = Router([audit, es])
    router.emit([record(chooser, "mine")])
    router.emit([record(other, "theirs")])
    got = {r.name: [x.message for x in r.buffer.take(10)] for r in (audit, es)}
    if honor:
        assert got == {"audit": ["theirs"], "es": ["mine", "theirs"]}
        assert audit.filtered == 1
    else:
        assert got == {"audit": ["mine", "theirs"], "es": ["mine", "theirs"]}


# -- what the destinations send ---------------------------------------------------------------

LABELLED = {"logship.field.team": "payments", "logship.tag": "billing-{{.Name}}"}


def test_gelf_gets_the_fields_and_the_tag() -> None:
    (data,) = GelfEncoder().encode([record(make_meta(name="api", labels=LABELLED))])
    message = parse_message(data)
    assert (message["_team"], message["_tag"]) == ("payments", "billing-api")


def test_syslog_gets_the_tag_and_the_fields_as_an_element_of_their_own() -> None:
    (data,) = SyslogEncoder().encode([record(make_meta(name="api", labels=LABELLED))])
    message = parse_rfc5424(data)
    assert message["app_name"] == "billing-api"
    assert ("fields@32473", [("team", "payments")]) in message["sd"]


def test_forward_gets_the_fields_and_the_tag() -> None:
    (chunk,) = ForwardEncoder().encode([record(make_meta(name="api", labels=LABELLED))])
    (request,) = decode_requests(chunk.data)
    (event,) = request.events
    assert (request.tag, event.record["team"]) == ("billing-api", "payments")


def test_elasticsearch_gets_the_fields_at_the_top_never_in_place_of_its_own() -> None:
    labels = {**LABELLED, "logship.field.host": "evil", "logship.field.message": "evil"}
    (data,) = BulkEncoder().encode([record(make_meta(name="api", labels=labels))])
    document = json.loads(data.split(b"\n")[1])
    assert document["team"] == "payments"
    assert document["message"] == "hello"
    assert document["host"]["name"] != "evil"


def test_a_tag_label_that_is_no_template_is_logged_and_the_destinations_tag_used(
    caplog: pytest.LogCaptureFixture,
) -> None:
    meta = make_meta(name="api", labels={"logship.tag": "{{.Nope}}"})
    with caplog.at_level(logging.WARNING, logger="logship"):
        (data,) = GelfEncoder().encode([record(meta)])
        SyslogEncoder().encode([record(meta)])
    assert parse_message(data)["_tag"] == meta.short_id
    (said,) = [r.getMessage() for r in caplog.records]
    assert "container api: label logship.tag" in said


def test_a_batch_mixing_containers_is_sorted_record_by_record() -> None:
    audit, _ = routes(True)
    chooser = make_meta(name="app", labels={"logship.destinations": "es"})
    other = make_meta(name="other")
    audit.put([record(chooser, "a"), record(other, "b"), record(chooser, "c")])
    assert [r.message for r in audit.buffer.take(10)] == ["b"]
