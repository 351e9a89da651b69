"""The transports' common lifecycle, and what each says to ``logship check`` about a connection
it made, on loopback: UDP, TCP, TLS with and without verification, a receiver that hangs up
at once, and the HTTP notes."""

from __future__ import annotations

import asyncio
import inspect
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from logship.config.tls import TlsConfig
from logship.errors import CheckFailed
from logship.transport.base import Connection, Transport
from logship.transport.http import HttpTransport, credentials_refused
from logship.transport.tcp import StreamTransport
from logship.transport.tls import client_context
from logship.transport.udp import UdpTransport
from tests.helpers.tls import TlsFiles

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def keep_open(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # until the client closes
    writer.close()


async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[int]]]:
    """Starts a loopback TCP (or, with ``ssl``, TLS) server; returns its port."""
    servers: list[asyncio.Server] = []

    async def start(handler: Handler, ssl_context: ssl.SSLContext | None = None) -> int:
        server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=ssl_context)
        servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def server_context(test_ca: TlsFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(test_ca.server_cert, test_ca.server_key)
    return context


def lifecycle(protocol: type) -> set[str]:
    return {
        name
        for name, member in vars(protocol).items()
        if not name.startswith("_") and (callable(member) or isinstance(member, property))
    }


def test_every_transport_has_the_same_lifecycle_of_its_own() -> None:
    assert lifecycle(Transport) == {"address", "connect", "aclose"}
    for transport in (UdpTransport, StreamTransport, HttpTransport):
        assert Transport in transport.__mro__
        assert lifecycle(Transport) <= set(vars(transport)), transport  # none left to the protocol
        assert inspect.iscoroutinefunction(transport.connect)
        assert inspect.iscoroutinefunction(transport.aclose)


def test_udp_and_stream_transports_can_show_their_connection_but_http_cannot() -> None:
    assert lifecycle(Connection) == {"check"}
    assert all("check" in vars(t) for t in (UdpTransport, StreamTransport))
    assert Connection in UdpTransport.__mro__ and Connection in StreamTransport.__mro__
    assert Connection not in HttpTransport.__mro__


def test_each_transport_names_its_peer_the_same_way() -> None:
    assert UdpTransport("logs.example", 514).address == "logs.example:514"
    assert StreamTransport("logs.example", 6514).address == "logs.example:6514"
    assert HttpTransport("https://es.example:9200/").address == "https://es.example:9200"


async def test_a_udp_check_says_that_udp_cannot_confirm_a_receiver() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        port = receiver.getsockname()[1]
        transport = UdpTransport("127.0.0.1", port)
        try:
            assert await transport.check() == (
                f"127.0.0.1 resolved, datagram socket connected to port {port} "
                "(UDP cannot confirm that a receiver listens)"
            )
        finally:
            await transport.aclose()


async def test_a_tcp_check_says_where_it_connected(serve: Callable[..., Awaitable[int]]) -> None:
    port = await serve(keep_open)
    transport = StreamTransport("127.0.0.1", port)
    try:
        assert await transport.check() == f"connected to 127.0.0.1:{port}"
    finally:
        await transport.aclose()


async def test_a_receiver_that_hangs_up_right_after_accepting_fails_the_check(
    serve: Callable[..., Awaitable[int]],
) -> None:
    port = await serve(hang_up)
    transport = StreamTransport("127.0.0.1", port)
    try:
        with pytest.raises(CheckFailed) as info:
            await transport.check()
    finally:
        await transport.aclose()
    assert str(info.value) == (
        f"127.0.0.1:{port} closed the connection right after accepting it "
        "(does it refuse this client: TLS client certificate, allowed senders?)"
    )


async def test_a_tls_check_names_the_version_and_that_the_certificate_was_verified(
    serve: Callable[..., Awaitable[int]], test_ca: TlsFiles
) -> None:
    port = await serve(keep_open, server_context(test_ca))
    context = client_context(TlsConfig(ca_file=test_ca.ca_file))
    transport = StreamTransport("127.0.0.1", port, ssl_context=context)
    try:
        assert await transport.check() == (
            f"connected to 127.0.0.1:{port}, TLSv1.3 handshake done, server certificate verified"
        )
    finally:
        await transport.aclose()


async def test_a_tls_check_with_verify_off_says_the_certificate_was_not_verified(
    serve: Callable[..., Awaitable[int]], test_ca: TlsFiles
) -> None:
    port = await serve(keep_open, server_context(test_ca))
    context = client_context(TlsConfig(verify=False))
    transport = StreamTransport("127.0.0.1", port, ssl_context=context)
    try:
        assert (await transport.check()).endswith(
            "handshake done, certificate NOT verified (verify off)"
        )
    finally:
        await transport.aclose()


async def test_a_stream_closed_with_aclose_connects_again_on_the_next_write(
    serve: Callable[..., Awaitable[int]],
) -> None:
    port = await serve(keep_open)
    transport = StreamTransport("127.0.0.1", port)
    await transport.connect()
    await transport.aclose()
    assert not transport.connected
    await transport.write(b"again")
    assert transport.connected and transport.connections == 2
    assert transport.bytes_sent == 5  # logship_bytes_sent_total
    await transport.aclose()


def test_the_http_note_says_whether_the_server_certificate_was_verified() -> None:
    assert HttpTransport("http://es:9200").certificate_note() == ""
    assert HttpTransport("https://es:9200").certificate_note() == ", server certificate verified"
    verified = HttpTransport("https://es:9200", ssl_context=client_context(TlsConfig()))
    assert verified.certificate_note() == ", server certificate verified"
    unverified = HttpTransport(
        "https://es:9200", ssl_context=client_context(TlsConfig(verify=False))
    )
    assert unverified.certificate_note() == ", certificate NOT verified"


def test_only_401_403_and_407_refuse_the_credentials() -> None:
    assert [s for s in (200, 400, 401, 403, 404, 407, 429, 500) if credentials_refused(s)] == [
        401,
        403,
        407,
    ]
