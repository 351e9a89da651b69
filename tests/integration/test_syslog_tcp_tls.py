"""Syslog over TCP (RFC 6587) and TLS (RFC 5425) into a real rsyslogd: real containers on the
real engine through `logship run`, and the sink on its own where no container can say it
(a message with a newline in it)."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pytest

from logship.config.tls import TlsConfig
from logship.errors import DeliveryError
from logship.protocol.syslog import Framing
from logship.record import Record
from logship.sinks.syslog.config import SyslogConfig
from logship.sinks.syslog.sink import Stream, SyslogSink
from logship.transport.tcp import StreamTransport
from tests.helpers.agent_process import AgentProcess, run_cli
from tests.helpers.records import make_meta
from tests.helpers.rsyslog import Rsyslog, assert_every_enrichment_field, parse_structured_data
from tests.helpers.syslog_wire import read_non_transparent
from tests.helpers.tls import TlsFiles
from tests.helpers.waiting import wait_until

DOWN = "destination is down"
BACK = "destination is back"
# a line every 0.1 s for as long as a test needs
COUNTING = "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); echo seq-$i; sleep 0.1; done"


def messages_from(rsyslog: Rsyslog, text: str) -> list[dict[str, Any]]:
    return [m for m in rsyslog.messages() if text in m.get("raw", "")]


def seq_numbers(rsyslog: Rsyslog) -> list[int]:
    return [int(m["msg"].strip()[4:]) for m in rsyslog.messages() if m["msg"].startswith("seq-")]


# -- TCP --------------------------------------------------------------------------------------


def test_stdout_and_stderr_lines_arrive_over_tcp_with_every_enrichment_field(
    start_rsyslog: Callable[..., Rsyslog], start_agent: Any, containers: Any
) -> None:
    rsyslog = start_rsyslog(tcp=True)
    agent: AgentProcess = start_agent(
        "run",
        f"syslog+tcp://127.0.0.1:{rsyslog.tcp_port}",
        "--hostname",
        "node-1.example.com",
        "--host-ip",
        "10.1.2.3",
    )
    c = containers.run(
        'echo "hello over tcp"; echo "oops over tcp" >&2; sleep 30',
        labels={"app": "web", "com.example.team": "pay]ments"},
    )
    got = wait_until(
        lambda: (m := messages_from(rsyslog, c.name)) and len(m) >= 2 and m,
        timeout=30,
        what="two messages in rsyslog",
    )
    by_msg = {m["msg"]: m for m in got}
    out, err = by_msg["hello over tcp"], by_msg["oops over tcp"]
    assert_every_enrichment_field(out, err, c)
    assert DOWN not in agent.stderr
    assert agent.stop() == 0


TS = "2026-11-27T05:24:33.719017123Z"
WEB_1 = make_meta(name="web-1")


@pytest.mark.parametrize(
    ("transport", "framing", "expected"),
    [
        ("tcp", "octet-counting", "first line\nsecond line"),
        ("tls", "octet-counting", "first line\nsecond line"),
        ("tcp", "non-transparent", "first line second line"),
        ("tcp", None, "first line second line"),  # the default over tcp: newline framing
        ("tls", None, "first line\nsecond line"),  # the default over tls: octet counting
    ],
)
async def test_a_message_with_a_newline_arrives_as_one_message_and_utf8_is_counted_in_bytes(
    start_rsyslog: Callable[..., Rsyslog],
    test_ca: TlsFiles,
    transport: Literal["tcp", "tls"],
    framing: Framing | None,
    expected: str,
) -> None:
    rsyslog = start_rsyslog(tcp=True, tls=test_ca)
    options: dict[str, Any] = {"framing": framing} if framing else {}
    if transport == "tls":
        options["tls"] = TlsConfig(ca_file=test_ca.ca_file)
    sink = SyslogSink(
        SyslogConfig(transport=transport, host="127.0.0.1", port=rsyslog.port(transport), **options)
    )
    lines = ["first line\nsecond line", "naïve 日本 🚀 after", "last"]
    await sink.open()
    try:
        await sink.send([Record(line, "stdout", TS, WEB_1) for line in lines])
    finally:
        await sink.close()
    got = wait_until(
        lambda: (m := rsyslog.messages()) and len(m) >= 3 and m, timeout=30, what="3 messages"
    )
    assert [m["msg"] for m in got] == [expected, "naïve 日本 🚀 after", "last"]
    assert all(m["app"] == "web-1" for m in got)


async def test_a_receiver_that_stops_reading_is_given_up_after_write_timeout_secs() -> None:
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # connections complete in the backlog and are never read
        port = listener.getsockname()[1]
        sink = SyslogSink(
            SyslogConfig(
                transport="tcp",
                host="127.0.0.1",
                port=port,
                write_timeout_secs=0.5,
                max_message_bytes=1024 * 1024,
            )
        )
        big = [Record("x" * 1_000_000, "stdout", TS, WEB_1)] * 16
        await sink.open()
        writer = sink.channel.transport.writer
        assert writer is not None
        sock = writer.get_extra_info("socket")
        try:
            with pytest.raises(DeliveryError) as info:
                await sink.send(big)
            for _ in range(300):
                if sock.fileno() == -1:
                    break
                await asyncio.sleep(0.1)
        finally:
            await sink.close()
    assert info.value.retriable
    assert f"127.0.0.1:{port} took no more data for 0.5s" in str(info.value)
    assert not sink.channel.transport.connected
    # closed at once with what it still held, not kept until a receiver that never reads does
    assert sock.fileno() == -1


class Receiver:
    """A TCP receiver that reads everything and counts connections; with ``hang_up`` it closes
    each connection as soon as it has read something, as rsyslogd does with a client it
    refuses after the TLS handshake."""

    def __init__(self, *, hang_up: bool, hang_up_after_secs: float = 0) -> None:
        self.hang_up = hang_up
        self.hang_up_after_secs = hang_up_after_secs  # a receiver slow to turn clients away
        self.connections = 0
        self.received = b""
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        while data := await reader.read(65536):
            self.received += data
            if self.hang_up:
                await asyncio.sleep(self.hang_up_after_secs)
                break
        writer.close()
        await writer.wait_closed()

    async def __aenter__(self) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


async def send_until_refused(
    sink: SyslogSink, batches: int, *, hung_up: bool
) -> DeliveryError | None:
    """Send batches one by one, each after the receiver hung up on the last (``hung_up``) or
    after a pause; the first error, if any."""
    transport = sink.channel.transport
    assert isinstance(transport, StreamTransport)
    for i in range(batches):
        try:
            await sink.send([Record(f"batch {i}", "stdout", TS, WEB_1)])
        except DeliveryError as exc:
            return exc
        for _ in range(300 if hung_up else 3):
            if transport.writer is None or transport.writer.is_closing():
                break
            await asyncio.sleep(0.1)
    return None


async def test_a_receiver_that_hangs_up_after_every_write_counts_as_down() -> None:
    receiver = Receiver(hang_up=True)
    async with receiver as port:
        sink = SyslogSink(SyslogConfig(transport="tcp", host="127.0.0.1", port=port))
        await sink.open()
        try:
            error = await send_until_refused(sink, 10, hung_up=True)
        finally:
            await sink.close()
    assert error is not None and error.retriable
    assert f"127.0.0.1:{port} hung up after each of the last 3 writes" in str(error)
    assert receiver.connections == 4  # three hang-ups, then the fourth confirmed it


async def test_a_receiver_slower_to_hang_up_than_the_confirmation_is_found_out_next_time() -> None:
    receiver = Receiver(hang_up=True, hang_up_after_secs=1.5)  # the first 1 s wait passes
    async with receiver as port:
        sink = SyslogSink(SyslogConfig(transport="tcp", host="127.0.0.1", port=port))
        await sink.open()
        try:
            error = await send_until_refused(sink, 10, hung_up=True)
        finally:
            await sink.close()
    assert error is not None and "hung up after each of the last" in str(error)
    assert isinstance(sink.channel, Stream) and sink.channel.confirm_secs == 2.0
    # three hang-ups, the fourth passed the 1 s wait, the fifth found out with a 2 s wait
    assert receiver.connections == 5


async def test_a_receiver_that_keeps_the_connection_open_is_never_suspected() -> None:
    receiver = Receiver(hang_up=False)
    async with receiver as port:
        sink = SyslogSink(SyslogConfig(transport="tcp", host="127.0.0.1", port=port))
        await sink.open()
        try:
            assert await send_until_refused(sink, 6, hung_up=False) is None
        finally:
            await sink.close()
    assert receiver.connections == 1
    assert len(read_non_transparent(receiver.received)) == 6  # the tcp default: LF framing


def test_rsyslog_killed_and_restarted_gets_the_stream_again_with_one_down_and_one_back_logged(
    start_rsyslog: Callable[..., Rsyslog], start_agent: Any, containers: Any
) -> None:
    rsyslog = start_rsyslog(tcp=True)
    agent: AgentProcess = start_agent(
        "run", f"syslog+tcp://127.0.0.1:{rsyslog.tcp_port}?reconnect_max_secs=2"
    )
    containers.run(COUNTING)
    wait_until(lambda: len(seq_numbers(rsyslog)) >= 10, timeout=30, what="10 lines")
    rsyslog.kill()
    wait_until(lambda: DOWN in agent.stderr, timeout=30, what="the agent to notice")
    before = max(seq_numbers(rsyslog))
    rsyslog.start()  # same ports
    wait_until(
        lambda: max(seq_numbers(rsyslog)) > before + 20, timeout=30, what="lines after restart"
    )
    wait_until(lambda: BACK in agent.stderr, timeout=30, what="the agent to say it is back")
    assert agent.stderr.count(DOWN) == 1
    assert agent.stderr.count(BACK) == 1
    assert f"syslog+tcp://127.0.0.1:{rsyslog.tcp_port}: {DOWN}, will retry" in agent.stderr
    # what rsyslogd held or was sent into the dead connection when it was killed is lost
    # (syslog over TCP has no acknowledgements); every line after that arrives
    seqs = set(seq_numbers(rsyslog))
    missing = sorted(set(range(min(seqs), max(seqs) + 1)) - seqs)
    assert not missing or missing[-1] - missing[0] + 1 == len(missing), missing
    assert agent.stop() == 0


# -- TLS --------------------------------------------------------------------------------------


def test_lines_arrive_over_tls_checked_against_the_test_ca(
    start_rsyslog: Callable[..., Rsyslog], test_ca: TlsFiles, start_agent: Any, containers: Any
) -> None:
    rsyslog = start_rsyslog(tls=test_ca)
    agent: AgentProcess = start_agent(
        "run", f"syslog+tls://127.0.0.1:{rsyslog.tls_port}?tls.ca_file={test_ca.ca_file}"
    )
    c = containers.run('echo "hello over tls"; echo "oops over tls" >&2; sleep 30')
    got = wait_until(
        lambda: (m := messages_from(rsyslog, c.name)) and len(m) >= 2 and m,
        timeout=30,
        what="two messages over TLS",
    )
    assert sorted(m["msg"] for m in got) == ["hello over tls", "oops over tls"]
    sd = parse_structured_data(got[0]["sd"])["logship@32473"]
    assert sd["container_name"] == c.name and sd["image_name"] == "logship-test/busybox"
    assert DOWN not in agent.stderr
    assert agent.stop() == 0


def test_a_yaml_block_takes_the_same_option_names_as_the_uri(
    start_rsyslog: Callable[..., Rsyslog],
    test_ca: TlsFiles,
    start_agent: Any,
    containers: Any,
    tmp_path: Path,
) -> None:
    rsyslog = start_rsyslog(tls=test_ca)
    config = tmp_path / "logship.yaml"
    config.write_text(
        f"""
destinations:
  - type: syslog
    transport: tls
    host: 127.0.0.1
    port: {rsyslog.tls_port}
    format: rfc3164
    framing: non-transparent
    tag: "{{{{.ID}}}}"
    tls:
      ca_file: {test_ca.ca_file}
      server_name: localhost
"""
    )
    agent: AgentProcess = start_agent("run", "--config", str(config))
    c = containers.run('echo "from a yaml block"; sleep 30')
    (m,) = wait_until(lambda: messages_from(rsyslog, "from a yaml block"), what="the message")
    assert m["raw"].startswith("<30>")
    assert m["app"] == c.id[:12]
    assert m["msg"].strip() == "from a yaml block"  # rsyslog keeps rfc3164's space
    assert agent.stop() == 0


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ("", "unable to get local issuer certificate"),
        ("tls.ca_file={other_ca}", "unable to get local issuer certificate"),
        (
            "tls.ca_file={ca}&tls.server_name=elsewhere.example",
            "Hostname mismatch, certificate is not valid for 'elsewhere.example'",
        ),
    ],
    ids=["system-cas", "another-ca", "another-name"],
)
def test_a_server_whose_certificate_is_not_trusted_is_refused_logged_once_and_the_agent_lives_on(
    start_rsyslog: Callable[..., Rsyslog],
    test_ca: TlsFiles,
    start_agent: Any,
    containers: Any,
    options: str,
    reason: str,
) -> None:
    rsyslog = start_rsyslog(tls=test_ca)
    query = options.format(ca=test_ca.ca_file, other_ca=test_ca.other_ca_file)
    agent: AgentProcess = start_agent("run", f"syslog+tls://127.0.0.1:{rsyslog.tls_port}?{query}")
    containers.run(COUNTING)
    # rsyslogd reports each handshake the agent broke off: it tried, and tried again
    wait_until(
        lambda: len(re.findall(r"(?im)^rsyslogd: .*handshake", rsyslog.error_log)) >= 3,
        timeout=30,
        what="three refused handshakes",
    )
    assert agent.stderr.count(DOWN) == 1
    assert re.search(
        rf"{DOWN}, will retry: TLS handshake with 127\.0\.0\.1:{rsyslog.tls_port} failed: "
        + re.escape(reason),
        agent.stderr,
    ), agent.stderr
    assert "Traceback" not in agent.stderr
    assert rsyslog.messages() == []
    assert agent.process is not None and agent.process.poll() is None
    assert agent.stop() == 0


def test_tls_verify_false_ships_to_a_server_whose_certificate_is_not_trusted(
    start_rsyslog: Callable[..., Rsyslog], test_ca: TlsFiles, start_agent: Any, containers: Any
) -> None:
    rsyslog = start_rsyslog(tls=test_ca)
    agent: AgentProcess = start_agent(
        "run",
        f"syslog+tls://127.0.0.1:{rsyslog.tls_port}?tls.verify=false"
        f"&tls.ca_file={test_ca.other_ca_file}&tls.server_name=elsewhere.example",
    )
    c = containers.run('echo "trusted by choice"; sleep 30')
    (m,) = wait_until(lambda: messages_from(rsyslog, c.name), what="the unverified message")
    assert m["msg"] == "trusted by choice"
    assert DOWN not in agent.stderr
    assert agent.stop() == 0


def test_a_client_certificate_gets_through_to_a_server_that_requires_one(
    start_rsyslog: Callable[..., Rsyslog], test_ca: TlsFiles, start_agent: Any, containers: Any
) -> None:
    rsyslog = start_rsyslog(tls=test_ca, client_auth=True)
    uri = f"syslog+tls://127.0.0.1:{rsyslog.tls_port}?tls.ca_file={test_ca.ca_file}"
    with_cert: AgentProcess = start_agent(
        "run",
        f"{uri}&tls.cert_file={test_ca.client_cert}&tls.key_file={test_ca.client_key}",
        "--hostname",
        "with-cert",
    )
    without_cert: AgentProcess = start_agent("run", uri, "--hostname", "no-cert")
    containers.run(COUNTING)
    wait_until(
        lambda: [m for m in rsyslog.messages() if m["hostname"] == "with-cert"],
        timeout=30,
        what="lines from the agent with a client certificate",
    )
    wait_until(
        lambda: "peer did not provide a certificate" in rsyslog.error_log,
        timeout=30,
        what="rsyslogd to turn away the agent without one",
    )
    # turned away after the handshake: the agent without one says so, once, and tries on
    wait_until(lambda: DOWN in without_cert.stderr, timeout=30, what="no-cert to be down")
    refused = rsyslog.error_log.count("peer did not provide a certificate")
    wait_until(
        lambda: rsyslog.error_log.count("peer did not provide a certificate") >= refused + 2,
        timeout=30,
        what="two more attempts from the agent without a certificate",
    )
    # a receiver slow to turn it away (a loaded machine) can pass the 1 s confirmation once or
    # twice; the agent then waits longer, and ends up down again, not back
    wait_until(
        lambda: without_cert.stderr.rfind(DOWN) > without_cert.stderr.rfind(BACK),
        timeout=60,
        what="no-cert to be down for good",
    )
    assert without_cert.stderr.count(BACK) <= 2, without_cert.stderr
    # why depends on timing: the write itself fails ("Connection lost") when the hang-up
    # comes first, else the hang-ups after each write give it away
    assert re.search(
        rf"{DOWN}, will retry: (127\.0\.0\.1:{rsyslog.tls_port} hung up after each of the last "
        r"\d+ writes: it may refuse this client \(TLS client certificate|writing to "
        rf"127\.0\.0\.1:{rsyslog.tls_port} failed: Connection lost)",
        without_cert.stderr,
    ), without_cert.stderr
    assert {m["hostname"] for m in rsyslog.messages()} == {"with-cert"}
    assert DOWN not in with_cert.stderr
    assert with_cert.stop() == 0
    assert without_cert.stop() == 0


# -- bad options ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "tls.ca_file={missing}",
            "destinations.0.tls.ca_file: CA file '{missing}' does not exist or cannot be read",
        ),
        ("tls.ca_file={not_pem}", "destinations.0.tls: cannot set up TLS from"),
        (
            "framing=lf",
            "destinations.0.framing: Input should be 'octet-counting' or 'non-transparent' "
            "(got 'lf')",
        ),
        ("tls.cert_file={not_pem}", "destinations.0.tls: cert_file and key_file go together"),
    ],
    ids=["missing-ca-file", "ca-file-not-pem", "unknown-framing", "cert-without-key"],
)
def test_bad_tls_and_framing_options_exit_2_with_a_message_naming_them(
    tmp_path: Path, query: str, expected: str
) -> None:
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("not a certificate\n")
    files = {"missing": tmp_path / "missing" / "ca.pem", "not_pem": not_pem}
    result = run_cli(["run", f"syslog+tls://127.0.0.1?{query.format(**files)}"])
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("logship: invalid configuration:\n")
    assert expected.format(**files) in result.stderr
    assert "Traceback" not in result.stderr


async def test_a_line_the_encoder_cannot_take_costs_only_itself_and_the_rest_arrive(
    start_rsyslog: Callable[..., Rsyslog],
) -> None:
    from logship.pipeline.destination import Destination

    rsyslog = start_rsyslog(tcp=True)
    config = SyslogConfig(transport="tcp", host="127.0.0.1", port=rsyslog.tcp_port)
    destination = Destination.from_config(SyslogSink(config), config)
    # a lone surrogate (undecodable bytes kept by surrogateescape) that UTF-8 cannot encode
    lines = [f"line {i}" if i != 3 else "line 3 \udcff" for i in range(8)]
    destination.route.put([Record(line, "stdout", TS, WEB_1) for line in lines])
    destination.close_input()
    await asyncio.wait_for(destination.run(), timeout=30)
    stats = destination.stats()
    wanted = 8 - stats.encode_errors
    got = wait_until(
        lambda: (m := rsyslog.messages()) and len(m) >= wanted and m,
        timeout=30,
        what=f"{wanted} messages",
    )
    good = [f"line {i}" for i in range(8) if i != 3]
    assert [m["msg"] for m in got if m["msg"] in good] == good
    # the bad line: rejected and counted, or (should the encoder learn to take it) delivered
    assert stats.encode_errors == 1 or len(got) == 8
    assert stats.sent == wanted
