"""The Docker source: finds containers (list + ``/events``) and follows each one's log through
the Engine API (:mod:`.follow`), checking streams that go quiet (:mod:`.quiet`).

Positions outlive a container's follow task, so a container that is started again resumes
where it stopped, with no line twice. A container seen for the first time starts at
``options.since``, or where an earlier run left it (:class:`~logship.sources.base.Resume`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Mapping
from typing import Any

from logship.errors import DockerAPIError, DockerUnavailable, ProtocolError
from logship.pipeline.retry import Backoff
from logship.protocol.docker import LogDecoder
from logship.protocol.filelog import FileLogDecoder, SavedFile
from logship.protocol.jsonfile import JsonFileDecoder
from logship.record import (
    ContainerMeta,
    HostMeta,
    ResumePosition,
    format_timestamp_ns,
    normalize_timestamp,
    timestamp_ns,
)
from logship.sources.base import ContainerView, EngineStatus, ReadOptions, Resume, SourceStats
from logship.sources.docker.client import DockerClient
from logship.sources.docker.files import JsonFiles
from logship.sources.docker.follow import Follower
from logship.sources.docker.logstream import Emit
from logship.sources.docker.quiet import QuietStreams
from logship.sources.docker.tracked import Tracked, meta_from_inspect
from logship.sources.filters import ContainerFilter
from logship.sources.held import HeldLines

log = logging.getLogger("logship.docker")

# inspects of a container tried when the engine answers with an error (not 404) before it is
# given up: given up at start, it was never followed and its saved position was forgotten
_INSPECT_TRIES = 3
# how long an inspect at start may take (an engine answers in milliseconds; one whose
# container's shim died may not answer for that container until it is fixed): then the source
# goes on with the others, and waits for that one's answer in the background
INSPECT_TIMEOUT_SECS = 20.0
# after ``until`` has passed, how often the source looks whether every follower is done
_UNTIL_POLL_SECS = 0.5


class DockerSource:
    """Follows every container ``filter`` selects and hands each decoded batch to ``emit``
    (a :class:`~logship.sources.base.Source`)."""

    def __init__(
        self,
        client: DockerClient,
        emit: Emit,
        *,
        host: HostMeta,
        filter: ContainerFilter | None = None,
        options: ReadOptions | None = None,
        resume: Resume | None = None,
        files: JsonFiles | None = None,
        held: HeldLines | None = None,
    ) -> None:
        self.client = client
        self.files = files  # source files: containers' json-file logs read from their files
        self.host = host
        self.filter = filter or ContainerFilter()
        self.options = options = options or ReadOptions()
        resume = resume or Resume()
        self.resume = dict(resume.positions)
        self.created_after = resume.created_after
        self.tracked: dict[str, Tracked] = {}
        self._ready = asyncio.Event()
        # what unfinished lines may hold, with the json-file readers' when they share it
        self.held = held or HeldLines(options.max_partial_bytes)
        self.follower = Follower(client, emit, options, self.held)
        self.quiet = QuietStreams(client, self.tracked, period_secs=options.quiet_stream_secs)
        self.connect_errors = 0  # failed attempts to reach the engine at start
        self.events_errors = 0  # times the events stream broke
        self.engine_error: str | None = None  # why the engine is unreachable now, if it is
        self._pending: set[asyncio.Task[None]] = set()
        self._late: set[str] = set()  # containers listed at start, still being asked about

    # -- what the agent reads -------------------------------------------------------------------

    @property
    def ready(self) -> asyncio.Event:
        return self._ready

    def containers(self) -> Mapping[str, ContainerView]:
        return self.tracked

    def status(self) -> EngineStatus:
        endpoint = str(self.client.endpoint)
        if self.engine_error is not None:
            return EngineStatus(endpoint, connected=False, error=self.engine_error)
        if not self._ready.is_set():
            return EngineStatus(endpoint, connected=False, error="not connected yet")
        return EngineStatus(endpoint, connected=True, api_version=self.client.api_version)

    def stats(self) -> SourceStats:
        return SourceStats(
            connect_errors=self.connect_errors,
            events_errors=self.events_errors,
            # the API's streams that failed, and reads of json-file logs that failed
            stream_errors=self.follower.stream_errors
            + (self.files.read_errors if self.files is not None else 0)
            + sum(t.tail.read_errors for t in self.tracked.values() if t.tail is not None),
            events_skipped=self.client.events_errors,
            invalid_ids=self.client.invalid_ids,
            quiet_streams=self.quiet.reopened,
            partial_splits=self.held.splits,
        )

    # -- lifecycle -----------------------------------------------------------------------------

    async def _connect(self) -> dict[str, Any]:
        """Negotiate with the engine; with ``wait_for_engine``, until it answers."""
        backoff = Backoff(initial_secs=0.5, maximum_secs=10)
        waiting = False
        while True:
            try:
                return await self.client.negotiate()
            except (DockerUnavailable, DockerAPIError) as exc:
                self.connect_errors += 1
                self.engine_error = str(exc)
                if not self.options.wait_for_engine:
                    raise
                if not waiting:
                    log.warning("%s; waiting for it", exc)
                    waiting = True
                await asyncio.sleep(backoff.next_delay())

    async def run(self) -> None:
        info = await self._connect()
        self.engine_error = None
        log.info(
            "connected to Docker %s (API %s) at %s",
            info.get("Version", "?"),
            self.client.api_version,
            self.client.endpoint,
        )
        if not self.options.follow:
            await self._sync_running()
            self._ready.set()
            await self._wait_followers()
            return
        events_since = f"{time.time():.9f}"
        watched = [asyncio.create_task(self._watch_events(events_since), name="docker-events")]
        if self.files is not None:
            watched.append(asyncio.create_task(self.files.run(), name="docker-files-watch"))
        if self.options.quiet_stream_secs > 0:
            watched.append(asyncio.create_task(self.quiet.run(), name="docker-quiet-streams"))
        try:
            await self._sync_running()
            # saved positions of containers that are gone: not needed (those still asked
            # about are kept for when the engine answers)
            self.resume = {k: v for k, v in self.resume.items() if k in self._late}
            self._ready.set()
            log.info(
                "following %d containers",
                sum(1 for t in self.tracked.values() if t.task is not None),
            )
            if self.options.until is not None:
                watched.append(asyncio.create_task(self._until_passed(self.options.until)))
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # the events watch never ends but by an error: raise it
        finally:
            for task in watched:
                task.cancel()
            await asyncio.gather(*watched, return_exceptions=True)
            await self._stop_followers()

    async def _until_passed(self, until: str) -> None:
        """At ``until`` every follow stream is ended; each container's follower then reads
        what is left up to ``until`` once, without following, and stops; then so does the
        source."""
        await asyncio.sleep(max(timestamp_ns(until) - time.time_ns(), 0) / 1e9 + 0.05)
        while followers := [t for t in self.tracked.values() if t.task is not None]:
            for tracked in followers:
                if tracked.stream is not None:
                    tracked.stream.reopen()
            await asyncio.wait([t.task for t in followers if t.task], timeout=_UNTIL_POLL_SECS)

    async def _stop_followers(self) -> None:
        tasks = [t.task for t in self.tracked.values() if t.task is not None]
        tasks += list(self._pending)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.quiet.stop()

    async def stop(self) -> None:
        await self._stop_followers()
        await self.client.close()
        if self.files is not None:
            self.files.close()

    async def _wait_followers(self) -> None:
        while True:
            tasks = [t.task for t in self.tracked.values() if t.task is not None]
            tasks += list(self._pending)
            if not tasks:
                return
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- discovery -----------------------------------------------------------------------------

    async def _sync_running(self) -> None:
        """Follow every running container (and stopped ones, if asked) not followed yet.

        At start after an earlier run, stopped containers too, when they have lines that run
        did not ship: those it saved a position for, and those created since it last saved.
        """
        resume = self.resume
        born_after = None
        if self.created_after is not None and not self._ready.is_set():
            born_after = timestamp_ns(self.created_after) // 1_000_000_000
        catch_up = bool(resume) or born_after is not None
        for summary in await self.client.list_containers(stopped=self.options.stopped or catch_up):
            if not self.options.stopped and summary.get("State") != "running":
                created = summary.get("Created")  # Unix seconds
                if summary["Id"] not in resume and not (
                    born_after is not None and isinstance(created, int) and created >= born_after
                ):
                    continue
            tracked = self.tracked.get(summary["Id"])
            if summary["Id"] in self._late:
                continue  # asked about in the background already
            if tracked is None or (tracked.task is None and tracked.skip_reason is None):
                await self._consider(summary["Id"], patient=False)

    async def _watch_events(self, since: str) -> None:
        backoff = Backoff(initial_secs=0.5, maximum_secs=10)
        broken = False
        while True:
            try:
                if broken:
                    await self._sync_running()
                    self.engine_error = None  # the engine answers again
                async for event in self.client.events(since):
                    if broken:
                        log.warning("Docker events stream is back")
                        broken = False
                    backoff.reset()
                    nanos = event.get("timeNano")
                    if isinstance(nanos, int):
                        since = f"{nanos // 1_000_000_000}.{nanos % 1_000_000_000:09d}"
                    self._on_event(event)
                raise DockerUnavailable("the engine ended the events stream")  # noqa: TRY301
            except (DockerUnavailable, DockerAPIError, ProtocolError) as exc:
                self.events_errors += 1
                self.engine_error = str(exc)
                if not broken:
                    log.warning("Docker events stream broke, reconnecting: %s", exc)
                    broken = True
                await asyncio.sleep(backoff.next_delay())

    def _on_event(self, event: dict[str, Any]) -> None:
        action = str(event.get("Action") or event.get("status") or "")
        actor = event.get("Actor") or {}
        container_id = str(actor.get("ID") or event.get("id") or "")
        if not container_id:
            return
        tracked = self.tracked.get(container_id)
        if action == "start":
            if tracked is not None:
                tracked.exited = False
            if tracked is not None and tracked.task is not None:
                tracked.wake = True
            elif tracked is None or tracked.skip_reason is None:
                self._spawn(self._consider(container_id))
        elif action == "die":
            if tracked is not None:
                tracked.exited = True
                if tracked.tail is not None:
                    tracked.tail.writer_stopped()  # its last line, even without a newline
        elif action == "destroy":
            if tracked is not None:
                tracked.destroyed = True
                if tracked.tail is not None:
                    tracked.tail.finish()  # its file: read to its end, then let go
                if tracked.task is None:
                    del self.tracked[container_id]
        elif action == "rename":
            if tracked is not None:
                self._spawn(self._renamed(tracked))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _consider(self, container_id: str, *, patient: bool = True) -> None:
        """Inspect the container and follow it if it is to be. ``patient=False`` (the listing
        at start): an inspect that takes over :data:`INSPECT_TIMEOUT_SECS` is left to a
        patient inspect in the background, so that one container stuck in the engine holds up
        neither the start nor the others."""
        late = patient and container_id in self._late
        try:
            data = await self._described(container_id, patient=patient)
        finally:
            if late:
                self._late.discard(container_id)
        if data is None:
            return
        if late:
            log.info("the engine described container %s at last", container_id[:12])
        tracked = self.tracked.get(container_id)
        if tracked is not None and tracked.task is not None:
            return  # someone else got here first
        meta = meta_from_inspect(data, self.host)
        if tracked is None:
            tracked = self._track(meta, data)
            if tracked.skip_reason is not None:
                log.info("not following %s (%s): %s", meta.name, meta.short_id, tracked.skip_reason)
                return
        elif tracked.skip_reason is not None:
            return
        if not (data.get("State") or {}).get("Running"):
            tracked.exited = True  # already over: what it wrote, its last line included
        self._start(tracked)

    async def _described(self, container_id: str, *, patient: bool) -> dict[str, Any] | None:
        """The container's inspect; None when it is gone, the engine keeps failing to describe
        it, or (``patient=False``) it did not answer in time and was left to the background."""
        backoff = Backoff(initial_secs=0.5, maximum_secs=2)
        for tries_left in range(_INSPECT_TRIES - 1, -1, -1):
            inspect = self.client.inspect(container_id)
            try:
                return await (
                    inspect if patient else asyncio.wait_for(inspect, INSPECT_TIMEOUT_SECS)
                )
            except TimeoutError:
                left = "not read" if not self.options.follow else "following the others meanwhile"
                log.warning(
                    "the engine has not described container %s in %.0f s (stuck in the "
                    "engine?): %s",
                    container_id[:12],
                    INSPECT_TIMEOUT_SECS,
                    left,
                )
                if self.options.follow:  # (a one-off read goes on without it)
                    self._late.add(container_id)
                    self._spawn(self._consider(container_id))
                return None
            except DockerAPIError as exc:
                if exc.status == 404:
                    return None
                if not tries_left:
                    log.warning("cannot inspect container %s: %s", container_id[:12], exc)
                    return None
            except ProtocolError:  # an answer about another container: counted, logged
                return None
            await asyncio.sleep(backoff.next_delay())
        return None  # not reached: the last try returns or raises

    def _track(self, meta: ContainerMeta, data: dict[str, Any]) -> Tracked:
        """A container seen for the first time: where to read it from, and how."""
        reason = self.filter.reason_to_skip(meta)
        position = self._first_position(meta)
        path, why = self.files.log_file(data) if self.files is not None else (None, "")
        decoder: LogDecoder | FileLogDecoder
        if path is not None:
            decoder = JsonFileDecoder(meta, max_line_bytes=self.options.max_line_bytes)
        else:
            if isinstance(position, SavedFile):  # a file's checkpoint: no use to the API
                log.info("%s: its checkpoint is in a file; reading from now", meta.name)
                position = self._first_position(meta, resumable=False)
            if why and reason is None:
                log.info("following %s through the Engine API: %s", meta.name, why)
            decoder = LogDecoder(
                meta,
                tty=meta.tty,
                position=position,  # the Engine API's (timestamp, entries), here
                max_line_bytes=self.options.max_line_bytes,
            )
        tracked = Tracked(meta=meta, decoder=decoder, skip_reason=reason, start=position)
        tracked.log_path = path
        tracked.found_at_start = not self._ready.is_set()
        self.tracked[meta.id] = tracked
        return tracked

    def _first_position(
        self, meta: ContainerMeta, *, resumable: bool = True
    ) -> ResumePosition | None:
        """Where to begin reading a container seen for the first time in this run."""
        if resumable and meta.id in self.resume:  # an earlier run shipped up to here
            return self.resume.pop(meta.id)
        if self.created_after is not None:
            try:
                created = normalize_timestamp(meta.created)
            except ValueError:
                created = ""
            if created >= self.created_after:
                return None  # born while logship was away: all of it is new
        # Every line since the source started is new to us, whether the container was
        # running then or started later (its earlier runs' lines are older than that);
        # ``since=None`` (backlog) means its whole log.
        since = self.options.since
        return (since, 0) if since is not None else None

    def _start(self, tracked: Tracked) -> None:
        log.info(
            "following %s (%s, %s)", tracked.meta.name, tracked.meta.short_id, tracked.meta.image
        )
        tracked.task = asyncio.create_task(
            self._follow(tracked), name=f"logs-{tracked.meta.short_id}"
        )

    async def _follow(self, tracked: Tracked) -> None:
        try:
            if tracked.log_path is not None and self.files is not None:
                await self.files.follow(tracked, found_at_start=tracked.found_at_start)
            else:
                await self.follower.follow(tracked)
        except Exception:  # a bug must not pass unseen: this container is no longer read
            log.exception("reading the log of %s failed; it is no longer read", tracked.meta.name)
        finally:
            tracked.task = None
            if tracked.destroyed:
                self.tracked.pop(tracked.meta.id, None)

    async def _renamed(self, tracked: Tracked) -> None:
        try:
            data = await self.client.inspect(tracked.meta.id)
        except (DockerAPIError, ProtocolError):
            return
        meta = meta_from_inspect(data, self.host)
        tracked.meta = meta
        tracked.decoder.meta = meta
        reason = self.filter.reason_to_skip(meta)
        if reason is not None and tracked.skip_reason is None:
            log.info("no longer following %s (%s): %s", meta.name, meta.short_id, reason)
            tracked.skip_reason = reason
            if tracked.task is not None:
                tracked.task.cancel()
        elif reason is None and tracked.skip_reason is not None:
            tracked.skip_reason = None
            tracked.decoder.position = (format_timestamp_ns(time.time_ns()), 0)
            if (data.get("State") or {}).get("Running"):
                self._start(tracked)
