"""GELF destination: the sans-IO encoder plus the UDP, TCP or HTTP transport.

Retries are the runner's: a failure here raises :class:`DeliveryError` saying whether trying
again can help and, over HTTP, which records are still to send.
"""

from __future__ import annotations

import logging

from logship.errors import CheckFailed, DeliveryError
from logship.protocol.gelf import (
    FieldSelection,
    GelfEncoder,
    GelfUdpEncoder,
    compress,
    frame_http_bulk,
    frame_tcp,
)
from logship.protocol.template import TagTemplate
from logship.record import Record
from logship.sinks.gelf.config import GelfConfig
from logship.transport.http import HttpResponse, HttpTransport, credentials_refused
from logship.transport.tcp import StreamTransport
from logship.transport.tls import client_context
from logship.transport.udp import UdpTransport

log = logging.getLogger("logship.sink")

_CONTENT_ENCODING = {"gzip": "gzip", "zlib": "deflate"}  # HTTP's "deflate" is a zlib stream


def _refused_for_good(status: int) -> bool:
    """400 and 413 are about the message itself: sending it again cannot help. Anything else
    (404 for a wrong path, 401/403, 429, 5xx) is about the receiver: wait and try again."""
    return status in (400, 413)


class GelfSink:
    def __init__(self, config: GelfConfig) -> None:
        self.name = config.describe()
        self.config = config
        self.encoder = GelfEncoder(
            tag=TagTemplate(config.tag),
            selection=FieldSelection(
                labels=config.labels,
                env=config.env,
                labels_regex=config.labels_regex,
                env_regex=config.env_regex,
            ),
        )
        self.compression = config.effective_compression
        self.udp: GelfUdpEncoder | None = None
        self._http_headers: dict[str, str] | None = None
        self.transport: UdpTransport | StreamTransport | HttpTransport
        if config.transport == "udp":
            self.udp = GelfUdpEncoder(
                self.encoder,
                compression=self.compression,
                compression_level=config.compression_level,
                chunk_size_bytes=config.chunk_size_bytes,
            )
            self.transport = UdpTransport(config.host, config.port)
        elif config.transport == "tcp":
            self.transport = StreamTransport(
                config.host, config.port, connect_timeout_secs=config.connect_timeout_secs
            )
        else:
            host = f"[{config.host}]" if ":" in config.host else config.host
            ssl_context = client_context(config.tls) if config.transport == "https" else None
            self.transport = HttpTransport(
                f"{config.transport}://{host}:{config.port}",
                ssl_context=ssl_context,
                server_hostname=config.tls.server_name if ssl_context else None,
                headers={"Content-Type": "application/json"},
                timeout_secs=config.request_timeout_secs,
                connect_timeout_secs=config.connect_timeout_secs,
            )
            encoding = _CONTENT_ENCODING.get(self.compression)
            self._http_headers = {"Content-Encoding": encoding} if encoding else None
        self._truncation_logged = False
        self._drop_logged = False
        self._refusal_logged = False

    @property
    def truncated(self) -> int:
        """Messages cut to fit in 128 UDP chunks."""
        return self.udp.truncated if self.udp is not None else 0

    async def open(self) -> None:
        await self.transport.connect()

    async def send(self, batch: list[Record]) -> None:
        transport = self.transport
        if isinstance(transport, UdpTransport):
            assert self.udp is not None
            datagrams = self.udp.encode(batch)
            dropped = self._note_truncation()
            await transport.send_many(datagrams)
            if dropped:  # refused for good by the format itself: counted as rejected, not sent
                raise DeliveryError(
                    f"{dropped} messages whose fields alone need more than 128 chunks",
                    remaining=[],
                    rejected=dropped,
                    too_large=dropped,
                )
        elif isinstance(transport, StreamTransport):
            await transport.write(frame_tcp(self.encoder.encode(batch)))
        elif self.config.bulk:
            await self._post_bulk(transport, batch)
        else:
            await self._post_each(transport, batch)

    def _note_truncation(self) -> int:
        """Log the first cut and the first drop; return how many messages this batch dropped."""
        udp = self.udp
        assert udp is not None
        if udp.truncated and not self._truncation_logged:
            self._truncation_logged = True
            log.warning(
                "%s: a message needed more than 128 chunks of %d bytes: its short_message was "
                "cut, with a marker (counted, logged once)",
                self.name,
                udp.chunk_size_bytes,
            )
        dropped = udp.dropped
        udp.dropped = 0
        if dropped and not self._drop_logged:
            self._drop_logged = True
            log.warning(
                "%s: dropped %d messages whose fields alone need more than 128 chunks "
                "(counted as rejected, logged once)",
                self.name,
                dropped,
            )
        return dropped

    async def _post(self, transport: HttpTransport, body: bytes) -> HttpResponse:
        if self._http_headers is not None:
            body = compress(body, self.compression, self.config.compression_level)
        return await transport.request(
            "POST", self.config.path, data=body, headers=self._http_headers
        )

    async def _post_each(self, transport: HttpTransport, batch: list[Record]) -> None:
        """One POST per message, in order; a failure hands back what is left to send."""
        rejected = too_large = 0
        refusal: HttpResponse | None = None
        for i, document in enumerate(self.encoder.encode(batch)):
            try:
                response = await self._post(transport, document)
            except DeliveryError as exc:
                raise DeliveryError(str(exc), remaining=batch[i:], rejected=rejected) from exc
            if response.status < 300:
                continue
            if not _refused_for_good(response.status):
                raise DeliveryError(
                    self._status_message(response), remaining=batch[i:], rejected=rejected
                )
            rejected += 1
            too_large += response.status == 413
            refusal = response
        if rejected:
            assert refusal is not None
            message = f"{rejected} refused for good: {self._status_message(refusal)}"
            if not self._refusal_logged:
                self._refusal_logged = True
                log.warning("%s: %s (counted, logged once)", self.name, message)
            raise DeliveryError(message, remaining=[], rejected=rejected, too_large=too_large)

    async def _post_bulk(self, transport: HttpTransport, batch: list[Record]) -> None:
        response = await self._post(transport, frame_http_bulk(self.encoder.encode(batch)))
        if response.status >= 300:
            raise DeliveryError(
                self._status_message(response), retriable=not _refused_for_good(response.status)
            )

    def _status_message(self, response: HttpResponse) -> str:
        body = response.body[:200].decode("utf-8", "replace")
        return f"POST {self.config.path} answered HTTP {response.status}: {body!r}"

    async def healthcheck(self) -> str:
        """UDP: the name resolved and a socket connected; TCP: connected, and still a moment
        later; HTTP: a HEAD answered. Nothing is sent that a receiver would store."""
        transport = self.transport
        if not isinstance(transport, HttpTransport):
            return await transport.check()
        # HEAD stores nothing; any answer proves the address, the port and TLS
        path = self.config.path
        response = await transport.request("HEAD", path)
        if credentials_refused(response.status) or response.status >= 500:
            raise CheckFailed(f"HEAD {path} answered HTTP {response.status}")
        return (
            f"HTTP server reached{transport.certificate_note()} (HEAD {path} answered "
            f"{response.status}; GELF inputs take POST only, so the path is not confirmed)"
        )

    async def close(self) -> None:
        await self.transport.aclose()  # over TCP, what is queued still goes out
