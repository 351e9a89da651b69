"""Syslog destination: the sans-IO encoder and framer, plus a UDP or TCP/TLS transport.

Retrying belongs to the sink runner: a failure here is a retriable :class:`DeliveryError`,
after which the next :meth:`SyslogSink.send` connects again (resolving the host name again).
"""

from __future__ import annotations

import asyncio
import os

from logship.errors import DeliveryError
from logship.protocol.syslog import FRAMERS, SyslogEncoder
from logship.protocol.template import TagTemplate
from logship.record import Record
from logship.sinks.base import SinkContext
from logship.sinks.syslog.config import FRAMING_SAID, SyslogConfig
from logship.transport.tcp import StreamTransport
from logship.transport.tls import client_context
from logship.transport.udp import UdpTransport

SUSPECT_AFTER_CLOSES = 3
CONFIRM_SECS = 1.0
MAX_CONFIRM_SECS = 8.0


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
            await self.transport.aclose()  # the next send resolves the name again
            raise

    async def close(self) -> None:
        await self.transport.aclose()


class Stream:
    """RFC 6587 over TCP, RFC 5425 over TLS: the framed batch written in one piece.

    Syslog receivers never answer, so one that turns a client away after accepting the
    connection (a missing TLS client certificate, a sender not allowed) looks like one that
    takes everything: each connection is closed right after it was written to, and what was
    written is lost. When the receiver closed the connection before each of the last
    :data:`SUSPECT_AFTER_CLOSES` batches, a batch counts as delivered only if its connection
    is still open :data:`CONFIRM_SECS` after the write; otherwise the destination is down.
    A receiver slower to turn us away than that (a loaded machine) shows itself when the
    connection that passed is found closed at the next write: the wait then doubles, up to
    :data:`MAX_CONFIRM_SECS`, so the destination is not reported back again and again.
    """

    def __init__(self, config: SyslogConfig) -> None:
        tls = config.transport == "tls"
        self.transport = StreamTransport(
            config.host,
            config.port,
            ssl_context=client_context(config.tls) if tls else None,
            server_hostname=config.tls.server_name if tls else None,
            connect_timeout_secs=config.connect_timeout_secs,
            write_timeout_secs=config.write_timeout_secs,
        )
        self.frame = FRAMERS[config.framing]
        self.confirm_secs = CONFIRM_SECS
        self._confirmed = False  # the last write passed a confirmation

    async def open(self) -> None:
        await self.transport.connect()

    async def send(self, messages: list[bytes]) -> None:
        await self.transport.write(self.frame(messages))
        transport = self.transport
        if self._confirmed and transport.hangups_in_a_row:
            # the connection that passed was closed by the receiver after all: wait longer
            self.confirm_secs = min(self.confirm_secs * 2, MAX_CONFIRM_SECS)
            transport.hangups_in_a_row = SUSPECT_AFTER_CLOSES  # still suspect
        self._confirmed = False
        if transport.hangups_in_a_row >= SUSPECT_AFTER_CLOSES:
            await self._confirm()

    async def _confirm(self) -> None:
        """Wait a moment: a connection the receiver keeps open clears the suspicion."""
        transport = self.transport
        writer = transport.writer
        await asyncio.sleep(self.confirm_secs)
        if writer is not None and not writer.is_closing():
            # suspicion stays until a write finds this connection still open (write() then
            # counts the hang-ups from 0 again)
            self._confirmed = True
            return
        hangups = transport.hangups_in_a_row
        transport.abort()  # it hung up: what it was sent is lost anyway
        raise DeliveryError(
            f"{transport.address} hung up after each of the last {hangups} "
            "writes: it may refuse this client (TLS client certificate, allowed senders), "
            "and what it was sent is lost"
        )

    async def close(self) -> None:
        await self.transport.aclose()


class SyslogSink:
    def __init__(self, config: SyslogConfig, *, context: SinkContext | None = None) -> None:
        self.name = config.describe()
        labels = config.labels if isinstance(config.labels, str) else tuple(config.labels)
        self.encoder = SyslogEncoder(
            format=config.format,
            tag=TagTemplate(config.tag),
            facility=config.facility,
            sd_id=config.structured_data_id,
            extra_sd=config.structured_data,
            parsed_fields=config.parsed_fields,
            procid=str(os.getpid()),  # as Docker's driver gives its daemon's
            # rfc5424micro ends with LF as Docker's does, unless the framing adds one anyway
            end_with_lf=config.format == "rfc5424micro"
            and (config.transport == "udp" or config.framing == "octet-counting"),
            labels=labels,
            max_message_bytes=config.max_message_bytes,
        )
        self.channel = Datagrams(config) if config.transport == "udp" else Stream(config)
        self.framing = None if config.transport == "udp" else FRAMING_SAID[config.framing]

    @property
    def bytes_sent(self) -> int:
        return self.channel.transport.bytes_sent

    async def open(self) -> None:
        await self.channel.open()

    async def send(self, batch: list[Record]) -> None:
        await self.channel.send(self.encoder.encode(batch))

    async def healthcheck(self) -> str:
        """Connect as sending does (resolve; for TCP and TLS, the handshake, and a receiver
        that hangs up right after accepting is caught); nothing is sent. Over TCP and TLS it
        says which framing is in use: a receiver expecting the other records nothing."""
        checked = await self.channel.transport.check()
        return checked if self.framing is None else f"{checked}, {self.framing}"

    async def close(self) -> None:
        await self.channel.close()
