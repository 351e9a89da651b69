"""The bounded buffer between the source and one destination.

``put`` never waits: when the buffer is over its record or byte bound, the oldest records are
dropped and counted. A slow or dead destination therefore costs at most the bound in memory and
never delays the source or any other destination.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from logship.record import Record

# what a record costs besides its message text, for the byte bound (object, slots, list slot)
RECORD_OVERHEAD_BYTES = 100


class DropOldestBuffer:
    def __init__(
        self,
        *,
        max_records: int,
        max_bytes: int,
        on_discard: Callable[[list[Record]], None] | None = None,
    ) -> None:
        if max_records < 1 or max_bytes < 1:
            raise ValueError("a buffer needs room for at least one record")
        # told of every record dropped to make room, oldest first (checkpoints count a dropped
        # record as handled); called once per shedding, never per record
        self.on_discard = on_discard
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._queue: deque[Record] = deque()
        self._bytes = 0
        self._event = asyncio.Event()
        self.dropped = 0  # records dropped because the buffer was full
        self.accepted = 0
        self.closed = False

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def bytes(self) -> int:
        return self._bytes

    def put(self, records: list[Record]) -> None:
        """Append records; drop the oldest ones while over a bound. Never blocks."""
        if not records:
            return
        self._queue.extend(records)
        self.accepted += len(records)
        self._bytes += sum([len(r.message) for r in records]) + RECORD_OVERHEAD_BYTES * len(records)
        if len(self._queue) > self.max_records or self._bytes > self.max_bytes:
            self._shed()
        self._event.set()

    def _shed(self) -> None:
        queue = self._queue
        popleft = queue.popleft
        gone: list[Record] = []
        size = self._bytes
        while queue and (len(queue) > self.max_records or size > self.max_bytes):
            record = popleft()
            size -= len(record.message) + RECORD_OVERHEAD_BYTES
            gone.append(record)
        self._bytes = size
        self.dropped += len(gone)
        if self.on_discard is not None and gone:
            self.on_discard(gone)

    def take(self, max_records: int) -> list[Record]:
        """Remove and return up to ``max_records`` of the oldest records (maybe none)."""
        queue = self._queue
        if not queue:
            return []
        if len(queue) <= max_records:
            batch = list(queue)
            queue.clear()
            self._bytes = 0
        else:
            popleft = queue.popleft
            batch = [popleft() for _ in range(max_records)]
            self._bytes -= sum([len(r.message) for r in batch]) + RECORD_OVERHEAD_BYTES * len(batch)
        if not queue:
            self._event.clear()
        return batch

    async def wait(self) -> None:
        """Until there is something to take, or the buffer is closed."""
        if not self._queue and not self.closed:
            self._event.clear()  # a put whose records were all dropped at once leaves it set
            await self._event.wait()

    def close(self) -> None:
        """No more records will come; wake the consumer so it can drain and stop."""
        self.closed = True
        self._event.set()
