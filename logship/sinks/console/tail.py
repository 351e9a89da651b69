"""``logship tail``: every container's lines, interleaved, each after its name in its own colour,
the way ``docker compose logs -f`` shows a project, but for the whole host; on a terminal, a
status line below them (containers followed, lines/s, drops), redrawn in place."""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, TextIO

from pydantic import ValidationError

from logship.config.filters import DestinationFilter
from logship.pipeline.router import Route
from logship.protocol.json import JsonEncoder
from logship.record import ContainerMeta, Record
from logship.sinks.console.sink import StreamWriter
from logship.sources.docker.filters import ContainerFilter

# the colours docker compose cycles through, bright ones after the plain ones
PALETTE = (36, 33, 32, 35, 34, 96, 93, 92, 95, 94)

_CLEAR = "\r\x1b[K"  # to the line's start, erase to its end


def colour_of(name: str) -> int:
    """The same name gets the same colour in every run (no per-process hash seed)."""
    return PALETTE[zlib.crc32(name.encode()) % len(PALETTE)]


@dataclass(frozen=True)
class TailStats:
    followed: int  # containers whose log is being read
    lines: int  # records read from the engine so far
    dropped: int  # records the output could not keep up with (the buffer dropped them)


class StatusLine:
    """The last line of the terminal, on stderr, rewritten in place every ``interval_secs``.

    Every write to the terminal goes through :meth:`around` (or a stream from :meth:`guard`),
    which takes the line away, writes, and puts it back: lines scroll up above it and it
    never ends up in the middle of the output.
    """

    def __init__(
        self, stream: TextIO, stats: Callable[[], TailStats], *, interval_secs: float = 0.5
    ) -> None:
        self.stream = stream
        self.stats = stats
        self.interval_secs = interval_secs
        self.text = ""
        self._shown = False
        self._lock = threading.RLock()  # a log line written while drawing must not deadlock
        # (time, lines) of the last few updates: the rate is measured over about 2 s
        self._samples: deque[tuple[float, int]] = deque(maxlen=max(int(2 / interval_secs), 1) + 1)

    def render(self, stats: TailStats, now: float) -> str:
        self._samples.append((now, stats.lines))
        then, lines_then = self._samples[0]
        rate = (stats.lines - lines_then) / (now - then) if now > then else 0.0
        plural = "" if stats.followed == 1 else "s"
        text = (
            f"following {stats.followed} container{plural}, {rate:,.0f} lines/s, "
            f"{stats.dropped:,} dropped"
        )
        try:
            width = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError):
            width = 0
        return text[: width - 1] if width > 1 else text  # 0: a terminal that has no size

    def _erase(self) -> None:
        if self._shown:
            self.stream.write(_CLEAR)
            self._shown = False

    def _draw(self) -> None:
        if self.text:
            self.stream.write(f"{_CLEAR}\x1b[7m{self.text}\x1b[0m")
            self._shown = True
        self.stream.flush()

    def around(self, write: Callable[[], object]) -> None:
        """Erase the line, ``write()``, draw it again (thread-safe)."""
        with self._lock:
            self._erase()
            self.stream.flush()
            try:
                write()
            finally:
                self._draw()

    def update(self) -> None:
        self.show(self.render(self.stats(), time.monotonic()))

    def show(self, text: str) -> None:
        with self._lock:
            self.text = text
            self._draw()

    def close(self) -> None:
        """Take the line away for good (the terminal is left as if it had never been there)."""
        with self._lock:
            self.text = ""
            self._erase()
            self.stream.flush()

    async def run(self) -> None:
        self.render(self.stats(), time.monotonic())  # the first rate is measured from here
        while True:
            await asyncio.sleep(self.interval_secs)
            # the counts on the loop (they read what the agent changes), the drawing in a
            # thread (a terminal that does not read must not block the loop)
            text = self.render(self.stats(), time.monotonic())
            await asyncio.to_thread(self.show, text)

    def guard(self, stream: TextIO) -> TextIO:
        """A stream (logging's stderr) whose writes go above the status line."""
        return _Guarded(stream, self)  # type: ignore[return-value]


class _Guarded:
    def __init__(self, stream: TextIO, status: StatusLine) -> None:
        self._stream = stream
        self._status = status

    def write(self, text: str) -> int:
        self._status.around(lambda: self._stream.write(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


class _WriterUnderStatus(StreamWriter):
    def __init__(self, out: BinaryIO | None, status: StatusLine) -> None:
        super().__init__(out)
        self.status = status

    def _write(self, data: bytes) -> None:
        self.status.around(lambda: StreamWriter._write(self, data))


class TailSink:
    def __init__(
        self,
        *,
        json: bool = False,
        colour: bool = False,
        timestamps: bool = False,
        grep: re.Pattern[str] | None = None,
        out: BinaryIO | None = None,
        status: StatusLine | None = None,
    ) -> None:
        self.name = "tail"
        self.json = JsonEncoder() if json else None
        self.colour = colour
        self.timestamps = timestamps
        self.grep = grep
        self.writer = StreamWriter(out) if status is None else _WriterUnderStatus(out, status)
        self.width = 0
        self._prefixes: dict[str, str] = {}

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _prefix(self, name: str) -> str:
        if len(name) > self.width:
            self.width = len(name)
            self._prefixes.clear()
        prefix = self._prefixes.get(name)
        if prefix is None:
            padded = name.ljust(self.width)
            if self.colour:
                prefix = f"\x1b[{colour_of(name)}m{padded} |\x1b[0m "
            else:
                prefix = f"{padded} | "
            self._prefixes[name] = prefix
        return prefix

    def format(self, batch: list[Record]) -> bytes:
        if self.grep is not None:
            search = self.grep.search
            batch = [r for r in batch if search(r.message)]
        if self.json is not None:
            return b"".join(self.json.encode(batch))
        prefix = self._prefix
        if self.timestamps:
            text = "".join(f"{prefix(r.meta.name)}{r.timestamp} {r.message}\n" for r in batch)
        else:
            text = "".join(f"{prefix(r.meta.name)}{r.message}\n" for r in batch)
        return text.encode()

    async def send(self, batch: list[Record]) -> None:
        data = self.format(batch)
        if data:
            await self.writer.write(data)


@dataclass(frozen=True)
class TailContainers(ContainerFilter):
    """The source's selection narrowed by tail's ``--filter``: a container whose every record
    the route would drop is never streamed from the engine at all."""

    route: Route | None = None

    def reason_to_skip(self, meta: ContainerMeta) -> str | None:
        reason = super().reason_to_skip(meta)
        if reason is None and self.route is not None and not self.route.wants_container(meta):
            return "not matched by --filter"
        return reason


# -- tail's options, checked before anything starts ---------------------------------------------

_FILTER_KEYS = ("name", "id", "sources", "labels")


def parse_filters(items: list[str], stream: str | None = None) -> DestinationFilter | None:
    """``--filter name=web*`` ``--filter labels=k:v`` (or ``filter.name=...``, as in a
    destination URI) and ``--stream``: one :class:`DestinationFilter`, the same a destination
    takes. ValueError naming the option and what was given."""
    given: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().removeprefix("filter.")
        if not sep or key not in _FILTER_KEYS:
            raise ValueError(
                f"--filter {item!r}: expected KEY=VALUE with KEY one of " + ", ".join(_FILTER_KEYS)
            )
        if key in ("name", "id"):
            if key in given and given[key] != value:
                raise ValueError(f"--filter {key}= given twice ({given[key]!r}, {value!r})")
            given[key] = value
        else:
            given.setdefault(key, []).extend(v.strip() for v in value.split(",") if v.strip())
    if stream is not None:
        if given.get("sources", [stream]) != [stream]:
            raise ValueError(f"--stream {stream} and --filter sources= disagree")
        given["sources"] = [stream]
    try:
        selection = DestinationFilter(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise ValueError(f"--filter: {problems}") from None
    return selection or None


def parse_tail_lines(text: str | None) -> int | None:
    """``--tail N`` (or ``all``, docker's way of saying the whole log)."""
    if text is None or text.strip().lower() == "all":
        return None
    try:
        lines = int(text)
    except ValueError:
        lines = -1
    if lines < 0:
        raise ValueError(f"--tail {text!r}: expected a number of lines (0 or more) or 'all'")
    return lines


def compile_grep(pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"--grep {pattern!r} is not a valid regular expression: {exc}") from None
