"""Following one container's log files as the runtime writes and rotates them.

A :class:`FileTail` holds every file of the log it still has to read open, oldest first, so a
file the runtime renames or deletes is still read to its end: rotation loses nothing, however
far behind the reader is, as long as each file is still there, under its name or a rotated one,
when the reader looks (after every read; a file rotated more than once since the last look is
found among the rotated ones). How runtimes rotate:

- Docker's json-file (``max-size``/``max-file``): the current file is closed, renamed to
  ``.1`` (``.1`` to ``.2``, ...; the oldest deleted, or gzipped with ``compress``), and a new
  one created under the old name.
- The kubelet: ``0.log`` is renamed to ``0.log.<time>``, the runtime reopens ``0.log`` (writing
  to the renamed file until then), and the renamed file is gzipped later.
- ``copytruncate`` (logrotate): the file is copied, then cut to zero: seen as a file smaller
  than what was read of it, which is then read again from its start.

Once a newer file exists the older one receives no more writes (both runtimes write the new
file only after they are done with the old), so the older is read to its end, then closed, and
the decoder goes on with the next (:meth:`FileLogDecoder.next_file`: a line split across the
two is still joined). Compressed files are never read.

Reading is on the event loop: a regular file's ``read`` comes from the page cache. A reader
that has read :data:`TURN_BYTES` lets the others run before it reads more. The files written to
lately are polled together by one :class:`HotFiles`: one wake-up every :data:`POLL_SECS` reads
what each of them grew by, however many containers write a few lines a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from logship.pipeline.flow import Backpressure
from logship.protocol.filelog import FINGERPRINT_BYTES, FileLogDecoder, LogFile, SavedFile
from logship.record import Record
from logship.sources.held import HeldLines, Holder

log = logging.getLogger("logship.files")

READ_BYTES = 64 * 1024  # a read's lines go to the buffer at once: ~650 of 100 bytes
# ... or four times that while the buffers have room for twice its lines (_read_size): a
# reader that is behind reads a flood with fewer reads, each a bigger batch
BIG_READ_BYTES = 256 * 1024
TURN_BYTES = 1024 * 1024
LOOK_AGAIN_SECS = 2.0  # with no event, a quiet reader still looks this often
# A file that was written to in the last HOT_SECS is looked at every POLL_SECS, with its
# directory's inotify MODIFY events off (``hush``): inotify reports every write, and a
# container writing a line at a time would cost a wake-up and an event per line. A quiet
# file's first new line is read at once, on its event. The polling of every hot file is one
# timer (HotFiles), not one per file.
HOT_SECS = 1.0
POLL_SECS = 0.05
# A polled file is read when about GATHER_BYTES are likely there, at its rate so far: every
# POLL_SECS at the most, every MAX_POLL_SECS at the least (as the Engine API's streams are
# paced): a container writing 100 lines a second is read 4 times a second, not 20.
GATHER_BYTES = 16 * 1024
MAX_POLL_SECS = 0.25

Emit = Callable[[list[Record]], None]


def poll_interval(read_bytes: int, secs: float) -> float:
    """How long a polled file waits for its next read, having grown by ``read_bytes`` in
    the last ``secs``: until :data:`GATHER_BYTES` are likely there, within
    :data:`POLL_SECS` and :data:`MAX_POLL_SECS`."""
    if read_bytes <= 0 or secs <= 0:
        return MAX_POLL_SECS
    return min(max(GATHER_BYTES * secs / read_bytes, POLL_SECS), MAX_POLL_SECS)


def docker_rotated(current: Path) -> list[Path]:
    """The files json-file rotated ``current`` to, oldest first: ``<name>.N`` ... ``<name>.1``
    (compressed ones, ``.N.gz``, are not read)."""
    found: list[tuple[int, Path]] = []
    prefix = current.name + "."
    with contextlib.suppress(OSError):
        for entry in os.scandir(current.parent):
            suffix = entry.name[len(prefix) :] if entry.name.startswith(prefix) else ""
            if suffix.isdigit():
                found.append((int(suffix), Path(entry.path)))
    return [path for _, path in sorted(found, reverse=True)]


_KUBELET_ROTATED = re.compile(r"\d{8}-\d{6}(?:\.\d+)?")


def kubelet_rotated(current: Path) -> list[Path]:
    """The files the kubelet rotated ``current`` (``0.log``) to, oldest first:
    ``0.log.<YYYYMMDD-HHMMSS>`` (the gzipped ones, ``.gz``, are not read)."""
    found: list[tuple[str, Path]] = []
    prefix = current.name + "."
    with contextlib.suppress(OSError):
        for entry in os.scandir(current.parent):
            suffix = entry.name[len(prefix) :] if entry.name.startswith(prefix) else ""
            if _KUBELET_ROTATED.fullmatch(suffix):
                found.append((suffix, Path(entry.path)))
    return [path for _, path in sorted(found)]


@dataclass(frozen=True)
class StartAt:
    """Where a container's log is read from: by default its start (its oldest file that is
    not compressed); ``end``: only what is written from now on; ``saved``: a checkpoint."""

    end: bool = False
    saved: SavedFile | None = None


def _line_start(fd: int) -> int:
    """The end of the last whole line of the file: where the next line will start (a writer
    caught in the middle of a line does not make us start inside it)."""
    size = os.fstat(fd).st_size
    at = size
    while at > 0:
        chunk = os.pread(fd, min(READ_BYTES, at), max(at - READ_BYTES, 0))
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            return at - len(chunk) + newline + 1
        at -= len(chunk)
    return 0


def _open_file(path: Path) -> tuple[int, os.stat_result, str] | None:
    """The file opened for reading, what it is (device, inode) and the hex of its first bytes;
    None if it cannot be opened or read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return fd, os.fstat(fd), os.pread(fd, FINGERPRINT_BYTES, 0).hex()
    except OSError:
        os.close(fd)
        return None


def _same_start(path: Path, fingerprint: str) -> bool:
    """Whether the file at ``path`` begins as a file seen with ``fingerprint`` began (a
    file grows only at its end: the shorter is the start of the longer). Unknown (nothing
    was there to see, or the file is gone): taken as the same."""
    if not fingerprint:
        return True
    opened = _open_file(path)
    if opened is None:
        return True
    fd, _, start = opened
    os.close(fd)
    shorter = min(len(start), len(fingerprint))
    return start[:shorter] == fingerprint[:shorter]


def end_position(path: Path) -> SavedFile | None:
    """Where a tail of ``path`` that starts at its end begins (the end of its last whole
    line), as a checkpoint would keep it; None if it cannot be read."""
    opened = _open_file(path)
    if opened is None:
        return None
    fd, stat, fingerprint = opened
    try:
        return SavedFile(str(path), stat.st_dev, stat.st_ino, fingerprint, _line_start(fd))
    except OSError:
        return None
    finally:
        os.close(fd)


class HotFiles:
    """The files written to in the last :data:`HOT_SECS`, all polled by one ticker: every
    :data:`POLL_SECS` one wake-up reads what each of them grew by (:meth:`FileTail.poll`),
    where a sleep per file cost a timer and a task's wake-up per file and poll. A tail hands
    itself here when it would poll, and the ticker gives it back to its own task for anything
    else (a rotation, a cut, back-pressure, its end, a second of quiet). The ticker runs only
    while some file is hot."""

    def __init__(self) -> None:
        self._tails: dict[FileTail, None] = {}  # in the order they came: read in that order
        self._task: asyncio.Task[None] | None = None
        self.ticks = 0

    @property
    def polled(self) -> int:
        """How many files the ticker polls now."""
        return len(self._tails)

    def add(self, tail: FileTail) -> None:
        self._tails[tail] = None
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="hot-files")

    def discard(self, tail: FileTail) -> None:
        self._tails.pop(tail, None)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._tails:
                await asyncio.sleep(POLL_SECS)
                self.ticks += 1
                now = loop.time()
                for tail in list(self._tails):
                    if tail not in self._tails:
                        continue  # given back to its task by something read before it
                    try:
                        keep = tail.poll(now)
                    except Exception:
                        # its own task reads it from now on, and meets the same fault there
                        log.exception("polling %s failed", tail.path)
                        keep = False
                        tail.unpoll()
                    if not keep:
                        self._tails.pop(tail, None)
        finally:
            self._task = None


class _Open:
    __slots__ = ("fd", "file", "offset")

    def __init__(self, fd: int, file: LogFile, offset: int) -> None:
        self.fd = fd
        self.file = file
        self.offset = offset  # of the next byte to read


class FileTail:
    """Reads the log whose current file is ``path`` into ``decoder`` and hands each batch of
    records to ``emit``, until :meth:`finish` (then to its end) or cancelled.

    ``rotated(path)`` names the log's rotated files, oldest first. ``wake()`` is the callback
    for whoever sees the directory change (:class:`~logship.sources.files.watch.Watcher`).
    ``end_when_deleted``: the file deleted with no name left and nothing newer is the log's
    end (the kubelet removing a dead container's log); off where a deletion can be followed
    by a new file (json-file with ``max-file=1`` deletes and recreates it), and whoever knows
    the container is gone calls :meth:`finish`. ``hot_files``: the ticker that polls the
    source's busy files (one of its own when not given).
    """

    def __init__(
        self,
        path: Path,
        decoder: FileLogDecoder,
        emit: Emit,
        *,
        rotated: Callable[[Path], list[Path]],
        start: StartAt | None = None,
        look_again_secs: float = LOOK_AGAIN_SECS,
        end_when_deleted: bool = True,
        backpressure: Backpressure | None = None,
        held: HeldLines | None = None,
        hush: Callable[[bool], None] | None = None,
        hot_files: HotFiles | None = None,
    ) -> None:
        self.path = path
        self.hot_files = hot_files if hot_files is not None else HotFiles()
        self._polled = False  # in hot_files: its ticker reads the file, the task waits
        # while polled: a directory event came (look for a newer file at the next poll), and
        # when to look anyway (an event can be lost)
        self._stirred = False
        self._next_look = 0.0
        self._next_poll = 0.0  # loop time of its next read while polled
        self._last_poll = 0.0  # ... and of the last one
        # turns the directory's MODIFY events off (True) while this file is polled, and on
        self.hush = hush
        self._hushed = False
        self._hot_until = 0.0  # loop time until which the file is polled
        self.held = held  # the bound on what unfinished lines hold, all readers together
        self._holder = Holder(decoder.meta.name, self._split)
        self.end_when_deleted = end_when_deleted
        self.backpressure = backpressure  # waited on before each turn of reading
        self.decoder = decoder
        self.emit = emit
        self.rotated = rotated
        self.start = start or StartAt()
        self.look_again_secs = look_again_secs
        self.files: deque[_Open] = deque()  # held open, oldest first
        self.lines = 0
        self.truncations = 0  # times the file was found cut short (copytruncate)
        self.read_errors = 0
        # file numbers go on from the decoder's (a tail over a decoder read before in this
        # run): positions keep their order, and two files never share a number
        self._orders = decoder.file.order + 1
        # (device, inode) of the files this tail opened or passed over, and the hex of their
        # first bytes as last known: a rotated file not among them is newer than every file
        # it holds (it missed a rotation), and so is one on the inode of a file deleted since
        # (ext4 gives a new file the inode just freed)
        self._seen: dict[tuple[int, int], str] = {}
        self._finishing = False
        self._flush_when_idle = False
        self._wake = asyncio.Event()

    # -- told from outside ---------------------------------------------------------------------

    def wake(self, name: str | None = None) -> None:
        """Something changed where the files are: look now (a polled file: at the ticker's next
        tick, due or not, which then looks for a newer file too)."""
        if self._polled:
            self._stirred = True
        else:
            self._wake.set()

    def writer_stopped(self) -> None:
        """The container stopped: once what it wrote is read, a last line it left without a
        newline is a line (as the Engine API's stream ends with it); reading goes on, for a
        restart writes on in the same file."""
        self._flush_when_idle = True
        self._wake.set()

    def finish(self) -> None:
        """The container is over: read what is left, then stop."""
        self._finishing = True
        self._wake.set()

    # -- reading -------------------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._open_start()
            while True:
                if not self.files:
                    self._look_for_current()
                if self.backpressure is not None:
                    # looked at right before reading (no await in between): however many
                    # readers go on at once, the buffer passes half full by one read at most
                    await self.backpressure.wait(self._look_while_paused)
                if self.files and self._read_turn(self.files[0]):
                    self._hot(loop.time())
                    self._look_for_current()
                    await asyncio.sleep(0)  # let the others read too (back-pressure: at the top)
                    continue
                if len(self.files) > 1:
                    if self._read_turn(self.files[0]):
                        continue
                    if self._written(self.files[1]) or self._finishing:
                        # the runtime writes the newer file: it writes no more to this one
                        self._advance()
                        continue
                    # the newer file is still empty: containerd creates it before it closes
                    # the old one, whose last bytes may still come (json-file closes first)
                if self.files and len(self.files) == 1 and self._truncated(self.files[0]):
                    continue
                if len(self.files) == 1:
                    self._look_for_current()
                    if len(self.files) > 1:
                        continue
                if self.end_when_deleted and self.files and self._deleted(self.files[0]):
                    self._finishing = True  # read to its end, and nothing will come after it
                if self._finishing:
                    self._emit(self.decoder.flush())
                    return
                if self._flush_when_idle:
                    self._flush_when_idle = False
                    self._emit(self.decoder.flush())
                if self._hushed:
                    if loop.time() < self._hot_until:
                        self._wake.clear()  # a rotation's event: seen by the next look
                        self._polled = True
                        self._last_poll = loop.time()  # read to its end just now
                        self.hot_files.add(self)
                        try:
                            await self._wake.wait()  # set by unpoll(), finish(), ...
                        finally:
                            self._polled = False
                            self.hot_files.discard(self)
                        continue
                    self._set_hushed(False)  # quiet again: events on, then one more look
                    continue  # (a write just before they were on sent none)
                self._wake.clear()
                # not wait_for: on Python 3.11 it returns a wake-up that comes with a cancel
                # and loses the cancel
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.look_again_secs):
                        await self._wake.wait()
        finally:
            self.close()

    def _look_while_paused(self) -> None:
        """While the destinations are full, nothing is read, but a file the runtime made
        since is opened and held, on the directory's event or every ``look_again_secs``: with
        ``max-file=3`` a file can be made, rotated twice and deleted within one pause, and
        only a file held open outlives its deletion."""
        if self._wake.is_set():  # the directory's event (what else wakes it is a flag too)
            self._wake.clear()
            self._stirred = True
        self._look_now(asyncio.get_running_loop().time())

    def poll(self, now: float) -> bool:
        """One look at the file for :class:`HotFiles`, as the task's loop would look after a
        read that found nothing: read what it grew by; False when the task has to take over
        (woken by :meth:`unpoll`): anything but one file that grows or stays put, or a second
        with nothing new. A file that grows slowly is read every few polls
        (:func:`poll_interval`); its end and a finish wake its task at once."""
        if now < self._next_poll and not self._stirred:
            return True  # not due; but a rotation's event is seen at once (a small file made
            # and deleted again, max-file=1, lasts a few tenths of a second)
        if (
            len(self.files) != 1
            or self._finishing
            or self._flush_when_idle
            or (self.backpressure is not None and self.backpressure.congested())
        ):
            return self.unpoll()
        head = self.files[0]
        read = self._read_turn(head)
        self._next_poll = now + poll_interval(read, now - self._last_poll)
        self._last_poll = now
        if read:
            self._hot_until = now + HOT_SECS
            self._look_now(now)
            if read >= TURN_BYTES or len(self.files) != 1:
                return self.unpoll()
            if self.backpressure is not None and self.backpressure.congested():
                return self.unpoll()
            return True
        if now >= self._hot_until or self._truncated(head):
            return self.unpoll()
        self._look_now(now)
        if len(self.files) != 1 or (self.end_when_deleted and self._deleted(head)):
            return self.unpoll()
        return True

    def _look_now(self, now: float) -> None:
        """While polled or paused, a newer file is looked for when the directory changed (a
        rotation creates or renames a file: those events stay on) or, as for a quiet file,
        every ``look_again_secs``: not a ``stat()`` per file and poll."""
        if self._stirred or now >= self._next_look:
            self._stirred = False
            self._next_look = now + self.look_again_secs
            self._look_for_current()

    def unpoll(self) -> bool:
        """Give the file back to the task's own loop (False, for :meth:`poll`)."""
        self._polled = False
        self._wake.set()
        return False

    def _hot(self, now: float) -> None:
        """Read something: poll the file for a while, its write events off."""
        self._hot_until = now + HOT_SECS
        if not self._hushed and self.hush is not None:
            self._set_hushed(True)

    def _set_hushed(self, hushed: bool) -> None:
        self._hushed = hushed
        if self.hush is not None:
            self.hush(hushed)

    def close(self) -> None:
        self.hot_files.discard(self)
        if self._hushed:
            self._set_hushed(False)
        if self.held is not None:
            self.held.release(self._holder)
        while self.files:
            with contextlib.suppress(OSError):
                os.close(self.files.popleft().fd)

    def _emit(self, records: list[Record]) -> None:
        if records:
            self.lines += len(records)
            self.emit(records)

    def _read_turn(self, head: _Open) -> int:
        """Read from ``head`` until its end or :data:`TURN_BYTES`; the bytes read."""
        total = 0
        decoder = self.decoder
        while total < TURN_BYTES:
            want = self._read_size()
            try:
                data = os.pread(head.fd, want, head.offset)
            except OSError as exc:
                self.read_errors += 1
                log.warning("cannot read %s: %s", head.file.path, exc.strerror or exc)
                return total
            if not data:
                break
            head.offset += len(data)
            total += len(data)
            if len(head.file.fingerprint) < 2 * FINGERPRINT_BYTES:
                self._fingerprint(head)
            self._emit(decoder.feed(data))
            if len(data) < want:
                break  # the end of what is written (a regular file reads short only there)
            if self.backpressure is not None and self.backpressure.congested():
                break  # the rest waits on disk
        held = self.held
        if held is not None:
            size = decoder.held_bytes
            if size or self._holder.held:
                held.update(self._holder, size)
        return total

    def _read_size(self) -> int:
        """:data:`BIG_READ_BYTES` when every buffer has room below its half mark for twice
        the lines so many bytes likely hold (at the mean size of this file's lines so far)
        and their text read twice over (a character may take more room than its UTF-8
        bytes); else :data:`READ_BYTES`, so that near the mark a read passes it by at most
        what 64 KiB hold, however many files flood at once."""
        if not self.lines:
            return READ_BYTES  # no size of line known yet
        if self.backpressure is None:
            return BIG_READ_BYTES
        likely = BIG_READ_BYTES * self.lines // max(self.decoder.bytes_read, 1) + 1
        if self.backpressure.has_room(2 * likely, 2 * BIG_READ_BYTES):
            return BIG_READ_BYTES
        return READ_BYTES

    def _split(self) -> int:
        """Ship what the decoder gathered of its open lines (the bound of :class:`HeldLines`
        was passed); what it still holds."""
        self._emit(self.decoder.split_held())
        return self.decoder.held_bytes

    @staticmethod
    def _fingerprint(head: _Open) -> None:
        """A file opened shorter than the fingerprint (a new file, often empty when it is
        found): its first bytes as there are now, so a checkpoint in it knows it from another
        file that gets its inode."""
        with contextlib.suppress(OSError):
            head.file.fingerprint = os.pread(head.fd, FINGERPRINT_BYTES, 0).hex()

    def _advance(self) -> None:
        """The oldest file is read to its end and a newer one exists: go on with it."""
        done = self.files.popleft()
        self._seen[(done.file.dev, done.file.ino)] = done.file.fingerprint  # as read
        with contextlib.suppress(OSError):
            os.close(done.fd)
        following = self.files[0]
        self._emit(self.decoder.next_file(following.file, following.offset))

    def _truncated(self, head: _Open) -> bool:
        """The file is smaller than what was read of it (copytruncate): read it again from its
        start, as a new file (its lines come after the old ones)."""
        try:
            size = os.fstat(head.fd).st_size
        except OSError:
            return False
        if size >= head.offset:
            return False
        self.truncations += 1
        log.warning(
            "%s was cut to %d bytes after %d were read (copytruncate?): reading it from its start",
            head.file.path,
            size,
            head.offset,
        )
        self._emit(self.decoder.flush())  # what was left of it before the cut
        head.file = self._renumbered(head.file)
        head.offset = 0
        self._fingerprint(head)  # another content now
        self._emit(self.decoder.next_file(head.file, 0))
        return True

    @staticmethod
    def _written(newer: _Open) -> bool:
        """The runtime has begun writing this file (it is no longer empty)."""
        try:
            return os.fstat(newer.fd).st_size > 0
        except OSError:
            return True

    def _deleted(self, head: _Open) -> bool:
        """The file was deleted (not renamed: no name is left) and nothing newer came."""
        try:
            return os.fstat(head.fd).st_nlink == 0 and not os.path.lexists(self.path)
        except OSError:
            return False

    # -- the files -----------------------------------------------------------------------------

    def _open(self, path: Path) -> _Open | None:
        opened = _open_file(path)
        if opened is None:
            return None
        fd, stat, fingerprint = opened
        file = LogFile(str(path), stat.st_dev, stat.st_ino, fingerprint, self._orders)
        self._orders += 1
        self._seen[(stat.st_dev, stat.st_ino)] = fingerprint
        return _Open(fd, file, 0)

    def _renumbered(self, file: LogFile) -> LogFile:
        order, self._orders = self._orders, self._orders + 1
        return LogFile(file.path, file.dev, file.ino, file.fingerprint, order)

    def _open_start(self) -> None:
        """Open the files to read, as ``start`` says, and start the decoder on the first."""
        start = self.start
        rotated = self.rotated(self.path)
        if start.end:
            for path in rotated:  # passed over
                passed = _open_file(path)
                if passed is not None:
                    fd, stat, fingerprint = passed
                    os.close(fd)
                    self._seen[(stat.st_dev, stat.st_ino)] = fingerprint
        paths = [self.path] if start.end else [*rotated, self.path]
        opened = [o for o in map(self._open, paths) if o is not None]
        if start.saved is not None:
            found = [i for i, o in enumerate(opened) if start.saved.is_file(o.file)]
            if found:
                for o in opened[: found[0]]:
                    os.close(o.fd)
                opened = opened[found[0] :]
                opened[0].offset = start.saved.offset
            else:
                log.info(
                    "%s: the file of the checkpoint (%s) is gone; reading from the oldest "
                    "file there is",
                    self.decoder.meta.name,
                    start.saved.path,
                )
        elif start.end and opened:
            opened[0].offset = _line_start(opened[0].fd)
        self.files.extend(opened)
        if opened:
            self._emit(self.decoder.next_file(opened[0].file, opened[0].offset))

    def _look_for_current(self) -> None:
        """A file under ``path`` that is not the newest held (a rotation happened): open it,
        after the files rotated before this tail saw them."""
        try:
            stat = os.stat(self.path)
        except OSError:
            return  # not there (yet, or any more)
        newest = self.files[-1].file if self.files else None
        if newest is not None and (stat.st_dev, stat.st_ino) == (newest.dev, newest.ino):
            return
        if not self._open_missed():
            return
        newest = self.files[-1].file if self.files else None
        opened = self._open(self.path)
        if opened is None:
            return
        if newest is not None and (opened.file.dev, opened.file.ino) == (newest.dev, newest.ino):
            os.close(opened.fd)  # raced with a rename back: the same file
            return
        self.files.append(opened)
        if len(self.files) == 1:
            self._emit(self.decoder.next_file(opened.file, 0))

    def _open_missed(self) -> bool:
        """Several rotations since the last look: the files the runtime wrote in between are
        rotated ones by now (``.1``, ``0.log.<time>``). Open those not seen yet, oldest first
        (every one of them is newer than the files held). False: caught in a rotation, look
        again later."""
        listed: set[tuple[int, int]] = set()
        seen = dict(self._seen)
        held = {(o.file.dev, o.file.ino) for o in self.files}
        for path in self.rotated(self.path):
            try:
                stat = os.stat(path)
            except OSError:
                continue
            key = (stat.st_dev, stat.st_ino)
            listed.add(key)
            if key in held or (key in seen and _same_start(path, seen[key])):
                continue
            opened = self._open(path)
            if opened is None:
                continue
            if (opened.file.dev, opened.file.ino) != (stat.st_dev, stat.st_ino):
                os.close(opened.fd)  # renamed again meanwhile: all of it at the next look
                self._seen = seen | {
                    (o.file.dev, o.file.ino): o.file.fingerprint for o in self.files
                }
                return False
            log.info(
                "%s: %s was rotated before it was read; reading it now",
                self.decoder.meta.name,
                path,
            )
            self.files.append(opened)
            if len(self.files) == 1:
                self._emit(self.decoder.next_file(opened.file, 0))
        # forget what is neither listed nor held any more (its inode may be reused)
        held = {(o.file.dev, o.file.ino) for o in self.files}
        self._seen = {k: v for k, v in self._seen.items() if k in listed or k in held}
        return True
