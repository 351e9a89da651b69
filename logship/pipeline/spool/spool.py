"""The disk spool of one destination as the rest of logship sees it: its parts (the segment set
of :mod:`.store`, the writer of :mod:`.writer`, the reader of :mod:`.reader`) built together,
and what it counts (:mod:`.counts`). The design is in :mod:`logship.pipeline.spool`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from logship.pipeline.spool.counts import Counts
from logship.pipeline.spool.disk import DiskThread
from logship.pipeline.spool.format import EnvKept
from logship.pipeline.spool.reader import SpoolReader
from logship.pipeline.spool.store import SegmentStore
from logship.pipeline.spool.writer import FLUSH_INTERVAL_SECS, SpoolWriter
from logship.record import Record


class Spool:
    """One destination's spool directory. See :mod:`logship.pipeline.spool` for the design.

    ``on_stored`` is told of records once they are on disk (fsync'd): the checkpoints count
    them as handled; ``on_lost`` of records the disk refused to take: no checkpoint may move
    past them (None: nobody is told). Its disk I/O runs in a thread of its own
    (:mod:`.disk`). ``env``: the
    container environment variables written to disk, those the destination sends (none by
    default: they often hold secrets).
    """

    __slots__ = ("_counts", "_disk", "_reader", "_store", "_writer", "add", "dir", "name")

    add: Callable[[list[Record]], None]
    """The buffer's ``on_discard``: keep these records (written at the next flush). Never
    blocks. It is the writer's own method, so the overflow path has no extra call."""

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int,
        segment_bytes: int,
        name: str = "spool",
        on_stored: Callable[[list[Record]], None] | None = None,
        on_lost: Callable[[list[Record]], None] | None = None,
        flush_interval_secs: float = FLUSH_INTERVAL_SECS,
        env: EnvKept | None = None,
    ) -> None:
        self.dir = directory
        self.name = name  # the destination, for the log
        counts = self._counts = Counts()
        self._store = SegmentStore(directory, max_bytes=max_bytes, counts=counts, name=name)
        disk = self._disk = DiskThread(name)
        self._writer = SpoolWriter(
            self._store,
            counts,
            disk,
            segment_bytes=segment_bytes,
            name=name,
            on_stored=on_stored,
            on_lost=on_lost,
            flush_interval_secs=flush_interval_secs,
            env=env or EnvKept(),
        )
        self._reader = SpoolReader(self._store, self._writer, counts, disk)
        self.add = self._writer.add

    def open(self) -> None:
        """Create the directory, find what the last run left, and where it was delivered to."""
        self._store.open()

    # -- in ------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Flush what comes, every ``flush_interval_secs`` (sooner when much is waiting)."""
        await self._writer.run()

    async def flush(self) -> None:
        """Write what is waiting, fsync it, then tell ``on_stored``."""
        await self._writer.flush()

    # -- out -----------------------------------------------------------------------------------

    async def take(self, max_records: int) -> list[Record]:
        """The oldest records held, up to ``max_records`` (all of one segment); [] if none.
        Until :meth:`ack`, they still count as held."""
        return await self._reader.take(max_records)

    async def ack(self) -> None:
        """What :meth:`take` gave was delivered (or refused for good): forget it."""
        await self._reader.ack()

    # -- before everything held, and shutdown --------------------------------------------------

    async def prepend(self, records: list[Record]) -> bool:
        """Keep ``records`` (a batch from the buffer the destination just refused, older than
        anything held) before every segment, fsync'd. False if the disk refused."""
        if not await self._writer.prepend(records):
            return False
        self._reader.restart()
        return True

    def park(self, front: list[Record], back: list[Record]) -> None:
        """At shutdown: keep ``front`` (a batch that was being sent, older than anything held)
        before every segment, and ``back`` (what the buffer still holds) after them."""
        if front and self._writer.park_front(front):
            self._reader.restart()
        if back:
            self._writer.keep(back)

    def close(self) -> None:
        """Write what waits, fsync everything, tell ``on_stored``, save the cursor (waits for
        the disk: at shutdown)."""
        self._writer.close()
        self._disk.call(self._store.close)
        self._disk.close()

    # -- what it counts ------------------------------------------------------------------------

    @property
    def records(self) -> int:
        """Held: waiting to be written, on disk, or being sent."""
        return self._counts.records

    @property
    def bytes(self) -> int:
        """Of the segment files."""
        return self._counts.bytes

    @property
    def received(self) -> int:
        """Records the buffer shed into the spool (its ``on_discard``)."""
        return self._counts.received

    @property
    def stored(self) -> int:
        """Records written to disk."""
        return self._counts.stored

    @property
    def sent(self) -> int:
        """Records delivered from the spool."""
        return self._counts.sent

    @property
    def dropped(self) -> int:
        """Records dropped because the spool was full, or the disk slower than the overflow."""
        return self._counts.dropped

    @property
    def damaged(self) -> int:
        """Records lost to a torn or corrupt segment."""
        return self._counts.damaged

    @property
    def disk_full(self) -> int:
        """Records lost because the disk had no space (or quota) left for them."""
        return self._counts.disk_full

    @property
    def disk_error(self) -> int:
        """Records lost because the disk failed to write or fsync them."""
        return self._counts.disk_error

    @property
    def replayed(self) -> int:
        """Records found at start."""
        return self._counts.replayed
