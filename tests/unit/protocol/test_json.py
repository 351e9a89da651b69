"""The console encoders: logship's JSON document (NDJSON) and the plain text line."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import logship.protocol.json as json_protocol
from logship.protocol.json import JsonEncoder, TextEncoder, container_document, record_document
from logship.record import ContainerMeta, Record
from tests.helpers.compiled import patches
from tests.helpers.records import K8S_LABELS, make_meta

T1 = "2026-11-27T05:24:33.719017066Z"
T2 = "2026-11-27T05:24:34.000000001Z"


def web(**changes: Any) -> ContainerMeta:
    fields: dict[str, Any] = {
        "id": "5f9a6638b642" + "0" * 52,
        "name": "web-1",
        "image": "logship-test/busybox:1.35",
        "image_id": "sha256:" + "d" * 64,
        "labels": {"app": "web", "com.example.team": "payments"},
    }
    return make_meta(**(fields | changes))


def db() -> ContainerMeta:
    return web(id="ea9c3d8e1c86" + "1" * 52, name="db-1", image="postgres", labels={})


def test_record_document_follows_the_documented_ecs_shape() -> None:
    record = Record("hello", "stderr", T1, web(labels=K8S_LABELS))
    assert record_document(record) == {
        "@timestamp": T1,
        "message": "hello",
        "log": {"iostream": "stderr"},
        "host": {"name": "vm", "ip": "10.0.0.1"},
        "container": {
            "id": "5f9a6638b642" + "0" * 52,
            "name": "web-1",
            "image": {"name": "logship-test/busybox", "tag": "1.35"},  # no ID: ECS has no field
            "labels": {  # dots as underscores, as Filebeat writes label keys
                "io_kubernetes_pod_namespace": "shop",
                "io_kubernetes_pod_name": "web-7d9f",
                "io_kubernetes_pod_uid": "0b1c-22",
                "io_kubernetes_container_name": "nginx",
            },
        },
        "kubernetes": {
            "namespace": "shop",
            "pod": {"name": "web-7d9f", "uid": "0b1c-22"},
            "container": {"name": "nginx"},
        },
    }


def test_a_container_outside_kubernetes_has_no_kubernetes_object() -> None:
    assert "kubernetes" not in container_document(web())


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
@pytest.mark.parametrize("labels", [{}, {"app": "web"}, K8S_LABELS])
def test_each_json_line_parses_into_exactly_the_record_document(
    stream: str, labels: dict[str, str]
) -> None:
    record = Record("hello world", stream, T1, web(labels=labels))
    (line,) = JsonEncoder().encode([record])
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert json.loads(line) == record_document(record)


def test_json_lines_start_with_the_timestamp_and_message() -> None:
    (line,) = JsonEncoder().encode([Record("hi", "stdout", T1, web())])
    assert line.startswith(b'{"@timestamp":"' + T1.encode() + b'","message":"hi","log":')


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"])))
def test_any_message_text_survives_json_encoding(message: str) -> None:
    record = Record(message, "stdout", T1, web())
    (line,) = JsonEncoder().encode([record])
    assert line.count(b"\n") == 1  # newlines inside the message are escaped
    assert json.loads(line) == record_document(record)


def test_awkward_label_values_are_escaped_in_the_cached_container_part() -> None:
    labels = {'quote"d': 'a "b" \\ c\nd', "ünï": "☃"}
    record = Record("x", "stdout", T1, web(labels=labels))
    (line,) = JsonEncoder().encode([record])
    assert json.loads(line)["container"]["labels"] == labels


def test_a_json_batch_mixing_containers_gives_each_line_its_own_container() -> None:
    a, b = web(), db()
    records = [
        Record("a1", "stdout", T1, a),
        Record("b1", "stderr", T1, b),
        Record("a2", "stderr", T2, a),
        Record("b2", "stdout", T2, b),
        Record("a3", "stdout", T2, a),
    ]
    lines = JsonEncoder().encode(records)
    assert [json.loads(line) for line in lines] == [record_document(r) for r in records]


@patches(json_protocol)
def test_the_container_part_is_serialised_once_per_container_not_per_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def counting(meta: ContainerMeta) -> dict[str, Any]:
        calls.append(meta.name)
        return container_document(meta)

    monkeypatch.setattr(json_protocol, "container_document", counting)
    a, b = web(), db()
    encoder = JsonEncoder()
    batch = [Record(str(i), "stdout", T1, a if i % 2 else b) for i in range(6)]
    first = encoder.encode(batch)
    assert sorted(calls) == ["db-1", "web-1"]
    assert encoder.encode(batch) == first
    assert sorted(calls) == ["db-1", "web-1"]


def test_two_json_encoders_give_the_same_bytes_for_the_same_records() -> None:
    meta = web(labels=K8S_LABELS)
    records = [Record("x", "stdout", T1, meta), Record("y", "stderr", T2, meta)]
    assert JsonEncoder().encode(records) == JsonEncoder().encode(records)


def test_an_empty_batch_encodes_to_nothing() -> None:
    assert JsonEncoder().encode([]) == []
    assert TextEncoder().encode([]) == []


# -- text -------------------------------------------------------------------------------------


def test_a_text_line_is_time_host_name_image_stream_and_message() -> None:
    lines = TextEncoder().encode(
        [Record("hello", "stdout", T1, web()), Record("oops", "stderr", T2, web())]
    )
    assert lines == [
        f"{T1} vm web-1 (logship-test/busybox:1.35) stdout: hello\n".encode(),
        f"{T2} vm web-1 (logship-test/busybox:1.35) stderr: oops\n".encode(),
    ]


def test_text_lines_are_utf8() -> None:
    (line,) = TextEncoder().encode([Record("café ☃", "stdout", T1, web())])
    assert line.decode("utf-8").endswith("stdout: café ☃\n")


def test_a_text_batch_mixing_containers_names_each_lines_own_container() -> None:
    a, b = web(), db()
    encoder = TextEncoder()
    records = [
        Record("a1", "stdout", T1, a),
        Record("b1", "stderr", T1, b),
        Record("a2", "stderr", T1, a),
    ]
    expected = [
        f"{T1} vm web-1 (logship-test/busybox:1.35) stdout: a1\n".encode(),
        f"{T1} vm db-1 (postgres) stderr: b1\n".encode(),
        f"{T1} vm web-1 (logship-test/busybox:1.35) stderr: a2\n".encode(),
    ]
    assert encoder.encode(records) == expected
    assert encoder.encode(records) == expected  # and again, from the per-container cache


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("plain\ttab", "plain\ttab"),
        ("\x1b[2J\x1b[Hcleared", "\\x1b[2J\\x1b[Hcleared"),
        ("progress\r50%", "progress\\r50%"),
        ("joined\nline", "joined\\nline"),
        ("nul\x00 bel\x07 del\x7f csi\x9b", "nul\\x00 bel\\x07 del\\x7f csi\\x9b"),
        ("caf\u00e9 \u2603 back\\slash", "caf\u00e9 \u2603 back\\slash"),
    ],
)
def test_the_text_format_writes_control_characters_out_but_tab(message: str, shown: str) -> None:
    meta = web(name="web\x1b[1m", image="img\r")
    (line,) = TextEncoder().encode([Record(message, "stdout", T1, meta)])
    assert line.decode() == f"{T1} vm web\\x1b[1m (img\\r) stdout: {shown}\n"
    (document,) = JsonEncoder().encode([Record(message, "stdout", T1, meta)])
    assert json.loads(document)["message"] == message
