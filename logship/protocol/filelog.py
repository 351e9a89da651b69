"""The log files a container runtime writes, bytes in, records out. No I/O.

Each line of such a file is one log entry. Docker's json-file driver writes
``{"log":"<text>","stream":"stdout","time":"<RFC 3339>"}`` (:mod:`logship.protocol.jsonfile`);
the runtimes of a Kubernetes node (containerd, CRI-O) write ``<RFC 3339> <stream> <P|F> <text>``
(:mod:`logship.protocol.cri`). Either way a line longer than the runtime's limit (16 KiB) comes in
several entries, all but the last marked partial, and :class:`FileLogDecoder` joins them back,
per stream, as the Engine API source does; lines over ``max_line_bytes`` are cut with a marker.
A line that is not the format is passed on as its raw text and counted, never dropped.

Positions are byte offsets. Every record carries ``end``: where reading resumes to get the lines
after it and nothing before (with a partial line of the other stream open, where that line
starts). Offsets only compare within one file, so a position is ``(order, offset, file)``:
``order`` counts the files read for the container in this run, which keeps positions ordered
across a rotation; :class:`LogFile` says which file it is, for checkpoints.
"""

from __future__ import annotations

import codecs
import logging
import sys
from dataclasses import dataclass
from typing import Final, NamedTuple

from logship.protocol.docker import DEFAULT_MAX_LINE_BYTES
from logship.record import (
    CONTINUED_MARKER,
    STDOUT,
    ContainerMeta,
    Record,
    truncation_marker,
)

log = logging.getLogger("logship.files")

FINGERPRINT_BYTES = 128
"""How much of a file's start tells it from another file that got the same inode."""

EPOCH: Final = "1970-01-01T00:00:00.000000000Z"


@dataclass(eq=False, slots=True)
class LogFile:
    """One log file as its reader opened it: device and inode, the hex of its first bytes (up
    to :data:`FINGERPRINT_BYTES`; fewer while the file is shorter: its reader completes them
    as the file grows), and its place among the files read for its container in this run."""

    path: str
    dev: int
    ino: int
    fingerprint: str
    order: int = 0


FilePosition = tuple[int, int, LogFile]
"""(the file's order in this run, offset after the last line consumed, the file)."""


class SavedFile(NamedTuple):
    """A position as a checkpoint keeps it: in which file (device, inode, and the start of its
    content, so that a new file on a reused inode is not taken for it), at what offset."""

    path: str
    dev: int
    ino: int
    fingerprint: str
    offset: int

    @classmethod
    def of(cls, position: FilePosition) -> SavedFile:
        _, offset, file = position
        return cls(file.path, file.dev, file.ino, file.fingerprint, offset)

    def is_file(self, file: LogFile) -> bool:
        """Whether ``file`` is the file this position is in (what is known of both starts
        agrees)."""
        shorter = min(len(file.fingerprint), len(self.fingerprint))
        return (file.dev, file.ino) == (self.dev, self.ino) and (
            file.fingerprint[:shorter] == self.fingerprint[:shorter]
        )


class FileRecord(Record):
    """A line from a log file, and where reading resumes after it."""

    __slots__ = ("end",)
    end: FilePosition


Parsed = tuple[str, str, bool, str]
"""One entry: (canonical timestamp, stream, partial, text without the line's newline). The
text of a piece may keep bytes that are not UTF-8 on their own as ``surrogateescape`` does: a
character split between two pieces is read whole once they are joined."""


class _Partial:
    __slots__ = ("held", "parts", "pieces", "seq", "size", "start", "ts")

    def __init__(self, ts: str, seq: int, start: FilePosition) -> None:
        self.ts = ts
        self.seq = seq
        self.start = start  # where the line's first entry began
        self.parts: list[str] = []
        self.pieces = 0  # entries of the line so far
        self.size = 0  # bytes of text, all of it, including what was cut
        self.held = 0  # bytes of memory the parts take (4 a character once one needs them)


def _size(text: str) -> int:
    """Bytes of ``text`` as the file had them (an escaped byte, see :func:`_as_text`, is one)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "replace"))


def _as_text(text: str) -> str:
    """Pieces joined: bytes that were not UTF-8 on their own, kept by ``surrogateescape``
    (a character the runtime's cut split between two pieces), read together now; what is
    still not UTF-8 is replaced."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _cut(text: str, size: int) -> str:
    """The first ``size`` bytes of ``text``, less a character the cut would split."""
    raw = text.encode("utf-8", "surrogateescape")[:size]
    # not final: a valid but incomplete last character stays in the decoder, left out
    return codecs.getincrementaldecoder("utf-8")("surrogateescape").decode(raw)


class FileLogDecoder:
    """Incremental decoder of one container's log files, one after the other.

    ``feed(data)`` takes the bytes read from the current file, in order from ``offset``, and
    returns the records of the lines they complete. :meth:`next_file` goes on with the next
    file after a rotation (a line split across the two is still joined). Subclasses say how
    one line is read (:meth:`parse`).
    """

    kind = "log file"  # what the format is called, in messages

    def __init__(
        self,
        meta: ContainerMeta,
        file: LogFile | None = None,
        *,
        offset: int = 0,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> None:
        self.meta = meta
        self.max_line_bytes = max_line_bytes
        # the file being read (None: none yet, see next_file) and what of it was consumed
        self.file = file or LogFile("", 0, 0, "", -1)
        self.position: FilePosition | None = None if file is None else (file.order, offset, file)
        self.bytes_read = 0  # of the files, as the runtime wrote them
        self.truncated = 0  # lines cut to max_line_bytes
        self.malformed_lines = 0  # lines that were not the format: shipped as raw text
        self.bad_timestamps = 0  # entries whose time could not be read (the last one is used)
        self._offset = offset  # of the first byte of _rest in the file
        self._rest = b""
        self._pending: dict[str, _Partial] = {}
        self._last_ts = ""
        self._count = 0
        self._logged: set[str] = set()

    # -- to be said by the format --------------------------------------------------------------

    def parse(self, line: bytes) -> Parsed | None:
        """One line without its newline; None when it is not the format."""
        raise NotImplementedError

    def joined(self, text: str) -> str:
        """A line joined from several entries (and not cut), before it is shipped: what the
        writer's cut split between the entries may be seen whole only now."""
        return text

    # -- public API ----------------------------------------------------------------------------

    def feed(self, data: bytes, *, final: bool = False) -> list[Record]:
        """Records of the lines ``data`` completes. ``final``: the file ends here, so a last
        line without a newline is a line too."""
        out: list[Record] = []
        self.bytes_read += len(data)
        buf = self._rest + data if self._rest else data
        lines = buf.split(b"\n")
        rest = lines.pop()
        offset = self._offset
        file = self.file
        order = file.order
        pending = self._pending
        meta = self.meta
        limit = self.max_line_bytes
        for line in lines:
            start = offset
            offset += len(line) + 1
            parsed = self.parse(line)
            if parsed is None:
                self._raw_line(line, start, offset, out)
                continue
            ts, stream, partial, text = parsed
            if ts == self._last_ts:
                self._count += 1
            else:
                self._last_ts, self._count = ts, 1
            # len(text) counts characters, never more than the bytes: ASCII is exact
            if (
                not partial
                and not pending
                and len(text) <= limit
                and (text.isascii() or _size(text) <= limit)
            ):
                record = FileRecord(text, stream, ts, meta, self._count - 1)
                record.end = self.position = (order, offset, file)
                out.append(record)
            else:
                self._gather(stream, ts, partial, text, start, offset, out)
        if final and rest:
            start, offset = offset, offset + len(rest)
            parsed = self.parse(rest)
            if parsed is None:
                self._raw_line(rest, start, offset, out)
            else:
                ts, stream, partial, text = parsed
                if ts == self._last_ts:
                    self._count += 1
                else:
                    self._last_ts, self._count = ts, 1
                self._gather(stream, ts, False, text, start, offset, out)
            rest = b""
        self._rest = rest
        self._offset = offset
        return out

    def next_file(self, file: LogFile, offset: int = 0) -> list[Record]:
        """Read ``file`` from ``offset`` on: the first file, or the next after a rotation (the
        current one was read to its end). What was left of the old file without a newline is
        a line of its own; a line split across the two by the runtime's partial entries is
        joined."""
        out = self.feed(b"", final=True) if self._rest else []
        self.file = file
        self._offset = offset
        if not self._pending:
            self.position = (file.order, offset, file)
        return out

    def flush(self) -> list[Record]:
        """The container's log is over: a last line without a newline and pending partial
        lines become lines as they are."""
        out = self.feed(b"", final=True) if self._rest else []
        end = (self.file.order, self._offset, self.file)
        for stream in sorted(self._pending):
            self._finish(stream, end, out, ended=False)
        return out

    def rewind(self) -> None:
        """Reading starts again at :attr:`position` (a new reader): forget the line being
        gathered and the bytes after the last whole line, which will be read again."""
        self._pending.clear()
        self._rest = b""
        if self.position is not None:
            self._offset = self.position[1]

    @property
    def held_bytes(self) -> int:
        """Bytes of memory that lines being gathered from their pieces hold."""
        return sum(p.held for p in self._pending.values()) if self._pending else 0

    def split_held(self) -> list[Record]:
        """Ship what is gathered of each open line now, as a record ending with
        :data:`CONTINUED_MARKER` that ends where its last piece did; the line's next pieces
        start a record of their own (their entry's timestamp and ``seq``)."""
        out: list[Record] = []
        end = (self.file.order, self._offset, self.file)
        for stream in sorted(self._pending):
            self._finish(stream, end, out, ended=False)
            out[-1].message += CONTINUED_MARKER
        return out

    @property
    def pending_bytes(self) -> int:
        """Bytes read of a line not yet complete (no newline yet)."""
        return len(self._rest)

    # -- helpers -------------------------------------------------------------------------------

    def _gather(
        self,
        stream: str,
        ts: str,
        partial: bool,
        text: str,
        start: int,
        end: int,
        out: list[Record],
    ) -> None:
        order, file = self.file.order, self.file
        open_line = self._pending.get(stream)
        if open_line is None:
            open_line = self._pending[stream] = _Partial(ts, self._count - 1, (order, start, file))
        self._add(open_line, text)
        if not partial:
            self._finish(stream, (order, end, file), out)

    def _raw_line(self, line: bytes, start: int, end: int, out: list[Record]) -> None:
        """A line that is not the format: counted, and shipped as it is, a line of its own
        (stdout, the last time read); a line of pieces still open stays open."""
        self.malformed_lines += 1
        self._problem(
            "malformed_lines",
            f"a line of {self.file.path} is not {self.kind}; shipped as it is: {line[:80]!r}",
        )
        ts = self._last_ts or EPOCH
        if ts == self._last_ts:
            self._count += 1
        else:
            self._last_ts, self._count = ts, 1
        order, file = self.file.order, self.file
        raw = _Partial(ts, self._count - 1, (order, start, file))
        self._add(raw, line.decode("utf-8", "replace"))
        self._ship(raw, STDOUT, (order, end, file), out)

    def bad_timestamp(self, raw: object) -> str:
        """An entry's time that does not parse: counted, and the last time used."""
        self.bad_timestamps += 1
        self._problem("bad_timestamps", f"an entry of {self.file.path} has the time {raw!r}")
        return self._last_ts or EPOCH

    def _add(self, partial: _Partial, text: str) -> None:
        partial.pieces += 1
        size = _size(text)
        room = self.max_line_bytes - partial.size
        if room > 0:
            part = _cut(text, room) if size > room else text
            partial.parts.append(part)
            partial.held += sys.getsizeof(part)
        partial.size += size

    def _finish(
        self, stream: str, end: FilePosition, out: list[Record], *, ended: bool = True
    ) -> None:
        """Ship the stream's open line: it ``ended`` (its last entry came), or is shipped
        as far as it came (the log is over, or the line is split for memory)."""
        self._ship(self._pending.pop(stream), stream, end, out, ended=ended)

    def _ship(
        self,
        partial: _Partial,
        stream: str,
        end: FilePosition,
        out: list[Record],
        *,
        ended: bool = True,
    ) -> None:
        message = "".join(partial.parts)
        if not message.isascii():
            kept = _size(message)
            message = _as_text(message)
        else:
            kept = len(message)
        if partial.size > self.max_line_bytes:
            self.truncated += 1
            message += truncation_marker(partial.size - kept)
        elif partial.pieces > 1 and ended:  # a line with no end keeps all it has, a TTY's CR too
            message = self.joined(message)
        record = FileRecord(message, stream, partial.ts, self.meta, partial.seq)
        if self._pending:  # the other stream's line is still open: resume where it starts
            record.end = min(p.start for p in self._pending.values())
        else:
            record.end = self.position = end
        out.append(record)

    def _problem(self, kind: str, text: str) -> None:
        """Log bad input once per kind and container; the counters say how often."""
        if kind not in self._logged:
            self._logged.add(kind)
            log.warning("log of %s: %s (counted in %s)", self.meta.name, text, kind)
