"""How GELF travels, one class per transport: chunked datagrams over UDP, NUL-terminated
documents over TCP, POSTs over HTTP(S). :class:`~logship.sinks.gelf.sink.GelfSink` picks one
from the config (:func:`channel_for`) and delegates to it.

Each channel encodes with the shared :class:`GelfEncoder`, frames for its transport, sends,
and knows how to tell ``logship check`` whether its destination works.
"""

from __future__ import annotations

import logging
from typing import Protocol

from logship.errors import CheckFailed, DeliveryError
from logship.protocol.gelf import (
    GelfEncoder,
    GelfUdpEncoder,
    compress,
    frame_http_bulk,
    frame_tcp,
)
from logship.record import Record
from logship.sinks.gelf.config import GelfConfig
from logship.transport.base import Transport
from logship.transport.http import HttpResponse, HttpTransport, credentials_refused
from logship.transport.tcp import StreamTransport
from logship.transport.tls import client_context
from logship.transport.udp import UdpTransport

log = logging.getLogger("logship.sink")

_CONTENT_ENCODING = {"gzip": "gzip", "zlib": "deflate"}  # HTTP's "deflate" is a zlib stream


class Channel(Protocol):
    """One way of carrying GELF: its transport (opened and closed by the sink), how a batch
    goes out, and the health check."""

    @property
    def transport(self) -> Transport: ...

    async def send(self, batch: list[Record]) -> None:
        """Deliver the batch or raise :class:`DeliveryError`."""
        ...

    async def healthcheck(self) -> str:
        """What ``logship check`` says of this destination (see ``CheckedSink``)."""
        ...


class Chunked:
    """UDP: each message one datagram, or up to 128 chunks, compressed as configured."""

    def __init__(self, config: GelfConfig, encoder: GelfEncoder) -> None:
        self.name = config.describe()
        self.udp = GelfUdpEncoder(
            encoder,
            compression=config.effective_compression,
            compression_level=config.compression_level,
            chunk_size_bytes=config.chunk_size_bytes,
        )
        self.transport = UdpTransport(config.host, config.port)
        self._truncation_logged = False
        self._drop_logged = False

    @property
    def truncated(self) -> int:
        """Messages cut to fit in 128 chunks."""
        return self.udp.truncated

    async def send(self, batch: list[Record]) -> None:
        datagrams = self.udp.encode(batch)
        dropped = self._note_truncation()
        await self.transport.send_many(datagrams)
        if dropped:  # refused for good by the format itself: counted as rejected, not sent
            raise DeliveryError(
                f"{dropped} messages whose fields alone need more than 128 chunks",
                remaining=[],
                rejected=dropped,
                too_large=dropped,
            )

    def _note_truncation(self) -> int:
        """Log the first cut and the first drop; return how many messages this batch dropped."""
        udp = self.udp
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

    async def healthcheck(self) -> str:
        return await self.transport.check()


class NulFramed:
    """TCP: the batch's documents, each ended by a NUL byte, written in one piece."""

    def __init__(self, config: GelfConfig, encoder: GelfEncoder) -> None:
        self.encoder = encoder
        self.transport = StreamTransport(
            config.host, config.port, connect_timeout_secs=config.connect_timeout_secs
        )

    async def send(self, batch: list[Record]) -> None:
        await self.transport.write(frame_tcp(self.encoder.encode(batch)))

    async def healthcheck(self) -> str:
        return await self.transport.check()


def _refused_for_good(status: int) -> bool:
    """400 and 413 are about the message itself: sending it again cannot help. Anything else
    (404 for a wrong path, 401/403, 429, 5xx) is about the receiver: wait and try again."""
    return status in (400, 413)


class Posts:
    """HTTP(S): one POST per message, in order, or with ``bulk`` one POST per batch (documents
    one per line); compressed as configured, with the matching ``Content-Encoding``."""

    def __init__(self, config: GelfConfig, encoder: GelfEncoder) -> None:
        self.name = config.describe()
        self.encoder = encoder
        self.path = config.path
        self.bulk = config.bulk
        self.compression = config.effective_compression
        self.compression_level = config.compression_level
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
        self.headers = {"Content-Encoding": encoding} if encoding else None
        self._refusal_logged = False

    async def send(self, batch: list[Record]) -> None:
        if self.bulk:
            await self._post_bulk(batch)
        else:
            await self._post_each(batch)

    async def _post(self, body: bytes) -> HttpResponse:
        if self.headers is not None:
            body = compress(body, self.compression, self.compression_level)
        return await self.transport.request("POST", self.path, data=body, headers=self.headers)

    async def _post_each(self, batch: list[Record]) -> None:
        """One POST per message, in order; a failure hands back what is left to send."""
        rejected = too_large = 0
        refusal: HttpResponse | None = None
        for i, document in enumerate(self.encoder.encode(batch)):
            try:
                response = await self._post(document)
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

    async def _post_bulk(self, batch: list[Record]) -> None:
        response = await self._post(frame_http_bulk(self.encoder.encode(batch)))
        if response.status >= 300:
            raise DeliveryError(
                self._status_message(response), retriable=not _refused_for_good(response.status)
            )

    def _status_message(self, response: HttpResponse) -> str:
        body = response.body[:200].decode("utf-8", "replace")
        return f"POST {self.path} answered HTTP {response.status}: {body!r}"

    async def healthcheck(self) -> str:
        """HEAD stores nothing; any answer proves the address, the port and TLS."""
        response = await self.transport.request("HEAD", self.path)
        if credentials_refused(response.status) or response.status >= 500:
            raise CheckFailed(f"HEAD {self.path} answered HTTP {response.status}")
        return (
            f"HTTP server reached{self.transport.certificate_note()} (HEAD {self.path} answered "
            f"{response.status}; GELF inputs take POST only, so the path is not confirmed)"
        )


def channel_for(config: GelfConfig, encoder: GelfEncoder) -> Channel:
    """The channel for ``config.transport``: udp, tcp, or http/https."""
    if config.transport == "udp":
        return Chunked(config, encoder)
    if config.transport == "tcp":
        return NulFramed(config, encoder)
    return Posts(config, encoder)
