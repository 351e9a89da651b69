"""The agent: builds the source, buffers and sinks from settings, runs them, shuts down cleanly.

``serve -> startup -> main loop -> shutdown``: SIGTERM or SIGINT stops reading, lets every
destination send what it holds for up to ``shutdown_grace_secs``, saves the checkpoints of what
was handled (with ``state_dir``), then exits 0; a second signal exits at once.

With ``state_dir``, each destination's route, runner and buffer report what it handled to a
:class:`~logship.state.progress.Progress`, and a :class:`~logship.state.checkpointer.Checkpointer`
saves every container's oldest needed position; the next start resumes from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from logship.config.destination import BatchConfig, DestinationConfig
from logship.config.filters import DestinationFilter
from logship.errors import ConfigError, DockerUnavailable, OutputClosed
from logship.pipeline.buffer import DropOldestBuffer
from logship.pipeline.retry import Backoff
from logship.pipeline.router import Route, Router
from logship.pipeline.runner import Sink, SinkRunner
from logship.pipeline.spool import Spool
from logship.protocol.docker import Position
from logship.record import HostMeta, format_timestamp_ns, timestamp_ns
from logship.settings import Settings
from logship.sinks.console.config import ConsoleConfig
from logship.sinks.registry import build_sink
from logship.sources.docker.client import DockerClient
from logship.sources.docker.filters import ContainerFilter, Selector
from logship.sources.docker.source import DockerSource
from logship.state.checkpointer import Checkpointer
from logship.state.checkpoints import CheckpointStore
from logship.state.progress import Progress

if TYPE_CHECKING:
    from logship.server.app import OperatorServer

log = logging.getLogger("logship")

# how long finding a new container may take (events, inspect) on a busy engine; see
# Agent._load_checkpoints
_FIND_MARGIN_SECS = 10.0


def primary_ip() -> str:
    """The address this host uses to reach the outside (no packet is sent)."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: connect() on UDP only picks a route
        address: str = s.getsockname()[0]
        return address
    with contextlib.suppress(OSError):
        return socket.gethostbyname(socket.gethostname())
    return "127.0.0.1"


def fqdn() -> str:
    """This host's fully qualified name, as ``hostname -f`` finds it.

    Not :func:`socket.getfqdn`, which answers ``localhost`` when the host name maps to
    127.0.0.1 in /etc/hosts, as it does in many containers and VMs.
    """
    name = socket.gethostname()
    with contextlib.suppress(OSError):
        for *_, canonical, _ in socket.getaddrinfo(name, None, flags=socket.AI_CANONNAME):
            if canonical and canonical != "localhost":
                return canonical
    return name


def resolve_host(settings: Settings) -> HostMeta:
    return HostMeta(
        name=settings.hostname or fqdn(),
        ip=settings.host_ip or primary_ip(),
    )


def container_filter(settings: Settings) -> ContainerFilter:
    inc, exc = settings.include, settings.exclude
    return ContainerFilter(
        include=Selector(inc.names, inc.images, inc.labels),
        exclude=Selector(exc.names, exc.images, exc.labels),
    )


@dataclass
class Destination:
    runner: SinkRunner
    route: Route
    config: DestinationConfig | None = None
    task: asyncio.Task[None] | None = None


class Agent:
    def __init__(
        self,
        settings: Settings,
        *,
        sinks: list[Sink] | None = None,
        since: str | None = None,
        follow: bool = True,
        stopped: bool = False,
        wait_for_engine: bool = True,
        sink_filter: DestinationFilter | None = None,
        tail: int | None = None,
        until: str | None = None,
    ) -> None:
        self.settings = settings
        self.client = DockerClient.connect_to(settings.docker_host, settings.docker_tls())
        if sinks is None:
            self.destinations = [
                self._destination(build_sink(config), config)
                for config in settings.destinations or [ConsoleConfig()]
            ]
        else:
            self.destinations = [self._destination(sink, None, sink_filter) for sink in sinks]
        self.router = Router([d.route for d in self.destinations])
        if since is None and not settings.backlog:
            since = format_timestamp_ns(time.time_ns())
        # checkpoints: `logship run` only (`tail` never touches an agent's state directory)
        state_dir = settings.state_dir if sinks is None else None
        self.store = CheckpointStore(state_dir) if state_dir is not None else None
        resume, created_after = self._load_checkpoints()
        if state_dir is not None:
            self._open_spools(state_dir)
        self.source = DockerSource(
            self.client,
            self.router.emit,
            host=resolve_host(settings),
            filter=container_filter(settings),
            since=since,
            follow=follow,
            stopped=stopped,
            wait_for_engine=wait_for_engine,
            max_line_bytes=settings.max_line_bytes,
            resume=resume,
            created_after=created_after,
            quiet_stream_secs=settings.quiet_stream_secs if follow else 0,
            tail=tail,
            until=until,
        )
        self.checkpointer: Checkpointer | None = None
        if self.store is not None:
            progresses = [self._track_progress(d) for d in self.destinations]
            self.checkpointer = Checkpointer(
                self.store,
                self.source,
                progresses,
                interval_secs=settings.checkpoint_interval_secs,
            )
        self._checkpoints: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._signals = 0
        # the operator's HTTP server: `logship run` only (`tail`'s own sinks never bind the port
        # an agent on the same host holds)
        self.http = settings.http if sinks is None else None
        self.server: OperatorServer | None = None
        self.stopping = False

    def _destination(
        self,
        sink: Sink,
        config: DestinationConfig | None,
        sink_filter: DestinationFilter | None = None,
    ) -> Destination:
        """A sink with its own bounded buffer, batching, retry pacing and filter."""
        limits = self.settings.buffer
        buffer = DropOldestBuffer(
            max_records=(config and config.buffer_max_records) or limits.max_records,
            max_bytes=(config and config.buffer_max_bytes) or limits.max_bytes,
            name=sink.name,
        )
        batch = config.batch if config is not None else BatchConfig()
        maximum = getattr(config, "reconnect_max_secs", 30.0)
        runner = SinkRunner(
            sink,
            buffer,
            max_batch=batch.max_records,
            linger_secs=batch.timeout_secs,
            backoff=Backoff(initial_secs=0.2, maximum_secs=maximum),
        )
        return Destination(runner, Route(buffer, config.filter if config else sink_filter), config)

    def _load_checkpoints(self) -> tuple[dict[str, Position | None] | None, str | None]:
        """Positions saved by the last run, and since when containers are new to us.

        A container with no saved position is one the last run never followed, or found
        less than one checkpoint interval before it stopped. So one created after the file
        was last written (minus an interval and a margin for finding it) appeared while
        logship was away, or just before: its whole log is read. An older one was not
        followed then (it was excluded, or ignored): the usual rule applies (from now, or
        its whole log with --backlog).
        """
        if self.store is None:
            return None, None
        self.store.open()
        saved = self.store.load()
        if saved.written_at is None:
            return saved.positions, None
        margin_ns = int((self.settings.checkpoint_interval_secs + _FIND_MARGIN_SECS) * 1e9)
        created_after = format_timestamp_ns(timestamp_ns(saved.written_at) - margin_ns)
        log.info(
            "resuming %d containers from %s (last written %s)",
            len(saved.positions),
            self.store.path,
            saved.written_at,
        )
        return saved.positions, created_after

    def _open_spools(self, state_dir: Path) -> None:
        """The disk spool of each destination that has one, in <state_dir>/spool/<key>/."""
        keys: set[str] = set()
        for d in self.destinations:
            if d.config is None or not d.config.spool.enabled:
                continue
            key = base = d.config.spool_key()
            n = 1
            while key in keys:  # the same destination twice: a spool each
                n += 1
                key = f"{base}-{n}"
            keys.add(key)
            options = d.config.spool
            spool = Spool(
                state_dir / "spool" / key,
                max_bytes=options.max_bytes,
                segment_bytes=options.segment_size(),
                name=d.runner.sink.name,
            )
            try:
                spool.open()
            except OSError as exc:
                raise ConfigError(
                    f"destinations: cannot use the disk spool {str(spool.dir)!r} of "
                    f"{d.runner.sink.name!r}: {exc.strerror or exc}"
                ) from None
            d.runner.spool = spool
            d.runner.buffer.on_discard = spool.add
            d.runner.buffer.spills = True
        spools = state_dir / "spool"
        if spools.is_dir():
            for orphan in sorted(p for p in spools.iterdir() if p.name not in keys):
                if any(orphan.glob("*.seg")):
                    log.warning(
                        "disk spool %s belongs to no destination configured now; what it "
                        "holds is not sent (give a destination a name to keep its spool "
                        "across changes of its options)",
                        orphan,
                    )

    @staticmethod
    def _track_progress(destination: Destination) -> Progress:
        """What the destination has handled: sent, refused for good, dropped (or spooled),
        filtered out."""
        progress = Progress()
        destination.route.progress = progress
        destination.runner.progress = progress
        spool = destination.runner.spool
        if spool is None:
            destination.runner.buffer.on_discard = progress.discarded
        else:  # what the buffer sheds is handled once it is on disk
            spool.on_stored = progress.discarded
        return progress

    # -- lifecycle -----------------------------------------------------------------------------

    async def run(self) -> int:
        """Run until the source is done (``follow=False``), a signal, or stdout closing."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._on_signal, sig)
        if self.http is not None and not await self._serve_http(self.http):
            return 1
        for d in self.destinations:
            d.task = asyncio.create_task(d.runner.run(), name=f"sink-{d.runner.sink.name}")
        source = asyncio.create_task(self.source.run(), name="docker-source")
        if self.checkpointer is not None:
            self._checkpoints = asyncio.create_task(self.checkpointer.run(), name="checkpoints")
        stop = asyncio.create_task(self._stop.wait(), name="stop")
        watched = {source, stop, *(d.task for d in self.destinations if d.task)}
        exit_code = 0
        try:
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is stop or task.cancelled():
                    continue
                exc = task.exception()
                if isinstance(exc, OutputClosed):
                    log.debug("output closed, stopping")
                elif isinstance(exc, DockerUnavailable):
                    log.error("%s", exc)
                    exit_code = 1
                elif exc is not None:
                    log.error("%s stopped: %r", task.get_name(), exc, exc_info=exc)
                    exit_code = 1
        finally:
            stop.cancel()
            self.stopping = True  # /readyz says so while what is buffered drains
            await self.shutdown(source)
            if self.server is not None:
                await self.server.stop()
        return exit_code

    async def _serve_http(self, listen: str) -> bool:
        from logship.server.app import ListenError, OperatorServer  # aiohttp.web only if asked

        self.server = OperatorServer(self, listen)
        try:
            await self.server.start()
        except ListenError as exc:
            log.error("%s", exc)  # noqa: TRY400 - the message says it all; no traceback
            self.server = None
            await self.client.close()
            return False
        return True

    def _on_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        if self._signals > 1:
            log.warning("second %s: exiting now", sig.name)
            os._exit(130 if sig == signal.SIGINT else 143)
        log.info(
            "%s: finishing what is buffered (up to %.0fs)",
            sig.name,
            self.settings.shutdown_grace_secs,
        )
        self._stop.set()

    def request_stop(self) -> None:
        self._stop.set()

    @staticmethod
    def _park(d: Destination) -> None:
        """What the destination could not send in time goes to its spool, on disk before the
        checkpoints are saved: a batch it was sending first, then what its buffer holds."""
        runner, spool = d.runner, d.runner.spool
        assert spool is not None
        buffer = runner.buffer
        front = runner.unsent if runner.in_flight is not None else []
        spool.park(front, buffer.take(len(buffer)) if len(buffer) else [])
        if runner.in_flight is not None and runner.progress is not None:
            runner.progress.done(runner.in_flight)  # sent in part, on disk for the rest
        runner.in_flight = None
        spool.close()
        if spool.records or spool.dropped or spool.damaged:
            log.warning(
                "%s: %d records kept in the disk spool for the next start (%d bytes); "
                "%d dropped because it was full, %d lost to damage",
                runner.sink.name,
                spool.records,
                spool.bytes,
                spool.dropped,
                spool.damaged,
            )

    async def shutdown(self, source: asyncio.Task[None]) -> None:
        source.cancel()
        await asyncio.gather(source, return_exceptions=True)
        await self.source.stop()
        for d in self.destinations:
            d.runner.buffer.close()
        tasks = [d.task for d in self.destinations if d.task is not None and not d.task.done()]
        # a destination that is down and has a disk spool loses nothing by not waiting for it:
        # what it holds goes to disk now, rather than after the whole grace period
        for d in self.destinations:
            if d.task is not None and d.runner.spool is not None and not d.runner.up:
                log.info("%s: down; what it holds goes to the disk spool now", d.runner.sink.name)
                d.task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.settings.shutdown_grace_secs)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for d in self.destinations:
            if d.runner.spool is not None:
                self._park(d)
        for d in self.destinations:
            buffer = d.runner.buffer
            if d.runner.spool is not None:
                continue
            if len(buffer) or buffer.dropped:
                log.warning(
                    "%s: %d records left unsent, %d dropped while the buffer was full",
                    d.runner.sink.name,
                    len(buffer),
                    buffer.dropped,
                )
        if self.checkpointer is not None:
            # only what every destination handled: unsent records are read again next time
            if self._checkpoints is not None:
                self._checkpoints.cancel()
                await asyncio.gather(self._checkpoints, return_exceptions=True)
            self.checkpointer.save()
        if self.store is not None:
            self.store.close()
        await self.client.close()
