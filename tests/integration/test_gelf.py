"""Real containers on the real engine, through `logship run`, into a strict GELF receiver
(tests/helpers/receivers/gelf.py) over UDP, TCP, HTTP and HTTPS."""

from __future__ import annotations

import asyncio
import re
import socket
from typing import Any

import pytest

from logship.pipeline.buffer import DropOldestBuffer
from logship.pipeline.retry import Backoff
from logship.pipeline.runner import SinkRunner
from logship.record import Record, timestamp_ns
from logship.sinks.gelf.config import GelfConfig
from logship.sinks.gelf.sink import GelfSink
from tests.helpers.agent_process import AgentProcess, run_cli
from tests.helpers.ports import free_port
from tests.helpers.receivers.gelf import GelfReceiver, Received
from tests.helpers.records import make_meta
from tests.helpers.tls import TlsFiles, server_context
from tests.helpers.waiting import wait_until

WAIT_SECS = 30  # the machine is shared with other test runs: generous, never asserted


def arrived(receiver: GelfReceiver, name: str, count: int) -> list[Received]:
    """Wait for ``count`` messages of container ``name``, then give them in arrival order."""

    def mine() -> list[Received]:
        return [r for r in receiver.received() if r.message.get("_container_name") == name]

    try:
        wait_until(lambda: len(mine()) >= count, timeout=WAIT_SECS, what=f"{count} from {name}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: got {len(mine())}, refused {receiver.rejections}") from None
    return mine()


def start_both_streams(containers: Any) -> Any:
    return containers.run(
        'echo "hello from stdout"; echo "oops on stderr" >&2; sleep 30',
        labels={"app": "web", "com.example.team": "payments"},
        environment={"APP_ENV": "prod"},
    )


def check_every_field(received: list[Received], container: Any) -> None:
    """What a user looks at in Graylog, for a stdout and a stderr line of ``container``."""
    container.reload()
    by_message = {r.message["short_message"]: r.message for r in received}
    assert set(by_message) == {"hello from stdout", "oops on stderr"}
    out, err = by_message["hello from stdout"], by_message["oops on stderr"]
    assert (out["level"], out["_stream"]) == (6, "stdout")
    assert (err["level"], err["_stream"]) == (3, "stderr")
    # Docker's own time of each line, to the microsecond
    logged = {}
    for line in container.logs(stdout=True, stderr=True, timestamps=True).decode().splitlines():
        stamp, _, text = line.partition(" ")
        logged[text] = timestamp_ns(stamp)
    for m in (out, err):
        assert abs(m["timestamp"] - logged[m["short_message"]] / 1e9) < 2e-6
        assert m["version"] == "1.1"
        assert m["host"] == "node-1.example.com"
        assert m["_container_id"] == container.id
        assert m["_container_name"] == container.name  # no leading slash
        assert m["_image_name"] == "logship-test/busybox:1.35"
        assert m["_image_tag"] == "1.35"
        assert m["_image_id"] == container.image.id
        assert m["_command"].startswith('sh -c echo "hello from stdout"')
        assert m["_created"] == container.attrs["Created"]
        assert m["_tag"] == container.id[:12]  # Docker's default tag
        assert m["_host_ip"] == "10.1.2.3"
        assert (m["_app"], m["_com.example.team"], m["_APP_ENV"]) == ("web", "payments", "prod")


def run_gelf(start_agent: Any, uri: str) -> AgentProcess:
    agent: AgentProcess = start_agent(
        "run", uri, "--hostname", "node-1.example.com", "--host-ip", "10.1.2.3"
    )
    return agent


OPTIONS = "labels=app,com.example.team&env=APP_ENV"


# -- each transport ---------------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["gzip", "zlib", "none", "auto"])
def test_stdout_and_stderr_lines_arrive_over_udp_with_every_field(
    start_gelf: Any, start_agent: Any, containers: Any, compression: str
) -> None:
    r = start_gelf()
    agent = run_gelf(
        start_agent, f"gelf+udp://127.0.0.1:{r.udp_port}?compression={compression}&{OPTIONS}"
    )
    c = start_both_streams(containers)
    got = arrived(r, c.name, 2)
    # auto: a line that fits in one datagram goes uncompressed
    sent_as = "none" if compression == "auto" else compression
    assert {(m.transport, m.compression, m.chunks) for m in got} == {("udp", sent_as, 1)}
    check_every_field(got, c)
    assert agent.stop() == 0
    assert r.rejections == []


def test_gzip_is_the_default_compression_over_udp(
    start_gelf: Any, start_agent: Any, containers: Any
) -> None:
    r = start_gelf()
    start_agent("run", f"gelf://127.0.0.1:{r.udp_port}")
    c = containers.run("echo plain gelf; sleep 30")
    (m,) = arrived(r, c.name, 1)
    assert (m.transport, m.compression, m.message["short_message"]) == ("udp", "gzip", "plain gelf")


def test_stdout_and_stderr_lines_arrive_over_tcp_with_every_field(
    start_gelf: Any, start_agent: Any, containers: Any
) -> None:
    r = start_gelf()
    agent = run_gelf(start_agent, f"gelf+tcp://127.0.0.1:{r.tcp_port}?{OPTIONS}")
    c = start_both_streams(containers)
    got = arrived(r, c.name, 2)
    assert {(m.transport, m.compression) for m in got} == {("tcp", "none")}
    check_every_field(got, c)
    assert agent.stop() == 0
    assert r.rejections == []
    assert r.tcp_connections == 1


@pytest.mark.parametrize("compression", ["none", "gzip", "zlib"])
def test_stdout_and_stderr_lines_arrive_over_http_with_every_field(
    start_gelf: Any, start_agent: Any, containers: Any, compression: str
) -> None:
    r = start_gelf()
    agent = run_gelf(
        start_agent, f"gelf+http://127.0.0.1:{r.http_port}?compression={compression}&{OPTIONS}"
    )
    c = start_both_streams(containers)
    got = arrived(r, c.name, 2)
    assert {(m.transport, m.compression) for m in got} == {("http", compression)}
    assert r.http_content_types == {"application/json"}
    check_every_field(got, c)
    assert agent.stop() == 0
    assert r.rejections == []
    assert r.http_requests == 2  # one POST per message: what every GELF HTTP input takes


def test_lines_arrive_over_https_verified_with_the_test_ca(
    start_gelf: Any, start_agent: Any, containers: Any, test_ca: TlsFiles
) -> None:
    r = start_gelf(tls=server_context(test_ca))
    agent = run_gelf(
        start_agent, f"gelf+https://127.0.0.1:{r.http_port}?tls.ca_file={test_ca.ca_file}&{OPTIONS}"
    )
    c = start_both_streams(containers)
    got = arrived(r, c.name, 2)
    assert {m.transport for m in got} == {"https"}
    check_every_field(got, c)
    assert agent.stop() == 0
    assert "Unclosed" not in agent.stderr


def test_https_to_a_receiver_the_ca_does_not_vouch_for_delivers_nothing_and_says_why(
    start_gelf: Any, start_agent: Any, containers: Any, test_ca: TlsFiles
) -> None:
    r = start_gelf(tls=server_context(test_ca))
    agent = start_agent(
        "run", f"gelf+https://127.0.0.1:{r.http_port}?tls.ca_file={test_ca.other_ca_file}"
    )
    containers.run("echo secret; sleep 30")
    wait_until(
        lambda: (
            "destination is down" in agent.stderr and "certificate verify failed" in agent.stderr
        ),
        timeout=WAIT_SECS,
        what=f"the TLS failure in the agent's log (so far: {agent.stderr!r})",
    )
    assert r.received() == []
    assert agent.stop() == 0


def test_https_checks_the_certificate_against_tls_server_name_when_given(
    start_gelf: Any, start_agent: Any, containers: Any, test_ca: TlsFiles
) -> None:
    r = start_gelf(tls=server_context(test_ca))
    base = f"gelf+https://127.0.0.1:{r.http_port}?tls.ca_file={test_ca.ca_file}&{OPTIONS}"
    wrong = start_agent("run", base + "&tls.server_name=elsewhere.example")
    containers.run("echo not-for-elsewhere; sleep 30")
    wait_until(
        lambda: "destination is down" in wrong.stderr and "elsewhere.example" in wrong.stderr,
        timeout=WAIT_SECS,
        what=f"the name mismatch in the agent's log (so far: {wrong.stderr!r})",
    )
    assert r.received() == []
    assert wrong.stop() == 0
    right = run_gelf(start_agent, base + "&tls.server_name=localhost")
    c = start_both_streams(containers)
    check_every_field(arrived(r, c.name, 2), c)
    assert right.stop() == 0


def test_a_uri_path_is_where_http_messages_go(
    start_gelf: Any, start_agent: Any, containers: Any
) -> None:
    r = start_gelf(http_path="/ingest/gelf")
    start_agent("run", f"gelf+http://127.0.0.1:{r.http_port}/ingest/gelf")
    c = containers.run("echo to a custom path; sleep 30")
    (m,) = arrived(r, c.name, 1)
    assert m.message["short_message"] == "to a custom path"
    assert r.rejections == []


def test_bulk_http_sends_a_batch_in_one_post_of_newline_separated_messages(
    start_gelf: Any, start_agent: Any, containers: Any
) -> None:
    r = start_gelf(bulk=True)
    start_agent("run", f"gelf+http://127.0.0.1:{r.http_port}?bulk=true&compression=gzip")
    c = containers.run("for i in $(seq 1 200); do echo bulk-$i; done; sleep 30")
    got = arrived(r, c.name, 200)
    assert [m.message["short_message"] for m in got] == [f"bulk-{i}" for i in range(1, 201)]
    assert {m.compression for m in got} == {"gzip"}
    assert r.http_requests < 200


# -- long lines over UDP ----------------------------------------------------------------------


def test_a_line_that_needs_many_chunks_arrives_whole(
    start_gelf: Any, start_agent: Any, containers: Any
) -> None:
    r = start_gelf()
    start_agent("run", f"gelf+udp://127.0.0.1:{r.udp_port}")
    # 90 KB of base64 from /dev/urandom: ~68 KB gzipped, ~50 chunks of 1420 bytes
    c = containers.run("head -c 67500 /dev/urandom | base64 -w 0; echo; echo after; sleep 30")
    big, after = arrived(r, c.name, 2)
    line = c.logs(stdout=True).decode().splitlines()[0]
    assert len(line) == 90_000
    assert big.message["short_message"] == line
    assert 40 < big.chunks <= 128
    assert after.message["short_message"] == "after"
    assert r.rejections == []


@pytest.mark.parametrize(
    ("compression", "command"),
    [
        ("none", "head -c 300000 /dev/zero | tr '\\0' x"),
        ("gzip", "head -c 300000 /dev/urandom | base64 -w 0"),  # 400 KB, ~300 KB gzipped
    ],
)
def test_a_line_too_long_for_128_chunks_arrives_cut_with_the_marker(
    start_gelf: Any, start_agent: Any, containers: Any, compression: str, command: str
) -> None:
    r = start_gelf()
    agent = start_agent("run", f"gelf+udp://127.0.0.1:{r.udp_port}?compression={compression}")
    c = containers.run(f"{command}; echo; echo after; sleep 30")
    big, after = arrived(r, c.name, 2)
    line = c.logs(stdout=True).decode().splitlines()[0]
    m = re.fullmatch(r"(.+) \[truncated (\d+) bytes\]", big.message["short_message"])
    assert m is not None, big.message["short_message"][-100:]
    assert line.startswith(m[1])
    assert len(m[1]) + int(m[2]) == len(line)
    assert big.chunks == 128 or big.size > 0.9 * 128 * 1408
    assert after.message["short_message"] == "after"
    assert "its short_message was cut" in agent.stderr
    assert r.rejections == []


# -- bad options ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "gelf+udp://127.0.0.1:12201?chunk_size_bytes=9000",
            "destinations.0.chunk_size_bytes: Input should be less than or equal to 8192 "
            "(got '9000')",
        ),
        (
            "gelf+udp://127.0.0.1:12201?compression=lz4",
            "destinations.0.compression: Input should be 'gzip', 'zlib', 'none' or 'auto' "
            "(got 'lz4')",
        ),
        (
            "gelf+tcp://127.0.0.1:12201?compression=gzip",
            "compression 'gzip' cannot be used with gelf+tcp",
        ),
    ],
)
def test_bad_gelf_options_stop_logship_with_status_2_naming_them(uri: str, expected: str) -> None:
    result = run_cli(["run", uri])
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


# -- a destination that is down, or says "not now" ---------------------------------------------


def test_a_tcp_receiver_that_comes_up_late_gets_every_line_once(
    start_gelf: Any, start_agent: Any, containers: Any
) -> None:
    port = free_port(socket.SOCK_STREAM)
    agent = start_agent("run", f"gelf+tcp://127.0.0.1:{port}?reconnect_max_secs=1")
    c = containers.run("for i in 1 2 3; do echo early-$i; done; sleep 30")
    wait_until(
        lambda: "destination is down" in agent.stderr,
        timeout=WAIT_SECS,
        what="the agent to notice the receiver is down",
    )
    r = start_gelf(tcp_port=port)
    got = arrived(r, c.name, 3)
    assert [m.message["short_message"] for m in got] == ["early-1", "early-2", "early-3"]
    wait_until(lambda: "destination is back" in agent.stderr, timeout=WAIT_SECS, what="back")
    assert agent.stop() == 0
    assert len(r.received()) == 3


def test_an_http_receiver_answering_503_gets_each_line_once_when_it_recovers(
    start_gelf: Any, start_agent: Any, containers: Any
) -> None:
    r = start_gelf(http_status=503)
    agent = start_agent("run", f"gelf+http://127.0.0.1:{r.http_port}?reconnect_max_secs=1")
    c = containers.run("for i in 1 2 3; do echo retry-$i; done; sleep 30")
    wait_until(lambda: r.http_requests >= 2, timeout=WAIT_SECS, what="refused POSTs")
    assert "HTTP 503" in agent.stderr
    r.http_status = 202
    got = arrived(r, c.name, 3)
    assert [m.message["short_message"] for m in got] == ["retry-1", "retry-2", "retry-3"]
    assert agent.stop() == 0
    assert len(r.received()) == 3


def http_runner(receiver: GelfReceiver) -> SinkRunner:
    """A GELF HTTP sink with its runner (quick retries), holding lines a, b, c of web-9."""
    config = GelfConfig(transport="http", host="127.0.0.1", port=receiver.http_port)
    runner = SinkRunner(
        GelfSink(config),
        DropOldestBuffer(max_records=100, max_bytes=1 << 20),
        backoff=Backoff(initial_secs=0.01, maximum_secs=0.05),
    )
    meta = make_meta(id="c" * 64, name="web-9")
    ts = "2026-11-23T19:43:24.373123456Z"
    runner.buffer.put([Record(text, "stdout", ts, meta) for text in ("a", "b", "c")])
    runner.buffer.close()
    return runner


async def test_a_message_the_http_receiver_refuses_is_counted_and_the_rest_go_through(
    start_gelf: Any,
) -> None:
    r = start_gelf(refuse=lambda m: m["short_message"] == "b")
    runner = http_runner(r)
    await asyncio.wait_for(runner.run(), WAIT_SECS)
    assert [m["short_message"] for m in r.messages()] == ["a", "c"]
    assert (runner.sent, runner.rejected, runner.retries) == (2, 1, 0)
    assert r.rejections == [("http", "refused on purpose: 'b'")]


async def test_an_http_failure_mid_batch_resends_only_what_was_not_taken(start_gelf: Any) -> None:
    r = start_gelf(http_status=lambda n: 503 if n == 2 else 202)  # the second POST fails
    runner = http_runner(r)
    await asyncio.wait_for(runner.run(), WAIT_SECS)
    assert [m["short_message"] for m in r.messages()] == ["a", "b", "c"]
    assert (runner.sent, runner.rejected, runner.retries, r.http_requests) == (3, 0, 1, 4)


async def test_a_udp_message_too_big_for_128_chunks_even_cut_is_counted_rejected_not_sent(
    start_gelf: Any,
) -> None:
    r = start_gelf()
    config = GelfConfig(
        transport="udp",
        host="127.0.0.1",
        port=r.udp_port,
        compression="none",
        labels=["huge"],
    )
    runner = SinkRunner(GelfSink(config), DropOldestBuffer(max_records=100, max_bytes=1 << 22))
    huge = make_meta(id="d" * 64, name="big-1", labels={"huge": "y" * 200_000})
    small = make_meta(id="e" * 64, name="web-1", labels={"huge": "n"})
    ts = "2026-11-23T19:43:24.373123456Z"
    runner.buffer.put([Record("lost", "stdout", ts, huge), Record("kept", "stdout", ts, small)])
    runner.buffer.close()
    await asyncio.wait_for(runner.run(), WAIT_SECS)
    wait_until(r.messages, timeout=WAIT_SECS, what="the kept message")
    assert [m["short_message"] for m in r.messages()] == ["kept"]
    assert (runner.sent, runner.rejected, runner.too_large) == (1, 1, 1)


async def test_a_message_the_http_receiver_finds_too_large_is_counted_as_too_large(
    start_gelf: Any,
) -> None:
    r = start_gelf(http_status=lambda n: 413 if n == 2 else 202)  # the second POST: 413
    runner = http_runner(r)
    await asyncio.wait_for(runner.run(), WAIT_SECS)
    assert (runner.sent, runner.rejected, runner.too_large) == (2, 1, 1)
