"""Wakes whoever follows a directory's files when something happens in it: inotify through
asyncinotify, one instance for the whole source.

Readers never depend on it alone: they also look again every few seconds, so a lost event (the
kernel's queue overflowed, a watch could not be added) costs latency, never lines. Where
inotify cannot be had at all, that slow look is all there is, and the log says so once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncinotify import Inotify, Watch

log = logging.getLogger("logship.files")

Wake = Callable[[str | None], None]
"""Told the name of what changed in the directory (None: the directory itself)."""


def _mask(*, writes: bool = True) -> Any:
    """What to be told of in a directory; ``writes=False``: not of each write to a file in it
    (while its readers poll it)."""
    from asyncinotify import Mask

    return (Mask.MODIFY if writes else Mask(0)) | (
        Mask.CREATE
        | Mask.MOVED_TO
        | Mask.MOVED_FROM
        | Mask.DELETE
        | Mask.DELETE_SELF
        | Mask.CLOSE_WRITE
    )


class _Watched:
    """One directory's watch, whom to wake, and which of them want its files' writes."""

    __slots__ = ("deaf", "directory", "hushed", "wakes", "watch", "writes")

    def __init__(self, directory: Path, watch: Watch, writes: bool) -> None:
        self.directory = directory
        self.watch = watch
        self.wakes: list[Wake] = []
        self.deaf: list[Wake] = []  # woken by new, moved and deleted files only, never writes
        self.hushed = 0  # readers of the directory that poll their file
        self.writes = writes  # whether the watch's mask has MODIFY now

    def wants_writes(self) -> bool:
        return len(self.wakes) - len(self.deaf) > self.hushed


class Watcher:
    """Directories watched, each with whom to wake."""

    def __init__(self) -> None:
        self._inotify: Inotify | None = None
        self._failed = False
        self._watches: dict[Path, _Watched] = {}
        self._by_wd: dict[int, Path] = {}
        self.overflows = 0  # times the kernel's event queue overflowed (events were lost)

    def _instance(self) -> Inotify | None:
        if self._inotify is None and not self._failed:
            try:
                from asyncinotify import Inotify  # Linux only: imported where it is used

                self._inotify = Inotify()
            except (OSError, ImportError) as exc:
                self._failed = True
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                log.warning(
                    "cannot use inotify (%s): log files are looked at every few seconds instead",
                    reason,
                )
        return self._inotify

    def watch(self, directory: Path, wake: Wake, *, writes: bool = True) -> bool:
        """Wake ``wake`` on changes in ``directory``; False if it cannot be watched.
        ``writes=False``: not for the writes to its files (one who looks for new files only:
        a line written at a time would wake it for every line)."""
        entry = self._watches.get(directory)
        if entry is None:
            inotify = self._instance()
            if inotify is None:
                return False
            try:
                watch = inotify.add_watch(directory, _mask(writes=writes))
            except OSError as exc:
                log.debug("cannot watch %s: %s", directory, exc)
                return False
            entry = self._watches[directory] = _Watched(directory, watch, writes)
            self._by_wd[watch.wd] = directory
        entry.wakes.append(wake)
        if not writes:
            entry.deaf.append(wake)
        self._update(entry)
        return True

    def hush(self, directory: Path, hushed: bool) -> None:
        """A reader of ``directory`` polls its file (``hushed``) or waits for its writes again:
        the directory's write events are off while every reader of it that wants them polls."""
        entry = self._watches.get(directory)
        if entry is None:
            return
        entry.hushed = max(0, entry.hushed + (1 if hushed else -1))
        self._update(entry)

    def _update(self, entry: _Watched) -> None:
        """The watch's write events on or off, as its wakes now want them."""
        writes = entry.wants_writes()
        if writes == entry.writes or self._inotify is None:
            return
        entry.writes = writes
        with contextlib.suppress(OSError):
            # the same watch, a new mask
            self._inotify.add_watch(entry.directory, _mask(writes=writes))

    def unwatch(self, directory: Path, wake: Wake) -> None:
        entry = self._watches.get(directory)
        if entry is None:
            return
        with contextlib.suppress(ValueError):
            entry.wakes.remove(wake)
        with contextlib.suppress(ValueError):
            entry.deaf.remove(wake)
        if entry.wakes:
            self._update(entry)
            return
        del self._watches[directory]
        self._by_wd.pop(entry.watch.wd, None)
        if self._inotify is not None:
            with contextlib.suppress(OSError, ValueError):
                self._inotify.rm_watch(entry.watch)

    async def run(self) -> None:
        """Dispatch events until cancelled."""
        inotify = self._instance()
        if inotify is None:
            await asyncio.Event().wait()  # nothing to dispatch: the readers look by themselves
            return
        from asyncinotify import Mask

        async for event in inotify:
            if Mask.Q_OVERFLOW in event.mask:
                self.overflows += 1
                for each in list(self._watches.values()):
                    for wake in list(each.wakes):
                        wake(None)
                continue
            watch = event.watch
            directory = self._by_wd.get(watch.wd) if watch is not None else None
            if directory is None:
                continue
            entry = self._watches.get(directory)
            if entry is None:
                continue
            name = str(event.name) if event.name is not None else None
            for wake in list(entry.wakes):
                wake(name)

    def close(self) -> None:
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None
        self._watches.clear()
        self._by_wd.clear()
