"""The agent's connection to the engine: DOCKER_HOST over TCP, and a broken events stream."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers.agent_process import lines_of
from tests.helpers.engine_proxy import EngineProxy
from tests.helpers.waiting import wait_until


@pytest.fixture
def proxy() -> Iterator[EngineProxy]:
    p = EngineProxy()
    yield p
    p.close()


def test_docker_host_over_tcp_is_honoured(
    proxy: EngineProxy, start_agent: Any, containers: Any
) -> None:
    agent = start_agent("run", "console://?format=json", env={"DOCKER_HOST": proxy.url})
    c = containers.run("echo via-tcp; sleep 30")
    wait_until(lambda: lines_of(agent, c.name), what="the line through tcp://")
    assert proxy.accepted >= 3  # version, list, events, inspect, logs all went through it


def test_after_the_events_stream_breaks_new_containers_are_still_found(
    proxy: EngineProxy, start_agent: Any, containers: Any
) -> None:
    agent = start_agent("run", "console://?format=json", env={"DOCKER_HOST": proxy.url})
    before = containers.run("echo before; sleep 60")
    wait_until(lambda: lines_of(agent, before.name), what="the first container's line")
    proxy.cut_all()  # events stream and log streams break
    wait_until(lambda: "events stream broke" in agent.stderr, what="the agent to notice")
    after = containers.run("echo after; sleep 60")
    wait_until(lambda: lines_of(agent, after.name), timeout=30, what="the new container's line")
    before.exec_run(["sh", "-c", "echo again > /proc/1/fd/1"])
    wait_until(lambda: len(lines_of(agent, before.name)) == 2, what="the old stream resumed")
    assert [r["message"] for r in lines_of(agent, before.name)] == ["before", "again"]


def test_kubernetes_labels_become_pod_metadata(start_agent: Any, containers: Any) -> None:
    agent = start_agent("run", "console://?format=json")
    c = containers.run(
        "echo from-a-pod; sleep 30",
        labels={
            "io.kubernetes.pod.namespace": "payments",
            "io.kubernetes.pod.name": "api-7d9f-xk2",
            "io.kubernetes.pod.uid": "0b1c-uid",
            "io.kubernetes.container.name": "api",
        },
    )
    (record,) = wait_until(lambda: lines_of(agent, c.name), what="the pod's line")
    assert record["kubernetes"] == {
        "namespace": "payments",
        "pod": {"name": "api-7d9f-xk2", "uid": "0b1c-uid"},
        "container": {"name": "api"},
    }
