"""The disk spool's files: segments on disk and the one being read, the cursor, durable writes,
and the name of a destination's spool directory. See :mod:`logship.pipeline.spool`."""

from __future__ import annotations

import contextlib
import itertools
import os
import struct
from pathlib import Path

from logship.pipeline.spool.format import FrameInfo, decode_frame
from logship.record import ContainerMeta, HostMeta, Record

CURSOR_NAME = "cursor"
CURSOR = struct.Struct(">QQI")  # segment seq, frame offset, records of that frame delivered

class Segment:
    __slots__ = ("deleted", "path", "records", "remaining", "seq", "size", "start")

    def __init__(self, seq: int, path: Path) -> None:
        self.seq = seq
        self.path = path
        self.size = 0  # bytes in the file (and, for the one being written, about to be)
        self.records = 0
        self.remaining = 0  # records not yet delivered
        self.start = (0, 0)  # (frame index, records of it) delivered before this run
        self.deleted = False


class Reading:
    """The oldest segment, loaded to be sent."""

    __slots__ = ("data", "frames", "hosts", "index", "metas", "records", "segment", "skip")

    def __init__(self, segment: Segment, data: bytes, frames: list[FrameInfo]) -> None:
        self.segment = segment
        self.data = data
        self.frames = frames
        self.index, self.skip = segment.start
        self.metas: dict[int, ContainerMeta] = {}
        self.hosts: dict[tuple[str, str], HostMeta] = {}
        self.records: list[Record] | None = None  # frames[index], decoded

    def position(self) -> tuple[int, int]:
        """(offset of the frame the next record is in, records of it already taken)."""
        if self.index < len(self.frames):
            return self.frames[self.index].offset, self.skip
        return len(self.data), 0

    def take(self, n: int) -> list[Record]:
        out: list[Record] = []
        while len(out) < n and self.index < len(self.frames):
            records = self.records
            if records is None:
                records = self.records = self._decode(self.frames[self.index])
            chunk = records[self.skip : self.skip + n - len(out)]
            out += chunk
            self.skip += len(chunk)
            if self.skip >= len(records):
                self.index += 1
                self.skip = 0
                self.records = None
        return out

    def skip_delivered(self) -> None:
        """Read the containers defined by the frames delivered before this run."""
        for frame in self.frames[: self.index]:
            self._decode(frame)

    def _decode(self, frame: FrameInfo) -> list[Record]:
        return decode_frame(self.data, frame, self.metas, self.hosts)

    @property
    def exhausted(self) -> bool:
        return self.index >= len(self.frames)


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
