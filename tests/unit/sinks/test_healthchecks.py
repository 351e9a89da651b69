"""Each destination checks itself for ``logship check``: every registered sink has its own
health check, ``check`` knows none of them by name, and the console's and Elasticsearch's
checks say what they found (Elasticsearch with canned HTTP answers)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

import orjson
import pytest

import logship.check
from logship.errors import CheckFailed
from logship.sinks.base import import_string
from logship.sinks.console.config import ConsoleConfig
from logship.sinks.console.sink import ConsoleSink
from logship.sinks.elasticsearch.config import ElasticsearchConfig
from logship.sinks.elasticsearch.sink import ElasticsearchSink
from logship.sinks.registry import destination_types
from tests.helpers.http_answers import CannedAnswers, answer

ES_ROOT = orjson.dumps({"cluster_name": "logs", "version": {"number": "8.13.4"}})
OPENSEARCH_ROOT = orjson.dumps({"version": {"number": "2.13.0", "distribution": "opensearch"}})


def test_every_registered_destination_has_a_health_check_of_its_own() -> None:
    for kind in destination_types():
        sink_class = import_string(kind.sink)
        assert inspect.iscoroutinefunction(sink_class.healthcheck), kind.name


def test_check_imports_no_sink_and_no_transport() -> None:
    tree = ast.parse(Path(inspect.getfile(logship.check)).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    allowed = {"logship.sinks.base", "logship.sinks.registry"}
    assert not {
        name
        for name in imported - allowed
        if name and name.startswith(("logship.transport", "logship.sinks"))
    }


async def test_the_console_says_it_writes_to_standard_output() -> None:
    assert await ConsoleSink(ConsoleConfig()).healthcheck() == "writes to standard output"


def es_answering(
    monkeypatch: pytest.MonkeyPatch, *answers: tuple[int, bytes], **options: Any
) -> tuple[ElasticsearchSink, CannedAnswers]:
    sink = ElasticsearchSink(ElasticsearchConfig(host="es", port=9200, **options))
    return sink, answer(sink.transport, monkeypatch, *answers)


async def test_elasticsearch_passes_when_the_empty_bulk_request_is_refused_for_its_body(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink, requests = es_answering(monkeypatch, (200, ES_ROOT), (400, b'{"error":"no requests"}'))
    assert await sink.healthcheck() == "Elasticsearch 8.13.4, _bulk reachable, credentials accepted"
    assert [(a.method, a.path, a.data) for a in requests.asked] == [
        ("GET", "/", None),
        ("POST", sink.bulk_path, b""),
    ]


async def test_opensearch_is_named_and_https_says_the_certificate_was_verified(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink, _ = es_answering(monkeypatch, (200, OPENSEARCH_ROOT), (200, b"{}"), scheme="https")
    assert await sink.healthcheck() == (
        "OpenSearch 2.13.0, _bulk reachable, credentials accepted, server certificate verified"
    )


async def test_refused_credentials_at_get_root_ask_to_check_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink, requests = es_answering(monkeypatch, (401, b"unauthorized"))
    with pytest.raises(CheckFailed, match=r"^GET / answered .*401.*: check the credentials$"):
        await sink.healthcheck()
    assert len(requests.asked) == 1


async def test_a_server_that_is_not_elasticsearch_is_named_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink, _ = es_answering(monkeypatch, (200, b"<html>hello</html>"))
    with pytest.raises(CheckFailed) as info:
        await sink.healthcheck()
    assert str(info.value) == "GET / did not answer like Elasticsearch: b'<html>hello</html>'"


@pytest.mark.parametrize(
    ("status", "ending"), [(403, r": check the credentials$"), (503, r"HTTP 503: no$")]
)
async def test_a_refused_bulk_request_fails_saying_how(
    monkeypatch: pytest.MonkeyPatch, status: int, ending: str
) -> None:
    sink, _ = es_answering(monkeypatch, (200, ES_ROOT), (status, b"no"))
    with pytest.raises(CheckFailed, match=f"^POST _bulk answered .*{ending}"):
        await sink.healthcheck()
