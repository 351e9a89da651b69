"""UDP datagrams to one destination: the only socket code the UDP sinks use.

A flood sends one datagram per line, and the kernel's ``send()`` is then half of the agent's
CPU. On Linux the datagrams of a batch go out in one ``sendmmsg()`` system call (up to 1,024 a
call), which Python's socket module does not offer: :class:`_MultiSend` calls the C library's
through ctypes. Elsewhere, or if the C library has no ``sendmmsg``, one ``send()`` a datagram.
"""

from __future__ import annotations

import array
import asyncio
import ctypes
import errno
import itertools
import os
import socket
import sys
import time
from collections.abc import Callable, Sequence
from typing import cast

from logship.errors import DeliveryError
from logship.transport.base import Connection


class _Iovec(ctypes.Structure):
    _fields_ = (("base", ctypes.c_void_p), ("len", ctypes.c_size_t))


class _Msghdr(ctypes.Structure):  # glibc's; musl's differs only by padding on little-endian
    _fields_ = (
        ("name", ctypes.c_void_p),
        ("namelen", ctypes.c_uint32),
        ("iov", ctypes.c_void_p),  # struct iovec *
        ("iovlen", ctypes.c_size_t),
        ("control", ctypes.c_void_p),
        ("controllen", ctypes.c_size_t),
        ("flags", ctypes.c_int),
    )


class _Mmsghdr(ctypes.Structure):
    _fields_ = (("hdr", _Msghdr), ("len", ctypes.c_uint))


def _load_sendmmsg() -> Callable[..., int] | None:
    """The C library's ``sendmmsg``, or None where there is none to call safely (the message
    header is laid out as on little-endian Linux)."""
    if sys.platform != "linux" or sys.byteorder != "little":
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sendmmsg
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int)
    function.restype = ctypes.c_int
    return cast(Callable[..., int], function)


SENDMMSG = _load_sendmmsg()


class _MultiSend:
    """Sends datagrams with ``sendmmsg()``: one message header per datagram, each pointing at
    its datagram in one joined buffer. The headers are made once (each with its one iovec);
    per call only the iovecs' addresses and lengths are written, from one array. One per
    transport: its arrays are written and read within one call, never shared."""

    MAX = 1024  # UIO_MAXIOV: the most messages one call takes

    def __init__(self, sendmmsg: Callable[..., int]) -> None:
        self._sendmmsg = sendmmsg
        self._iovecs = (_Iovec * self.MAX)()
        self._headers = (_Mmsghdr * self.MAX)()
        iovecs_at, size = ctypes.addressof(self._iovecs), ctypes.sizeof(_Iovec)
        for i in range(self.MAX):
            self._headers[i].hdr.iov = iovecs_at + i * size
            self._headers[i].hdr.iovlen = 1
        self._headers_at = ctypes.addressof(self._headers)
        self._word = "Q" if ctypes.sizeof(ctypes.c_size_t) == 8 else "I"

    def send(self, sock: socket.socket, datagrams: Sequence[bytes], start: int) -> tuple[int, int]:
        """Send the datagrams from ``start`` on (at most :attr:`MAX`) in one call: how many were
        sent (at least one) and their bytes; or OSError for the first, unsent
        (``BlockingIOError`` when the socket's buffer is full, as ``socket.send`` raises)."""
        batch = datagrams[start : start + self.MAX]
        n = len(batch)
        joined = b"".join(batch)  # alive until the call returns: the iovecs point into it
        at = ctypes.cast(ctypes.c_char_p(joined), ctypes.c_void_p).value
        lengths = array.array(self._word, map(len, batch))
        words = array.array(self._word, bytes(2 * lengths.itemsize * n))  # (base, len) each
        words[0::2] = array.array(self._word, itertools.accumulate(lengths[:-1], initial=at))
        words[1::2] = lengths
        ctypes.memmove(self._iovecs, words.buffer_info()[0], ctypes.sizeof(_Iovec) * n)
        sent: int = self._sendmmsg(sock.fileno(), self._headers_at, n, 0)
        if sent < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))  # the errno's own subclass of OSError
        return sent, len(joined) if sent == n else sum(lengths[:sent])


def _send_each(sock: socket.socket, datagrams: Sequence[bytes], start: int) -> tuple[int, int]:
    """:meth:`_MultiSend.send` with one ``send()`` a datagram, where there is no sendmmsg:
    the datagrams from ``start`` on until one fails; that one's error if it is the first."""
    send = sock.send
    sent = nbytes = 0
    for datagram in itertools.islice(datagrams, start, None):
        try:
            nbytes += send(datagram)
        except OSError:
            if not sent:
                raise
            break  # the next call meets it first
        sent += 1
    return sent, nbytes


class UdpTransport(Connection):
    """A connected, non-blocking UDP socket. ``send_many`` sends one datagram per item (on
    Linux up to 1,024 of them per system call: :class:`_MultiSend`).

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
        self._send: Callable[[socket.socket, Sequence[bytes], int], tuple[int, int]] = (
            _send_each if SENDMMSG is None else _MultiSend(SENDMMSG).send
        )

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
        i = 0
        n = len(datagrams)
        while i < n:
            try:
                sent, nbytes = self._send(sock, datagrams, i)
            except BlockingIOError:
                await self._writable(sock)
                continue
            except ConnectionRefusedError:
                self._refused()
                continue
            except OSError as exc:
                raise self._failed(exc, datagrams[i]) from exc
            self.bytes_sent += nbytes
            i += sent

    def _refused(self) -> None:
        # the ICMP answer to an earlier datagram (the receiver is not listening) is reported
        # on this send, which did not happen: count it, and the datagram is sent again
        self.refused += 1

    def _failed(self, exc: OSError, datagram: bytes) -> DeliveryError:
        if exc.errno == errno.EMSGSIZE:  # larger than the path allows; never retriable
            return DeliveryError(
                f"datagram of {len(datagram)} bytes too large for {self.host}", retriable=False
            )
        self._close()  # resolve and connect again on the retry
        return DeliveryError(f"send to {self.address} failed: {exc}")

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
