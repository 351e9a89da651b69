"""The Docker source: finds containers (list + ``/events``) and follows each one's log.

Per container one task reads the logs API. When a stream ends it asks again from the last
position it saw until the engine has nothing more: Docker 20.10 ends a follow stream early when
the container exits while the existing log is still being replayed, and a container restarted
by Docker keeps writing to the same log. Positions outlive the task, so a container that is
started again resumes where it stopped, with no line twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from logship.errors import DockerAPIError, DockerUnavailable, ProtocolError
from logship.pipeline.retry import Backoff
from logship.protocol.docker import DEFAULT_MAX_LINE_BYTES, LogDecoder, Position
from logship.record import (
    ContainerMeta,
    HostMeta,
    Record,
    format_timestamp_ns,
    normalize_timestamp,
    timestamp_ns,
)
from logship.sources.docker.client import DockerClient
from logship.sources.docker.filters import ContainerFilter
from logship.sources.docker.logstream import LogStream, read_logs

log = logging.getLogger("logship.docker")

_UNREADABLE_DRIVER = (400, 501)  # "configured logging driver does not support reading"
_GONE = (404, 409)  # no such container; "dead or marked for removal"
# inspects of a container tried when the engine answers with an error (not 404) before it is
# given up: given up at start, it was never followed and its saved position was forgotten
_INSPECT_TRIES = 3


def _now() -> str:
    return format_timestamp_ns(time.time_ns())


def meta_from_inspect(data: dict[str, Any], host: HostMeta) -> ContainerMeta:
    config = data.get("Config") or {}
    path = data.get("Path") or ""
    args = data.get("Args") or []
    return ContainerMeta(
        id=data["Id"],
        name=str(data.get("Name") or "").lstrip("/"),
        image=str(config.get("Image") or data.get("Image") or ""),
        image_id=str(data.get("Image") or ""),
        host=host,
        labels=dict(config.get("Labels") or {}),
        env=tuple(config.get("Env") or ()),
        command=" ".join([path, *args]).strip(),
        created=str(data.get("Created") or ""),
        tty=bool(config.get("Tty")),
    )


@dataclass(eq=False)
class Tracked:
    """What the source keeps per container for as long as the container exists."""

    meta: ContainerMeta
    decoder: LogDecoder
    skip_reason: str | None = None
    task: asyncio.Task[None] | None = None
    wake: bool = False  # a start event came while the task was finishing
    destroyed: bool = False
    lines: int = 0
    # where reading this container began (None: its whole log); checkpoints fall back to it
    start: Position | None = None
    stream: LogStream | None = None  # the follow stream open now, if any
    quiet_probes: int = 0  # checks of a quiet stream that found nothing newer, in a row
    probed_read: float = -1.0  # the stream's last read when it was last checked
    checking: bool = False  # a check of its quiet stream is under way


class DockerSource:
    """Follows every selected container and hands each decoded batch to ``emit``.

    ``since``: the oldest line to read of a container seen for the first time (a canonical
    timestamp, usually when the agent started; None for each container's whole log). A
    container seen before resumes where it was left. With ``follow=False`` the source reads
    what is there and returns. ``stopped=True`` also reads containers that are not running.
    ``wait_for_engine=False`` gives up at once when the engine cannot be reached.

    ``resume``: positions saved by an earlier run (container id -> position, None for the
    whole log); those containers are read from there, stopped ones too (what they wrote while
    logship was away). ``created_after``: a container seen for the first time, with no saved
    position, that was created at or after this canonical time is read from its start (it
    appeared while logship was away). ``quiet_stream_secs``: see :meth:`_watch_quiet`.
    """

    def __init__(
        self,
        client: DockerClient,
        emit: Callable[[list[Record]], None],
        *,
        host: HostMeta,
        filter: ContainerFilter | None = None,
        since: str | None = None,
        follow: bool = True,
        stopped: bool = False,
        wait_for_engine: bool = True,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        resume: dict[str, Position | None] | None = None,
        created_after: str | None = None,
        quiet_stream_secs: float = 0,
        tail: int | None = None,
        until: str | None = None,
    ) -> None:
        self.client = client
        self.emit = emit
        self.host = host
        self.filter = filter or ContainerFilter()
        self.since = since
        self.follow = follow
        self.stopped = stopped
        self.wait_for_engine = wait_for_engine
        self.max_line_bytes = max_line_bytes
        self.resume = dict(resume or {})
        self.created_after = created_after
        self.quiet_stream_secs = quiet_stream_secs
        self.tail = tail  # only the last N lines of a container read for the first time
        self.until = until  # a canonical timestamp: no line newer than it
        self.quiet_streams = 0  # follow streams found stuck and opened again
        self.containers: dict[str, Tracked] = {}
        self.ready = asyncio.Event()
        self.stream_errors = 0
        self.connect_errors = 0  # failed attempts to reach the engine at start
        self.events_errors = 0  # times the events stream broke
        self.engine_error: str | None = None  # why the engine is unreachable now, if it is
        self._pending: set[asyncio.Task[None]] = set()

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
                if not self.wait_for_engine:
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
        if not self.follow:
            await self._sync_running()
            self.ready.set()
            await self._wait_followers()
            return
        events_since = f"{time.time():.9f}"
        events = asyncio.create_task(self._watch_events(events_since), name="docker-events")
        quiet = None
        if self.quiet_stream_secs > 0:
            quiet = asyncio.create_task(self._watch_quiet(), name="docker-quiet-streams")
        try:
            await self._sync_running()
            self.resume.clear()  # saved positions of containers that are gone: not needed
            self.ready.set()
            log.info(
                "following %d containers",
                sum(1 for t in self.containers.values() if t.task is not None),
            )
            await events
        finally:
            events.cancel()
            if quiet is not None:
                quiet.cancel()
            await self.stop()

    async def stop(self) -> None:
        tasks = [t.task for t in self.containers.values() if t.task is not None]
        tasks += list(self._pending)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _wait_followers(self) -> None:
        while True:
            tasks = [t.task for t in self.containers.values() if t.task is not None]
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
        if self.created_after is not None and not self.ready.is_set():
            born_after = timestamp_ns(self.created_after) // 1_000_000_000
        catch_up = bool(resume) or born_after is not None
        for summary in await self.client.list_containers(stopped=self.stopped or catch_up):
            if not self.stopped and summary.get("State") != "running":
                created = summary.get("Created")  # Unix seconds
                if summary["Id"] not in resume and not (
                    born_after is not None and isinstance(created, int) and created >= born_after
                ):
                    continue
            tracked = self.containers.get(summary["Id"])
            if tracked is None or (tracked.task is None and tracked.skip_reason is None):
                await self._consider(summary["Id"])

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
        tracked = self.containers.get(container_id)
        if action == "start":
            if tracked is not None and tracked.task is not None:
                tracked.wake = True
            elif tracked is None or tracked.skip_reason is None:
                self._spawn(self._consider(container_id))
        elif action == "destroy":
            if tracked is not None:
                tracked.destroyed = True
                if tracked.task is None:
                    del self.containers[container_id]
        elif action == "rename":
            if tracked is not None:
                self._spawn(self._renamed(tracked))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _consider(self, container_id: str) -> None:
        backoff = Backoff(initial_secs=0.5, maximum_secs=2)
        for tries_left in range(_INSPECT_TRIES - 1, -1, -1):
            try:
                data = await self.client.inspect(container_id)
                break
            except DockerAPIError as exc:
                if exc.status == 404:
                    return
                if not tries_left:
                    log.warning("cannot inspect container %s: %s", container_id[:12], exc)
                    return
            await asyncio.sleep(backoff.next_delay())
        tracked = self.containers.get(container_id)
        if tracked is not None and tracked.task is not None:
            return  # someone else got here first
        meta = meta_from_inspect(data, self.host)
        if tracked is None:
            reason = self.filter.reason_to_skip(meta)
            position = self._first_position(meta)
            decoder = LogDecoder(
                meta, tty=meta.tty, position=position, max_line_bytes=self.max_line_bytes
            )
            tracked = Tracked(meta=meta, decoder=decoder, skip_reason=reason, start=position)
            self.containers[container_id] = tracked
            if reason is not None:
                log.info("not following %s (%s): %s", meta.name, meta.short_id, reason)
                return
        elif tracked.skip_reason is not None:
            return
        self._start(tracked)

    def _first_position(self, meta: ContainerMeta) -> Position | None:
        """Where to begin reading a container seen for the first time in this run."""
        if meta.id in self.resume:  # an earlier run shipped up to here
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
        return (self.since, 0) if self.since is not None else None

    def _start(self, tracked: Tracked) -> None:
        log.info(
            "following %s (%s, %s)", tracked.meta.name, tracked.meta.short_id, tracked.meta.image
        )
        tracked.task = asyncio.create_task(
            self._follow(tracked), name=f"logs-{tracked.meta.short_id}"
        )

    async def _renamed(self, tracked: Tracked) -> None:
        try:
            data = await self.client.inspect(tracked.meta.id)
        except DockerAPIError:
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

    # -- following -----------------------------------------------------------------------------

    async def _follow(self, tracked: Tracked) -> None:
        container_id = tracked.meta.id
        decoder = tracked.decoder
        backoff = Backoff(initial_secs=0.1, maximum_secs=5)
        last_seen: Position | None = None
        failing = False
        follow = self.follow
        # --tail: the first request only, for a container nothing was read of yet
        tail = self.tail if decoder.position == tracked.start else None

        def emit(records: list[Record]) -> None:
            tracked.lines += len(records)
            self.emit(records)

        def watch(stream: LogStream | None) -> None:
            tracked.stream = stream

        try:
            while True:
                tracked.wake = False
                if follow and self.until is not None and _now() > self.until:
                    follow = False  # past `until`: what is left up to it, once, then stop
                requested = _now() if tail is not None else ""
                try:
                    await read_logs(
                        self.client,
                        container_id,
                        decoder,
                        emit,
                        follow=follow,
                        watch=watch,
                        tail=tail,
                        until=self.until,
                    )
                except DockerAPIError as exc:
                    if exc.status in _GONE:
                        tracked.destroyed = exc.status == 404  # no such container any more
                        return
                    if exc.status in _UNREADABLE_DRIVER:
                        log.warning("cannot read the log of %s: %s", tracked.meta.name, exc)
                        tracked.skip_reason = str(exc)
                        return
                    failing = self._stream_failed(tracked, exc, failing)
                    await asyncio.sleep(backoff.next_delay())
                    continue
                except (ProtocolError, DockerUnavailable, OSError) as exc:
                    failing = self._stream_failed(tracked, exc, failing)
                    await asyncio.sleep(backoff.next_delay())
                    continue
                if tail is not None:
                    tail = None
                    if decoder.position == tracked.start:  # none of the last N lines came:
                        decoder.position = (requested, 0)  # the next request goes on from then
                if failing:
                    log.info("reading the log of %s again", tracked.meta.name)
                    failing = False
                backoff.reset()
                if not follow:
                    return
                seen = decoder.seen
                if seen != last_seen or tracked.wake:
                    last_seen = seen  # the engine may have ended early: ask again
                    continue
                try:
                    state = (await self.client.inspect(container_id)).get("State") or {}
                except DockerAPIError as exc:
                    if exc.status == 404:
                        return
                    raise
                if not state.get("Running") and not tracked.wake:
                    return
                await asyncio.sleep(0.05)
        finally:
            # the container is over (or logship is): a last line without newline is complete
            records = decoder.flush()
            if records:
                emit(records)
            tracked.task = None
            if tracked.destroyed:
                self.containers.pop(container_id, None)

    # -- streams that go quiet -------------------------------------------------------------------

    async def _watch_quiet(self) -> None:
        """Find follow streams that went silent while their container kept writing.

        Docker 20.10 can stop delivering a follow stream after json-file rotates the log (the
        reader misses the rotation): the container keeps writing, the stream says nothing,
        forever. A stream silent for ``quiet_stream_secs`` is checked with one cheap request
        (the log's last line, ``tail=1``); if that line is newer than what the stream
        delivered, the stream is opened again from its position, so nothing is read twice.
        A container that is really quiet is checked at doubling intervals (up to 32x), so
        idle containers cost almost nothing. Per line this costs nothing: the stream already
        notes the time of each socket read for its pacing.
        """
        period = self.quiet_stream_secs
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(period / 2)
            now = loop.time()
            for tracked in list(self.containers.values()):
                stream = tracked.stream
                if stream is None or tracked.checking:
                    continue
                if stream.last_read != tracked.probed_read:
                    tracked.quiet_probes = 0  # it spoke since the last check
                if now - stream.last_read >= period * (1 << tracked.quiet_probes):
                    tracked.checking = True
                    self._spawn(self._check_quiet(tracked, stream))

    async def _check_quiet(self, tracked: Tracked, stream: LogStream) -> None:
        last_read = stream.last_read
        newest: list[Record] = []
        probe = LogDecoder(tracked.meta, tty=tracked.meta.tty, max_line_bytes=1024)
        try:
            await read_logs(
                self.client, tracked.meta.id, probe, newest.extend, follow=False, tail=1
            )
            newest += probe.flush()
        except (DockerAPIError, ProtocolError, DockerUnavailable, OSError):
            return  # the follow stream itself will notice what is wrong
        finally:
            tracked.probed_read = last_read
            tracked.checking = False
        seen = tracked.decoder.seen
        if (
            newest
            and tracked.stream is stream
            and stream.last_read == last_read
            and (seen is None or newest[-1].timestamp > seen[0])
        ):
            self.quiet_streams += 1
            log.warning(
                "log stream of %s delivered nothing for %.0fs while the log has newer lines "
                "(up to %s): reading it again from %s",
                tracked.meta.name,
                asyncio.get_running_loop().time() - last_read,
                newest[-1].timestamp,
                seen[0] if seen else "its start",
            )
            tracked.quiet_probes = 0
            stream.reopen()
        else:
            tracked.quiet_probes = min(tracked.quiet_probes + 1, 5)

    def _stream_failed(self, tracked: Tracked, exc: BaseException, failing: bool) -> bool:
        self.stream_errors += 1
        if not failing:
            log.warning("log stream of %s failed, retrying: %s", tracked.meta.name, exc)
        return True
