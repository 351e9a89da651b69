"""The disk spool's I/O, off the event loop: every read, write, fsync, deletion and cursor
write of one spool runs in that spool's own worker thread (:class:`DiskThread`), one at a time,
in the order asked, so a stalled disk stalls the spool and never the agent (its health and
liveness answers, the other destinations, the sources).

What stays on the event loop is the bookkeeping (which segment holds what, the counts) and
the encoding: the thread is given finished bytes and a list of steps (:data:`Step`), and
answers done or the ``OSError`` the disk gave. A flush is all or nothing
(:meth:`SegmentFiles.apply`): when a write or an fsync fails, every file it wrote to is cut
back to what it held before, so records are either on disk and fsync'd or counted as lost.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# one step of a flush, run in the disk thread in order:
#   ("start", path)   a new segment file, written to from now on (the last one is rotated)
#   ("write", data)   append to the segment file being written
#   ("rotate", None)  stop writing the current segment file (fsync'd and closed at the end)
#   ("job", fn)       something else on disk in its turn (a deleted segment, the cursor)
Step = tuple[str, object]


class DiskThread:
    """One worker thread running one spool's disk I/O in the order it was asked for."""

    def __init__(self, name: str) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"spool {name}"
        )

    def submit(self, fn: Callable[..., T], *args: object) -> concurrent.futures.Future[T]:
        return self._executor.submit(fn, *args)

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` in the thread, after everything asked before it; its result."""
        return await asyncio.wrap_future(self._executor.submit(fn, *args))

    def later(self, fn: Callable[[], None]) -> None:
        """``fn()`` in the thread in its turn, not waited for (it handles its own errors)."""
        self._executor.submit(fn)

    def call(self, fn: Callable[..., T], *args: object) -> T:
        """The same, waited for without an event loop (opening and shutdown)."""
        return self._executor.submit(fn, *args).result()

    def close(self) -> None:
        self._executor.shutdown(wait=True)


class SegmentFiles:
    """The segment files a spool has open for writing. Only ever used in its disk thread."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self._fd: int | None = None  # the segment being written
        self._size = 0  # of that file
        self._rotated: list[tuple[int, int]] = []  # (fd, size) rotated, to fsync and close

    def apply(self, steps: list[Step], *, sync: bool, new_files: bool) -> None:
        """Run ``steps``; then, with ``sync``, fsync what was written (and the directory with
        ``new_files``) and close the files rotated. Raises the first ``OSError``: by then each
        file written to is cut back to its size before (and closed), its directory entry kept
        (an empty file the next start removes); the ``job`` steps are run all the same."""
        before: dict[int, int] = {}  # fd -> size before this flush, of each file written
        if self._fd is not None:
            before[self._fd] = self._size
        failed: OSError | None = None
        for kind, arg in steps:
            if kind == "job":
                assert callable(arg)
                arg()
                continue
            if failed is not None:
                continue
            try:
                if kind == "start":
                    assert isinstance(arg, Path)
                    self._rotate()
                    self._fd = os.open(arg, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                    self._size = 0
                    before[self._fd] = 0
                elif kind == "write":
                    assert isinstance(arg, bytes) and self._fd is not None
                    view = memoryview(arg)
                    while view:
                        n = os.write(self._fd, view)
                        self._size += n
                        view = view[n:]
                elif kind == "rotate":
                    self._rotate()
            except OSError as exc:
                failed = exc
        if failed is None and sync:
            try:
                self.sync(self.dir if new_files else None)
            except OSError as exc:
                failed = exc
        if failed is not None:
            self._give_up(before)
            raise failed

    def sync(self, directory: Path | None = None) -> None:
        """fsync every file written (raising what fsync says), then close those rotated."""
        fds = [fd for fd, _ in self._rotated]
        if self._fd is not None:
            fds.append(self._fd)
        for fd in fds:
            os.fsync(fd)
        if directory is not None:
            fsync_dir(directory)
        self._close_rotated()

    def close(self) -> None:
        """Rotate, fsync and close everything (shutdown)."""
        self._rotate()
        self.sync()

    def _rotate(self) -> None:
        if self._fd is not None:
            self._rotated.append((self._fd, self._size))
        self._fd = None
        self._size = 0

    def _give_up(self, before: dict[int, int]) -> None:
        """A write or an fsync failed: every file written is cut back to its size before the
        flush (best effort: what is left over is found when the segment is read) and closed;
        the next flush starts a new segment."""
        self._rotate()
        for fd, size in before.items():
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
        for fd, _ in self._rotated:
            with contextlib.suppress(OSError):
                os.fsync(fd)
        self._close_rotated()

    def _close_rotated(self) -> None:
        for fd, _ in self._rotated:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._rotated.clear()


# -- durable writes ------------------------------------------------------------------------------

_tmp_names = itertools.count()


def write_file(path: Path, data: bytes) -> None:
    """Write a whole file atomically and durably (temporary file, fsync, rename)."""
    tmp = path.with_suffix(f".{next(_tmp_names)}.tmp")  # never shared with a write going on
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    try:
        fsync_dir(path.parent)
    except OSError:
        path.unlink(missing_ok=True)  # not known to be durable: as if never written
        raise


def fsync_dir(directory: Path) -> None:
    """Make the creation (or renaming) of files in ``directory`` durable (a file system that
    cannot fsync a directory, EINVAL, makes them durable some other way)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)
