"""GELF destination: the sans-IO encoder plus one channel for the configured transport (UDP,
TCP or HTTP; see :mod:`logship.sinks.gelf.channels`).

Retries are the runner's: a failure here raises :class:`DeliveryError` saying whether trying
again can help and, over HTTP, which records are still to send.
"""

from __future__ import annotations

from logship.protocol.gelf import FieldSelection, GelfEncoder
from logship.protocol.template import TagTemplate
from logship.record import Record
from logship.sinks.base import SinkContext
from logship.sinks.gelf.channels import channel_for
from logship.sinks.gelf.config import GelfConfig


class GelfSink:
    def __init__(self, config: GelfConfig, *, context: SinkContext | None = None) -> None:
        self.name = config.describe()
        self.encoder = GelfEncoder(
            tag=TagTemplate(config.tag),
            selection=FieldSelection(
                labels=config.labels,
                env=config.env,
                labels_regex=config.labels_regex,
                env_regex=config.env_regex,
            ),
        )
        self.channel = channel_for(config, self.encoder)

    @property
    def bytes_sent(self) -> int:
        return self.channel.transport.bytes_sent

    async def open(self) -> None:
        await self.channel.transport.connect()

    async def send(self, batch: list[Record]) -> None:
        await self.channel.send(batch)

    async def healthcheck(self) -> str:
        """UDP: the name resolved and a socket connected; TCP: connected, and still a moment
        later; HTTP: a HEAD answered. Nothing is sent that a receiver would store."""
        return await self.channel.healthcheck()

    async def close(self) -> None:
        await self.channel.transport.aclose()  # over TCP, what is queued still goes out
