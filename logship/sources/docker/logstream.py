"""One ``GET /containers/{id}/logs`` request, read at the speed of the socket.

This is the agent's hot path. aiohttp hands every HTTP chunk through a Python stream reader,
which costs more than the rest of a line's processing together, and the engine sends one chunk
per log entry. Here the response is parsed by httptools (llhttp) straight from the socket's
reads, the bodies of all chunks in one read go to the sans-IO :class:`LogDecoder` as a list,
and the resulting records are handed on before the next read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import quote, urlencode

import httptools

from logship.errors import DockerAPIError, RemoteProtocolError
from logship.protocol.docker import LogDecoder
from logship.record import Record, since_parameter
from logship.sources.docker.client import USER_AGENT, DockerClient, _error_message

Emit = Callable[[list[Record]], None]


class _LogStreamProtocol(asyncio.Protocol):
    def __init__(self, request: bytes, decoder: LogDecoder, emit: Emit) -> None:
        self.request = request
        self.decoder = decoder
        self.emit = emit
        self.chunks: list[bytes] = []
        self.on_body = self.chunks.append  # httptools calls this per HTTP chunk
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

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
            if self.decoder.error is not None:
                self._finish(RemoteProtocolError(self.decoder.error))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self._finish(
                ConnectionError(f"the engine closed the log stream mid-response: {exc or 'EOF'}")
            )

    def _finish(self, exc: BaseException | None) -> None:
        if not self.done.done():
            if exc is None and self.status != 200:
                body = b"".join(self.chunks)
                exc = DockerAPIError(self.status, _error_message(body), path="/logs")
            if exc is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(exc)
        if self.transport is not None:
            self.transport.close()


async def read_logs(
    client: DockerClient,
    container_id: str,
    decoder: LogDecoder,
    emit: Emit,
    *,
    follow: bool = True,
) -> None:
    """Stream the container's log from ``decoder.position`` until the engine ends the response.

    Returns normally when the engine finished the response; raises :class:`DockerAPIError` for
    an error status (404 once the container is gone), :class:`RemoteProtocolError` when the bytes
    are not a Docker log stream, ``ConnectionError``/``OSError`` when the connection broke.
    """
    params = {"stdout": "1", "stderr": "1", "timestamps": "1"}
    if follow:
        params["follow"] = "1"
    if decoder.position is not None:
        params["since"] = since_parameter(decoder.position[0])
    decoder.resume()
    target = client.path(f"/containers/{quote(container_id)}/logs") + "?" + urlencode(params)
    host = (
        "docker" if client.endpoint.unix_path else f"{client.endpoint.host}:{client.endpoint.port}"
    )
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    protocol = _LogStreamProtocol(request, decoder, emit)
    transport, _ = await client.open_connection(lambda: protocol)
    try:
        await protocol.done
    finally:
        if not protocol.done.done():
            protocol.done.cancel()
        transport.close()
