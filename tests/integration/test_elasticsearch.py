"""The Elasticsearch destination against a stand-in that follows the documented ``_bulk``
contract (tests/helpers/receivers/elasticsearch.py; no Elasticsearch can run here): first the
sink on its own, then real containers through ``logship run``."""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from logship import __version__
from logship.errors import DeliveryError
from logship.protocol.json import dedot
from logship.record import Record
from logship.sinks.elasticsearch.config import ElasticsearchConfig
from logship.sinks.elasticsearch.sink import ElasticsearchSink
from tests.helpers.agent_process import AgentProcess, run_cli
from tests.helpers.receivers.elasticsearch import ElasticsearchStandIn
from tests.helpers.records import K8S_LABELS, make_meta
from tests.helpers.tls import TlsFiles, server_context
from tests.helpers.waiting import wait_until

SECRET = "s3cr3t-Pa55"
API_KEY = "VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw"
WAIT = 30.0


def docs_of(es: ElasticsearchStandIn, container: str, index: str | None = None) -> list[Any]:
    return [d for d in es.documents(index) if d["container"]["name"] == container]


def messages_of(es: ElasticsearchStandIn, container: str, index: str | None = None) -> list[str]:
    return [d["message"] for d in docs_of(es, container, index)]


def wait_for_messages(es: ElasticsearchStandIn, container: str, count: int) -> list[str]:
    wait_until(
        lambda: len(messages_of(es, container)) >= count,
        timeout=WAIT,
        what=f"{count} documents from {container}",
    )
    return messages_of(es, container)


# -- the sink on its own ----------------------------------------------------------------------

WEB = make_meta()


def records(count: int, text: str = "line", size: int = 0, first: int = 0) -> list[Record]:
    """Lines of one container, each with its own time (so its own ``_id``)."""
    return [
        Record(f"{text}-{i} " + "x" * size, "stdout", f"2026-11-27T05:24:33.{i:09d}Z", WEB)
        for i in range(first, first + count)
    ]


def sink_for(es: ElasticsearchStandIn, **options: Any) -> ElasticsearchSink:
    return ElasticsearchSink(ElasticsearchConfig(host="127.0.0.1", port=es.port, **options))


async def test_a_batch_is_sent_in_requests_no_larger_than_max_request_bytes(
    es: ElasticsearchStandIn,
) -> None:
    sink = sink_for(es, max_request_bytes=4096)
    try:
        await sink.send(records(40, size=100))
    finally:
        await sink.close()
    assert len(es.documents()) == 40
    assert len(es.calls) > 1
    assert all(call.body_bytes <= 4096 for call in es.calls)
    assert sum(len(call.actions) for call in es.calls) == 40


async def test_a_413_halves_the_request_until_it_fits_and_a_lone_oversized_line_is_refused(
    start_elasticsearch: Callable[..., ElasticsearchStandIn],
    caplog: pytest.LogCaptureFixture,
) -> None:
    es = start_elasticsearch(max_content_length_bytes=8192)
    sink = sink_for(es)
    batch = records(30, size=200) + records(1, text="huge", size=20_000, first=30)
    try:
        with pytest.raises(DeliveryError) as info:
            await sink.send(batch)
    finally:
        await sink.close()
    statuses = [call.status for call in es.calls]
    assert statuses[0] == 413 and statuses.count(200) > 1
    assert sorted(d["message"] for d in es.documents()) == sorted(r.message for r in batch[:30])
    assert (info.value.remaining, info.value.rejected, info.value.too_large) == ([], 1, 1)
    assert "HTTP 413" in caplog.text and "huge" not in caplog.text


async def test_a_whole_request_429_hands_the_whole_batch_back_for_a_retry(
    es: ElasticsearchStandIn,
) -> None:
    es.fail_requests(1, 429)
    sink = sink_for(es)
    batch = records(5)
    try:
        with pytest.raises(DeliveryError) as info:
            await sink.send(batch)
        assert info.value.retriable and info.value.remaining == batch
        assert info.value.rejected == 0
        assert "answered HTTP 429: es_rejected_execution_exception" in str(info.value)
        assert es.documents() == []
        await sink.send(info.value.remaining)
    finally:
        await sink.close()
    assert len(es.documents()) == 5


async def test_per_item_failures_hand_back_only_the_failed_records(
    es: ElasticsearchStandIn,
) -> None:
    es.fail_items("line-3 ", status=429, times=1)
    es.fail_items("line-4 ", status=400)
    sink = sink_for(es)
    batch = records(6)
    try:
        with pytest.raises(DeliveryError) as info:
            await sink.send(batch)
    finally:
        await sink.close()
    assert info.value.retriable
    assert info.value.remaining == [batch[3]]
    assert info.value.rejected == 1
    assert "refused 1 of 6 records for now: 429 es_rejected_execution_exception" in str(info.value)
    assert len(es.documents()) == 4


async def test_a_batch_sent_again_is_answered_409_and_counts_as_delivered(
    es: ElasticsearchStandIn,
) -> None:
    sink = sink_for(es)
    batch = records(3)
    try:
        await sink.send(batch)
        await sink.send(batch)  # a retry after a lost answer: no error, no duplicate
    finally:
        await sink.close()
    assert len(es.documents()) == 3
    assert sink.existing_total == 3
    assert [e["type"] for e in es.item_errors] == ["version_conflict_engine_exception"] * 3


async def test_refused_credentials_say_so_and_are_retried(
    start_elasticsearch: Callable[..., ElasticsearchStandIn],
) -> None:
    es = start_elasticsearch(users={"writer": "right"})
    sink = ElasticsearchSink(
        ElasticsearchConfig(host="127.0.0.1", port=es.port, user="writer", password="wrong")
    )
    batch = records(2)
    try:
        with pytest.raises(DeliveryError) as info:
            await sink.send(batch)
    finally:
        await sink.close()
    assert info.value.retriable and info.value.remaining == batch
    message = str(info.value)
    assert (
        "credentials refused (HTTP 401: security_exception: unable to authenticate user "
        "[writer] for REST request [/_bulk])" in message
    )
    assert "password_file" in message
    assert "wrong" not in message


async def test_opening_says_which_server_answered(
    es: ElasticsearchStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    sink = sink_for(es)
    try:
        with caplog.at_level(logging.INFO, logger="logship.sink"):
            await sink.open()
    finally:
        await sink.close()
    assert "Elasticsearch 8.13.4, cluster 'logship-test'" in caplog.text


async def test_an_error_that_shows_request_headers_is_passed_on_without_the_credential(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink = ElasticsearchSink(
        ElasticsearchConfig(host="127.0.0.1", port=9, user="writer", password=SECRET)
    )
    token = base64.b64encode(f"writer:{SECRET}".encode()).decode()

    async def redirect_loop(*args: Any, **kwargs: Any) -> Any:
        # what HttpTransport makes of aiohttp's TooManyRedirects: its repr shows the headers
        raise DeliveryError(
            f"POST failed: TooManyRedirects(headers={{'Authorization': 'Basic {token}'}})"
        )

    monkeypatch.setattr(sink.transport, "request", redirect_loop)
    try:
        with pytest.raises(DeliveryError) as info:
            await sink.send(records(1))
    finally:
        await sink.close()
    assert "TooManyRedirects" in str(info.value) and "<redacted>" in str(info.value)
    assert token not in str(info.value)


async def test_no_answer_at_all_hands_the_whole_batch_back() -> None:
    es = ElasticsearchStandIn().start()
    port = es.port
    es.close()
    sink = ElasticsearchSink(ElasticsearchConfig(host="127.0.0.1", port=port))
    batch = records(3)
    try:
        with pytest.raises(DeliveryError) as info:
            await sink.send(batch)
    finally:
        await sink.close()
    assert info.value.retriable and info.value.remaining == batch
    assert "cannot connect" in str(info.value)


# -- data streams and the index template ------------------------------------------------------

DOCKER_STREAM = "logs-docker.container_logs-default"
POD = make_meta(name="web-7d9f", labels=K8S_LABELS)


def pod_records(count: int) -> list[Record]:
    return [
        Record(f"pod-{i}", "stdout", f"2026-11-27T05:24:34.{i:09d}Z", POD) for i in range(count)
    ]


def es_config(es: ElasticsearchStandIn, **options: Any) -> ElasticsearchConfig:
    return ElasticsearchConfig(host="127.0.0.1", port=es.port, **options)


async def send_once(config: ElasticsearchConfig, batch: list[Record]) -> None:
    sink = ElasticsearchSink(config)
    try:
        await sink.open()
        await sink.send(batch)
    finally:
        await sink.close()


async def test_an_index_op_into_a_data_stream_gets_the_documented_400(
    es: ElasticsearchStandIn,
) -> None:
    body = (
        b'{"index":{"_index":"logs-docker.container_logs-default"}}\n'
        b'{"@timestamp":"2026-11-27T05:24:33Z","message":"x"}\n'
    )
    async with aiohttp.ClientSession() as http:
        headers = {"Content-Type": "application/x-ndjson"}
        async with http.post(f"{es.url}/_bulk", data=body, headers=headers) as answer:
            items = (await answer.json())["items"]
    assert items[0]["index"]["status"] == 400
    assert items[0]["index"]["error"]["type"] == "illegal_argument_exception"
    assert "op_type of create" in items[0]["index"]["error"]["reason"]
    assert es.documents() == []


async def test_by_default_records_go_to_the_data_streams_elastics_logs_template_makes(
    es: ElasticsearchStandIn,
) -> None:
    await send_once(es_config(es), records(2) + pod_records(2))
    assert [d["message"] for d in es.documents(DOCKER_STREAM)] == ["line-0 ", "line-1 "]
    pods = es.documents("logs-kubernetes.container_logs-default")
    assert [d["message"] for d in pods] == ["pod-0", "pod-1"]
    assert es.data_stream_template(DOCKER_STREAM) == "logs"  # the built-in one
    assert es.field_type(DOCKER_STREAM, "host.ip") is None  # mapped dynamically: a keyword
    assert {action for call in es.calls for action in call.actions} == {"create"}


async def test_the_installed_template_makes_the_streams_with_host_ip_an_ip_and_message_text(
    es: ElasticsearchStandIn,
) -> None:
    config = es_config(es, install_template=True)
    before = ElasticsearchSink(config)
    try:
        said = await before.healthcheck()
    finally:
        await before.close()
    assert "index template 'logship' not there yet (installed at start)" in said
    await send_once(config, records(2) + pod_records(1))
    for stream in (DOCKER_STREAM, "logs-kubernetes.container_logs-default"):
        assert es.data_stream_template(stream) == "logship"  # installed before the first record
        assert es.field_type(stream, "host.ip") == "ip"
        assert es.field_type(stream, "message") == "match_only_text"
        assert es.field_type(stream, "data_stream.dataset") == "constant_keyword"
    template = es.template("logship")
    assert template is not None and template["priority"] > 100  # above the built-in logs one
    assert "data_stream" in template
    assert len(es.documents()) == 3 and es.item_errors == []
    after = ElasticsearchSink(config)
    try:
        assert (await after.healthcheck()).endswith("index template 'logship' there")
    finally:
        await after.close()


async def test_records_wait_for_the_template_while_the_server_does_not_answer(
    es: ElasticsearchStandIn,
) -> None:
    config = es_config(es, install_template=True, data_stream="logs-shop-prod")
    es.stop()
    sink = ElasticsearchSink(config)
    try:
        await sink.open()  # says the server does not answer; does not raise
        with pytest.raises(DeliveryError) as info:
            await sink.send(records(2))
        assert info.value.retriable and "index template 'logship' not installed yet" in str(
            info.value
        )
        es.start()
        await sink.send(records(2))
    finally:
        await sink.close()
    assert es.data_stream_template("logs-shop-prod") == "logship"
    assert len(es.documents("logs-shop-prod")) == 2


async def test_a_template_refused_for_good_is_said_and_the_records_are_sent_without_it(
    es: ElasticsearchStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    # an operator's template of the same priority matching the same names: refused, as ES does
    es.put_template(
        "theirs", {"index_patterns": ["logs-docker.*-*"], "priority": 150, "data_stream": {}}
    )
    with caplog.at_level(logging.WARNING, logger="logship.sink"):
        await send_once(es_config(es, install_template=True), records(3))
    assert "index template 'logship' refused (HTTP 400: illegal_argument_exception" in caplog.text
    assert "same priority [150]" in caplog.text and "records are sent without it" in caplog.text
    assert len(es.documents(DOCKER_STREAM)) == 3
    assert es.data_stream_template(DOCKER_STREAM) == "theirs"


async def test_an_index_gets_the_template_too_without_data_stream_fields(
    es: ElasticsearchStandIn,
) -> None:
    await send_once(es_config(es, install_template=True, index="logship-%Y.%m.%d"), records(1))
    template = es.template("logship")
    assert template is not None and template["index_patterns"] == ["logship-*.*.*"]
    assert "data_stream" not in template
    assert es.field_type("logship-2026.11.27", "host.ip") == "ip"
    (doc,) = es.documents("logship-2026.11.27")
    assert "data_stream" not in doc and doc["agent"]["type"] == "logship"


# -- real containers through `logship run` ---------------------------------------------------


def test_container_lines_arrive_as_ecs_documents_in_elastic_agents_data_streams(
    es: ElasticsearchStandIn, start_agent: Any, containers: Any, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    agent: AgentProcess = start_agent(
        "run",
        f"elasticsearch+http://127.0.0.1:{es.port}",
        "--hostname",
        "node-1.example.com",
        "--host-ip",
        "10.1.2.3",
        "--state-dir",
        str(state),
    )
    labels = {
        "app": "web",
        # Compose's labels: one key is a prefix of others, an object/value clash unless dedotted
        "com.docker.compose.project": "shop",
        "com.docker.compose.project.working_dir": "/srv/shop",
        **K8S_LABELS,
    }
    c = containers.run(
        'echo "hello from stdout"; echo "oops on stderr" >&2; sleep 30', labels=labels
    )
    wait_for_messages(es, c.name, 2)
    c.reload()
    by_message = {d["message"]: d for d in docs_of(es, c.name)}
    out, err = by_message["hello from stdout"], by_message["oops on stderr"]
    docker_times = dict(
        reversed(line.split(" ", 1)) for line in c.logs(timestamps=True).decode().splitlines()
    )
    for doc, stream in ((out, "stdout"), (err, "stderr")):
        # Docker's own time of the line, all nine digits
        assert doc["@timestamp"] == docker_times[doc["message"]]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", doc["@timestamp"])
        assert doc["log"] == {"iostream": stream}
        assert doc["host"] == {"name": "node-1.example.com", "ip": "10.1.2.3"}
        assert doc["container"] == {
            "id": c.id,
            "name": c.name,
            "runtime": "docker",
            "image": {"name": "logship-test/busybox", "tag": "1.35"},
            "labels": dedot(c.labels),
        }
        assert doc["container"]["labels"]["com_docker_compose_project_working_dir"] == "/srv/shop"
        assert doc["kubernetes"] == {
            "namespace": "shop",
            "pod": {"name": "web-7d9f", "uid": "0b1c-22"},
            "container": {"name": "nginx"},
        }
        # what Filebeat's documents carry too, the agent's ID as kept in the state directory
        assert doc["stream"] == stream
        assert doc["data_stream"] == {
            "type": "logs",
            "dataset": "kubernetes.container_logs",  # a pod's container
            "namespace": "default",
        }
        assert doc["event"] == {"dataset": "kubernetes.container_logs"}
        assert doc["ecs"] == {"version": "8.0.0"}
        agent_id = json.loads((state / "agent.json").read_text())["id"]
        assert doc["agent"] == {"type": "logship", "version": __version__, "id": agent_id}
        assert doc in es.documents("logs-kubernetes.container_logs-default")
    assert es.backing_index("logs-kubernetes.container_logs-default") is not None
    plain = containers.run("echo not in a pod; sleep 30")
    (doc,) = wait_for_messages(es, plain.name, 1) and docs_of(es, plain.name)
    assert doc["data_stream"]["dataset"] == "docker.container_logs"
    assert doc in es.documents("logs-docker.container_logs-default")
    assert es.item_errors == []
    assert {action for call in es.calls for action in call.actions} == {"create"}
    assert all(call.content_type == "application/x-ndjson" for call in es.calls)
    assert agent.stop() == 0


def test_the_agent_id_stays_the_same_across_restarts_with_a_state_directory(
    es: ElasticsearchStandIn, start_agent: Any, containers: Any, tmp_path: Path
) -> None:
    uri = f"elasticsearch+http://127.0.0.1:{es.port}"
    ids = []
    for run in ("first", "second"):
        agent = start_agent("run", uri, "--state-dir", str(tmp_path / "state"))
        c = containers.run(f"echo {run}; sleep 30")
        wait_for_messages(es, c.name, 1)
        ids += [d["agent"]["id"] for d in docs_of(es, c.name)]
        assert agent.stop() == 0
    first, second = ids
    assert first == second
    without = start_agent("run", uri)
    c = containers.run("echo no state; sleep 30")
    wait_for_messages(es, c.name, 1)
    assert docs_of(es, c.name)[0]["agent"]["id"] != first
    assert without.stop() == 0


def test_a_data_stream_receives_create_actions_into_its_backing_index(
    es: ElasticsearchStandIn, start_agent: Any, containers: Any
) -> None:
    start_agent("run", f"elasticsearch+http://127.0.0.1:{es.port}?data_stream=logs-docker-test")
    c = containers.run("echo one; echo two; sleep 30")
    wait_for_messages(es, c.name, 2)
    assert messages_of(es, c.name, "logs-docker-test") == ["one", "two"]
    backing = es.backing_index("logs-docker-test")
    assert backing is not None and backing.startswith(".ds-logs-docker-test-")
    assert {action for call in es.calls for action in call.actions} == {"create"}
    assert es.item_errors == []


def test_gzip_bodies_reach_elasticsearch_behind_a_proxy_path(
    start_elasticsearch: Callable[..., ElasticsearchStandIn], start_agent: Any, containers: Any
) -> None:
    es = start_elasticsearch(prefix="/search/es")
    start_agent("run", f"elasticsearch+http://127.0.0.1:{es.port}/search/es/?compression=gzip")
    c = containers.run("for i in 1 2 3 4 5 6 7 8; do echo compressed line $i; done; sleep 30")
    assert wait_for_messages(es, c.name, 8) == [f"compressed line {i}" for i in range(1, 9)]
    assert all(call.path == "/search/es/_bulk" for call in es.calls)
    assert all(call.content_encoding == "gzip" for call in es.calls)
    assert all(call.wire_bytes < call.body_bytes for call in es.calls)


@pytest.mark.parametrize("source", ["password_file", "password_env", "api_key_file", "api_key_env"])
def test_credentials_from_a_file_or_the_environment_are_sent(
    start_elasticsearch: Callable[..., ElasticsearchStandIn],
    source: str,
    tmp_path: Path,
    start_agent: Any,
    containers: Any,
) -> None:
    secret = API_KEY if source.startswith("api_key") else SECRET
    env: dict[str, str] = {}
    if source.endswith("_file"):
        path = tmp_path / "secret"
        path.write_text(secret + "\n")
        option = f"{source}={path}"
    else:
        env["LOGSHIP_TEST_SECRET"] = secret
        option = f"{source}=LOGSHIP_TEST_SECRET"
    user = "" if source.startswith("api_key") else "writer@"
    es = start_elasticsearch(users={"writer": SECRET}, api_keys={API_KEY})
    agent = start_agent("run", f"elasticsearch+http://{user}127.0.0.1:{es.port}?{option}", env=env)
    c = containers.run("echo authenticated; sleep 30")
    assert wait_for_messages(es, c.name, 1) == ["authenticated"]
    expected = "ApiKey" if source.startswith("api_key") else "Basic"
    assert {call.authorization for call in es.calls} == {expected}
    assert secret not in agent.stderr


def test_refused_credentials_are_logged_clearly_and_retried_until_accepted(
    start_elasticsearch: Callable[..., ElasticsearchStandIn], start_agent: Any, containers: Any
) -> None:
    es = start_elasticsearch(users={"writer": "old-password"})
    agent = start_agent(
        "run",
        f"elasticsearch+http://writer@127.0.0.1:{es.port}"
        "?password_env=LOGSHIP_TEST_SECRET&reconnect_max_secs=1",
        env={"LOGSHIP_TEST_SECRET": SECRET},
    )
    c = containers.run("echo waiting for access; sleep 30")
    wait_until(
        lambda: "credentials refused (HTTP 401: security_exception" in agent.stderr,
        timeout=WAIT,
        what="the refusal in the agent's log",
    )
    assert es.documents() == []
    es.set_users({"writer": SECRET})  # the operator fixes the server side
    assert wait_for_messages(es, c.name, 1) == ["waiting for access"]
    assert agent.stderr.count("credentials refused") == 1  # once, not per retry
    assert SECRET not in agent.stderr


def test_https_with_the_test_ca_delivers(
    start_elasticsearch: Callable[..., ElasticsearchStandIn],
    test_ca: TlsFiles,
    start_agent: Any,
    containers: Any,
) -> None:
    es = start_elasticsearch(ssl_context=server_context(test_ca))
    start_agent("run", f"elasticsearch+https://localhost:{es.port}?tls.ca_file={test_ca.ca_file}")
    c = containers.run("echo over tls; sleep 30")
    assert wait_for_messages(es, c.name, 1) == ["over tls"]


def test_https_with_a_ca_that_did_not_sign_the_server_delivers_nothing_and_says_why(
    start_elasticsearch: Callable[..., ElasticsearchStandIn],
    test_ca: TlsFiles,
    start_agent: Any,
    containers: Any,
) -> None:
    es = start_elasticsearch(ssl_context=server_context(test_ca))
    agent = start_agent(
        "run", f"elasticsearch+https://localhost:{es.port}?tls.ca_file={test_ca.other_ca_file}"
    )
    containers.run("echo should not arrive; sleep 30")
    wait_until(
        lambda: "certificate verify failed" in agent.stderr,
        timeout=WAIT,
        what="the TLS failure in the agent's log",
    )
    assert es.calls == [] and es.documents() == []


def test_whole_request_and_per_item_429s_are_retried_without_loss_or_duplicates(
    es: ElasticsearchStandIn, start_agent: Any, containers: Any
) -> None:
    es.fail_requests(2, 429)
    es.fail_items("slow-", status=429, times=2)
    start_agent("run", f"elasticsearch+http://127.0.0.1:{es.port}?reconnect_max_secs=1")
    c = containers.run(
        "for i in $(seq 1 200); do"
        " if [ $((i % 10)) = 0 ]; then echo slow-$i; else echo line-$i; fi; done; sleep 30"
    )
    expected = [f"slow-{i}" if i % 10 == 0 else f"line-{i}" for i in range(1, 201)]
    wait_for_messages(es, c.name, 200)
    got = messages_of(es, c.name)
    assert sorted(got) == sorted(expected)  # each exactly once
    assert [call.status for call in es.calls[:2]] == [429, 429]
    assert sum(1 for e in es.item_errors if e["status"] == 429) == 40
    # the retries of a per-item 429 carry only the refused documents
    answered = [call for call in es.calls if call.status == 200]
    assert sum(len(call.actions) for call in answered) == 200 + 40


def test_a_mapping_error_is_counted_and_logged_once_with_a_sample_and_the_rest_delivered(
    es: ElasticsearchStandIn, start_agent: Any, containers: Any
) -> None:
    es.fail_items("not-a-number", status=400)
    agent = start_agent("run", f"elasticsearch+http://127.0.0.1:{es.port}")
    c = containers.run("echo good-1; echo not-a-number; echo good-2; sleep 30")
    wait_for_messages(es, c.name, 2)
    wait_until(lambda: "refused 1 records for good" in agent.stderr, timeout=WAIT, what="log")
    assert messages_of(es, c.name) == ["good-1", "good-2"]
    (line,) = [line for line in agent.stderr.splitlines() if "for good" in line]
    assert f"container {c.name}" in line
    assert "400 mapper_parsing_exception: failed to parse field [message]" in line
    assert agent.stop() == 0
    assert len(es.item_errors) == 1  # never sent again


def test_stopping_and_restarting_elasticsearch_mid_stream_loses_nothing_buffered(
    es: ElasticsearchStandIn, start_agent: Any, containers: Any
) -> None:
    agent = start_agent("run", f"elasticsearch+http://127.0.0.1:{es.port}?reconnect_max_secs=1")
    c = containers.run(
        "i=0; while [ $i -lt 300 ]; do i=$((i+1)); echo tick-$i; sleep 0.02; done; sleep 30"
    )
    wait_until(lambda: len(messages_of(es, c.name)) >= 30, timeout=WAIT, what="30 ticks")
    down = time.time_ns()
    es.stop()
    wait_until(lambda: "destination is down" in agent.stderr, timeout=WAIT, what="down")
    time.sleep(2)  # lines keep coming while it is down
    up = time.time_ns()
    es.start()
    wait_for_messages(es, c.name, 300)
    got = messages_of(es, c.name)
    assert sorted(got, key=lambda m: int(m.split("-")[1])) == [f"tick-{i}" for i in range(1, 301)]
    written_while_down = [d for d in docs_of(es, c.name) if _ns(down) < d["@timestamp"] < _ns(up)]
    assert written_while_down, "no line was written while Elasticsearch was down"
    wait_until(lambda: "destination is back" in agent.stderr, timeout=WAIT, what="back")


def _ns(ns: int) -> str:
    from logship.record import format_timestamp_ns

    return format_timestamp_ns(ns)


@pytest.mark.parametrize(
    ("uri", "named"),
    [
        (
            "elasticsearch+http://writer@127.0.0.1:9200?password_file=/nonexistent/es-password",
            ["destinations.0.password_file", "'/nonexistent/es-password'", "cannot read"],
        ),
        (
            "elasticsearch+http://writer@127.0.0.1:9200"
            "?password_env=HOME&api_key_file=/etc/hostname",
            ["destinations.0.api_key_file", "exclude each other"],
        ),
        (
            "elasticsearch+http://127.0.0.1:9200?index=Logs-%25Y.%25m",
            ["destinations.0.index", "'Logs-%Y.%m'", "must be lowercase"],
        ),
    ],
    ids=["unreadable password_file", "basic auth and api key", "invalid index pattern"],
)
def test_a_bad_option_exits_2_naming_it(uri: str, named: list[str]) -> None:
    result = run_cli(["run", uri])
    assert result.returncode == 2, result.stderr
    for text in named:
        assert text in result.stderr
