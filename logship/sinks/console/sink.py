"""Writes records to standard output (or any binary stream) without stalling the agent."""

from __future__ import annotations

import asyncio
import sys
from typing import BinaryIO

from logship.errors import OutputClosed
from logship.protocol.json import JsonEncoder, TextEncoder
from logship.record import Record
from logship.sinks.base import SinkContext
from logship.sinks.console.config import ConsoleConfig


class StreamWriter:
    """Writes in a worker thread, so a terminal or pipe that reads slowly only fills this
    destination's buffer and never blocks the event loop."""

    def __init__(self, out: BinaryIO | None = None) -> None:
        self.out = out if out is not None else sys.stdout.buffer
        self.bytes_sent = 0  # written and flushed (metrics)

    async def write(self, data: bytes) -> None:
        try:
            await asyncio.to_thread(self._write, data)
            self.bytes_sent += len(data)
        except (BrokenPipeError, ValueError) as exc:  # ValueError: the stream was closed
            raise OutputClosed("standard output was closed") from exc

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.out.flush()


class ConsoleSink:
    def __init__(
        self,
        config: ConsoleConfig,
        *,
        out: BinaryIO | None = None,
        context: SinkContext | None = None,
    ) -> None:
        self.name = config.describe()
        self.encoder = JsonEncoder() if config.format == "json" else TextEncoder()
        self.writer = StreamWriter(out)

    @property
    def bytes_sent(self) -> int:
        return self.writer.bytes_sent

    async def open(self) -> None:
        return None

    async def send(self, batch: list[Record]) -> None:
        await self.writer.write(b"".join(self.encoder.encode(batch)))

    async def healthcheck(self) -> str:
        return "writes to standard output"

    async def close(self) -> None:
        return None
