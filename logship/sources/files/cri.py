"""The kubelet's pod logs: every container of every pod on a Kubernetes node, read from the
files its runtime (containerd, CRI-O) writes, with no engine to ask.

The kubelet has the runtime write each container's output to
``<pods_dir>/<namespace>_<pod>_<pod uid>/<container>/<restart count>.log`` and links it as
``<links_dir>/<pod>_<namespace>_<container>-<container id>.log``. Each such file is one
container here (a restarted container is a new file, ``1.log``, and a new container ID): its
identity comes from the path (namespace, pod, pod UID, container name, restart count) and the
link (the container ID; without one, a stable ID made from the path). Records carry them as
the Kubernetes metadata of the Engine API source does (the kubelet's ``io.kubernetes.*``
labels), and the container's name is ``<pod>/<container>``.

New pods, containers and restarts are found by watching the directories (inotify), with a
rescan every :data:`RESCAN_SECS` as a safety net. A pod's directory removed means its
containers are over: each file is read to its end, then forgotten (with its checkpoint).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from logship.pipeline.flow import Backpressure
from logship.protocol.cri import CriDecoder
from logship.protocol.filelog import FileLogDecoder, SavedFile
from logship.protocol.jsonfile import JsonFileDecoder
from logship.record import (
    ContainerMeta,
    HostMeta,
    ResumePosition,
    normalize_timestamp,
    timestamp_ns,
)
from logship.sources.base import ContainerView, EngineStatus, ReadOptions, Resume, SourceStats
from logship.sources.files.pods import LOG_FILE, POD_DIR, PodLog, container_ids, read_path
from logship.sources.files.tail import (
    Emit,
    FileTail,
    HotFiles,
    StartAt,
    docker_rotated,
    end_position,
    kubelet_rotated,
)
from logship.sources.files.watch import Watcher
from logship.sources.filters import ContainerFilter
from logship.sources.held import HeldLines

log = logging.getLogger("logship.files")

RESCAN_SECS = 10.0
LINK_WAIT_SECS = 2.0
"""How long a log file found while running waits for the kubelet's link (made once the
runtime has started the container, a moment after it created the file) before it is
followed under an ID of its own."""
DECODER_COUNTS = ("bytes_read", "truncated", "malformed_lines", "bad_timestamps")


class CriContainer:
    """One container's log file as the source follows it (a ContainerView)."""

    def __init__(self, meta: ContainerMeta, path: Path, decoder: FileLogDecoder) -> None:
        self.meta = meta
        self.path = path
        self.read_path = path  # the file read: the path itself, or where it links to
        self.decoder = decoder
        self.skip_reason: str | None = None
        self.start: ResumePosition | None = None
        self.tail: FileTail | None = None
        self.task: asyncio.Task[None] | None = None
        self.gone = False  # its pod directory was removed

    @property
    def following(self) -> bool:
        return self.task is not None

    @property
    def position(self) -> ResumePosition | None:
        return self.decoder.position

    def counts(self) -> Mapping[str, int]:
        return {name: getattr(self.decoder, name) for name in DECODER_COUNTS}


class CriSource:
    """Follows every pod container's log file under ``pods_dir`` (a
    :class:`~logship.sources.base.Source`)."""

    def __init__(
        self,
        emit: Emit,
        *,
        host: HostMeta,
        pods_dir: Path,
        links_dir: Path,
        filter: ContainerFilter | None = None,
        options: ReadOptions | None = None,
        resume: Resume | None = None,
        rescan_secs: float = RESCAN_SECS,
        look_again_secs: float = 2.0,
        backpressure: Backpressure | None = None,
        held: HeldLines | None = None,
    ) -> None:
        self.backpressure = backpressure  # reading waits while a destination catches up
        self.emit = emit
        self.host = host
        self.pods_dir = pods_dir
        self.links_dir = links_dir
        self.filter = filter or ContainerFilter()
        self.options = options or ReadOptions()
        self.held = held or HeldLines(self.options.max_partial_bytes)
        resume = resume or Resume()
        self.resume = dict(resume.positions)
        self.created_after = resume.created_after
        self.rescan_secs = rescan_secs
        self.look_again_secs = look_again_secs
        self.tracked: dict[str, CriContainer] = {}
        self._by_path: dict[Path, CriContainer] = {}
        self._ready = asyncio.Event()
        self._rescan = asyncio.Event()
        self._watcher = Watcher()
        self._hot_files = HotFiles()  # one poll for every file written to lately
        self._watched: dict[Path, Callable[[str | None], None]] = {}  # directory: its wake
        self._unlinked: dict[Path, float] = {}  # new files with no link yet: since when
        self._error: str | None = None
        self._scans = 0
        self.read_errors = 0  # reads that failed, of the tails that ended

    # -- what the agent reads -------------------------------------------------------------------

    @property
    def ready(self) -> asyncio.Event:
        return self._ready

    def containers(self) -> Mapping[str, ContainerView]:
        return self.tracked

    def status(self) -> EngineStatus:
        endpoint = str(self.pods_dir)
        if self._error is not None:
            return EngineStatus(endpoint, connected=False, error=self._error)
        if not self._ready.is_set():
            return EngineStatus(endpoint, connected=False, error="not read yet")
        return EngineStatus(endpoint, connected=True)

    def stats(self) -> SourceStats:
        return SourceStats(
            connect_errors=0,
            events_errors=self._watcher.overflows,
            # a counter: the tails that ended are counted in read_errors
            stream_errors=self.read_errors
            + sum(c.tail.read_errors for c in self.tracked.values() if c.tail),
            events_skipped=0,
            quiet_streams=0,
            partial_splits=self.held.splits,
        )

    # -- lifecycle -------------------------------------------------------------------------------

    async def run(self) -> None:
        watcher = asyncio.create_task(self._watcher.run(), name="cri-watch")
        try:
            self._watch(self.pods_dir)
            self._watch(self.links_dir)  # a link made after its file was found
            self._scan(first=True)
            self.resume.clear()
            self._ready.set()
            log.info(
                "following %d container log files under %s",
                sum(1 for c in self.tracked.values() if c.task is not None),
                self.pods_dir,
            )
            while True:
                self._rescan.clear()
                # not wait_for: on Python 3.11 it returns a wake-up that comes with a cancel
                # and loses the cancel
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._next_scan_secs()):
                        await self._rescan.wait()
                self._scan(first=False)
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            await self._stop_tails()

    async def _stop_tails(self) -> None:
        tasks = [c.task for c in self.tracked.values() if c.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def stop(self) -> None:
        await self._stop_tails()
        self._watcher.close()

    def _next_scan_secs(self) -> float:
        """The rescan interval, or less when a new file's wait for its link ends before."""
        if not self._unlinked:
            return self.rescan_secs
        now = asyncio.get_running_loop().time()
        ends = min(self._unlinked.values()) + LINK_WAIT_SECS
        return max(0.0, min(self.rescan_secs, ends - now))

    # -- finding the files -----------------------------------------------------------------------

    def _watch(self, directory: Path) -> None:
        if directory in self._watched:
            return
        wake = functools.partial(self._changed, directory)
        # new, moved and deleted files only: the writes to a followed file are its tail's
        # news, and a line written at a time would wake the scan for every line
        if self._watcher.watch(directory, wake, writes=False):
            self._watched[directory] = wake

    def _changed(self, directory: Path, name: str | None) -> None:
        """Something changed in ``directory``: look through the pods again, unless it is news
        of a file followed (or waiting for its link) already, which its tail sees by itself:
        writes to them come thousands a second, a look costs a scandir per directory."""
        if name is None:
            self._rescan.set()
            return
        if name.endswith((".gz", ".tmp")):
            return
        path = directory / name
        if path not in self._by_path and path not in self._unlinked:
            self._rescan.set()

    def _scan(self, *, first: bool) -> None:
        """Every ``<pod>/<container>/<n>.log`` now: new ones are followed, those whose pod
        directory is gone are read to their end and let go."""
        try:
            pods = [Path(e.path) for e in os.scandir(self.pods_dir) if e.is_dir()]
        except OSError as exc:
            if self._error is None:
                log.warning("cannot read %s: %s", self.pods_dir, exc.strerror or exc)
            self._error = f"cannot read {self.pods_dir}: {exc.strerror or exc}"
            self._unlinked.clear()
            return
        self._error = None
        self._scans += 1
        found: set[Path] = set()
        ids: dict[tuple[str, str, str], str] | None = None
        for pod in pods:
            if POD_DIR.fullmatch(pod.name) is None:
                continue
            self._watch(pod)
            with contextlib.suppress(OSError):
                for container_dir in os.scandir(pod):
                    if not container_dir.is_dir():
                        continue
                    self._watch(Path(container_dir.path))
                    for entry in os.scandir(container_dir.path):
                        if LOG_FILE.fullmatch(entry.name) and entry.is_file():
                            path = Path(entry.path)
                            found.add(path)
                            if path not in self._by_path:
                                if ids is None:
                                    ids = container_ids(self.links_dir)
                                if first or self._linked(path, ids):
                                    self._consider(path, ids, first=first)
        for path, container in list(self._by_path.items()):
            if path not in found and not path.parent.exists() and not container.gone:
                container.gone = True  # the pod (or the container's directory) was removed
                if container.tail is not None:
                    container.tail.finish()
                elif container.task is None:
                    self._forget(container)
        for path in [p for p in self._unlinked if p not in found]:
            del self._unlinked[path]
        kept = (self.pods_dir, self.links_dir)
        for directory in [d for d in self._watched if d not in kept and not d.exists()]:
            self._watcher.unwatch(directory, self._watched.pop(directory))

    def _linked(self, path: Path, ids: dict[tuple[str, str, str], str]) -> bool:
        """Whether a file found while running is to be followed now: its link is there, or
        it waited :data:`LINK_WAIT_SECS` for it (its lines wait with it: it is read from its
        start)."""
        if (path.parts[-3], path.parts[-2], path.parts[-1]) in ids:
            self._unlinked.pop(path, None)
            return True
        now = asyncio.get_running_loop().time()
        since = self._unlinked.setdefault(path, now)
        if now - since < LINK_WAIT_SECS:
            return False
        del self._unlinked[path]
        return True

    def _consider(self, path: Path, ids: dict[tuple[str, str, str], str], *, first: bool) -> None:
        pod_log = PodLog.of(path)
        if pod_log is None:
            return
        container_id = ids.get((path.parts[-3], path.parts[-2], path.parts[-1]))
        read, json_file = read_path(path)
        meta = ContainerMeta(
            id=container_id or pod_log.fallback_id(),
            name=f"{pod_log.pod}/{pod_log.container}",
            image="",
            image_id="",
            host=self.host,
            labels=pod_log.labels(),
            kubernetes=pod_log.kubernetes(),
            # cri-dockerd's pod logs link to Docker's json-file logs; containerd's and CRI-O's
            # are the same format: which of the two, the file does not say
            runtime="docker" if json_file else "",
        )
        decoder: FileLogDecoder
        if json_file:  # cri-dockerd: the pod log links to the container's json-file log
            decoder = JsonFileDecoder(meta, max_line_bytes=self.options.max_line_bytes)
        else:
            decoder = CriDecoder(meta, max_line_bytes=self.options.max_line_bytes)
        container = CriContainer(meta, path, decoder)
        container.read_path = read
        self.tracked[meta.id] = container
        self._by_path[path] = container
        reason = self.filter.reason_to_skip(meta)
        if reason is not None:
            container.skip_reason = reason
            log.info("not following %s (%s): %s", meta.name, path, reason)
            return
        start = self._start_at(meta.id, path, first=first)
        if start.saved is not None:
            container.start = start.saved
        tail = FileTail(
            read,
            decoder,
            self.emit,
            rotated=docker_rotated if json_file else kubelet_rotated,
            start=start,
            look_again_secs=self.look_again_secs,
            backpressure=self.backpressure,
            held=self.held,
            hush=functools.partial(self._watcher.hush, read.parent),
            hot_files=self._hot_files,
        )
        container.tail = tail
        self._watcher.watch(read.parent, tail.wake)
        log.info("following %s (%s)", meta.name, path)
        container.task = asyncio.create_task(self._follow(container, tail), name=f"cri-{path}")

    def _start_at(self, container_id: str, path: Path, *, first: bool) -> StartAt:
        """Where to begin: a checkpoint (None: the whole log, none of it was shipped); a file
        found after the start, or born while no agent ran, or with --backlog: its start; else
        what is written from now on (as a position, which checkpoints fall back to until a
        line of it is shipped)."""
        if container_id in self.resume:
            saved = self.resume.pop(container_id)
            if isinstance(saved, SavedFile):
                return StartAt(saved=saved)
            if saved is None:
                return StartAt()
        if not first or self.options.since is None:
            return StartAt()
        if self.created_after is not None:
            born = _first_time(path)
            if born is not None and born >= timestamp_ns(self.created_after):
                return StartAt()
        at_end = end_position(path)
        return StartAt(saved=at_end) if at_end is not None else StartAt(end=True)

    async def _follow(self, container: CriContainer, tail: FileTail) -> None:
        try:
            await tail.run()
        finally:
            container.task = None
            container.tail = None
            self.read_errors += tail.read_errors
            self._watcher.unwatch(container.read_path.parent, tail.wake)
            if container.gone or not container.path.exists():
                self._forget(container)

    def _forget(self, container: CriContainer) -> None:
        self._by_path.pop(container.path, None)
        if self.tracked.get(container.meta.id) is container:
            del self.tracked[container.meta.id]


def _first_time(path: Path) -> int | None:
    """The time of a CRI log file's first line, in nanoseconds (None if it has none yet)."""
    try:
        with open(path, "rb") as f:
            first = f.readline(256)
    except OSError:
        return None
    stamp = first.split(b" ", 1)[0]
    try:
        return timestamp_ns(normalize_timestamp(stamp.decode("ascii")))
    except (ValueError, UnicodeDecodeError):
        return None
