"""Syslog destination: the sans-IO encoder plus a transport."""

from __future__ import annotations

from logship.protocol.syslog import SyslogEncoder
from logship.protocol.template import TagTemplate
from logship.record import Record
from logship.sinks.syslog.config import SyslogConfig
from logship.transport.udp import UdpTransport


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
        self.transport = UdpTransport(config.host, config.port)

    async def open(self) -> None:
        await self.transport.connect()

    async def send(self, batch: list[Record]) -> None:
        await self.transport.send_many(self.encoder.encode(batch))

    async def close(self) -> None:
        self.transport.close()
