"""An Elasticsearch destination with several hosts (the nodes of one cluster): requests take
turns, a host that fails is passed over at once and tried again later, and nothing is lost or
written twice. Two stand-ins of one cluster (tests/helpers/receivers/elasticsearch.py: they
share what they store, as nodes do) on 127.0.0.1; first the sink alone, then real containers
through ``logship run`` and ``logship check``."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from logship.errors import CheckFailed, DeliveryError
from logship.record import Record
from logship.sinks.elasticsearch.config import ElasticsearchConfig
from logship.sinks.elasticsearch.sink import ElasticsearchSink
from tests.helpers.agent_process import AgentProcess, run_cli
from tests.helpers.http import base_url, get_json, scrape
from tests.helpers.ports import free_port
from tests.helpers.receivers.elasticsearch import ElasticsearchStandIn
from tests.helpers.records import make_meta
from tests.helpers.waiting import until, wait_until

WAIT = 30.0
WEB = make_meta()


@pytest.fixture
def cluster(
    start_elasticsearch: Callable[..., ElasticsearchStandIn],
) -> Iterator[tuple[ElasticsearchStandIn, ElasticsearchStandIn]]:
    """Two nodes of one cluster, each on its own port."""
    first = start_elasticsearch()
    yield first, start_elasticsearch(node_of=first)


def records(count: int, first: int = 0) -> list[Record]:
    return [
        Record(f"line-{i}", "stdout", f"2026-11-27T05:24:33.{i:09d}Z", WEB)
        for i in range(first, first + count)
    ]


@asynccontextmanager
async def sink_to(*ports: int) -> AsyncIterator[ElasticsearchSink]:
    """The sink sending to these ports of 127.0.0.1, closed after."""
    sink = ElasticsearchSink(ElasticsearchConfig(hosts=[f"127.0.0.1:{port}" for port in ports]))
    try:
        yield sink
    finally:
        await sink.close()


async def send_batches(sink: ElasticsearchSink, count: int) -> None:
    """``count`` batches of 5 records, one after the other; each must be taken whole."""
    for n in range(count):
        await sink.send(records(5, first=5 * n))


def stored(es: ElasticsearchStandIn) -> list[str]:
    return sorted(doc["message"] for doc in es.documents())


# -- the sink on its own ----------------------------------------------------------------------


async def test_requests_take_turns_over_the_hosts(
    cluster: tuple[ElasticsearchStandIn, ElasticsearchStandIn],
) -> None:
    es1, es2 = cluster
    async with sink_to(es1.port, es2.port) as sink:
        await send_batches(sink, 4)
    assert (len(es1.calls), len(es2.calls)) == (2, 2)
    assert stored(es1) == sorted(r.message for r in records(20))


async def test_a_host_that_does_not_answer_is_passed_over_without_failing_a_batch(
    cluster: tuple[ElasticsearchStandIn, ElasticsearchStandIn],
) -> None:
    es1, _ = cluster
    dead = free_port(socket.SOCK_STREAM)
    async with sink_to(dead, es1.port) as sink:
        await send_batches(sink, 4)  # no DeliveryError: es1 took each
        dead_host, live_host = sink.host_states()
    assert len(es1.calls) == 4
    assert stored(es1) == sorted(r.message for r in records(20))
    assert (dead_host.up, live_host.up) == (False, True)
    assert dead_host.failures == 1  # set aside after its first failure, not tried each time
    assert "cannot connect" in dead_host.error


async def test_a_503_sends_the_request_on_to_the_next_host_and_a_429_goes_back_to_the_runner(
    cluster: tuple[ElasticsearchStandIn, ElasticsearchStandIn],
) -> None:
    es1, es2 = cluster
    async with sink_to(es1.port, es2.port) as sink:
        es1.fail_requests(1, 503)
        await sink.send(records(3))  # es1 answers 503, es2 takes it
        assert [c.status for c in es1.calls] == [503]
        assert [c.status for c in es2.calls] == [200]
        es2.fail_requests(1, 429)  # es1 is set aside: es2's turn, and it pushes back
        with pytest.raises(DeliveryError) as info:
            await sink.send(records(3, first=3))
        assert [r.message for r in info.value.remaining] == ["line-3", "line-4", "line-5"]
        assert "answered HTTP 429" in str(info.value)
        assert [host.up for host in sink.host_states()] == [False, True]
    assert stored(es1) == sorted(r.message for r in records(3))


async def test_when_no_host_answers_the_batch_goes_back_naming_each_host() -> None:
    dead = [free_port(socket.SOCK_STREAM), free_port(socket.SOCK_STREAM)]
    batch = records(2)
    async with sink_to(*dead) as sink:
        with pytest.raises(DeliveryError) as info:
            await sink.send(batch)
    assert info.value.retriable and info.value.remaining == batch
    for port in dead:
        assert f"cannot connect to http://127.0.0.1:{port}" in str(info.value)


async def test_the_health_check_says_how_each_host_is_and_fails_when_one_does(
    cluster: tuple[ElasticsearchStandIn, ElasticsearchStandIn],
) -> None:
    es1, es2 = cluster
    async with sink_to(es1.port, es2.port) as sink:
        said = await sink.healthcheck()
    assert said.startswith("2 hosts: ")
    assert f"http://127.0.0.1:{es2.port} OK Elasticsearch 8.13.4, _bulk reachable" in said
    dead = free_port(socket.SOCK_STREAM)
    async with sink_to(es1.port, dead) as sink:
        with pytest.raises(CheckFailed) as info:
            await sink.healthcheck()
    assert str(info.value).startswith("1 of 2 hosts failing: ")
    assert f"http://127.0.0.1:{es1.port} OK Elasticsearch 8.13.4" in str(info.value)
    assert f"http://127.0.0.1:{dead} FAIL cannot connect" in str(info.value)


# -- real containers through `logship run` and `logship check` ---------------------------------


def ticks(es: ElasticsearchStandIn, container: str) -> list[str]:
    return [d["message"] for d in es.documents() if d["container"]["name"] == container]


async def test_a_host_killed_mid_stream_costs_no_line_and_no_duplicate(
    cluster: tuple[ElasticsearchStandIn, ElasticsearchStandIn], start_agent: Any, containers: Any
) -> None:
    es1, es2 = cluster
    hosts = f"127.0.0.1:{es1.port},127.0.0.1:{es2.port}"
    agent: AgentProcess = start_agent(
        "run",
        f"elasticsearch+http://{hosts}?reconnect_max_secs=1&batch.max_records=20",
        "--http",
        "0",
    )
    base = base_url(agent)
    c = containers.run(
        "i=0; while [ $i -lt 400 ]; do i=$((i+1)); echo tick-$i; sleep 0.01; done; sleep 60"
    )
    wait_until(
        lambda: len(ticks(es1, c.name)) >= 60 and es1.calls and es2.calls,
        timeout=WAIT,
        what="60 ticks, sent to both hosts",
    )
    before = len(es1.calls)
    es2.kill()
    wait_until(lambda: len(ticks(es1, c.name)) >= 400, timeout=WAIT, what="all 400 ticks")
    got = ticks(es1, c.name)
    assert sorted(got, key=lambda m: int(m.split("-")[1])) == [f"tick-{i}" for i in range(1, 401)]
    assert len(es1.calls) > before  # the live host took what came after
    dead = f"http://127.0.0.1:{es2.port}"
    wait_until(lambda: f"host {dead} is down" in agent.stderr, timeout=WAIT, what="the log")
    async with aiohttp.ClientSession() as http:

        async def host_down() -> Any:
            m = await scrape(http, base)
            value = m.value("logship_destination_host_up", host=dead)
            return m if value == 0 else None

        m = await until(host_down, what="the dead host's series at 0")
        assert m.value("logship_destination_host_up", host=f"http://127.0.0.1:{es1.port}") == 1
        assert m.value("logship_destination_up") == 1  # the other host takes its requests
        _, ready = await get_json(http, f"{base}/readyz")
    (destination,) = ready["destinations"]
    state = {h["host"]: h for h in destination["hosts"]}
    assert state[dead]["up"] is False and "cannot connect" in state[dead]["error"]
    assert destination["up"] is True
    # the node comes back: tried again after its backoff, it takes requests again, said once
    answered_before = len(es2.calls)
    es2.start()
    more = containers.run("for i in $(seq 1 40); do echo more-$i; sleep 0.1; done; sleep 60")
    wait_until(lambda: len(ticks(es1, more.name)) == 40, timeout=WAIT, what="40 more lines")
    assert len(es2.calls) > answered_before
    assert f"host {dead} is back" in agent.stderr
    assert agent.stop() == 0
    assert agent.stderr.count(f"host {dead} is down") == 1
    assert agent.stderr.count(f"host {dead} is back") == 1
    assert "destination is down" not in agent.stderr  # one host up: no delivery stopped


def test_check_reports_each_host(
    cluster: tuple[ElasticsearchStandIn, ElasticsearchStandIn],
) -> None:
    es1, _ = cluster
    dead = free_port(socket.SOCK_STREAM)
    uri = f"elasticsearch+http://127.0.0.1:{es1.port},127.0.0.1:{dead}"
    result = run_cli(["check", uri])
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = [line for line in result.stdout.splitlines() if "destination 0" in line]
    assert line.strip().startswith(f"FAIL destination 0 {uri}: 1 of 2 hosts failing")
    assert re.search(rf"http://127.0.0.1:{es1.port} OK Elasticsearch 8\.13\.4", line)
    assert f"http://127.0.0.1:{dead} FAIL" in line
