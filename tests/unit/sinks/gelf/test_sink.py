"""The GELF sink: which channel each transport gets, how the HTTP channel posts and what it
hands back on failure (canned HTTP answers), and its health check over UDP on loopback and
over HTTP."""

from __future__ import annotations

import gzip
import socket

import orjson
import pytest

from logship.errors import CheckFailed, DeliveryError
from logship.record import Record
from logship.settings import parse_destination_uri
from logship.sinks.gelf.channels import Chunked, NulFramed, Posts
from logship.sinks.gelf.config import GelfConfig
from logship.sinks.gelf.sink import GelfSink
from logship.transport.tcp import StreamTransport
from logship.transport.udp import UdpTransport
from tests.helpers.http_answers import CannedAnswers, answer
from tests.helpers.records import make_meta, records_of


def sink_for(uri: str) -> GelfSink:
    return GelfSink(GelfConfig(**parse_destination_uri(uri)))


def records(*messages: str) -> list[Record]:
    return records_of(make_meta(), *messages)


def answering(sink: GelfSink, monkeypatch: pytest.MonkeyPatch, *statuses: int) -> CannedAnswers:
    return answer(sink.channel.transport, monkeypatch, *statuses)


# -- the channel each transport gets ------------------------------------------------------------


def test_udp_gets_chunked_datagrams_compressed_with_gzip_by_default() -> None:
    channel = sink_for("gelf://graylog:12201").channel
    assert isinstance(channel, Chunked) and isinstance(channel.transport, UdpTransport)
    assert (channel.udp.compression, channel.transport.address) == ("gzip", "graylog:12201")


def test_tcp_gets_a_nul_framed_stream_without_tls() -> None:
    channel = sink_for("gelf+tcp://graylog:12201?connect_timeout_secs=3").channel
    assert isinstance(channel, NulFramed) and isinstance(channel.transport, StreamTransport)
    assert channel.transport.ssl_context is None
    assert channel.transport.connect_timeout_secs == 3


def test_http_gets_posts_to_the_path_one_per_message_unless_bulk() -> None:
    channel = sink_for("gelf+http://graylog:12202").channel
    assert isinstance(channel, Posts)
    assert (channel.transport.address, channel.path, channel.bulk) == (
        "http://graylog:12202",
        "/gelf",
        False,
    )
    assert channel.headers is None  # uncompressed by default
    bulk = sink_for("gelf+http://graylog:12202/in?bulk=true&compression=gzip").channel
    assert isinstance(bulk, Posts) and (bulk.path, bulk.bulk) == ("/in", True)
    assert bulk.headers == {"Content-Encoding": "gzip"}


def test_https_gets_posts_over_tls_and_an_ipv6_host_keeps_its_brackets() -> None:
    channel = sink_for("gelf+https://[fd00::5]:443/gelf?tls.verify=false").channel
    assert isinstance(channel, Posts)
    assert channel.transport.address == "https://[fd00::5]:443"
    assert channel.transport.ssl_context is not None
    assert channel.transport.certificate_note() == ", certificate NOT verified"


# -- over HTTP ----------------------------------------------------------------------------------


async def test_each_message_is_posted_on_its_own_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink = sink_for("gelf+http://graylog:12202")
    requests = answering(sink, monkeypatch, 202)
    await sink.send(records("one", "two"))
    assert [(a.method, a.path) for a in requests.asked] == [("POST", "/gelf")] * 2
    bodies = [orjson.loads(a.data or b"") for a in requests.asked]
    assert [body["short_message"] for body in bodies] == ["one", "two"]


async def test_a_receiver_that_fails_midway_gets_the_rest_of_the_batch_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink = sink_for("gelf+http://graylog:12202")
    answering(sink, monkeypatch, 202, 503)
    batch = records("one", "two", "three")
    with pytest.raises(DeliveryError) as info:
        await sink.send(batch)
    assert info.value.retriable and info.value.remaining == batch[1:]
    assert "POST /gelf answered HTTP 503: 'nope'" in str(info.value)


async def test_messages_refused_for_good_are_counted_and_not_sent_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink = sink_for("gelf+http://graylog:12202")
    answering(sink, monkeypatch, 413, 202, 400)
    with pytest.raises(DeliveryError) as info:
        await sink.send(records("big", "fine", "bad"))
    error = info.value
    assert (error.remaining, error.rejected, error.too_large) == ([], 2, 1)


async def test_bulk_posts_the_batch_once_compressed_and_a_400_is_not_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink = sink_for("gelf+http://graylog:12202?bulk=true&compression=gzip")
    requests = answering(sink, monkeypatch, 400)
    with pytest.raises(DeliveryError) as info:
        await sink.send(records("one", "two"))
    assert not info.value.retriable
    (asked,) = requests.asked
    assert asked.headers == {"Content-Encoding": "gzip"}
    lines = gzip.decompress(asked.data or b"").splitlines()
    assert [orjson.loads(line)["short_message"] for line in lines] == ["one", "two"]


async def test_the_http_health_check_asks_head_and_says_the_path_is_not_confirmed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink = sink_for("gelf+http://graylog:12202")
    requests = answering(sink, monkeypatch, 405)
    assert await sink.healthcheck() == (
        "HTTP server reached (HEAD /gelf answered 405; GELF inputs take POST only, "
        "so the path is not confirmed)"
    )
    assert [(a.method, a.path) for a in requests.asked] == [("HEAD", "/gelf")]


@pytest.mark.parametrize("status", [401, 403, 407, 500, 503])
async def test_the_http_health_check_fails_on_refused_credentials_and_server_errors(
    monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    sink = sink_for("gelf+http://graylog:12202")
    answering(sink, monkeypatch, status)
    with pytest.raises(CheckFailed, match=f"^HEAD /gelf answered HTTP {status}$"):
        await sink.healthcheck()


# -- over UDP -----------------------------------------------------------------------------------


async def test_the_udp_health_check_connects_a_socket_and_sends_nothing() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.setblocking(False)
        port = receiver.getsockname()[1]
        sink = sink_for(f"gelf+udp://127.0.0.1:{port}")
        try:
            detail = await sink.healthcheck()
        finally:
            await sink.close()
        with pytest.raises(BlockingIOError):
            receiver.recv(100)
    assert detail == (
        f"127.0.0.1 resolved, datagram socket connected to port {port} "
        "(UDP cannot confirm that a receiver listens)"
    )


async def test_a_udp_batch_is_sent_as_datagrams_after_open() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        sink = sink_for(f"gelf+udp://127.0.0.1:{receiver.getsockname()[1]}?compression=none")
        await sink.open()
        try:
            await sink.send(records("hello"))
        finally:
            await sink.close()
        assert orjson.loads(receiver.recv(65536))["short_message"] == "hello"
