"""The engine's limit: plain logs-API follow clients that do nothing with the lines.

One ``GET /containers/{id}/logs?follow=1&timestamps=1`` per container on the engine's unix
socket, opened before the producers are let go, all read by one thread through ``selectors``
(no thread per stream: with 200 streams, threads waiting for the GIL would add their own delay).
Lines are only counted: every entry carries Docker's timestamp followed by a space, ``…Z ``,
which no producer line contains, so ``bytes.count(b"Z ")`` counts entries at C speed without
parsing frames or chunks. The engine flushes every entry as its own HTTP chunk; in a flood the
reader naps ``gather_secs`` (0.5 ms) after a round of small reads so entries gather in the
sockets and one wake-up reads many. Measured on 2 cores, one container: a reader that wakes for
every chunk costs ~40% of a core and gets 85-110k lines/s; napping 0.5 ms, ~10% of a core and
125-150k lines/s; napping 2 ms, 85-95k lines/s (the engine's writes then block on the full
socket buffer: every small write takes a whole socket buffer, so it holds only a few hundred).
When a stream ends before all its container's lines came (Docker 20.10
may end a follow stream early when the container exits), it is opened again from the last
timestamp seen. With ``delays=True`` (steady mode) every timestamp is parsed to give the
engine's own delay: arrival at the reader minus Docker's timestamp.
"""

from __future__ import annotations

import calendar
import re
import selectors
import socket
import time
from dataclasses import dataclass, field

API = "/v1.41"
RECV_BYTES = 256 * 1024
MAX_RESUMES = 20
_TIMESTAMP = re.compile(rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z ")
_TS_CHARS = frozenset(b"0123456789-:.T")


def since_param(ts: bytes) -> str:
    """``2026-11-27T05:24:33.719017123`` (no ``Z``) -> ``1795757073.719017123``."""
    base, _, frac = ts.decode().partition(".")
    secs = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    return f"{secs}.{(frac + '000000000')[:9]}"


@dataclass(eq=False)
class Stream:
    """One container's follow stream and what it counted."""

    container_id: str
    expected: int
    lines: int = 0
    bytes_read: int = 0
    last_data_ns: int = 0
    resumes: int = 0
    error: str | None = None
    done: bool = False
    delays_us: list[int] = field(default_factory=list)
    # connection state
    sock: socket.socket | None = None
    head: bytes | None = b""  # None once the headers are through
    tail: bytes = b""
    last_ts: bytes | None = None
    skip: bytes | None = None  # the resume timestamp: lines carrying it were counted already
    lines_at_open: int = 0


class EngineReaders:
    def __init__(
        self,
        socket_path: str,
        container_ids: list[str],
        expected_per_container: int,
        *,
        delays: bool = False,
        gather_secs: float = 0.0,
    ) -> None:
        self.socket_path = socket_path
        self.want_delays = delays
        self.gather_secs = gather_secs
        self.streams = [Stream(cid, expected_per_container) for cid in container_ids]
        self.selector = selectors.DefaultSelector()
        self._seconds: dict[bytes, int] = {}

    # -- connections ---------------------------------------------------------------------------

    def open_all(self, timeout_secs: float = 30) -> None:
        """Open every stream and return once the engine answered each one's headers."""
        for stream in self.streams:
            self._open(stream, None)
        deadline = time.monotonic() + timeout_secs
        while any(s.head is not None and not s.done for s in self.streams):
            if time.monotonic() > deadline:
                raise RuntimeError("the engine did not answer every logs request in time")
            self._poll(0.1)

    def _open(self, stream: Stream, since: str | None) -> None:
        query = "follow=1&stdout=1&stderr=1&timestamps=1" + (f"&since={since}" if since else "")
        request = (
            f"GET {API}/containers/{stream.container_id}/logs?{query} HTTP/1.1\r\n"
            "Host: docker\r\nConnection: close\r\n\r\n"
        ).encode()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self.socket_path)
        sock.sendall(request)
        sock.setblocking(False)
        stream.sock, stream.head, stream.tail = sock, b"", b""
        stream.skip = stream.last_ts + b"Z " if since and stream.last_ts else None
        stream.lines_at_open = stream.lines
        self.selector.register(sock, selectors.EVENT_READ, stream)

    def _closed(self, stream: Stream) -> None:
        assert stream.sock is not None
        self.selector.unregister(stream.sock)
        stream.sock.close()
        stream.sock = None
        if stream.lines >= stream.expected:
            stream.done = True
        elif stream.lines == stream.lines_at_open and stream.resumes >= MAX_RESUMES:
            stream.error = f"stream ended after {stream.lines} of {stream.expected} lines"
            stream.done = True
        else:
            stream.resumes += 1
            time.sleep(0.01)
            since = since_param(stream.last_ts) if stream.last_ts else None
            self._open(stream, since)

    def close(self) -> None:
        for stream in self.streams:
            if stream.sock is not None:
                self.selector.unregister(stream.sock)
                stream.sock.close()
                stream.sock = None
        self.selector.close()

    # -- reading -------------------------------------------------------------------------------

    def run(self, deadline_monotonic: float) -> bool:
        """Read until every stream is done; False if the deadline came first."""
        while not all(s.done for s in self.streams):
            if time.monotonic() > deadline_monotonic:
                return False
            if not self._poll(0.1) and self.gather_secs:
                time.sleep(self.gather_secs)  # only small reads: let entries gather
        return True

    def _poll(self, timeout: float) -> bool:
        """One round of reads; True if any read filled a good part of the buffer."""
        big = False
        for key, _ in self.selector.select(timeout):
            stream: Stream = key.data
            assert stream.sock is not None
            try:
                data = stream.sock.recv(RECV_BYTES)
            except BlockingIOError:
                continue
            except OSError as exc:
                data = b""
                stream.error = f"{type(exc).__name__}: {exc}"
            if not data:
                self._closed(stream)
                continue
            big = big or len(data) >= RECV_BYTES // 4
            if stream.head is not None:
                head = stream.head + data
                if b"\r\n\r\n" not in head:
                    stream.head = head
                    continue
                status_line, _, data = head.partition(b"\r\n\r\n")
                stream.head = None
                if status_line.split(b" ", 2)[1] != b"200":
                    stream.error = f"logs request answered {status_line.splitlines()[0]!r}"
                    stream.done = True
                    self.selector.unregister(stream.sock)
                    stream.sock.close()
                    stream.sock = None
                    continue
            if data:
                self._count(stream, data)
        return big

    def _count(self, stream: Stream, data: bytes) -> None:
        now = time.time_ns()
        tail = stream.tail
        window = tail + data
        new = window[max(0, len(tail) - 1) :].count(b"Z ")
        if stream.skip is not None:
            new -= min(new, window.count(stream.skip))
            stream.skip = None
        if new:
            stream.lines += new
            stream.last_data_ns = now
            end = window.rfind(b"Z ")
            start = end
            while start > 0 and window[start - 1] in _TS_CHARS:
                start -= 1
            stream.last_ts = window[start:end]
            if self.want_delays:
                self._delays(stream, window, len(tail), now)
        stream.bytes_read += len(data)
        stream.tail = window[-64:]

    def _delays(self, stream: Stream, window: bytes, tail: int, now_ns: int) -> None:
        now_us = now_ns // 1000
        seconds = self._seconds
        out = stream.delays_us
        for m in _TIMESTAMP.finditer(window):
            if m.end() <= tail:
                continue
            base, frac = m.group(1), m.group(2) or b"0"
            secs = seconds.get(base)
            if secs is None:
                secs = calendar.timegm(time.strptime(base.decode(), "%Y-%m-%dT%H:%M:%S"))
                seconds[base] = secs
            out.append(now_us - (secs * 1_000_000 + int((frac + b"000000")[:6])))
