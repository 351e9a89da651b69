"""The index template install_template puts in place, and reading GET _index_template's answer."""

from __future__ import annotations

import json

from logship.protocol.index_template import (
    LOGS_COMPONENTS,
    found_template,
    index_template,
    template_patterns,
)

STREAMS = ["logs-kubernetes.container_logs-default", "logs-docker.container_logs-default"]


def test_a_data_stream_template_types_host_ip_and_message_as_elastics_logs_templates_do() -> None:
    body = index_template(template_patterns(data_streams=STREAMS), data_stream=True, priority=150)
    assert body["index_patterns"] == sorted(STREAMS)  # the names, no wildcard over others'
    assert body["priority"] == 150 and body["data_stream"] == {}
    properties = body["template"]["mappings"]["properties"]
    assert properties["host"]["properties"]["ip"] == {"type": "ip"}
    assert properties["message"] == {"type": "match_only_text"}
    assert properties["data_stream"]["properties"]["dataset"] == {"type": "constant_keyword"}
    # built from what Elastic's logs template is built from, where the cluster has it
    assert body["composed_of"] == list(LOGS_COMPONENTS)
    assert body["ignore_missing_component_templates"] == list(LOGS_COMPONENTS)


def test_an_index_template_covers_the_dated_names_and_has_no_data_stream() -> None:
    patterns = template_patterns(index="logship-%Y.%m.%d")
    assert patterns == ["logship-*.*.*"]
    body = index_template(patterns, data_stream=False, priority=150)
    assert "data_stream" not in body and "composed_of" not in body
    assert "data_stream" not in body["template"]["mappings"]["properties"]


def test_the_template_is_found_in_the_documented_answer_and_only_there() -> None:
    template = {"index_patterns": ["logs-a-b"], "priority": 150}
    answer = {"index_templates": [{"name": "logship", "index_template": template}]}
    assert found_template(json.dumps(answer).encode(), "logship") == template
    assert found_template(json.dumps(answer).encode(), "other") is None
    assert found_template(b"<html>proxy</html>", "logship") is None
    assert found_template(b'{"index_templates": 3}', "logship") is None
