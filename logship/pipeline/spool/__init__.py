"""A destination's disk spool: what its full memory buffer would drop goes to disk instead.

Off by default; ``spool.enabled`` on a destination turns it on (it needs ``state_dir``).
The bytes of a segment are :mod:`logship.pipeline.spool.format` (no I/O); its files, the
cursor and durable writes are :mod:`logship.pipeline.spool.disk`; this module is the spool.

Design
------
*Overflow only.* Records reach the spool through the buffer's ``on_discard``: the records a
full buffer sheds (fairly: the container holding the most first, its oldest first). While the
destination keeps up nothing is written, and the per-line path is the same as without a spool.
Records are collected in memory and appended together every ``FLUSH_INTERVAL_SECS`` (0.2 s)
or sooner when many are waiting: one ``write`` and one ``fsync`` per flush (and one of the
directory when a segment file was created), never per record.

*On disk.* ``<state_dir>/spool/<destination key>/`` holds segment files ``<seq>.seg`` in the
format of :mod:`logship.pipeline.spool.format` (msgpack frames with length, count and CRC; the
container's metadata once per segment), each about ``segment_bytes``, and a 24-byte ``cursor``
file saying how far the oldest segment was delivered. The key comes from the destination's
``name`` when it has one (so its options can be changed and the spool is found again), else
from its type, host, port and a hash of its delivery options (not of buffer, batch, filter,
spool or ``*_secs`` options). Together the segments stay within ``max_bytes``: when a flush
would pass it, the oldest segment is deleted and its records are counted as dropped
(``dropped``, metric reason ``spool_full``), logged once per episode.

*Checkpoints.* A record counts as handled by the destination (so the container's checkpoint
may move past it) once it is in a segment and that segment was fsync'd: the spool delivers it
even after a crash or a power cut. During an outage checkpoints therefore keep moving.

*Order.* The runner sends from the spool first, oldest segment first, and only when the spool
is empty from the memory buffer. A buffer sheds each container's oldest records first and the
spool keeps them in shedding order, so each container's lines reach the destination in the
order they were written. Across containers the order is no longer arrival order: a quiet
container's lines, kept in memory, wait until the spool is sent. What goes to disk is what
the buffer's fairness chose (mostly the flooding containers' lines); when the spool itself is
full it drops its oldest segment, whichever containers' lines it holds.

*A refused batch.* A batch taken from the buffer is older than anything spooled (the runner
takes from the buffer only when the spool is empty). When the destination refuses it for now
(down), it goes to disk as a segment placed *before* all others and is retried from there, so
order holds and no batch from memory is held during an outage (a checkpoint cannot move past
a batch being sent; this way it moves on).

*Shutdown and restart.* After the drain grace, what is still in the memory buffer goes to the
spool, and so does a batch from it the runner was still sending (placed before the others, as
above). Everything is fsync'd before the checkpoints are saved, so a clean
restart loses nothing even when the destination is down. At start, the segments found are
sent first, from the cursor on; a record is rebuilt with its container's full metadata even
when that container is gone. A crash between a delivery and the cursor's write sends at most
one batch again.

*Damage.* A segment cut short by a crash (a torn tail) is found at start from the frame
headers: the good frames are kept, the rest is cut off, counted (``damaged``, metric reason
``spool_damaged``) and logged once per segment. A frame whose CRC does not match is found
when read: the rest of that segment is counted and logged the same way. A failing disk
(ENOSPC, EIO) counts the records it could not take as damaged, logged once per streak.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import zlib
from collections import deque
from collections.abc import Callable
from operator import attrgetter
from pathlib import Path

from logship.pipeline.spool.disk import (
    CURSOR,
    CURSOR_NAME,
    Reading,
    Segment,
    fsync_all,
    write_file,
)
from logship.pipeline.spool.format import MAGIC, CorruptFrame, SegmentEncoder, chunks, walk
from logship.record import Record

__all__ = ["CURSOR_NAME", "Spool"]

log = logging.getLogger("logship.spool")

FLUSH_INTERVAL_SECS = 0.2
FLUSH_RECORDS = 8192  # this many waiting: flush now
# more than this waiting for the disk (it is slower than what overflows): the oldest of them
# are dropped, counted, down to three quarters of it, so memory stays bounded
MAX_WAITING_RECORDS = 8 * FLUSH_RECORDS
FIRST_SEQ = 1 << 32  # room below for segments put before the others at shutdown
SUFFIX = ".seg"

_meta = attrgetter("meta")


class Spool:
    """One destination's spool directory. See the module for the design."""

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int,
        segment_bytes: int,
        name: str = "spool",
        on_stored: Callable[[list[Record]], None] | None = None,
        flush_interval_secs: float = FLUSH_INTERVAL_SECS,
    ) -> None:
        self.dir = directory
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.name = name  # the destination, for the log
        self.flush_interval_secs = flush_interval_secs
        # told of records once they are on disk (fsync'd): checkpoints count them as handled
        # (None: nobody is told)
        self._on_stored = on_stored
        self.records = 0  # held: waiting to be written, on disk, or being sent
        self.bytes = 0  # of the segment files
        self.received = 0  # records the buffer shed into the spool (its on_discard)
        self.stored = 0  # records written to disk
        self.sent = 0  # records delivered from the spool
        self.dropped = 0  # records of segments deleted because the spool was full
        self.damaged = 0  # records lost to a torn or corrupt segment, or a failing disk
        self.replayed = 0  # records found at start
        self._segments: deque[Segment] = deque()
        self._next_seq = FIRST_SEQ
        self._active: Segment | None = None  # being written
        self._fd: int | None = None
        self._encoder = SegmentEncoder()
        self._unwritten: list[bytes] = []  # frames of the active segment not yet written
        self._to_close: list[int] = []  # fds of segments done, to fsync and close
        self._pending: list[Record] = []
        self._unsynced: list[Record] = []  # written, not yet fsync'd and reported
        self._head: Reading | None = None
        self._taken: tuple[Segment, int] | None = None
        self._cursor_fd: int | None = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._full = False  # a spool-full episode is going on (logged at its start)
        self._failing = False  # writes are failing (logged once per streak)
        self._behind = False  # the disk is slower than the overflow (logged once per streak)
        self._new_files = False  # a segment was created: the directory needs an fsync too

    # -- start ---------------------------------------------------------------------------------

    def open(self) -> None:
        """Create the directory, find what the last run left, and where it was delivered to."""
        self.dir.mkdir(parents=True, exist_ok=True)
        for tmp in self.dir.glob("*.tmp"):
            tmp.unlink(missing_ok=True)
        paths = []
        for path in self.dir.glob("*" + SUFFIX):
            with contextlib.suppress(ValueError):
                paths.append((int(path.name.removesuffix(SUFFIX)), path))
        for seq, path in sorted(paths):
            self._scan(seq, path)
        if self._segments:
            self._next_seq = self._segments[-1].seq + 1
            self._apply_cursor()
        self.replayed = self.records
        self._cursor_fd = os.open(self.dir / CURSOR_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        if self.records:
            log.warning(
                "%s: %d records (%d bytes) in the disk spool %s from the last run go first",
                self.name,
                self.records,
                self.bytes,
                self.dir,
            )

    def _scan(self, seq: int, path: Path) -> None:
        data = path.read_bytes()
        if not data:  # created, never written (a crash, or a disk that refused)
            path.unlink(missing_ok=True)
            return
        if not data.startswith(MAGIC):
            self._damage_found(path, len(data), 0, "not a spool segment (no magic)")
            path.unlink(missing_ok=True)
            return
        found = walk(data)
        if found.torn_bytes:
            self._damage_found(path, found.torn_bytes, found.torn_records, "torn tail")
            os.truncate(path, found.end)
        if not found.frames:
            path.unlink(missing_ok=True)
            return
        segment = Segment(seq, path)
        segment.size = found.end
        segment.records = segment.remaining = sum(f.records for f in found.frames)
        self._segments.append(segment)
        self.records += segment.records
        self.bytes += segment.size

    def _apply_cursor(self) -> None:
        try:
            raw = (self.dir / CURSOR_NAME).read_bytes()
        except FileNotFoundError:
            return
        if len(raw) < CURSOR.size + 4 or zlib.crc32(raw[: CURSOR.size]) != int.from_bytes(
            raw[CURSOR.size : CURSOR.size + 4]
        ):
            return
        seq, offset, skip = CURSOR.unpack_from(raw)
        first = self._segments[0]
        if seq != first.seq:
            return  # the segment it was about is gone: the first one left starts anew
        frames = walk(first.path.read_bytes()).frames
        delivered = 0
        for index, frame in enumerate(frames):
            if frame.offset == offset and skip < frame.records:
                first.start = (index, skip)
                delivered += skip
                break
            delivered += frame.records
        else:
            if offset != first.size:
                return  # not a frame boundary: send the segment whole
        first.remaining -= delivered
        self.records -= delivered
        if not first.remaining:
            self._delete(first)

    def _damage_found(self, path: Path, nbytes: int, records: int, why: str) -> None:
        self.damaged += records
        log.error(
            "%s: spool segment %s is damaged (%s): %d bytes%s after its good part are lost",
            self.name,
            path,
            why,
            nbytes,
            f" ({records} records)" if records else "",
        )

    # -- in ------------------------------------------------------------------------------------

    def add(self, records: list[Record]) -> None:
        """The buffer's ``on_discard``: keep these (written at the next flush). Never blocks."""
        self._pending += records
        n = len(records)
        self.records += n
        self.received += n
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
        self.records -= excess
        self.dropped += excess
        if not self._behind:
            self._behind = True
            log.warning(
                "%s: the disk spool %s is slower than what overflows: dropping the oldest "
                "lines waiting for it (counted as spool_full)",
                self.name,
                self.dir,
            )

    async def run(self) -> None:
        """Flush what comes, every ``flush_interval_secs`` (sooner when much is waiting)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if len(self._pending) < FLUSH_RECORDS:
                await asyncio.sleep(self.flush_interval_secs)
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
                await asyncio.to_thread(fsync_all, fds, self.dir if directory else None)
                self._close_done()
                self._report()

    def _write(self, records: list[Record]) -> None:
        """Append ``records`` to the segments (rotating, deleting the oldest when over
        ``max_bytes``); one ``write`` per segment touched."""
        added: list[tuple[Segment, int, int]] = []
        try:
            for chunk in chunks(records):
                if self._active is not None and self._active.size >= self.segment_bytes:
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
                self.bytes += len(frame)
                added.append((active, len(chunk), len(frame)))
            self._write_out()
        except OSError as exc:
            for segment, n, nbytes in added:  # what the file holds is found when it is read
                segment.records -= n
                segment.remaining -= n
                segment.size -= nbytes
                if not segment.deleted:
                    self.bytes -= nbytes
            self._unwritten.clear()
            if self._active is not None:
                self._rotate(write=False)  # given up: a new segment for the next flush
            self._lost(records, exc)
            return
        self.stored += len(records)
        self._unsynced += records
        if self._failing:
            self._failing = False
            log.warning("%s: writing to the disk spool works again", self.name)

    def _lost(self, records: list[Record], exc: OSError) -> None:
        """The disk refused these records: counted as damaged (and handled: like a drop)."""
        self.damaged += len(records)
        self.records -= len(records)
        self._failed_once(exc, f"; {len(records)} records lost (counted)")
        if self._on_stored is not None:
            self._on_stored(records)

    def _failed_once(self, exc: OSError, what: str = "") -> None:
        if not self._failing:
            self._failing = True
            log.error(
                "%s: cannot write to the disk spool %s: %s%s",
                self.name,
                self.dir,
                exc.strerror or exc,
                what,
            )

    def _start_segment(self) -> None:
        seq = self._next_seq
        self._next_seq += 1
        segment = Segment(seq, self._path(seq))
        fd = os.open(segment.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._fd = fd
        self._active = segment
        self._encoder = SegmentEncoder()
        self._segments.append(segment)
        self._new_files = True
        self._unwritten.append(MAGIC)
        segment.size = len(MAGIC)
        self.bytes += len(MAGIC)

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
        while self.bytes + nbytes > self.max_bytes and self._segments:
            oldest = self._segments[0]
            if oldest is self._active:
                if oldest.size <= len(MAGIC):
                    return  # only the segment just started is left
                self._rotate()
            lost = oldest.remaining
            taken = self._taken
            if taken is not None and taken[0] is oldest:
                lost -= taken[1]  # being sent: delivered, not lost
            self.dropped += lost
            self.records -= oldest.remaining
            if not self._full:
                self._full = True
                log.warning(
                    "%s: disk spool full (%d bytes): deleted its oldest segment, %d records "
                    "dropped (and the oldest segment again whenever it is full)",
                    self.name,
                    self.max_bytes,
                    lost,
                )
            self._delete(oldest)

    def _delete(self, segment: Segment) -> None:
        segment.deleted = True
        if self._head is not None and self._head.segment is segment:
            self._head = None
        # the file first: a crash between the two leaves a cursor naming a segment that is gone
        # (ignored), not a blank one in front of a delivered segment (sent whole again)
        with contextlib.suppress(FileNotFoundError):
            segment.path.unlink()
        if self._segments and self._segments[0] is segment:
            self._write_cursor(0, 0, 0)  # the cursor is about the oldest segment only
        self._segments.remove(segment)
        self.bytes -= segment.size

    def _close_done(self) -> None:
        for fd in self._to_close:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._to_close.clear()

    def _report(self) -> None:
        records, self._unsynced = self._unsynced, []
        if records and self._on_stored is not None:
            self._on_stored(records)

    # -- out -----------------------------------------------------------------------------------

    async def take(self, max_records: int) -> list[Record]:
        """The oldest records held, up to ``max_records`` (all of one segment); [] if none.
        Until :meth:`ack`, they still count as held."""
        while self.records:
            if self._head is None:
                if not self._segments or self._segments[0] is self._active:
                    async with self._lock:  # what waits, and the active segment: readable
                        if self._pending:
                            records, self._pending = self._pending, []
                            self._write(records)
                        if self._segments and self._segments[0] is self._active:
                            self._rotate()
                    await self.flush()
                if not self._segments:
                    return []
                segment = self._segments[0]
                try:
                    data = segment.path.read_bytes()
                except OSError as exc:
                    self._damaged(segment, segment.size, f"cannot read it: {exc}")
                    continue
                head = Reading(segment, data, walk(data).frames)
                self._head = head
                self._reconcile(head)
                try:
                    head.skip_delivered()
                except CorruptFrame as exc:
                    self._corrupt(head, exc)
                    continue
            head = self._head
            try:
                records = head.take(max_records)
            except CorruptFrame as exc:
                self._corrupt(head, exc)
                continue
            if records:
                self._taken = (head.segment, len(records))
                return records
            self._finish(head.segment)  # nothing left in it
        return []

    def ack(self) -> None:
        """What :meth:`take` gave was delivered (or refused for good): forget it."""
        taken, self._taken = self._taken, None
        if taken is None:
            return
        segment, n = taken
        self.sent += n
        if segment.deleted:
            return  # deleted while being sent (spool full): already not counted as held
        segment.remaining -= n
        self.records -= n
        head = self._head
        if head is None or head.segment is not segment:  # not expected: see _add_front
            if not segment.remaining:
                self._finish(segment)
        elif head.exhausted:
            self._finish(segment)
        else:
            segment.start = (head.index, head.skip)  # should it be loaded again
            self._write_cursor(segment.seq, *head.position())

    def _finish(self, segment: Segment) -> None:
        if segment.remaining:  # frames said more than they held: nothing more to read
            self.damaged += segment.remaining
            self.records -= segment.remaining
            segment.remaining = 0
        self._delete(segment)
        if not self.records and self._full:
            self._full = False

    def _reconcile(self, head: Reading) -> None:
        """After a failed write the file may hold fewer (or more) records than counted."""
        segment = head.segment
        actual = sum(f.records for f in head.frames)
        if actual != segment.records:
            diff = actual - segment.records
            segment.records = actual
            segment.remaining += diff
            self.records += diff

    def _corrupt(self, head: Reading, exc: CorruptFrame) -> None:
        offset = head.frames[head.index].offset if not head.exhausted else len(head.data)
        self._damaged(head.segment, len(head.data) - offset, str(exc))

    def _damaged(self, segment: Segment, nbytes: int, why: str) -> None:
        """The rest of this segment cannot be read: counted, logged, the segment deleted."""
        self._damage_found(segment.path, nbytes, segment.remaining, why)
        self.records -= segment.remaining
        segment.remaining = 0
        self._finish(segment)

    def _write_cursor(self, seq: int, offset: int, skip: int) -> None:
        if self._cursor_fd is None:
            return
        body = CURSOR.pack(seq, offset, skip)
        with contextlib.suppress(OSError):
            os.pwrite(self._cursor_fd, body + zlib.crc32(body).to_bytes(4), 0)

    # -- shutdown ------------------------------------------------------------------------------

    async def prepend(self, records: list[Record]) -> bool:
        """Keep ``records`` (a batch from the buffer the destination just refused, older than
        anything held) before every segment, fsync'd. False if the disk refused."""
        async with self._lock:
            seq, data = self._front_segment(records)
            try:
                await asyncio.to_thread(write_file, self._path(seq), data)
            except OSError as exc:
                self._failed_once(exc)
                return False
            self._add_front(seq, data, len(records))
            return True

    def park(self, front: list[Record], back: list[Record]) -> None:
        """At shutdown: keep ``front`` (a batch that was being sent, older than anything held)
        before every segment, and ``back`` (what the buffer still holds) after them."""
        if front:
            seq, data = self._front_segment(front)
            try:
                write_file(self._path(seq), data)
            except OSError as exc:
                self.records += len(front)
                self._lost(front, exc)
            else:
                self._add_front(seq, data, len(front))
        if back:
            self._pending += back
            self.records += len(back)

    def _path(self, seq: int) -> Path:
        return self.dir / f"{seq:020d}{SUFFIX}"

    def _front_segment(self, records: list[Record]) -> tuple[int, bytes]:
        seq = self._segments[0].seq - 1 if self._segments else self._next_seq
        self._next_seq = max(self._next_seq, seq + 1)
        encoder = SegmentEncoder()
        return seq, MAGIC + b"".join(encoder.frame(chunk) for chunk in chunks(records))

    def _add_front(self, seq: int, data: bytes, n: int) -> None:
        if self._head is not None:  # not expected (the runner takes from the buffer only
            self._head = None  # when the spool is empty): the head is read again from start
        segment = Segment(seq, self._path(seq))
        segment.size = len(data)
        segment.records = segment.remaining = n
        self._segments.appendleft(segment)
        self.records += n
        self.bytes += len(data)
        self.stored += n

    def close(self) -> None:
        """Write what waits, fsync everything, tell ``on_stored``, save the cursor."""
        if self._pending:
            records, self._pending = self._pending, []
            self._write(records)
        self._rotate()
        fsync_all(self._to_close, self.dir)
        self._close_done()
        self._report()
        # the cursor was written at each delivery (a batch being sent when stopped is not)
        if self._cursor_fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._cursor_fd)
            os.close(self._cursor_fd)
            self._cursor_fd = None
