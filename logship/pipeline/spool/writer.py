"""The disk spool's writing side: what the buffer sheds waits in memory, bounded (when the disk is
slower than the overflow, the oldest of it are dropped), and is appended at each flush with one
``write`` per segment touched and one ``fsync``; segments are rotated at ``segment_bytes``, and
the oldest deleted when a write would pass ``max_bytes``; a batch older than everything held is
written whole (:func:`write_file`: atomic and durable) as a segment in front of the others; a
failing disk is counted and said once per streak. ``on_stored`` is told of records once they
are fsync'd. The segment set is :mod:`.store`'s."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from collections.abc import Callable
from operator import attrgetter
from pathlib import Path

from logship.pipeline.spool.counts import Counts
from logship.pipeline.spool.format import MAGIC, EnvKept, SegmentEncoder, chunks
from logship.pipeline.spool.store import Segment, SegmentStore
from logship.record import Record

log = logging.getLogger("logship.spool")

FLUSH_INTERVAL_SECS = 0.2
FLUSH_RECORDS = 8192  # this many waiting: flush now
# more than this waiting for the disk (it is slower than what overflows): the oldest of them
# are dropped, counted, down to three quarters of it, so memory stays bounded
MAX_WAITING_RECORDS = 8 * FLUSH_RECORDS

_meta = attrgetter("meta")


class SpoolWriter:
    """Writes one spool's records to its segments."""

    def __init__(
        self,
        store: SegmentStore,
        counts: Counts,
        *,
        segment_bytes: int,
        name: str,
        on_stored: Callable[[list[Record]], None] | None,
        flush_interval_secs: float,
        env: EnvKept,
    ) -> None:
        self._store = store
        self._env = env  # the environment variables written: those the destination sends
        self._counts = counts
        self._segment_bytes = segment_bytes
        self._name = name  # the destination, for the log
        # told of records once they are on disk (fsync'd): checkpoints count them as handled
        # (None: nobody is told)
        self._on_stored = on_stored
        self._flush_interval_secs = flush_interval_secs
        self._active: Segment | None = None  # being written
        self._fd: int | None = None
        self._encoder = SegmentEncoder(env)
        self._unwritten: list[bytes] = []  # frames of the active segment not yet written
        self._to_close: list[int] = []  # fds of segments done, to fsync and close
        self._pending: list[Record] = []
        self._unsynced: list[Record] = []  # written, not yet fsync'd and reported
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._failing = False  # writes are failing (logged once per streak)
        self._behind = False  # the disk is slower than the overflow (logged once per streak)
        self._new_files = False  # a segment was created: the directory needs an fsync too

    @property
    def active(self) -> Segment | None:
        """The segment being written (not readable until :meth:`seal`)."""
        return self._active

    # -- in ------------------------------------------------------------------------------------

    def add(self, records: list[Record]) -> None:
        """Keep these (written at the next flush). Never blocks."""
        self._pending += records
        n = len(records)
        counts = self._counts
        counts.records += n
        counts.received += n
        if len(self._pending) > MAX_WAITING_RECORDS:
            self._drop_waiting()
        self._wake.set()

    def _drop_waiting(self) -> None:
        """The disk cannot keep up: drop the oldest records waiting for it (like a drop of the
        buffer: counted, and handled for the checkpoints once what was written before them is
        fsync'd; each container's newest of them is all ``on_stored`` needs to be told)."""
        excess = len(self._pending) - MAX_WAITING_RECORDS * 3 // 4
        gone = self._pending[:excess]
        del self._pending[:excess]
        self._unsynced += dict(zip(map(_meta, gone), gone, strict=True)).values()
        counts = self._counts
        counts.records -= excess
        counts.dropped += excess
        if not self._behind:
            self._behind = True
            log.warning(
                "%s: the disk spool %s is slower than what overflows: dropping the oldest "
                "lines waiting for it (counted as spool_full)",
                self._name,
                self._store.dir,
            )

    def keep(self, records: list[Record]) -> None:
        """At shutdown: keep these after everything held (written by :meth:`close`)."""
        self._pending += records
        self._counts.records += len(records)

    # -- flushing ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Flush what comes, every ``flush_interval_secs`` (sooner when much is waiting)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if len(self._pending) < FLUSH_RECORDS:
                await asyncio.sleep(self._flush_interval_secs)
            await self.flush()

    async def flush(self) -> None:
        """Write what is waiting, fsync it, then tell ``on_stored``."""
        async with self._lock:
            if self._pending:
                records, self._pending = self._pending, []
                self._write(records)
                if len(records) <= MAX_WAITING_RECORDS // 2:
                    self._behind = False  # the disk keeps up again
            if self._unsynced or self._to_close:
                fds = [*self._to_close, *([self._fd] if self._fd is not None else [])]
                directory, self._new_files = self._new_files, False
                await asyncio.to_thread(fsync_all, fds, self._store.dir if directory else None)
                self._close_done()
                self._report()

    async def seal(self) -> None:
        """Make all that is held readable: what waits written, the oldest segment no longer
        written to, everything fsync'd."""
        async with self._lock:
            if self._pending:
                records, self._pending = self._pending, []
                self._write(records)
            segments = self._store.segments
            if segments and segments[0] is self._active:
                self._rotate()
        await self.flush()

    def close(self) -> None:
        """Write what waits, fsync everything, tell ``on_stored``."""
        if self._pending:
            records, self._pending = self._pending, []
            self._write(records)
        self._rotate()
        fsync_all(self._to_close, self._store.dir)
        self._close_done()
        self._report()

    # -- appending -----------------------------------------------------------------------------

    def _write(self, records: list[Record]) -> None:
        """Append ``records`` to the segments (rotating, deleting the oldest when over
        ``max_bytes``); one ``write`` per segment touched."""
        counts = self._counts
        added: list[tuple[Segment, int, int]] = []
        try:
            for chunk in chunks(records):
                if self._active is not None and self._active.size >= self._segment_bytes:
                    self._rotate()
                if self._active is None:
                    self._start_segment()
                frame = self._encoder.frame(chunk)
                self._make_room(len(frame))
                if self._active is None:  # the frame is larger than all the rest: it alone
                    self._start_segment()
                    frame = self._encoder.frame(chunk)  # for the new segment's table
                active = self._active
                assert active is not None
                self._unwritten.append(frame)
                active.size += len(frame)
                active.records += len(chunk)
                active.remaining += len(chunk)
                counts.bytes += len(frame)
                added.append((active, len(chunk), len(frame)))
            self._write_out()
        except OSError as exc:
            for segment, n, nbytes in added:  # what the file holds is found when it is read
                segment.records -= n
                segment.remaining -= n
                segment.size -= nbytes
                if not segment.deleted:
                    counts.bytes -= nbytes
            self._unwritten.clear()
            if self._active is not None:
                self._rotate(write=False)  # given up: a new segment for the next flush
            self._lost(records, exc)
            return
        counts.stored += len(records)
        self._unsynced += records
        if self._failing:
            self._failing = False
            log.warning("%s: writing to the disk spool works again", self._name)

    def _start_segment(self) -> None:
        segment = self._store.new_segment()
        fd = os.open(segment.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._fd = fd
        self._active = segment
        self._encoder = SegmentEncoder(self._env)
        self._store.append(segment)
        self._new_files = True
        self._unwritten.append(MAGIC)
        segment.size = len(MAGIC)
        self._counts.bytes += len(MAGIC)

    def _write_out(self) -> None:
        if self._unwritten and self._fd is not None:
            data = b"".join(self._unwritten)
            self._unwritten.clear()
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]

    def _rotate(self, *, write: bool = True) -> None:
        """Stop writing the active segment (it is fsync'd and closed at the next flush)."""
        if write:
            self._write_out()
        if self._fd is not None:
            self._to_close.append(self._fd)
        self._fd = None
        self._active = None

    def _make_room(self, nbytes: int) -> None:
        store = self._store
        segments = store.segments
        counts = self._counts
        while counts.bytes + nbytes > store.max_bytes and segments:
            oldest = segments[0]
            if oldest is self._active:
                if oldest.size <= len(MAGIC):
                    return  # only the segment just started is left
                self._rotate()
            store.drop_oldest()

    def _close_done(self) -> None:
        for fd in self._to_close:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._to_close.clear()

    def _report(self) -> None:
        records, self._unsynced = self._unsynced, []
        if records and self._on_stored is not None:
            self._on_stored(records)

    # -- a failing disk ------------------------------------------------------------------------

    def _lost(self, records: list[Record], exc: OSError) -> None:
        """The disk refused these records: counted as damaged (and handled: like a drop)."""
        self._counts.damaged += len(records)
        self._counts.records -= len(records)
        self._failed_once(exc, f"; {len(records)} records lost (counted)")
        if self._on_stored is not None:
            self._on_stored(records)

    def _failed_once(self, exc: OSError, what: str = "") -> None:
        if not self._failing:
            self._failing = True
            log.error(
                "%s: cannot write to the disk spool %s: %s%s",
                self._name,
                self._store.dir,
                exc.strerror or exc,
                what,
            )

    # -- in front of the others ----------------------------------------------------------------

    async def prepend(self, records: list[Record]) -> bool:
        """Keep ``records`` (older than anything held) as a segment before every other one,
        fsync'd. False if the disk refused."""
        async with self._lock:
            segment, data = self._front_segment(records)
            try:
                await asyncio.to_thread(write_file, segment.path, data)
            except OSError as exc:
                self._failed_once(exc)
                return False
            self._store.add_front(segment, len(data), len(records))
            return True

    def park_front(self, records: list[Record]) -> bool:
        """At shutdown: :meth:`prepend` without a thread. If the disk refuses, the records are
        counted as lost (and told to ``on_stored``: handled) and False is returned."""
        segment, data = self._front_segment(records)
        try:
            write_file(segment.path, data)
        except OSError as exc:
            self._counts.records += len(records)
            self._lost(records, exc)
            return False
        self._store.add_front(segment, len(data), len(records))
        return True

    def _front_segment(self, records: list[Record]) -> tuple[Segment, bytes]:
        segment = self._store.new_front_segment()
        encoder = SegmentEncoder(self._env)
        return segment, MAGIC + b"".join(encoder.frame(chunk) for chunk in chunks(records))


# -- durable writes ------------------------------------------------------------------------------

_tmp_names = itertools.count()


def write_file(path: Path, data: bytes) -> None:
    """Write a whole file atomically and durably (temporary file, fsync, rename)."""
    tmp = path.with_suffix(f".{next(_tmp_names)}.tmp")  # never shared with a write going on
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_all(fds: list[int], directory: Path | None = None) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    if directory is not None:
        fsync_dir(directory)


def fsync_dir(directory: Path) -> None:
    """Make the creation (or renaming) of files in ``directory`` durable."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
