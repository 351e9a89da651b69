"""The forward destination against a strict forward-protocol server
(tests/helpers/receivers/forward.py): first the sink on its own (acks, handshake, keepalive),
then real containers on the real engine through `logship run`."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from logship.errors import DeliveryError
from logship.record import ContainerMeta, Record
from logship.settings import parse_destination_uri
from logship.sinks.forward.config import ForwardConfig
from logship.sinks.forward.sink import ForwardSink
from tests.helpers.agent_process import AgentProcess, run_cli
from tests.helpers.receivers.forward import Event, EventTime, ForwardReceiver
from tests.helpers.records import make_meta, records_of
from tests.helpers.tls import TlsFiles
from tests.helpers.waiting import wait_until

TS = "2026-11-27T05:24:33.719017066Z"


def sink_for(uri: str) -> ForwardSink:
    return ForwardSink(ForwardConfig(**parse_destination_uri(uri)))


def batch(messages: list[str], meta: ContainerMeta | None = None) -> list[Record]:
    return records_of(meta or make_meta(name="web-1"), *messages, ts=TS)


def logs(server: ForwardReceiver) -> list[str]:
    return [e.record["log"] for e in server.events()]


async def eventually(check: Callable[[], Any], what: str) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not (result := check()):
        if loop.time() > deadline:
            raise AssertionError(f"timed out after 30s waiting for {what}")
        await asyncio.sleep(0.05)
    return result


# -- the sink on its own ------------------------------------------------------------------------


async def test_with_ack_a_batch_is_delivered_once_the_server_acknowledged_it(
    start_forward: Callable[..., ForwardReceiver],
) -> None:
    server = start_forward()
    sink = sink_for(f"forward://127.0.0.1:{server.port}?ack=true")
    await sink.open()
    try:
        await sink.send(batch(["a", "b"]))
        assert logs(server) == ["a", "b"]  # already there when send() returned
        assert server.acks == 1
    finally:
        await sink.close()
    assert server.errors == []


async def test_a_batch_whose_connection_drops_before_the_ack_is_handed_back_whole(
    start_forward: Callable[..., ForwardReceiver],
) -> None:
    server = start_forward()
    server.drop_before_ack(keep=False)
    sink = sink_for(f"forward://127.0.0.1:{server.port}?ack=true")
    await sink.open()
    records = batch(["a", "b", "c"])
    try:
        with pytest.raises(DeliveryError) as info:
            await sink.send(records)
        assert info.value.retriable
        assert info.value.remaining == records
        assert "closed the connection; 3 records (1 of 1 messages) not acknowledged" in str(
            info.value
        )
        await sink.send(info.value.remaining)  # what the shared retry loop does next
    finally:
        await sink.close()
    assert logs(server) == ["a", "b", "c"]
    assert server.connections == 2
    assert server.errors == []


async def test_only_the_messages_without_an_ack_are_sent_again(
    start_forward: Callable[..., ForwardReceiver],
) -> None:
    server = start_forward()
    server.drop_before_ack(keep=False, after=1)
    sink = sink_for(f"forward://127.0.0.1:{server.port}?ack=true")
    other = make_meta(id="719d5c9a5367" + "1" * 52, name="api")
    records = batch(["web 1"]) + batch(["api 1"], other) + batch(["web 2"])
    await sink.open()
    try:
        with pytest.raises(DeliveryError) as info:
            await sink.send(records)
        assert [r.message for r in info.value.remaining or []] == ["api 1"]
        assert "1 records (1 of 2 messages) not acknowledged" in str(info.value)
    finally:
        await sink.close()
    assert logs(server) == ["web 1", "web 2"]


async def test_a_server_that_keeps_quiet_past_ack_timeout_secs_gets_the_batch_again(
    start_forward: Callable[..., ForwardReceiver],
) -> None:
    server = start_forward()
    server.hold_acks()
    sink = sink_for(f"forward://127.0.0.1:{server.port}?ack=true&ack_timeout_secs=0.5")
    await sink.open()
    try:
        with pytest.raises(DeliveryError, match=r"no ack from 127\.0\.0\.1:\d+ within 0\.5s"):
            await sink.send(batch(["a"]))
        server.hold_acks(False)
        await sink.send(batch(["a"]))
    finally:
        await sink.close()
    assert logs(server) == ["a", "a"]  # the first one arrived, only its ack did not
    assert server.connections == 2


SERVERS = ["fluentd", "fluent-bit"]


@pytest.mark.parametrize("kind", SERVERS)
async def test_the_shared_key_handshake_runs_once_per_connection(
    start_forward: Callable[..., ForwardReceiver], tmp_path: Path, kind: str
) -> None:
    server = start_forward(shared_key=b"s3cr3t", server=kind)
    key = tmp_path / "key"
    key.write_text("s3cr3t\n")
    sink = sink_for(
        f"forward://127.0.0.1:{server.port}?shared_key_file={key}&self_hostname=node-1&ack=true"
    )
    await sink.open()
    try:
        await sink.send(batch(["a"]))
        await sink.send(batch(["b"]))
    finally:
        await sink.close()
    assert (server.handshakes, sink.handshakes, server.connections) == (1, 1, 1)
    assert logs(server) == ["a", "b"]
    assert server.errors == []


@pytest.mark.parametrize(
    ("kind", "server_key", "pong_key", "complaint"),
    [
        ("fluentd", b"other", None, "refused the shared key: shared_key mismatch"),
        ("fluentd", b"s3cr3t", b"impostor", "does not match the shared key"),
        (
            "fluent-bit",
            b"other",
            None,
            "the server closed the connection during the handshake: check the shared key",
        ),
        ("fluent-bit", b"s3cr3t", b"impostor", "does not match the shared key"),
    ],
)
async def test_a_wrong_key_on_either_side_fails_the_handshake_saying_which(
    start_forward: Callable[..., ForwardReceiver],
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    server_key: bytes,
    pong_key: bytes | None,
    complaint: str,
) -> None:
    server = start_forward(shared_key=server_key, server=kind)
    server.knobs.wrong_pong_key = pong_key
    monkeypatch.setenv("LOGSHIP_TEST_FORWARD_KEY", "s3cr3t")
    sink = sink_for(f"forward://127.0.0.1:{server.port}?shared_key_env=LOGSHIP_TEST_FORWARD_KEY")
    try:
        with pytest.raises(
            DeliveryError, match=f"handshake with 127.0.0.1:{server.port}: .*{complaint}"
        ):
            await sink.open()
        assert not sink.transport.connected
    finally:
        await sink.close()
    assert server.events() == []


async def test_a_server_that_wants_a_key_we_lack_is_named_and_no_batch_goes_into_it_again(
    start_forward: Callable[..., ForwardReceiver],
) -> None:
    server = start_forward(shared_key=b"s3cr3t")
    sink = sink_for(f"forward://127.0.0.1:{server.port}?connect_timeout_secs=2")
    await sink.open()
    try:
        await eventually(lambda: not sink.ready, "the sink to notice the HELO")
        for _ in range(2):
            with pytest.raises(
                DeliveryError, match=r"asks for the shared-key handshake .*shared_key_file"
            ):
                await sink.send(batch(["a"]))
    finally:
        await sink.close()
    assert server.events() == []


async def test_a_server_that_says_keepalive_false_gets_a_connection_per_batch(
    start_forward: Callable[..., ForwardReceiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_forward(shared_key=b"k", keepalive=False)
    monkeypatch.setenv("LOGSHIP_TEST_FORWARD_KEY", "k")
    sink = sink_for(f"forward://127.0.0.1:{server.port}?shared_key_env=LOGSHIP_TEST_FORWARD_KEY")
    await sink.open()
    try:
        for message in ("a", "b", "c"):
            await sink.send(batch([message]))
            assert not sink.transport.connected
    finally:
        await sink.close()
    await eventually(lambda: len(server.events()) == 3, "three events")
    assert server.connections == server.handshakes == 3


# -- real containers through `logship run` -------------------------------------------------------


def docker_timestamps(container: Any) -> dict[str, int]:
    """Each line of the container's log -> Docker's own time of it, in nanoseconds."""
    import calendar

    out = {}
    for raw in container.logs(timestamps=True, stdout=True, stderr=True).decode().splitlines():
        stamp, _, text = raw.partition(" ")
        m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z", stamp)
        assert m, stamp
        seconds = calendar.timegm((*(int(g) for g in m.groups()[:6]), 0, 0, 0))
        out[text] = seconds * 1_000_000_000 + int((m[7] or "0").ljust(9, "0"))
    return out


def by_log(server: ForwardReceiver, name: str) -> dict[str, Event]:
    return {e.record["log"]: e for e in server.events() if e.record["container_name"] == "/" + name}


def test_container_lines_arrive_with_docker_s_fields_our_enrichment_and_nanosecond_time(
    start_forward: Callable[..., ForwardReceiver], start_agent: Any, containers: Any
) -> None:
    server = start_forward()
    agent: AgentProcess = start_agent(
        "run",
        f"forward://127.0.0.1:{server.port}?labels=app,com.example.team&env=APP_ENV",
        "--hostname",
        "node-1.example.com",
        "--host-ip",
        "10.1.2.3",
    )
    c = containers.run(
        'echo "hello from stdout"; echo "oops on stderr" >&2; sleep 30',
        labels={"app": "web", "com.example.team": "payments"},
        environment={"APP_ENV": "prod", "SECRET": "not shipped"},
    )
    wait_until(lambda: len(by_log(server, c.name)) == 2, timeout=30, what="2 events")
    got = by_log(server, c.name)
    c.reload()
    stamps = docker_timestamps(c)
    for message, stream in (("hello from stdout", "stdout"), ("oops on stderr", "stderr")):
        event = got[message]
        assert event.tag == c.id[:12]  # Docker's default tag
        assert event.record == {
            "container_id": c.id,
            "container_name": "/" + c.name,
            "source": stream,
            "log": message,
            "app": "web",
            "com.example.team": "payments",
            "APP_ENV": "prod",
            "host": "node-1.example.com",
            "host_ip": "10.1.2.3",
            "image_name": "logship-test/busybox",
            "image_tag": "1.35",
            "image_id": c.image.id,
        }
        assert isinstance(event.time, EventTime)
        assert event.time.ns == stamps[message]  # Docker's own time, to the nanosecond
    assert {r.mode for r in server.requests} == {"PackedForward"}
    assert {r.entries_format for r in server.requests} == {"bin"}
    assert server.errors == []
    assert agent.stop() == 0


@pytest.mark.parametrize(
    "kept", [True, False], ids=["received-but-not-acked", "lost-with-the-connection"]
)
def test_with_ack_a_batch_whose_connection_drops_before_the_ack_is_sent_again_and_nothing_is_lost(
    start_forward: Callable[..., ForwardReceiver], start_agent: Any, containers: Any, kept: bool
) -> None:
    server = start_forward()
    server.drop_before_ack(keep=kept)
    agent: AgentProcess = start_agent("run", f"forward://127.0.0.1:{server.port}?ack=true")
    c = containers.run(
        "for i in $(seq 1 200); do echo line-$i; [ $((i % 20)) = 0 ] && sleep 0.2; done; sleep 30"
    )
    expected = [f"line-{i}" for i in range(1, 201)]
    wait_until(lambda: set(by_log(server, c.name)) == set(expected), timeout=30, what="200 lines")
    (dropped,) = server.dropped
    counts = Counter(e.record["log"] for e in server.events())
    duplicated = sorted(line for line, n in counts.items() if n > 1)
    # the dropped batch came again; if the server had kept it, that batch (and only it) twice
    assert duplicated == (sorted(e.record["log"] for e in dropped.events) if kept else [])
    assert max(counts.values()) <= 2
    assert server.connections >= 2
    wait_until(lambda: "destination is back" in agent.stderr, what="the agent to say so")
    assert re.search(
        r"destination is down, will retry: .*closed the connection; "
        r"\d+ records \(1 of 1 messages\) not acknowledged, sending them again",
        agent.stderr,
    )
    assert server.errors == []
    assert agent.stop() == 0


def test_a_server_that_withholds_acks_gets_the_batch_again_after_ack_timeout_secs(
    start_forward: Callable[..., ForwardReceiver], start_agent: Any, containers: Any
) -> None:
    server = start_forward()
    server.hold_acks()
    agent: AgentProcess = start_agent(
        "run", f"forward://127.0.0.1:{server.port}?ack=true&ack_timeout_secs=1"
    )
    c = containers.run("echo only-line; sleep 30")
    wait_until(lambda: "no ack from 127.0.0.1" in agent.stderr, timeout=30, what="the ack timeout")
    server.hold_acks(False)
    wait_until(lambda: "destination is back" in agent.stderr, timeout=30, what="delivery")
    assert "only-line" in by_log(server, c.name)
    assert server.connections >= 2
    assert agent.stop() == 0


@pytest.mark.parametrize("kind", SERVERS)
def test_the_shared_key_handshake_lets_the_agent_in(
    start_forward: Callable[..., ForwardReceiver],
    start_agent: Any,
    containers: Any,
    tmp_path: Path,
    kind: str,
) -> None:
    server = start_forward(shared_key=b"s3cr3t", server=kind)
    key = tmp_path / "fluentd.key"
    key.write_text("s3cr3t\n")
    start_agent(
        "run", f"forward://127.0.0.1:{server.port}?shared_key_file={key}&self_hostname=node-1"
    )
    c = containers.run("echo authenticated; sleep 30")
    wait_until(lambda: "authenticated" in by_log(server, c.name), timeout=30, what="the line")
    assert server.handshakes >= 1 and server.refused == [] and server.errors == []


def test_a_wrong_shared_key_is_refused_with_one_clear_log_line_and_the_agent_keeps_running(
    start_forward: Callable[..., ForwardReceiver], start_agent: Any, containers: Any, tmp_path: Path
) -> None:
    server = start_forward(shared_key=b"s3cr3t")
    agent: AgentProcess = start_agent(
        "run",
        f"forward://127.0.0.1:{server.port}?shared_key_env=FLUENT_KEY&self_hostname=node-1",
        env={"FLUENT_KEY": "not the key"},
    )
    containers.run("echo never-shipped; sleep 30")
    wait_until(lambda: len(server.refused) >= 3, timeout=30, what="three refused handshakes")
    address = f"127.0.0.1:{server.port}"
    line = (
        f"forward://{address}: destination is down, will retry: handshake with {address}: "
        "the server refused the shared key: shared_key mismatch"
    )
    assert agent.stderr.count(line) == 1, agent.stderr
    assert agent.process is not None and agent.process.poll() is None
    assert server.refused[0] == "node-1"
    assert server.events() == []
    assert agent.stop() == 0


def test_forward_tls_with_the_test_ca_a_shared_key_and_gzip(
    start_forward: Callable[..., ForwardReceiver],
    start_agent: Any,
    containers: Any,
    test_ca: TlsFiles,
) -> None:
    server = start_forward(
        shared_key=b"k", tls_cert=test_ca.server_cert, tls_key=test_ca.server_key
    )
    start_agent(
        "run",
        f"forward+tls://127.0.0.1:{server.port}?tls.ca_file={test_ca.ca_file}"
        "&shared_key_env=FLUENT_KEY&ack=true&compress=gzip",
        env={"FLUENT_KEY": "k"},
    )
    c = containers.run("echo over-tls; sleep 30")
    wait_until(lambda: "over-tls" in by_log(server, c.name), timeout=30, what="the line over TLS")
    assert server.modes() == {"CompressedPackedForward"}
    assert server.handshakes >= 1 and server.errors == []


def test_forward_tls_refuses_a_server_whose_certificate_the_ca_did_not_sign(
    start_forward: Callable[..., ForwardReceiver],
    start_agent: Any,
    containers: Any,
    test_ca: TlsFiles,
) -> None:
    server = start_forward(tls_cert=test_ca.server_cert, tls_key=test_ca.server_key)
    agent: AgentProcess = start_agent(
        "run", f"forward+tls://127.0.0.1:{server.port}?tls.ca_file={test_ca.other_ca_file}"
    )
    containers.run("echo not-to-a-stranger; sleep 30")
    wait_until(
        lambda: "certificate verify failed" in agent.stderr or "TLS handshake" in agent.stderr,
        timeout=30,
        what="the TLS failure",
    )
    assert re.search(
        r"destination is down, will retry: TLS handshake with 127\.0\.0\.1:\d+ failed", agent.stderr
    )
    assert server.events() == []


@pytest.mark.parametrize(
    ("query", "complaint"),
    [
        (
            "shared_key_file=/nonexistent/fluentd.key",
            "destinations.0.shared_key_file: cannot read shared_key_file "
            "'/nonexistent/fluentd.key': No such file or directory",
        ),
        (
            "tls.ca_file=/nonexistent/ca.pem",
            "destinations.0.tls.ca_file: CA file '/nonexistent/ca.pem' does not exist "
            "or cannot be read",
        ),
    ],
)
def test_an_unreadable_key_or_ca_file_exits_2_naming_it(query: str, complaint: str) -> None:
    result = run_cli(["run", f"forward+tls://127.0.0.1:24224?{query}"])
    assert result.returncode == 2
    assert complaint in result.stderr
