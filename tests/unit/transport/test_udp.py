"""The UDP transport on loopback: datagrams arrive one per message, and the name is resolved
again after a while, so a destination that moved is found."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from logship.errors import DeliveryError
from logship.transport import udp
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


async def test_a_closed_port_is_counted_not_fatal(batched: bool) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    transport = UdpTransport("127.0.0.1", port)
    for _ in range(5):
        await transport.send_many([b"into the void"] * 3)
    assert transport.refused >= 1
    await transport.aclose()


@pytest.fixture(params=["sendmmsg", "send"])
def batched(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Both ways of sending: sendmmsg() where the C library has it (Linux), send() each."""
    if request.param == "send":
        monkeypatch.setattr(udp, "SENDMMSG", None)
    elif udp.SENDMMSG is None:
        pytest.skip("no sendmmsg() here")
    return request.param == "sendmmsg"


async def test_a_batch_larger_than_one_call_arrives_whole_and_in_order(
    receiver: socket.socket, batched: bool
) -> None:
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    transport = UdpTransport("127.0.0.1", receiver.getsockname()[1])
    datagrams = [b"%d:" % i + b"x" * (i % 300) for i in range(2500)]  # 1,024 a call, 3 calls
    await transport.send_many(datagrams)
    assert [receiver.recv(400) for _ in datagrams] == datagrams
    assert transport.bytes_sent == sum(map(len, datagrams))
    await transport.aclose()


async def test_a_datagram_too_large_for_udp_is_refused_for_good_naming_its_size(
    receiver: socket.socket, batched: bool
) -> None:
    transport = UdpTransport("127.0.0.1", receiver.getsockname()[1])
    with pytest.raises(DeliveryError, match="datagram of 70000 bytes too large") as caught:
        await transport.send_many([b"before", b"x" * 70_000, b"after"])
    assert not caught.value.retriable
    assert receiver.recv(100) == b"before"  # what came before it went out, once
    assert transport.bytes_sent == 6
    await transport.aclose()
