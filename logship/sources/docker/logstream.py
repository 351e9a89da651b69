"""One ``GET /containers/{id}/logs`` request, read at the speed of the socket.

This is the agent's hot path. aiohttp hands every HTTP chunk through a Python stream reader,
which costs more than the rest of a line's processing together, and the engine sends one chunk
per log entry. Here the response is parsed by httptools (llhttp) straight from the socket's
reads, the bodies of all chunks in one read go to the sans-IO :class:`LogDecoder` as a list
(a TTY container's chunks only once whole: :class:`_TtyLogStreamProtocol`), and the resulting
records are handed on before the next read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import quote, urlencode

import httptools

from logship.errors import DockerAPIError, RemoteProtocolError
from logship.protocol.docker import LogDecoder
from logship.record import Record, since_parameter
from logship.sources.docker.client import USER_AGENT, DockerClient, error_message
from logship.sources.held import HeldLines, Holder

Emit = Callable[[list[Record]], None]

_BEHIND_BYTES = 32 * 1024  # a read this large: the engine has more waiting, read on at once
_GATHER_BYTES = 16 * 1024  # what a paced read aims to collect
_MIN_PAUSE_SECS = 0.001
_MAX_PAUSE_SECS = 0.25
_START_RATE = 16 * 1024 * 1024  # bytes/s assumed at first: a short pause until measured
_MAX_CHUNK_BYTES = 1024 * 1024  # a TTY entry is at most 16 KiB and a timestamp
_MAX_ERROR_BYTES = 1024 * 1024  # of an error answer's body (not 200), the part read


class _LogStreamProtocol(asyncio.Protocol):
    """One logs response being read; see :data:`LogStream`."""

    def __init__(
        self,
        request: bytes,
        decoder: LogDecoder,
        emit: Emit,
        *,
        paced: bool = True,
        held: HeldLines | None = None,
    ) -> None:
        self.request = request
        self.paced = paced
        self.decoder = decoder
        self.emit = emit
        self.held = held
        self.holder = Holder(decoder.meta.name, self._split)
        self.chunks: list[bytes] = []
        self.on_body = self._body_sink()  # httptools calls this per piece of an HTTP chunk
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.loop = asyncio.get_running_loop()
        self.last_read = self.loop.time()  # loop time of the last read from the socket
        self._rate = float(_START_RATE)
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.transport: asyncio.Transport | None = None

    def _body_sink(self) -> Callable[[bytes], None]:
        # Frames carry their own length, so the bytes of one read go to the decoder as they
        # are: an HTTP chunk cut by the read needs no joining.
        return self.chunks.append

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        self.transport.write(self.request)  # type: ignore[union-attr]

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_message_complete(self) -> None:
        self._finish(None)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._finish(RemoteProtocolError(f"the engine's HTTP response is malformed: {exc}"))
        chunks = self.chunks
        if chunks and self.status == 200:
            records = self.decoder.feed(chunks)
            chunks.clear()
            if records:
                self.emit(records)
            held = self.held
            if held is not None:
                size = self.decoder.held_bytes
                if size or self.holder.held:
                    held.update(self.holder, size)
        elif chunks and self.status and sum(map(len, chunks)) > _MAX_ERROR_BYTES:
            # an error answer is a line of JSON; this one is not read further
            joined = b"".join(chunks)[:_MAX_ERROR_BYTES]
            chunks.clear()
            chunks.append(joined)
            self._finish(None)
        if self.paced:
            self._pace(len(data))
        else:
            self.last_read = self.loop.time()

    def _split(self) -> int:
        """Ship what the decoder gathered of its open lines (the bound of :class:`HeldLines`
        was passed); what it still holds."""
        records = self.decoder.split_held()
        if records:
            self.emit(records)
        return self.decoder.held_bytes

    def release(self) -> None:
        """The response is over: what the decoder holds is read again or flushed."""
        if self.held is not None:
            self.held.release(self.holder)

    def _pace(self, size: int) -> None:
        """Let the engine's writes pile up for a moment before the next read.

        The engine sends each entry as its own chunk; read as they come, a flood costs a
        syscall and a callback every ~800 bytes (1.6 us of CPU per line here), and a quiet
        container one wakeup per line. So after each read the stream pauses for as long as
        it takes, at the rate it has been flowing, to gather ~16 KiB: about 1 ms in a flood
        (reads become ~40 KiB, 0.8 us per line, bench/README.md), up to 50 ms for a quiet
        container (a few lines per wakeup). A read that filled the socket's buffer means more
        is waiting: no pause then. Nothing is lost by pausing: the engine reads its log file,
        so only this stream waits, never the container. Not over TLS: a TLS transport whose
        reading is paused drops what it holds when the engine closes the connection.
        """
        transport = self.transport
        now = self.loop.time()
        elapsed = now - self.last_read
        self.last_read = now
        if elapsed > 0:
            self._rate += (size / elapsed - self._rate) * 0.3
        if size >= _BEHIND_BYTES or transport is None or self.done.done():
            return
        delay = _GATHER_BYTES / self._rate if self._rate > 0 else _MAX_PAUSE_SECS
        transport.pause_reading()
        self.loop.call_later(min(max(delay, _MIN_PAUSE_SECS), _MAX_PAUSE_SECS), self._resume)

    def _resume(self) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.resume_reading()

    def reopen(self) -> None:
        """End this response as if the engine had: the reader asks again from its position."""
        self._finish(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self._finish(
                ConnectionError(f"the engine closed the log stream mid-response: {exc or 'EOF'}")
            )

    def _finish(self, exc: BaseException | None) -> None:
        if not self.done.done():
            if exc is None and self.status != 200:
                body = b"".join(self.chunks)
                exc = DockerAPIError(self.status, error_message(body), path="/logs")
            if exc is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(exc)
        if self.transport is not None:
            self.transport.close()


class _TtyLogStreamProtocol(_LogStreamProtocol):
    """A TTY container's logs response: the decoder is given whole HTTP chunks.

    There are no frame headers; the engine writes each log entry (its timestamp, a space, up
    to 16 KiB of the terminal's output) as one HTTP chunk, and only the chunk's start says
    where an entry starts. A read can end anywhere in a chunk, even inside the timestamp,
    so the pieces of a chunk wait in ``parts`` until its end has been parsed. One Python call
    per chunk (``on_chunk_complete``); the pieces themselves go to ``list.append``. A chunk
    larger than any entry (no engine sends one) waits no longer than a read past
    ``_MAX_CHUNK_BYTES``; a body that is not chunked (no engine sends one) goes on at its end.
    """

    def __init__(
        self,
        request: bytes,
        decoder: LogDecoder,
        emit: Emit,
        *,
        paced: bool = True,
        held: HeldLines | None = None,
    ) -> None:
        self.parts: list[bytes] = []  # the pieces of the HTTP chunk being read
        super().__init__(request, decoder, emit, paced=paced, held=held)

    def _body_sink(self) -> Callable[[bytes], None]:
        return self.parts.append

    def on_chunk_complete(self) -> None:
        parts = self.parts
        if parts:
            self.chunks.append(parts[0] if len(parts) == 1 else b"".join(parts))
            parts.clear()

    def on_message_complete(self) -> None:
        self.on_chunk_complete()  # what a body without chunks held
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        parts = self.parts
        if parts and sum(map(len, parts)) > _MAX_CHUNK_BYTES:
            self.on_chunk_complete()  # to the decoder with the next read


LogStream = _LogStreamProtocol
"""An open logs response: ``last_read`` (event loop time) and ``reopen()``."""


def log_stream(
    request: bytes,
    decoder: LogDecoder,
    emit: Emit,
    *,
    paced: bool = True,
    held: HeldLines | None = None,
) -> LogStream:
    """The protocol that reads one logs response into ``decoder``: a TTY container's (whole
    HTTP chunks) or a multiplexed one's (the reads as they come). With ``held``, what the
    decoder gathers of unfinished lines counts against that bound."""
    kind = _TtyLogStreamProtocol if decoder.tty else _LogStreamProtocol
    return kind(request, decoder, emit, paced=paced, held=held)


async def read_logs(
    client: DockerClient,
    container_id: str,
    decoder: LogDecoder,
    emit: Emit,
    *,
    follow: bool = True,
    tail: int | None = None,
    until: str | None = None,
    watch: Callable[[LogStream | None], None] | None = None,
    held: HeldLines | None = None,
) -> None:
    """Stream the container's log from ``decoder.position`` until the engine ends the response.

    ``tail``: only the last N lines (before following), as ``docker logs --tail``. ``until``
    (a canonical timestamp): nothing newer; the engine ends even a follow stream then.
    ``watch`` is given the open stream (its ``last_read`` time and ``reopen()``), then None.
    ``held``: the bound on what unfinished lines may hold, all readers together.

    Returns normally when the engine finished the response; raises :class:`DockerAPIError` for
    an error status (404 once the container is gone), :class:`RemoteProtocolError` when the bytes
    are not a Docker log stream, ``ConnectionError``/``OSError`` when the connection broke.
    """
    params = {"stdout": "1", "stderr": "1", "timestamps": "1"}
    if follow:
        params["follow"] = "1"
    since = decoder.since
    if since is not None:
        params["since"] = since_parameter(since)
    if tail is not None:
        params["tail"] = str(tail)
    if until is not None:
        params["until"] = since_parameter(until)
    decoder.resume()
    target = client.path(f"/containers/{quote(container_id)}/logs") + "?" + urlencode(params)
    host = "docker" if client.endpoint.unix_path else client.endpoint.authority
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    protocol = log_stream(request, decoder, emit, paced=client.ssl_context is None, held=held)
    transport, _ = await client.open_connection(lambda: protocol)
    if watch is not None:
        watch(protocol)
    try:
        await protocol.done
    finally:
        protocol.release()
        if watch is not None:
            watch(None)
        if not protocol.done.done():
            protocol.done.cancel()
        transport.close()
