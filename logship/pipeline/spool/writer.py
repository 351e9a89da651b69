"""The disk spool's writing side: what the buffer sheds waits in memory, bounded (when the disk is
slower than the overflow, the oldest of it are dropped), and is appended at each flush with one
``write`` per segment touched and one ``fsync``; segments are rotated at ``segment_bytes``, and
the oldest deleted when a write would pass ``max_bytes``; a batch older than everything held is
written whole (:func:`.disk.write_file`: atomic and durable) as a segment in front of the
others. ``on_stored`` is told of records once they are fsync'd.

The writer decides and encodes on the event loop; the disk thread (:mod:`.disk`) does the
writing. A flush the disk refuses (a failed write or fsync, a full disk) is undone whole: its
records are counted as lost (``disk_full`` for ENOSPC and EDQUOT, ``disk_error`` otherwise),
``on_lost`` is told (the checkpoints must not move past them), and the log says so once per
episode, and once when writing works again. The segment set is :mod:`.store`'s."""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import logging
from collections.abc import Callable
from operator import attrgetter

from logship.pipeline.spool.counts import Counts
from logship.pipeline.spool.disk import DiskThread, SegmentFiles, Step, write_file
from logship.pipeline.spool.format import MAGIC, EnvKept, SegmentEncoder, chunks
from logship.pipeline.spool.store import Segment, SegmentStore
from logship.record import Record

log = logging.getLogger("logship.spool")

FLUSH_INTERVAL_SECS = 0.2
FLUSH_RECORDS = 8192  # this many waiting: flush now
# more than this waiting for the disk (it is slower than what overflows): the oldest of them
# are dropped, counted, down to three quarters of it, so memory stays bounded
MAX_WAITING_RECORDS = 8 * FLUSH_RECORDS
# a disk that refuses for lack of space (or quota): counted as disk_full, anything else as
# disk_error
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})

_meta = attrgetter("meta")


class Flush:
    """One flush decided on the event loop: the steps for the disk thread, and what the
    counts already say of them (undone should the disk refuse)."""

    __slots__ = ("added", "created", "dropped", "new_files", "records", "steps")

    def __init__(self, records: list[Record], dropped: list[Record]) -> None:
        self.records = records
        # dropped while waiting, before ``records``: told with them (handled either way)
        self.dropped = dropped
        self.steps: list[Step] = []
        self.added: list[tuple[Segment, int, int]] = []  # (segment, records, bytes)
        self.created: list[Segment] = []  # segments it started
        self.new_files = False  # a segment was created: the directory needs an fsync too


class SpoolWriter:
    """Writes one spool's records to its segments."""

    def __init__(
        self,
        store: SegmentStore,
        counts: Counts,
        disk: DiskThread,
        *,
        segment_bytes: int,
        name: str,
        on_stored: Callable[[list[Record]], None] | None,
        on_lost: Callable[[list[Record]], None] | None,
        flush_interval_secs: float,
        env: EnvKept,
    ) -> None:
        self._store = store
        self._counts = counts
        self._disk = disk
        self._files = SegmentFiles(store.dir)  # only used in the disk thread
        self._segment_bytes = segment_bytes
        self._name = name  # the destination, for the log
        # told of records once they are on disk (fsync'd): checkpoints count them as handled
        # (None: nobody is told)
        self._on_stored = on_stored
        # told of records the disk refused: the checkpoints hold before them (None: nobody)
        self._on_lost = on_lost
        self._flush_interval_secs = flush_interval_secs
        self._env = env  # the environment variables written: those the destination sends
        self._active: Segment | None = None  # being written
        self._encoder = SegmentEncoder(env)
        self._pending: list[Record] = []
        self._unreported: list[Record] = []  # dropped while waiting, told with the next flush
        # a flush whose task was cancelled while the disk thread did it, finished by close
        self._cut_short: tuple[concurrent.futures.Future[None], Flush] | None = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._failing = False  # the disk refuses writes (logged once per episode)
        self._lost_in_episode = 0
        self._behind = False  # the disk is slower than the overflow (logged once per streak)

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
        self._unreported += dict(zip(map(_meta, gone), gone, strict=True)).values()
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
            await self._flush()

    async def seal(self) -> None:
        """Make all that is held readable: what waits written, the oldest segment no longer
        written to, everything fsync'd."""
        async with self._lock:
            await self._flush(seal=True)

    async def _flush(self, *, seal: bool = False) -> None:
        if self._cut_short is not None:
            self._finish_cut_short()
        flush = self._plan(seal=seal)
        if flush is None:
            return
        future = self._disk.submit(self._apply, flush)
        try:
            # shielded: a cancelled flush goes on in the disk thread, and close finishes it
            await asyncio.shield(asyncio.wrap_future(future))
        except OSError as exc:
            self._refused(flush, exc)
        except asyncio.CancelledError:
            self._cut_short = (future, flush)
            raise
        else:
            self._done(flush)

    def close(self) -> None:
        """Write what waits, fsync everything, tell ``on_stored`` (shutdown: waits for the
        disk thread)."""
        if self._cut_short is not None:
            self._finish_cut_short()
        flush = self._plan(seal=False, last=True)
        if flush is not None:
            try:
                self._disk.call(self._apply, flush)
            except OSError as exc:
                self._refused(flush, exc)
            else:
                self._done(flush)

    def _finish_cut_short(self) -> None:
        assert self._cut_short is not None
        future, flush = self._cut_short
        self._cut_short = None
        try:
            future.result()
        except OSError as exc:
            self._refused(flush, exc)
        else:
            self._done(flush)

    # -- deciding what goes where (on the event loop) ------------------------------------------

    def _plan(self, *, seal: bool, last: bool = False) -> Flush | None:
        """The next flush: what waits, encoded into frames of the active segment (rotating
        it at ``segment_bytes``, deleting the oldest segments to stay within ``max_bytes``);
        with ``seal`` the oldest segment stops being written to; ``last`` rotates anyway.
        None when there is nothing to do."""
        records, self._pending = self._pending, []
        if not records and not self._unreported and not last:
            if not (seal and self._active is not None and self._oldest_is_active()):
                return None
        flush = Flush(records, self._unreported)
        self._unreported = []
        counts = self._counts
        unwritten: list[bytes] = []
        for chunk in chunks(records):
            if self._active is not None and self._active.size >= self._segment_bytes:
                self._rotate(flush, unwritten)
            if self._active is None:
                self._start_segment(flush, unwritten)
            frame = self._encoder.frame(chunk)
            self._make_room(flush, unwritten, len(frame))
            if self._active is None:  # the frame is larger than all the rest: it alone
                self._start_segment(flush, unwritten)
                frame = self._encoder.frame(chunk)  # for the new segment's table
            active = self._active
            assert active is not None
            unwritten.append(frame)
            active.size += len(frame)
            active.records += len(chunk)
            active.remaining += len(chunk)
            counts.bytes += len(frame)
            flush.added.append((active, len(chunk), len(frame)))
        if last or (seal and self._oldest_is_active()):
            self._rotate(flush, unwritten)
        elif unwritten:
            flush.steps.append(("write", b"".join(unwritten)))
        if records and len(records) <= MAX_WAITING_RECORDS // 2:
            self._behind = False  # the disk keeps up again
        return flush

    def _oldest_is_active(self) -> bool:
        segments = self._store.segments
        return bool(segments) and segments[0] is self._active

    def _start_segment(self, flush: Flush, unwritten: list[bytes]) -> None:
        if unwritten:
            flush.steps.append(("write", b"".join(unwritten)))
            unwritten.clear()
        segment = self._store.new_segment()
        flush.steps.append(("start", segment.path))
        flush.created.append(segment)
        flush.new_files = True
        self._active = segment
        self._encoder = SegmentEncoder(self._env)
        self._store.append(segment)
        unwritten.append(MAGIC)
        segment.size = len(MAGIC)
        self._counts.bytes += len(MAGIC)

    def _rotate(self, flush: Flush, unwritten: list[bytes]) -> None:
        """Stop writing the active segment (fsync'd and closed at the end of the flush)."""
        if unwritten:
            flush.steps.append(("write", b"".join(unwritten)))
            unwritten.clear()
        if self._active is not None:
            flush.steps.append(("rotate", None))
        self._active = None

    def _make_room(self, flush: Flush, unwritten: list[bytes], nbytes: int) -> None:
        store = self._store
        segments = store.segments
        counts = self._counts
        while counts.bytes + nbytes > store.max_bytes and segments:
            oldest = segments[0]
            if oldest is self._active:
                if oldest.size <= len(MAGIC):
                    return  # only the segment just started is left
                self._rotate(flush, unwritten)
            flush.steps.append(("job", store.drop_oldest()))

    # -- on disk (in the disk thread) ----------------------------------------------------------

    def _apply(self, flush: Flush) -> None:
        self._files.apply(flush.steps, sync=True, new_files=flush.new_files)

    # -- what the disk said (on the event loop) ------------------------------------------------

    def _done(self, flush: Flush) -> None:
        records = flush.records
        self._counts.stored += len(records)
        if self._failing and records:
            self._failing = False
            log.warning(
                "%s: writing to the disk spool works again; %d lines were lost meanwhile",
                self._name,
                self._lost_in_episode,
            )
        self._report([*flush.dropped, *records] if flush.dropped else records)

    def _refused(self, flush: Flush, exc: OSError) -> None:
        """The disk refused the flush: what it added is undone (the files were cut back), and
        its records are lost, counted by why."""
        counts = self._counts
        for segment, n, nbytes in flush.added:
            segment.records -= n
            segment.remaining -= n
            segment.size -= nbytes
            if not segment.deleted:
                counts.bytes -= nbytes
        self._active = None  # the disk thread gave it up: a new segment for the next flush
        for segment in flush.created:  # cut back to nothing: gone, not left for the reader
            if not segment.records and not segment.deleted:
                self._disk.later(self._store.delete(segment))
        self._lost(flush.records, exc)
        self._report(flush.dropped)

    def _report(self, records: list[Record]) -> None:
        if records and self._on_stored is not None:
            self._on_stored(records)

    def _lost(self, records: list[Record], exc: OSError) -> None:
        """The disk refused these records: counted (``disk_full`` or ``disk_error``), not
        handled: ``on_lost`` is told, so no checkpoint moves past them. Said once per
        episode (until a write works again)."""
        n = len(records)
        if not n:
            return
        counts = self._counts
        counts.records -= n
        full = exc.errno in NO_SPACE
        if full:
            counts.disk_full += n
        else:
            counts.disk_error += n
        self._lost_in_episode = n if not self._failing else self._lost_in_episode + n
        if not self._failing:
            self._failing = True
            log.error(
                "%s: the disk spool %s refused a write (%s): its lines are lost (counted as "
                "%s) until writing works again; their containers' checkpoints stay before "
                "them, so a restart reads them again",
                self._name,
                self._store.dir,
                exc.strerror or exc,
                "disk_full" if full else "disk_error",
            )
        if self._on_lost is not None:
            self._on_lost(records)

    # -- in front of the others ----------------------------------------------------------------

    async def prepend(self, records: list[Record]) -> bool:
        """Keep ``records`` (older than anything held) as a segment before every other one,
        fsync'd. False if the disk refused (said once per episode)."""
        async with self._lock:
            segment, data = self._front_segment(records)
            try:
                await self._disk.run(write_file, segment.path, data)
            except OSError as exc:
                if not self._failing:
                    self._failing = True
                    self._lost_in_episode = 0
                    log.warning(
                        "%s: the disk spool %s refused a write (%s): a batch the destination "
                        "refused stays in memory to be retried",
                        self._name,
                        self._store.dir,
                        exc.strerror or exc,
                    )
                return False
            self._store.add_front(segment, len(data), len(records))
            return True

    def park_front(self, records: list[Record]) -> bool:
        """At shutdown: :meth:`prepend`, waited for without an event loop. If the disk
        refuses, the records are counted as lost (and told to ``on_lost``) and False is
        returned."""
        segment, data = self._front_segment(records)
        try:
            self._disk.call(write_file, segment.path, data)
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
