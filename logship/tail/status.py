"""The status line of ``logship tail`` on a terminal: containers followed, lines/s, drops,
redrawn in place below the lines."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

_CLEAR = "\r\x1b[K"  # to the line's start, erase to its end


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

    def __init__(self, stream: TextIO, *, interval_secs: float = 0.5) -> None:
        self.stream = stream
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

    def update(self, stats: TailStats) -> None:
        self.show(self.render(stats, time.monotonic()))

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

    async def run(self, stats: Callable[[], TailStats]) -> None:
        """Redraw every ``interval_secs`` with what ``stats()`` says, until cancelled."""
        self.render(stats(), time.monotonic())  # the first rate is measured from here
        while True:
            await asyncio.sleep(self.interval_secs)
            # the counts on the loop (they read what the agent changes), the drawing in a
            # thread (a terminal that does not read must not block the loop)
            text = self.render(stats(), time.monotonic())
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
