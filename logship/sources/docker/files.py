"""``source: files``: a Docker host's containers read from their json-file logs.

Discovery, metadata and events still come from the Engine API (the Docker source); only the
lines come from ``<docker_root>/containers/<id>/<id>-json.log`` and its rotated files, read by
a :class:`~logship.sources.files.tail.FileTail` that holds them open, so the engine serves no
log stream and a rotation loses nothing. A container whose log driver is not json-file, or
whose file cannot be read, is followed through the Engine API as with ``source: docker``, and
the log says so once.

Where a container's reading starts: a checkpoint in its file; a checkpoint of the Engine API
source (a time: the file is read from its start, lines before that time passed over); a
container already running when the agent started: the end of its file (what it writes from
then on, as ``since`` = the agent's start means for the API); any other: its whole file, lines
older than ``since`` passed over (a container started again keeps its earlier runs' lines).
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any

from logship.pipeline.flow import Backpressure
from logship.protocol.filelog import FileLogDecoder, SavedFile
from logship.record import Record, ResumePosition
from logship.sources.base import ReadOptions
from logship.sources.docker.logstream import Emit
from logship.sources.docker.tracked import Tracked
from logship.sources.files.tail import FileTail, HotFiles, StartAt, docker_rotated
from logship.sources.files.watch import Watcher
from logship.sources.held import HeldLines

log = logging.getLogger("logship.docker")

JSON_FILE = "json-file"


class JsonFiles:
    """Reads containers' json-file logs under ``docker_root`` (as this process sees the
    engine's data root), handing each batch to ``emit``."""

    def __init__(
        self,
        emit: Emit,
        options: ReadOptions,
        *,
        docker_root: Path,
        backpressure: Backpressure | None = None,
        held: HeldLines | None = None,
    ) -> None:
        self.emit = emit
        # what unfinished lines may hold, shared with the source's Engine API readers
        self.held = held or HeldLines(options.max_partial_bytes)
        self.backpressure = backpressure
        self.options = options
        self.docker_root = docker_root
        self.watcher = Watcher()
        self.hot_files = HotFiles()  # one poll for every file written to lately
        self.read_errors = 0  # of the tails that ended (live ones count their own)

    async def run(self) -> None:
        await self.watcher.run()

    def close(self) -> None:
        self.watcher.close()

    def log_file(self, data: dict[str, Any]) -> tuple[Path | None, str]:
        """The json-file log of the container ``data`` (an inspect) describes, or None and
        why it has to be read through the Engine API."""
        config = (data.get("HostConfig") or {}).get("LogConfig") or {}
        driver = str(config.get("Type") or "")
        if driver != JSON_FILE:
            return None, f"its log driver is {driver or 'not known'}, not json-file"
        given = str(data.get("LogPath") or "")
        if not given:
            return None, "the engine gives no LogPath for it"
        # the engine's own path, or the same file under docker_root (mounted elsewhere here)
        for path in (Path(given), self.docker_root / "containers" / data["Id"] / Path(given).name):
            if os.access(path, os.R_OK) or os.access(path.parent, os.R_OK | os.X_OK):
                return path, ""
        return None, f"{given} cannot be read here (mount {self.docker_root}, --docker-root)"

    async def follow(self, tracked: Tracked, *, found_at_start: bool) -> None:
        """Read the container's files for as long as it exists (or the task is cancelled).

        A container that stops is not let go: its file is watched at no cost and a restart
        writes on in the same file. When it stops, a last line it left without a newline is
        shipped as a line, as the Engine API's stream ends with it. The engine's destroy event
        ends the reading, once the file is read to its end.
        """
        path, decoder = tracked.log_path, tracked.decoder
        assert path is not None and isinstance(decoder, FileLogDecoder)
        tail = FileTail(
            path,
            decoder,
            self._emitter(tracked),
            rotated=docker_rotated,
            start=self._start_at(tracked, found_at_start=found_at_start),
            # max-file=1 deletes the file and makes a new one: only the engine's destroy event
            # says the container is gone
            end_when_deleted=False,
            backpressure=self.backpressure,
            held=self.held,
            hush=functools.partial(self.watcher.hush, path.parent),
            hot_files=self.hot_files,
        )
        tracked.tail = tail
        if tracked.exited:  # stopped before its reader was there to be told
            tail.writer_stopped()
        self.watcher.watch(path.parent, tail.wake)
        try:
            await tail.run()
        finally:
            self.watcher.unwatch(path.parent, tail.wake)
            tracked.tail = None
            self.read_errors += tail.read_errors

    def _start_at(self, tracked: Tracked, *, found_at_start: bool) -> StartAt:
        position = tracked.decoder.position
        if position is not None and len(position) == 3:  # read before in this run
            if isinstance(tracked.decoder, FileLogDecoder):
                tracked.decoder.rewind()  # what it held of an unfinished line is read again
            return self._resume(position)
        begin = tracked.start
        if isinstance(begin, SavedFile):
            return StartAt(saved=begin)
        since = self.options.since
        if found_at_start and begin is not None and since is not None and begin == (since, 0):
            return StartAt(end=True)
        return StartAt()

    @staticmethod
    def _resume(position: ResumePosition | None) -> StartAt:
        if position is None or len(position) != 3:
            return StartAt()
        return StartAt(saved=SavedFile.of(position))

    def _emitter(self, tracked: Tracked) -> Emit:
        """``emit``, counting per container and, while reading from a time (an Engine API
        checkpoint, or ``since``), passing over the lines before it."""
        begin = tracked.start
        skip: tuple[str, int] | None = None
        if begin is not None and not isinstance(begin, SavedFile) and isinstance(begin[0], str):
            skip = (begin[0], begin[1])
        forward = self.emit

        def emit(records: list[Record]) -> None:
            nonlocal skip
            if skip is not None:
                first = 0
                while (
                    first < len(records)
                    and (
                        records[first].timestamp,
                        records[first].seq,
                    )
                    < skip
                ):
                    first += 1
                if first == len(records):
                    return
                skip = None  # past it: the lines after come in order
                records = records[first:]
            tracked.lines += len(records)
            forward(records)

        return emit
