"""What ``logship tail`` prints: every container's lines, interleaved, each after its name in
its own colour, the way ``docker compose logs -f`` shows a project (or one JSON object per
line), written above the status line when there is one."""

from __future__ import annotations

import re
import zlib
from typing import BinaryIO

from logship.protocol.json import JsonEncoder, escape_controls
from logship.record import Record
from logship.sinks.console.sink import StreamWriter
from logship.tail.status import StatusLine

# the colours docker compose cycles through, bright ones after the plain ones
PALETTE = (36, 33, 32, 35, 34, 96, 93, 92, 95, 94)


def colour_of(name: str) -> int:
    """The same name gets the same colour in every run (no per-process hash seed)."""
    return PALETTE[zlib.crc32(name.encode()) % len(PALETTE)]


class _WriterUnderStatus(StreamWriter):
    def __init__(self, out: BinaryIO | None, status: StatusLine) -> None:
        super().__init__(out)
        self.status = status

    def _write(self, data: bytes) -> None:
        self.status.around(lambda: StreamWriter._write(self, data))


class TailSink:
    def __init__(
        self,
        *,
        json: bool = False,
        colour: bool = False,
        prefix: bool = True,
        timestamps: bool = False,
        grep: re.Pattern[str] | None = None,
        out: BinaryIO | None = None,
        status: StatusLine | None = None,
    ) -> None:
        self.name = "tail"
        self.json = JsonEncoder() if json else None
        self.colour = colour
        self.prefix = prefix
        self.timestamps = timestamps
        self.grep = grep
        self.writer = StreamWriter(out) if status is None else _WriterUnderStatus(out, status)
        self.width = 0
        self._prefixes: dict[str, str] = {}

    @property
    def bytes_sent(self) -> int:
        return self.writer.bytes_sent

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _prefix(self, name: str) -> str:
        if not self.prefix:
            return ""
        if len(name) > self.width:
            self.width = len(name)
            self._prefixes.clear()
        prefix = self._prefixes.get(name)
        if prefix is None:
            padded = escape_controls(name).ljust(self.width)
            if self.colour:
                prefix = f"\x1b[{colour_of(name)}m{padded} |\x1b[0m "
            else:
                prefix = f"{padded} | "
            self._prefixes[name] = prefix
        return prefix

    def format(self, batch: list[Record]) -> bytes:
        if self.grep is not None:
            search = self.grep.search
            batch = [r for r in batch if search(r.message)]
        if self.json is not None:
            return b"".join(self.json.encode(batch))
        prefix = self._prefix
        escape = escape_controls  # a container must not drive the terminal (\x1b, \r)
        if self.timestamps:
            text = "".join(
                f"{prefix(r.meta.name)}{r.timestamp} {escape(r.message)}\n" for r in batch
            )
        else:
            text = "".join(f"{prefix(r.meta.name)}{escape(r.message)}\n" for r in batch)
        return text.encode()

    async def send(self, batch: list[Record]) -> None:
        data = self.format(batch)
        if data:
            await self.writer.write(data)
