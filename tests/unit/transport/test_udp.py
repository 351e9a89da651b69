"""The UDP transport on loopback: datagrams arrive one per message, and the name is resolved
again after a while, so a destination that moved is found."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from logship.transport.udp import UdpTransport


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    yield s
    s.close()


async def test_each_message_is_one_datagram(receiver: socket.socket) -> None:
    transport = UdpTransport("127.0.0.1", receiver.getsockname()[1])
    await transport.send_many([b"one", b"two\nlines", b""])
    assert [receiver.recv(100) for _ in range(3)] == [b"one", b"two\nlines", b""]
    assert transport.bytes_sent == 12  # logship_bytes_sent_total
    await transport.aclose()


async def test_the_name_is_resolved_again_after_the_interval(
    receiver: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = UdpTransport("localhost", receiver.getsockname()[1], resolve_interval_secs=0)
    connects = 0
    real_connect = transport.connect

    async def counting_connect() -> None:
        nonlocal connects
        connects += 1
        await real_connect()

    monkeypatch.setattr(transport, "connect", counting_connect)
    await transport.send_many([b"a"])
    await transport.send_many([b"b"])
    assert connects == 2
    assert [receiver.recv(10) for _ in range(2)] == [b"a", b"b"]
    await transport.aclose()


async def test_a_closed_port_is_counted_not_fatal() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    transport = UdpTransport("127.0.0.1", port)
    for _ in range(5):
        await transport.send_many([b"into the void"] * 3)
    assert transport.refused >= 1
    await transport.aclose()
