"""A destination with several hosts, as metrics and /readyz show it: a series per host, and
the host that is down named with its error while the destination stays up (no socket: the
sink's host pool is told a host failed, as a failed request tells it)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from logship.pipeline.destination import Destination
from logship.pipeline.running import Destinations
from logship.server.health import Health, LoopMonitor
from logship.server.metrics import AgentCollector
from logship.sinks.elasticsearch.config import ElasticsearchConfig
from logship.sinks.elasticsearch.sink import ElasticsearchSink
from logship.sources.base import EngineStatus


def two_hosts_one_down() -> Destination:
    sink = ElasticsearchSink(ElasticsearchConfig(hosts=["es1:9200", "es2:9200"]))
    es2 = sink.pool.hosts[1]
    sink.pool.failed(es2, "cannot connect to http://es2:9200: connection refused")
    return Destination(sink)


def series(destination: Destination) -> dict[str, dict[str, float]]:
    collector = AgentCollector(
        SimpleNamespace(), Destinations([destination]), SimpleNamespace(), SimpleNamespace()
    )
    return {
        family.name: {s.labels.get("host", ""): s.value for s in family.samples}
        for family in collector._destinations()
        if family.name.startswith("logship_destination")
    }


def test_each_host_has_its_up_and_errors_series() -> None:
    found = series(two_hosts_one_down())
    assert found["logship_destination_host_up"] == {"http://es1:9200": 1, "http://es2:9200": 0}
    assert found["logship_destination_host_errors"] == {
        "http://es1:9200": 0,
        "http://es2:9200": 1,
    }
    assert found["logship_destination_up"] == {"": 1}  # the other host takes its requests


def test_readyz_names_the_host_that_is_down_and_why() -> None:
    source: Any = SimpleNamespace(status=lambda: EngineStatus("unix:///docker.sock", True, "1.41"))
    ok, body = Health(source, Destinations([two_hosts_one_down()]), LoopMonitor()).readiness()
    assert ok
    (destination,) = body["destinations"]
    assert destination["up"] is True
    up, down = destination["hosts"]
    assert up == {"host": "http://es1:9200", "up": True}
    assert down["host"] == "http://es2:9200" and down["up"] is False
    assert down["error"] == "cannot connect to http://es2:9200: connection refused"


def test_a_single_host_adds_no_host_list_to_readyz() -> None:
    sink = ElasticsearchSink(ElasticsearchConfig(host="es1"))
    source: Any = SimpleNamespace(status=lambda: EngineStatus("unix:///docker.sock", True, "1.41"))
    _, body = Health(source, Destinations([Destination(sink)]), LoopMonitor()).readiness()
    assert "hosts" not in body["destinations"][0]
