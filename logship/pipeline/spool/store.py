"""The disk spool's directory: its segment files in order, what the last run left found again
at open (a torn tail cut off, the cursor applied), the cursor saying how far the oldest
segment was delivered, and deleting segments: delivered ones, and the oldest when the spool is
full. What a segment holds is :mod:`.format`; appending to segments is :mod:`.writer`'s job and
reading them :mod:`.reader`'s.

Past :meth:`SegmentStore.open`, the methods here only change what the store knows; what they
would do on disk (delete a file, write the cursor) they return as a :data:`Job`, for the
caller to run in the spool's disk thread (:mod:`.disk`) in its turn."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import struct
import zlib
from collections import deque
from collections.abc import Callable
from pathlib import Path

from logship.pipeline.spool.counts import Counts
from logship.pipeline.spool.format import MAGIC, walk

log = logging.getLogger("logship.spool")

CURSOR_NAME = "cursor"
CURSOR = struct.Struct(">QQI")  # segment seq, frame offset, records of that frame delivered
FIRST_SEQ = 1 << 32  # room below for segments put before the others at shutdown
SUFFIX = ".seg"

Job = Callable[[], None]
"""Something to do on disk, run in the spool's disk thread."""


class Segment:
    """One segment file, as the spool counts it."""

    __slots__ = ("deleted", "path", "records", "remaining", "sending", "seq", "size", "start")

    def __init__(self, seq: int, path: Path) -> None:
        self.seq = seq
        self.path = path
        self.size = 0  # bytes in the file (and, for the one being written, about to be)
        self.records = 0
        self.remaining = 0  # records not yet delivered
        self.sending = 0  # of those, records taken to be sent and not yet acked
        self.start = (0, 0)  # (frame index, records of it) delivered before this run
        self.deleted = False


class SegmentStore:
    """One spool directory: its segments, oldest first, and its cursor.

    ``segments`` is read by the writer and the reader; only the methods here change it.
    """

    def __init__(self, directory: Path, *, max_bytes: int, counts: Counts, name: str) -> None:
        self.dir = directory
        self.max_bytes = max_bytes  # the segments together stay within it (the writer sees to it)
        self.name = name  # the destination, for the log
        self.segments: deque[Segment] = deque()
        self._counts = counts
        self._next_seq = FIRST_SEQ
        self._cursor_fd: int | None = None
        self._full = False  # a spool-full episode is going on (logged at its start)

    # -- open: what the last run left ----------------------------------------------------------

    def open(self) -> None:
        """Create the directory, find what the last run left, and where it was delivered to."""
        counts = self._counts
        self.dir.mkdir(parents=True, exist_ok=True)
        for tmp in self.dir.glob("*.tmp"):
            tmp.unlink(missing_ok=True)
        paths = []
        for path in self.dir.glob("*" + SUFFIX):
            with contextlib.suppress(ValueError):
                paths.append((int(path.name.removesuffix(SUFFIX)), path))
        for seq, path in sorted(paths):
            self._scan(seq, path)
        if self.segments:
            self._next_seq = self.segments[-1].seq + 1
            self._apply_cursor()
        counts.replayed = counts.records
        self._cursor_fd = os.open(self.dir / CURSOR_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        if counts.records:
            log.warning(
                "%s: %d records (%d bytes) in the disk spool %s from the last run go first",
                self.name,
                counts.records,
                counts.bytes,
                self.dir,
            )

    def _scan(self, seq: int, path: Path) -> None:
        data = path.read_bytes()
        if not data:  # created, never written (a crash, or a disk that refused)
            path.unlink(missing_ok=True)
            return
        if not data.startswith(MAGIC):
            self.damage_found(path, len(data), 0, "not a spool segment (no magic)")
            path.unlink(missing_ok=True)
            return
        found = walk(data)
        if found.torn_bytes:
            self.damage_found(path, found.torn_bytes, found.torn_records, "torn tail")
            os.truncate(path, found.end)
        if not found.frames:
            path.unlink(missing_ok=True)
            return
        segment = Segment(seq, path)
        segment.size = found.end
        segment.records = segment.remaining = sum(f.records for f in found.frames)
        self.segments.append(segment)
        self._counts.records += segment.records
        self._counts.bytes += segment.size

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
        first = self.segments[0]
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
        self._counts.records -= delivered
        if not first.remaining:
            self.delete(first)()

    def damage_found(self, path: Path, nbytes: int, records: int, why: str) -> None:
        """Count ``records`` as damaged and say why, once for this segment."""
        self._counts.damaged += records
        log.error(
            "%s: spool segment %s is damaged (%s): %d bytes%s after its good part are lost",
            self.name,
            path,
            why,
            nbytes,
            f" ({records} records)" if records else "",
        )

    # -- segments in, segments out -------------------------------------------------------------

    def path(self, seq: int) -> Path:
        return self.dir / f"{seq:020d}{SUFFIX}"

    def new_segment(self) -> Segment:
        """A segment after all others, not yet among them (:meth:`append` once its file is)."""
        seq = self._next_seq
        self._next_seq += 1
        return Segment(seq, self.path(seq))

    def append(self, segment: Segment) -> None:
        self.segments.append(segment)

    def new_front_segment(self) -> Segment:
        """A segment before all others, not yet among them (:meth:`add_front` once written)."""
        seq = self.segments[0].seq - 1 if self.segments else self._next_seq
        self._next_seq = max(self._next_seq, seq + 1)
        return Segment(seq, self.path(seq))

    def add_front(self, segment: Segment, size: int, records: int) -> None:
        """``segment``, written whole and fsync'd (``size`` bytes, ``records``), goes first."""
        segment.size = size
        segment.records = segment.remaining = records
        self.segments.appendleft(segment)
        counts = self._counts
        counts.records += records
        counts.bytes += size
        counts.stored += records

    def drop_oldest(self) -> Job:
        """The spool is full: delete its oldest segment, counting what it held as dropped
        (logged at the start of an episode: until the spool was emptied)."""
        oldest = self.segments[0]
        lost = oldest.remaining - oldest.sending  # being sent: delivered, not lost
        counts = self._counts
        counts.dropped += lost
        counts.records -= oldest.remaining
        if not self._full:
            self._full = True
            log.warning(
                "%s: disk spool full (%d bytes): deleted its oldest segment, %d records "
                "dropped (and the oldest segment again whenever it is full)",
                self.name,
                self.max_bytes,
                lost,
            )
        return self.delete(oldest)

    def release(self, segment: Segment) -> Job:
        """The reader is done with ``segment`` (delivered, or nothing more can be read of it):
        deleted; once nothing is held, a spool-full episode is over."""
        job = self.delete(segment)
        if not self._counts.records and self._full:
            self._full = False
        return job

    def delete(self, segment: Segment) -> Job:
        segment.deleted = True
        oldest = bool(self.segments) and self.segments[0] is segment
        self.segments.remove(segment)
        self._counts.bytes -= segment.size
        return functools.partial(self._delete_file, segment.path, oldest)

    def _delete_file(self, path: Path, oldest: bool) -> None:
        # the file first: a crash between the two leaves a cursor naming a segment that is gone
        # (ignored), not a blank one in front of a delivered segment (sent whole again)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        if oldest:
            self._write_cursor(0, 0, 0)  # the cursor is about the oldest segment only

    # -- the cursor ----------------------------------------------------------------------------

    def cursor(self, seq: int, offset: int, skip: int) -> Job:
        """The oldest segment ``seq`` was delivered up to ``skip`` records of the frame at
        ``offset`` (not fsync'd: a crash sends at most a batch again)."""
        return functools.partial(self._write_cursor, seq, offset, skip)

    def _write_cursor(self, seq: int, offset: int, skip: int) -> None:
        if self._cursor_fd is None:
            return
        body = CURSOR.pack(seq, offset, skip)
        with contextlib.suppress(OSError):
            os.pwrite(self._cursor_fd, body + zlib.crc32(body).to_bytes(4), 0)

    def close(self) -> None:
        """Save the cursor (written at each delivery; a batch being sent when stopped is not)."""
        if self._cursor_fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._cursor_fd)
            os.close(self._cursor_fd)
            self._cursor_fd = None
