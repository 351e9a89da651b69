"""Fans each batch of records from the source out to every destination's buffer."""

from __future__ import annotations

from logship.pipeline.buffer import DropOldestBuffer
from logship.record import Record


class Router:
    def __init__(self, buffers: list[DropOldestBuffer]) -> None:
        self.buffers = buffers
        self.records = 0

    def emit(self, records: list[Record]) -> None:
        """Called by the source with each decoded batch; never blocks."""
        self.records += len(records)
        for buffer in self.buffers:
            buffer.put(records)
