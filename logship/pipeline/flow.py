"""Back-pressure for sources that can wait: log files stay on disk, so reading them can pause
while a destination that is up catches up, instead of filling its buffer to the point where it
sheds lines. A destination that is down never pauses anyone (it would stall the others): what
it cannot take is shed or spooled, as its buffer's bound says."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Protocol

PAUSE_SECS = 0.01  # how often a paused reader looks again


class _Held(Protocol):
    def congested(self) -> bool: ...

    def has_room(self, records: int, text_bytes: int) -> bool: ...


class Backpressure:
    """Says when a reader that can wait should: any of ``destinations`` (looked at each time:
    a reload changes them) is up and its buffer more than half full (see
    :meth:`~logship.pipeline.destination.Destination.congested`)."""

    def __init__(self, destinations: Iterable[_Held]) -> None:
        self.destinations = destinations
        self.pauses = 0  # times a reader waited

    def congested(self) -> bool:
        return any(d.congested() for d in self.destinations)

    def has_room(self, records: int, text_bytes: int) -> bool:
        """Whether every destination that is up takes ``records`` more records holding
        ``text_bytes`` of text before it holds more than half of its bound: a reader may read
        that much at once and still not pass the mark."""
        return all(d.has_room(records, text_bytes) for d in self.destinations)

    async def wait(self, between: Callable[[], object] | None = None) -> None:
        """Return once no destination that is up holds more than half of its bound;
        ``between`` is called after each look that found them still full."""
        if not self.congested():
            return
        self.pauses += 1
        # polled: a wake-up per record taken from a buffer would cost every line, always
        while True:
            await asyncio.sleep(PAUSE_SECS)
            if not self.congested():
                return
            if between is not None:
                between()
