"""A strict GELF 1.1 receiver for tests, written from the specification
(https://go2docs.graylog.org/current/getting_in_log_data/gelf.html), independently of logship's
encoder.

- UDP: chunks (``1e 0f``, 8-byte message ID, sequence number, sequence count) reassembled in
  any order; at most 128 chunks; all of them within 5 seconds. Compression is told by the
  magic bytes, as Graylog does: gzip ``1f 8b``, zlib ``78 xx``, anything else plain JSON.
- TCP: uncompressed messages, each ended by a null byte.
- HTTP(S): POST to one path, a message per request (or, with ``bulk``, newline-separated
  messages as Graylog's "Enable Bulk Receiving" takes them); ``Content-Encoding`` honoured.
  Answers 202 Accepted, or 400 with the reason.

A message must be a JSON object with ``version`` "1.1", a non-empty string ``host`` and a string
``short_message``; ``timestamp`` and ``level`` are numbers; every other field is an additional
field: its name starts with ``_``, matches ``^[\\w\\.\\-]*$`` and is not ``_id``, its value a
string or a number. Anything else is rejected and counted in :attr:`GelfReceiver.rejections`.

All of it runs in one background thread with its own event loop, on 127.0.0.1 free ports, so
synchronous tests read :meth:`GelfReceiver.messages` while the agent sends.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

CHUNK_MAGIC = b"\x1e\x0f"
MAX_CHUNKS = 128
CHUNK_TIMEOUT_SECS = 5.0
_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # Linux; Python does not name it
_FIELD_NAME = re.compile(r"[A-Za-z0-9_.\-]*")  # ^[\w\.\-]*$, \w as in Java: ASCII only
_STANDARD: dict[str, type | tuple[type, ...]] = {
    "version": str,
    "host": str,
    "short_message": str,
    "full_message": str,
    "timestamp": (int, float),
    "level": (int, float),
    "facility": str,  # deprecated, still allowed
    "line": (int, float),
    "file": str,
}


class Rejected(Exception):
    """What the GELF specification does not allow; the message says why."""


# -- decoding, as the specification says ---------------------------------------------------------


def compression_of(payload: bytes) -> str:
    """gzip, zlib or none, from the first two bytes."""
    if payload[:2] == b"\x1f\x8b":
        return "gzip"
    if len(payload) >= 2 and payload[0] == 0x78 and (payload[0] * 256 + payload[1]) % 31 == 0:
        return "zlib"
    return "none"


def decompress(payload: bytes) -> bytes:
    method = compression_of(payload)
    try:
        if method == "gzip":
            return gzip.decompress(payload)
        if method == "zlib":
            return zlib.decompress(payload)
    except (OSError, EOFError, zlib.error) as exc:
        raise Rejected(f"invalid {method} data: {exc}") from None
    return payload


def parse_message(data: bytes) -> dict[str, Any]:
    """One uncompressed GELF message -> its fields; :class:`Rejected` when the spec says no."""
    try:
        message = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Rejected(f"invalid JSON: {exc}") from None
    if not isinstance(message, dict):
        raise Rejected(f"a GELF message is a JSON object, not {type(message).__name__}")
    for required in ("version", "host", "short_message"):
        if required not in message:
            raise Rejected(f"missing {required}")
    if message["version"] != "1.1":
        raise Rejected(f"version {message['version']!r}, expected '1.1'")
    if not isinstance(message["host"], str) or not message["host"]:
        raise Rejected(f"host {message['host']!r} is not a non-empty string")
    for name, value in message.items():
        if name in _STANDARD:
            if isinstance(value, bool) or not isinstance(value, _STANDARD[name]):
                raise Rejected(f"{name} {value!r} has the wrong type")
        elif not name.startswith("_"):
            raise Rejected(f"field {name!r} is neither a GELF field nor additional (_name)")
        elif name == "_id":
            raise Rejected("additional field _id is not allowed")
        elif not _FIELD_NAME.fullmatch(name):
            raise Rejected(f"additional field name {name!r} does not match ^[\\w\\.\\-]*$")
        elif isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise Rejected(f"additional field {name} holds {value!r}: not a string or number")
    return message


def parse_tcp_frame(frame: bytes) -> dict[str, Any]:
    """GELF over TCP is plain JSON: the null byte that ends a message forbids compression."""
    if compression_of(frame) != "none":
        raise Rejected(f"compressed message over TCP ({compression_of(frame)}): expected JSON")
    return parse_message(frame)


@dataclass
class _Partial:
    count: int
    first_seen: float
    chunks: dict[int, bytes]


class ChunkAssembler:
    """Datagrams -> whole GELF payloads; chunks may come in any order."""

    def __init__(
        self,
        *,
        timeout_secs: float = CHUNK_TIMEOUT_SECS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout_secs = timeout_secs
        self.clock = clock
        self.expired = 0  # messages whose chunks did not all come in time
        self._partial: dict[bytes, _Partial] = {}

    def feed(self, datagram: bytes) -> tuple[bytes, int] | None:
        """The payload and how many chunks it came in, once complete; None while waiting."""
        self._expire()
        if datagram[:2] != CHUNK_MAGIC:
            return datagram, 1
        if len(datagram) <= 12:
            raise Rejected(f"chunk of {len(datagram)} bytes: no room for data after the header")
        message_id, seq, count = datagram[2:10], datagram[10], datagram[11]
        if count == 0 or count > MAX_CHUNKS:
            self._partial.pop(message_id, None)
            raise Rejected(f"sequence count {count}: a message has 1 to {MAX_CHUNKS} chunks")
        if seq >= count:
            self._partial.pop(message_id, None)
            raise Rejected(f"sequence number {seq} not below sequence count {count}")
        partial = self._partial.setdefault(message_id, _Partial(count, self.clock(), {}))
        if partial.count != count:
            del self._partial[message_id]
            raise Rejected(
                f"chunk count mismatch for message {message_id.hex()}: {count}, "
                f"earlier chunks said {partial.count}"
            )
        partial.chunks.setdefault(seq, datagram[12:])  # a duplicate is ignored
        if len(partial.chunks) < count:
            return None
        del self._partial[message_id]
        return b"".join(partial.chunks[i] for i in range(count)), count

    def _expire(self) -> None:
        now = self.clock()
        for message_id, partial in list(self._partial.items()):
            if now - partial.first_seen > self.timeout_secs:
                del self._partial[message_id]
                self.expired += 1

    @property
    def pending(self) -> int:
        return len(self._partial)


class NullDelimited:
    """A TCP byte stream -> the messages in it, each ended by a null byte."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        *frames, rest = self._buffer.split(b"\0")
        self._buffer = bytearray(rest)
        return [bytes(frame) for frame in frames]

    @property
    def pending(self) -> int:
        return len(self._buffer)


# -- the receiver ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One accepted message and how it came."""

    message: dict[str, Any]
    transport: str  # udp, tcp, http, https
    compression: str  # gzip, zlib, none (UDP: magic bytes; HTTP: Content-Encoding or magic)
    chunks: int = 1
    size: int = 0  # bytes of the (compressed) payload


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, receiver: GelfReceiver) -> None:
        self.receiver = receiver
        self.assembler = ChunkAssembler()

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        receiver = self.receiver
        receiver.datagrams += 1
        expired = self.assembler.expired
        try:
            complete = self.assembler.feed(data)
            for _ in range(self.assembler.expired - expired):
                receiver.reject("udp", "chunks missing 5 seconds after the first one came")
            if complete is None:
                return
            payload, chunks = complete
            message = parse_message(decompress(payload))
        except Rejected as exc:
            receiver.reject("udp", str(exc))
            return
        receiver.accept(Received(message, "udp", compression_of(payload), chunks, len(payload)))


class GelfReceiver:
    """GELF over UDP, TCP and HTTP (HTTPS with ``tls``) on 127.0.0.1; see the module docstring."""

    def __init__(
        self,
        *,
        http_path: str = "/gelf",
        tls: ssl.SSLContext | None = None,
        bulk: bool = False,
        http_status: int | Callable[[int], int] = 202,
        refuse: Callable[[dict[str, Any]], bool] | None = None,
        tcp_port: int = 0,
        http_port: int = 0,
    ) -> None:
        self.http_path = http_path
        self.tls = tls
        self.bulk = bulk
        # what to answer a valid POST: a status, or one per POST by number (1, 2, ...)
        self.http_status = http_status
        self.refuse = refuse  # valid messages to answer 400 anyway, as a picky receiver would
        self.udp_port = 0
        self.tcp_port = tcp_port  # 0: a free one
        self.http_port = http_port
        self.datagrams = 0
        self.tcp_connections = 0
        self.http_requests = 0
        self.http_content_types: set[str] = set()
        self._received: list[Received] = []
        self._rejections: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._http: web.AppRunner | None = None

    # -- test-facing -----------------------------------------------------------------------------

    def start(self) -> GelfReceiver:
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        except BaseException:
            self.stop()
            raise
        return self

    def __enter__(self) -> GelfReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def messages(self) -> list[dict[str, Any]]:
        return [r.message for r in self.received()]

    @property
    def rejections(self) -> list[tuple[str, str]]:
        """(transport, reason) for every message the specification made us refuse."""
        with self._lock:
            return list(self._rejections)

    def stop(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
        self._loop.close()

    # -- called on the receiver's loop ---------------------------------------------------------

    def accept(self, received: Received) -> None:
        with self._lock:
            self._received.append(received)

    def reject(self, transport: str, reason: str) -> None:
        with self._lock:
            self._rejections.append((transport, reason))

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            # room for many 128-chunk messages while the test thread holds the GIL
            try:
                sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, 16 * 1024 * 1024)
            except OSError:  # not root: as much as net.core.rmem_max allows
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024 * 1024)
            sock.bind(("127.0.0.1", 0))
            self._udp, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), sock=sock)
        except BaseException:
            sock.close()
            raise
        self.udp_port = sock.getsockname()[1]
        self._tcp = await asyncio.start_server(self._serve_tcp, "127.0.0.1", self.tcp_port)
        self.tcp_port = self._tcp.sockets[0].getsockname()[1]
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._serve_http)
        self._http = web.AppRunner(app, access_log=None)
        await self._http.setup()
        site = web.TCPSite(self._http, "127.0.0.1", self.http_port, ssl_context=self.tls)
        await site.start()
        self.http_port = self._http.addresses[0][1]

    async def _stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            for writer in list(self._connections):
                writer.close()
            await self._tcp.wait_closed()
        if self._http is not None:
            await self._http.cleanup()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        self.tcp_connections += 1
        frames = NullDelimited()
        try:
            while data := await reader.read(65536):
                for frame in frames.feed(data):
                    if not frame:
                        continue  # an empty frame (two nulls in a row) is no message
                    try:
                        message = parse_tcp_frame(frame)
                    except Rejected as exc:
                        self.reject("tcp", str(exc))
                    else:
                        self.accept(Received(message, "tcp", "none", 1, len(frame)))
            if frames.pending:
                self.reject("tcp", f"connection ended inside a message ({frames.pending} bytes)")
        except (ConnectionError, OSError):
            pass
        finally:
            self._connections.discard(writer)
            writer.close()

    async def _serve_http(self, request: web.Request) -> web.Response:
        transport = "https" if self.tls is not None else "http"
        self.http_requests += 1
        if request.method != "POST" or request.path != self.http_path:
            self.reject(transport, f"{request.method} {request.path}: not POST {self.http_path}")
            return web.Response(status=404, text=f"POST {self.http_path} only")
        self.http_content_types.add(request.headers.get("Content-Type", ""))
        body = await request.read()  # aiohttp undoes Content-Encoding gzip and deflate
        encoding = request.headers.get("Content-Encoding", "")
        frames = body.split(b"\n") if self.bulk else [body]
        accepted: list[Received] = []
        try:
            for frame in frames:
                compression = {"gzip": "gzip", "deflate": "zlib"}.get(encoding)
                compression = compression or compression_of(frame)
                message = self._parse_http_frame(frame)
                accepted.append(Received(message, transport, compression, 1, len(frame)))
        except Rejected as exc:
            self.reject(transport, str(exc))
            return web.Response(status=400, text=str(exc))
        status = self.http_status
        if not isinstance(status, int):
            status = status(self.http_requests)
        if status >= 300:
            return web.Response(status=status, text="not now")
        for received in accepted:
            self.accept(received)
        return web.Response(status=status)

    def _parse_http_frame(self, frame: bytes) -> dict[str, Any]:
        message = parse_message(decompress(frame))
        if self.refuse is not None and self.refuse(message):
            raise Rejected(f"refused on purpose: {message['short_message']!r}")
        return message
