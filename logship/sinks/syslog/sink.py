"""Syslog destination: the sans-IO encoder and framer, plus a UDP or TCP/TLS transport.

Retrying belongs to the sink runner: a failure here is a retriable :class:`DeliveryError`,
after which the next :meth:`SyslogSink.send` connects again (resolving the host name again).
"""

from __future__ import annotations

import asyncio
import ssl

from logship.errors import DeliveryError
from logship.protocol.syslog import FRAMERS, SyslogEncoder
from logship.protocol.template import TagTemplate
from logship.record import Record
from logship.sinks.syslog.config import SyslogConfig
from logship.transport.tcp import StreamTransport
from logship.transport.tls import client_context
from logship.transport.udp import UdpTransport

SUSPECT_AFTER_CLOSES = 3
CONFIRM_SECS = 1.0
CLOSE_TIMEOUT_SECS = 5.0  # a peer that stopped reading, or never answers TLS close_notify


class Datagrams:
    """RFC 5426: one message per datagram, no framing."""

    def __init__(self, config: SyslogConfig) -> None:
        self.transport = UdpTransport(config.host, config.port)

    async def open(self) -> None:
        await self.transport.connect()

    async def send(self, messages: list[bytes]) -> None:
        try:
            await self.transport.send_many(messages)
        except DeliveryError:
            self.transport.close()  # the next send resolves the name again
            raise

    async def close(self) -> None:
        self.transport.close()


class Stream:
    """RFC 6587 over TCP, RFC 5425 over TLS: the framed batch written in one piece.

    Syslog receivers never answer, so one that turns a client away after accepting the
    connection (a missing TLS client certificate, a sender not allowed) looks like one that
    takes everything: each connection is closed right after it was written to, and what was
    written is lost. When the receiver closed the connection before each of the last
    :data:`SUSPECT_AFTER_CLOSES` batches, a batch counts as delivered only if its connection
    is still open :data:`CONFIRM_SECS` after the write; otherwise the destination is down.
    """

    def __init__(self, config: SyslogConfig) -> None:
        tls = config.transport == "tls"
        self.transport = StreamTransport(
            config.host,
            config.port,
            ssl_context=client_context(config.tls) if tls else None,
            server_hostname=config.tls.server_name if tls else None,
            connect_timeout_secs=config.connect_timeout_secs,
        )
        self.frame = FRAMERS[config.framing]
        self.write_timeout_secs = config.write_timeout_secs
        self.closed_by_peer = 0  # batches in a row before which the receiver had hung up

    async def open(self) -> None:
        await self.transport.connect()

    async def send(self, messages: list[bytes]) -> None:
        data = self.frame(messages)
        transport = self.transport
        if transport.writer is not None:
            # closing without our doing: the receiver hung up since the last batch
            closed = transport.writer.is_closing()
            self.closed_by_peer = self.closed_by_peer + 1 if closed else 0
        if not transport.connected:
            await transport.connect()
        try:
            async with asyncio.timeout(self.write_timeout_secs):
                await transport.write(data)
        except TimeoutError:
            self._abort()
            raise DeliveryError(
                f"{transport.address} took no more data for {self.write_timeout_secs}s "
                f"({len(data)} bytes to write); connecting again"
            ) from None
        if self.closed_by_peer >= SUSPECT_AFTER_CLOSES:
            await self._confirm()

    async def _confirm(self) -> None:
        """Wait a moment: a connection the receiver keeps open clears the suspicion."""
        writer = self.transport.writer
        await asyncio.sleep(CONFIRM_SECS)
        if writer is not None and not writer.is_closing():
            self.closed_by_peer = 0
            return
        self.transport.close()
        raise DeliveryError(
            f"{self.transport.address} hung up after each of the last {self.closed_by_peer} "
            "writes: it may refuse this client (TLS client certificate, allowed senders), "
            "and what it was sent is lost"
        )

    def _abort(self) -> None:
        """Close now, dropping what is still queued: a stalled receiver would never take it,
        and a plain close would keep the socket and the queued batch until it did."""
        writer = self.transport.writer
        if writer is not None:
            writer.transport.abort()
        self.transport.close()

    async def close(self) -> None:
        writer = self.transport.writer
        self.transport.close()  # sends what is queued first
        if writer is not None:
            try:
                await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT_SECS)
            except TimeoutError:
                writer.transport.abort()
            except (OSError, ssl.SSLError):
                pass


class SyslogSink:
    def __init__(self, config: SyslogConfig) -> None:
        self.name = config.describe()
        labels = config.labels if isinstance(config.labels, str) else tuple(config.labels)
        self.encoder = SyslogEncoder(
            format=config.format,
            tag=TagTemplate(config.tag),
            sd_id=config.structured_data_id,
            labels=labels,
            max_message_bytes=config.max_message_bytes,
        )
        self.channel = Datagrams(config) if config.transport == "udp" else Stream(config)

    async def open(self) -> None:
        await self.channel.open()

    async def send(self, batch: list[Record]) -> None:
        await self.channel.send(self.encoder.encode(batch))

    async def close(self) -> None:
        await self.channel.close()
