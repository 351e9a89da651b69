"""Container log files written byte for byte as the runtimes write them, and rotated as they
rotate them, for the file sources' tests (no runtime, no kubelet, no engine needed).

What was followed (each read in its source, not guessed):

- containerd's CRI logger, ``internal/cri/io/logger.go`` (``redirectLogs``): one entry per
  line, ``<time> <stream> <tag> <text>\\n``, the time ``time.Now()`` formatted with Go's
  ``time.RFC3339Nano`` (UTC on a node: ``Z``, the fraction's trailing zeros trimmed, no
  fraction at all when it is zero: :func:`go_rfc3339nano`); a line longer than
  ``max_container_log_line_size`` (16384 by default) is cut into ``P`` entries of exactly that
  many bytes and an ``F`` with the rest (a line of exactly 16384 bytes is one ``F``); an empty
  line is ``<time> <stream> F `` (the space stays); a ``\\r\\n`` ending loses both; output the
  container ends without a newline is a last ``P`` entry, with no ``F`` after it. Each entry
  is one ``write`` to the file, opened ``O_APPEND``.
- CRI-O's conmon, ``src/ctr_logging.c`` (``set_k8s_timestamp``): the same entries, with the
  time in local time, always nine digits and an offset (``+01:00``, never ``Z``):
  :func:`conmon_time`.
- The kubelet's log rotation, ``pkg/kubelet/logs/container_log_manager.go`` (``rotateLog``):
  drop ``.tmp`` leftovers, remove the oldest rotated files beyond ``MaxFiles - 2``, gzip every
  rotated file not compressed yet (to ``<name>.tmp``, renamed to ``<name>.gz``, then the plain
  file removed), then ``rotateLatestLog``: rename ``0.log`` to ``0.log.<YYYYMMDD-HHMMSS>`` and
  ask the runtime to reopen it (``ReopenContainerLog``: containerd creates the new file and
  swaps its writers; until then it writes to the renamed file).
- The pod log layout (``pkg/kubelet/kuberuntime/helpers.go``, ``BuildContainerLogsDirectory``
  and the ``/var/log/containers`` links): ``<pods>/<namespace>_<pod>_<uid>/<container>/
  <restart>.log``, linked as ``<links>/<pod>_<namespace>_<container>-<id>.log``.
- Docker's json-file driver, moby ``daemon/logger/jsonfilelog/jsonfilelog.go``
  (``marshalMessage``: ``\\n`` appended to a line's text, not to a partial piece's),
  ``jsonlog/jsonlogbytes.go`` (``MarshalJSONBuf``: keys ``log``, ``stream``, ``attrs``,
  ``time`` in that order, no spaces; the text escaped by ``ffjsonWriteJSONBytesAsString``:
  ``<``, ``>``, ``&``, control characters, U+2028/9 as ``\\u00XX``/``\\u202X``, invalid UTF-8
  as ``\\ufffd``), ``jsonlog/time_marshalling.go`` (RFC3339Nano), ``daemon/logger/copier.go``
  (a line longer than its 16 KiB buffer goes out in pieces of 16384 bytes) and
  ``loggerutils/logfile.go`` (``WriteLogEntry`` rotates *before* a write once the file holds
  ``max-size`` bytes or more: close, unlink ``.N-1``, rename ``.i-1`` to ``.i``, rename the
  file to ``.1``, create a new one; with ``max-file=1`` the file is unlinked instead; with
  ``compress`` the ``.1`` is gzipped to ``.1.gz`` afterwards).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

CRI_MAX_LINE_BYTES = 16384  # containerd's default max_container_log_line_size
DOCKER_PIECE_BYTES = 16 * 1024  # moby's copier buffer: longer lines come in pieces
START_NS = 1_796_472_000_000_000_000  # 2026-12-05T12:00:00Z


# -- times ------------------------------------------------------------------------------------


def go_rfc3339nano(ns: int, offset_secs: int = 0) -> str:
    """``time.Unix(0, ns).In(zone).Format(time.RFC3339Nano)``: ``Z`` in UTC, else ``±HH:MM``;
    the fraction's trailing zeros trimmed, and no ``.`` at all when it is zero."""
    seconds, nanos = divmod(ns + offset_secs * 1_000_000_000, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    frac = f".{nanos:09d}".rstrip("0").rstrip(".")
    return base + frac + _zone(offset_secs, utc_z=True)


def conmon_time(ns: int, offset_secs: int = 0) -> str:
    """CRI-O's conmon: local time, nine digits always, the offset always (``+00:00`` in UTC)."""
    seconds, nanos = divmod(ns + offset_secs * 1_000_000_000, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{base}.{nanos:09d}" + _zone(offset_secs, utc_z=False)


def _zone(offset_secs: int, *, utc_z: bool) -> str:
    if offset_secs == 0 and utc_z:
        return "Z"
    sign = "-" if offset_secs < 0 else "+"
    minutes = abs(offset_secs) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def canonical(ns: int) -> str:
    """The time as records carry it: UTC, nine digits, ``Z``."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


@dataclass
class Clock:
    """The writer's ``time.Now()``: starts at ``start_ns`` and moves ``step_ns`` per reading
    (the default step makes fractions with and without trailing zeros)."""

    start_ns: int = START_NS
    step_ns: int = 1_250_000
    readings: int = 0

    def __call__(self) -> int:
        now = self.now()
        self.readings += 1
        return now

    def now(self) -> int:
        """The time of the next reading, without taking it."""
        return self.start_ns + self.readings * self.step_ns

    def advance(self, ns: int) -> None:
        self.start_ns += ns


# -- CRI (containerd, CRI-O) -------------------------------------------------------------------


def cri_entries(
    text: bytes,
    stream: str = "stdout",
    *,
    clock: Clock,
    max_len: int = CRI_MAX_LINE_BYTES,
    offset_secs: int | None = None,
    finished: bool = True,
) -> list[bytes]:
    """The entries containerd writes for one line of output (``text`` without its newline):
    ``P`` pieces of exactly ``max_len`` bytes, then ``F`` with the rest. ``finished=False``:
    output the container ended without a newline (its last piece is a ``P``). With
    ``offset_secs``, CRI-O's times (:func:`conmon_time`) instead of containerd's."""
    if text.endswith(b"\r"):
        text = text[:-1]  # containerd's readLine drops a \r before the \n
    pieces = [text[i : i + max_len] for i in range(0, len(text), max_len)] or [b""]
    if len(pieces) > 1 and not pieces[-1]:
        pieces.pop()  # exactly max_len: one F
    out = []
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        tag = b"F" if last and finished else b"P"
        ns = clock()
        ts = go_rfc3339nano(ns) if offset_secs is None else conmon_time(ns, offset_secs)
        out.append(ts.encode() + b" " + stream.encode() + b" " + tag + b" " + piece + b"\n")
    return out


class CriLogWriter:
    """One container's log file as its runtime writes it for the kubelet, and the kubelet's
    rotation of it (``max_files`` as ``containerLogMaxFiles``)."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock | None = None,
        max_len: int = CRI_MAX_LINE_BYTES,
        max_files: int = 5,
        offset_secs: int | None = None,
    ) -> None:
        self.path = path
        self.clock = clock or Clock()
        self.max_len = max_len
        self.max_files = max_files
        self.offset_secs = offset_secs
        self.rotations = 0
        self._last_rotation = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = _open_append(path)

    def write(self, line: str | bytes, stream: str = "stdout", *, finished: bool = True) -> int:
        """One line of the container's output (no newline in it); bytes written."""
        data = line.encode() if isinstance(line, str) else line
        entries = cri_entries(
            data,
            stream,
            clock=self.clock,
            max_len=self.max_len,
            offset_secs=self.offset_secs,
            finished=finished,
        )
        return self.write_entries(entries)

    def write_entries(self, entries: list[bytes]) -> int:
        """Entries as they are, one ``write`` each (as containerd's serial writer does)."""
        assert self._fd is not None, "the runtime has no file open (closed, or not reopened)"
        for entry in entries:
            os.write(self._fd, entry)
        return sum(map(len, entries))

    def size(self) -> int:
        return os.stat(self.path).st_size

    def position(self) -> tuple[int, int, int]:
        """(device, inode, size) of the file the runtime writes to now: where its last entry
        ends."""
        assert self._fd is not None
        stat = os.fstat(self._fd)
        return stat.st_dev, stat.st_ino, stat.st_size

    # -- the kubelet's rotation ----------------------------------------------------------------

    def rotated(self) -> list[Path]:
        """``<name>.*`` next to the file, sorted as the kubelet sorts them."""
        prefix = self.path.name + "."
        return sorted(p for p in self.path.parent.iterdir() if p.name.startswith(prefix))

    def rotate(self) -> Path:
        """The kubelet's ``rotateLog`` from start to end; the name the file was rotated to."""
        self.clean_and_compress()
        rotated = self.rename_latest()
        self.reopen()
        return rotated

    def clean_and_compress(self) -> None:
        """``cleanupUnusedLogs``, ``removeExcessLogs`` and ``compressLog`` of every rotated file
        not compressed yet."""
        logs = self.rotated()
        names = {p.name for p in logs}
        for p in logs:
            if p.name.endswith(".tmp") or p.name + ".gz" in names:
                p.unlink()
        logs = self.rotated()
        keep = max(self.max_files - 2, 0)
        for p in logs[: max(len(logs) - keep, 0)]:
            p.unlink()
        for p in self.rotated():
            if not p.name.endswith(".gz"):
                compress_as_kubelet(p)

    def rename_latest(self) -> Path:
        """``rotateLatestLog``'s rename: ``0.log`` to ``0.log.<YYYYMMDD-HHMMSS>`` (the runtime
        goes on writing to it until :meth:`reopen`). Two rotations never share a second here
        (the kubelet would rename over the earlier file)."""
        second = max(self.clock.now() // 1_000_000_000, self._last_rotation + 1)
        self._last_rotation = second
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(second))
        rotated = self.path.with_name(f"{self.path.name}.{stamp}")
        os.rename(self.path, rotated)
        self.rotations += 1
        return rotated

    def reopen(self) -> None:
        """containerd's ``ReopenContainerLog``: a new file at the path, the old one closed."""
        new = _open_append(self.path)
        if self._fd is not None:
            os.close(self._fd)
        self._fd = new

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def compress_as_kubelet(path: Path) -> Path:
    """``compressLog``: gzip to ``<name>.tmp``, rename that to ``<name>.gz``, remove the plain
    file."""
    tmp = path.with_name(path.name + ".tmp")
    with (
        open(path, "rb") as src,
        open(tmp, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb") as gz,
    ):
        shutil.copyfileobj(src, gz)
    compressed = path.with_name(path.name + ".gz")
    os.rename(tmp, compressed)
    path.unlink()
    return compressed


def _open_append(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)


def container_id(n: int) -> str:
    """A container ID as runtimes make them: 64 hex digits."""
    return f"{n:08x}" + "c0ffee42" * 7


@dataclass
class PodLogs:
    """``/var/log/pods`` and ``/var/log/containers`` of a node: pod directories with their
    containers' log files, and the kubelet's links to them."""

    pods_dir: Path
    links_dir: Path
    writers: list[CriLogWriter] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pods_dir.mkdir(parents=True, exist_ok=True)
        self.links_dir.mkdir(parents=True, exist_ok=True)

    def pod_dir(self, namespace: str, pod: str, uid: str) -> Path:
        return self.pods_dir / f"{namespace}_{pod}_{uid}"

    def container(
        self,
        namespace: str,
        pod: str,
        uid: str,
        container: str,
        *,
        restart: int = 0,
        id: str | None = None,
        link: bool = True,
        clock: Clock | None = None,
        max_files: int = 5,
        max_len: int = CRI_MAX_LINE_BYTES,
        offset_secs: int | None = None,
    ) -> CriLogWriter:
        """A container's ``<restart>.log`` (created as the runtime creates it when the container
        starts) and, with ``link``, the kubelet's link naming its ID."""
        path = self.pod_dir(namespace, pod, uid) / container / f"{restart}.log"
        log = CriLogWriter(
            path, clock=clock, max_files=max_files, max_len=max_len, offset_secs=offset_secs
        )
        self.writers.append(log)
        if link:
            self.link(log, id or container_id(len(self.writers)))
        return log

    def link(self, log: CriLogWriter, id: str) -> Path:
        """The kubelet's link to a container's log file, naming its ID."""
        pod_dir, container = log.path.parts[-3], log.path.parts[-2]
        namespace, pod, _ = pod_dir.split("_")
        link = self.links_dir / f"{pod}_{namespace}_{container}-{id}.log"
        link.symlink_to(log.path)
        return link

    def remove_pod(self, namespace: str, pod: str, uid: str) -> None:
        """The kubelet removing a deleted pod: its directory and its links go."""
        pod_dir = self.pod_dir(namespace, pod, uid)
        for link in self.links_dir.iterdir():
            if link.is_symlink() and str(os.readlink(link)).startswith(str(pod_dir)):
                link.unlink()
        shutil.rmtree(pod_dir)

    def close(self) -> None:
        for log in self.writers:
            log.close()


# -- Docker's json-file -------------------------------------------------------------------------


def go_json_string(data: bytes) -> bytes:
    """moby's ``ffjsonWriteJSONBytesAsString``: the bytes as a JSON string, as json-file
    writes the ``log`` field."""
    out = bytearray(b'"')
    text = data.decode("utf-8", "surrogateescape")
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8
            out += b"\\ufffd"
        elif ch in '\\"':
            out += b"\\" + ch.encode()
        elif ch == "\n":
            out += b"\\n"
        elif ch == "\r":
            out += b"\\r"
        elif code < 0x20 or ch in "<>&":
            out += f"\\u00{code:02x}".encode()
        elif ch in "\u2028\u2029":
            out += f"\\u202{code & 0xF:x}".encode()
        else:
            out += ch.encode()
    out += b'"'
    return bytes(out)


def json_entry(
    text: bytes, stream: str, ns: int, *, last: bool = True, attrs: dict[str, str] | None = None
) -> bytes:
    """One json-file line: ``marshalMessage`` + ``MarshalJSONBuf`` + the newline after it."""
    log = text + b"\n" if last else text
    parts = []
    if log:  # `json:"log,omitempty"`
        parts.append(b'"log":' + go_json_string(log))
    parts.append(b'"stream":' + go_json_string(stream.encode()))
    if attrs:  # json.Marshal of a map: keys sorted, compact, <>& escaped
        raw = json.dumps(attrs, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        raw = raw.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        parts.append(b'"attrs":' + raw.encode())
    parts.append(b'"time":"' + go_rfc3339nano(ns).encode() + b'"')
    return b"{" + b",".join(parts) + b"}\n"


def json_pieces(text: bytes, piece: int = DOCKER_PIECE_BYTES) -> Iterator[tuple[bytes, bool]]:
    """The messages moby's copier makes of one line: pieces of ``piece`` bytes, the last one
    (possibly empty, when the line is a multiple of ``piece``) ends the line."""
    while len(text) >= piece:
        yield text[:piece], False
        text = text[piece:]
    yield text, True


class JsonFileWriter:
    """A container's ``<id>-json.log`` as Docker's json-file driver writes it, with its
    ``max-size`` (bytes) / ``max-file`` / ``compress`` rotation."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock | None = None,
        max_size: int | None = None,
        max_file: int = 1,
        compress: bool = False,
        attrs: dict[str, str] | None = None,
        tty: bool = False,
    ) -> None:
        self.path = path
        self.clock = clock or Clock()
        self.max_size = max_size
        self.max_file = max_file
        self.compress = compress
        self.attrs = attrs
        self.tty = tty
        self.rotations = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = _open_append(path)
        self._size = os.fstat(self._fd).st_size

    def write(self, line: str | bytes, stream: str = "stdout", *, finished: bool = True) -> None:
        """One line of output (no newline in it). A TTY container's lines end ``\\r\\n`` (the
        terminal's doing), which json-file keeps. ``finished=False``: output that ended with
        no newline (the container exited): one last partial piece."""
        data = line.encode() if isinstance(line, str) else line
        if self.tty and finished:
            data += b"\r"
        for piece, last in json_pieces(data):
            self.write_entry(
                json_entry(piece, stream, self.clock(), last=last and finished, attrs=self.attrs)
            )

    def write_entry(self, entry: bytes) -> None:
        """``WriteLogEntry``: rotate first if the file is full, then one ``write``."""
        if self.max_size is not None and self._size >= self.max_size:
            self.rotate()
        assert self._fd is not None
        os.write(self._fd, entry)
        self._size += len(entry)

    def rotate(self) -> None:
        assert self._fd is not None
        os.close(self._fd)
        name = str(self.path)
        if self.max_file >= 2:
            ext = ".gz" if self.compress else ""
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{name}.{self.max_file - 1}{ext}")
            for i in range(self.max_file - 1, 1, -1):
                with contextlib.suppress(FileNotFoundError):
                    os.rename(f"{name}.{i - 1}{ext}", f"{name}.{i}{ext}")
            os.rename(name, f"{name}.1")
        else:
            os.unlink(name)
        self._fd = os.open(name, os.O_WRONLY | os.O_TRUNC | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self._size = 0
        self.rotations += 1
        if self.max_file >= 2 and self.compress:
            plain = Path(f"{name}.1")
            with open(plain, "rb") as src, gzip.open(f"{name}.1.gz", "wb") as gz:
                shutil.copyfileobj(src, gz)
            plain.unlink()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
