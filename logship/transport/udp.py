"""UDP datagrams to one destination: the only socket code the UDP sinks use."""

from __future__ import annotations

import asyncio
import socket
import time

from logship.errors import DeliveryError
from logship.transport.base import Connection


class UdpTransport(Connection):
    """A connected, non-blocking UDP socket. ``send_many`` sends one datagram per item.

    UDP has no connection to lose, so the name is resolved again every
    ``resolve_interval_secs`` (and after a send error): a destination that moves is found
    again. A datagram the kernel cannot queue waits for the socket to drain instead of being
    lost.
    """

    def __init__(self, host: str, port: int, *, resolve_interval_secs: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.resolve_interval_secs = resolve_interval_secs
        self.refused = 0  # datagrams the receiver's host answered with "port unreachable"
        self.bytes_sent = 0  # of the datagrams sent (metrics)
        self._sock: socket.socket | None = None
        self._resolved_at = 0.0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
        except OSError as exc:
            raise DeliveryError(f"cannot resolve {self.address}: {exc}") from exc
        family, type_, proto, _, address = infos[0]
        sock = socket.socket(family, type_, proto)
        sock.setblocking(False)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
            sock.connect(address)
        except OSError as exc:
            sock.close()
            raise DeliveryError(f"cannot reach {self.address}: {exc}") from exc
        self._close()
        self._sock = sock
        self._resolved_at = time.monotonic()

    async def send_many(self, datagrams: list[bytes]) -> None:
        if self._sock is None or time.monotonic() - self._resolved_at > self.resolve_interval_secs:
            await self.connect()
        sock = self._sock
        assert sock is not None
        send = sock.send
        i = 0
        n = len(datagrams)
        while i < n:
            try:
                for i in range(i, n):  # noqa: B020 - resumes where a wait interrupted it
                    self.bytes_sent += send(datagrams[i])
                i = n
            except BlockingIOError:
                await self._writable(sock)
            except ConnectionRefusedError:
                # the ICMP answer to an earlier datagram (the receiver is not listening) is
                # reported on this send, which did not happen: count it and send this one again
                self.refused += 1
            except OSError as exc:
                if exc.errno == 90:  # EMSGSIZE: larger than the path allows; never retriable
                    raise DeliveryError(
                        f"datagram of {len(datagrams[i])} bytes too large for {self.host}",
                        retriable=False,
                    ) from exc
                self._close()  # resolve and connect again on the retry
                raise DeliveryError(f"send to {self.address} failed: {exc}") from exc

    @staticmethod
    async def _writable(sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        loop.add_writer(sock.fileno(), ready.set_result, None)
        try:
            await ready
        finally:
            loop.remove_writer(sock.fileno())

    async def check(self) -> str:
        await self.connect()
        return (
            f"{self.host} resolved, datagram socket connected to port {self.port} "
            "(UDP cannot confirm that a receiver listens)"
        )

    async def aclose(self) -> None:
        """Close the socket (a datagram is sent whole or not at all: nothing is queued)."""
        self._close()

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
