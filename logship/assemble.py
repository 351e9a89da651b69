"""Builds what ``logship run`` runs from its settings, in one place, every part through its
constructor: the destinations (sink, buffer, spool), the router, the Docker source, the
checkpoints and the operator's HTTP server, then the :class:`~logship.agent.Agent` that runs
them. ``logship tail`` builds its own from the same pieces (:mod:`logship.tail`).

A line's way, as wired here: ``DockerSource -> Router.emit -> Route (filter) -> buffer ->
SinkRunner -> sink``; each destination's :class:`~logship.state.progress.Progress` observes it,
and the :class:`~logship.state.checkpointer.Checkpointer` reads them all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from logship.agent import Agent, OperatorWindow
from logship.pipeline.flow import Backpressure
from logship.pipeline.router import Router
from logship.pipeline.running import Destinations, Reloads
from logship.record import format_timestamp_ns, timestamp_ns
from logship.reload import Reconfigurator, specs
from logship.settings import Settings
from logship.sinks.base import SinkContext
from logship.sources.base import ReadOptions, Resume, Source
from logship.sources.choice import choose_source
from logship.sources.files.cri import CriSource
from logship.sources.filters import ContainerFilter, Selector
from logship.sources.held import HeldLines
from logship.sources.host import host_meta
from logship.state.checkpointer import Checkpointer
from logship.state.checkpoints import CheckpointStore
from logship.state.identity import agent_identity
from logship.transform.multiline import stage_of
from logship.transform.parse import ParseStage

if TYPE_CHECKING:
    from logship.sources.docker.client import DockerClient
    from logship.sources.docker.files import JsonFiles
    from logship.sources.docker.logstream import Emit
    from logship.sources.docker.source import DockerSource

log = logging.getLogger("logship")

# how long finding a new container may take (events, inspect) on a busy engine; see
# resume_from
FIND_MARGIN_SECS = 10.0


def container_filter(settings: Settings) -> ContainerFilter:
    """The containers ``include`` and ``exclude`` select (and that do not opt out, if their
    opting out is honoured)."""
    inc, exc = settings.include, settings.exclude
    return ContainerFilter(
        include=Selector(inc.names, inc.images, inc.labels),
        exclude=Selector(exc.names, exc.images, exc.labels),
        honor_ignore=settings.honor_ignore,
    )


def docker_client(settings: Settings) -> DockerClient:
    """The Engine API client of ``settings``. Its module (and aiohttp, some 10 MiB of the
    agent's memory) is loaded only by the sources that talk to the engine: ``source: cri``
    never does (bench/README.md, issue #12's memory target)."""
    from logship.sources.docker.client import DockerClient

    return DockerClient.connect_to(settings.docker_host, settings.docker_tls())


def docker_source(
    settings: Settings,
    emit: Emit,
    *,
    filter: ContainerFilter | None = None,
    options: ReadOptions,
    resume: Resume | None = None,
    files: JsonFiles | None = None,
    held: HeldLines | None = None,
) -> DockerSource:
    """The Docker source of ``settings`` (its engine, host, selection), handing batches to
    ``emit``; with ``files``, reading json-file logs from their files (sharing ``held``)."""
    from logship.sources.docker.source import DockerSource

    return DockerSource(
        docker_client(settings),
        emit,
        host=host_meta(settings.hostname, settings.host_ip),
        filter=filter or container_filter(settings),
        options=options,
        resume=resume,
        files=files,
        held=held,
    )


def resume_from(store: CheckpointStore, interval_secs: float) -> Resume:
    """Positions saved by the last run, and since when containers are new to us.

    A container with no saved position is one the last run never followed, or found less
    than one checkpoint interval before it stopped. So one created after the file was last
    written (minus an interval and a margin for finding it) appeared while logship was away,
    or just before: its whole log is read. An older one was not followed then (it was
    excluded, or ignored): the usual rule applies (from now, or its whole log with
    --backlog).
    """
    saved = store.load()
    if saved.written_at is None:
        return Resume(saved.positions)
    margin_ns = int((interval_secs + FIND_MARGIN_SECS) * 1e9)
    created_after = format_timestamp_ns(timestamp_ns(saved.written_at) - margin_ns)
    log.info(
        "resuming %d containers from %s (last written %s)",
        len(saved.positions),
        store.path,
        saved.written_at,
    )
    return Resume(saved.positions, created_after)


def source_of(
    kind: str,
    settings: Settings,
    emit: Emit,
    *,
    options: ReadOptions,
    resume: Resume | None = None,
    backpressure: Backpressure | None = None,
) -> Source:
    """The source ``kind`` names, handing batches to ``emit``; the file sources wait on
    ``backpressure`` rather than make a buffer shed."""
    held = HeldLines(options.max_partial_bytes)  # one bound, whichever way lines are read
    if kind == "cri":
        return CriSource(
            emit,
            host=host_meta(settings.hostname, settings.host_ip),
            pods_dir=settings.pods_dir,
            links_dir=settings.pod_links_dir,
            filter=container_filter(settings),
            options=options,
            resume=resume,
            backpressure=backpressure,
            held=held,
        )
    files = None
    if kind == "files":
        from logship.sources.docker.files import JsonFiles

        files = JsonFiles(
            emit, options, docker_root=settings.docker_root, backpressure=backpressure, held=held
        )
    return docker_source(settings, emit, options=options, resume=resume, files=files, held=held)


async def build_agent(settings: Settings, load: Callable[[], Settings] | None = None) -> Agent:
    """Everything ``logship run`` runs, from ``settings``; :class:`~logship.errors.ConfigError`
    for what cannot be used (a state directory, a spool, TLS files). With ``load`` (which
    reads the settings again as they were read at start), SIGHUP reloads them."""
    for warning in settings.security_warnings():  # once, at start
        log.warning("%s", warning)
    kind, why = await choose_source(
        settings.source,
        settings.docker_host,
        lambda: docker_client(settings),
        settings.pods_dir,
        settings.docker_root,
    )
    log.info("reading container logs through source %s: %s", kind, why)
    state_dir = settings.state_dir
    store = None
    resume = Resume()
    if state_dir is not None:
        store = CheckpointStore(state_dir)
        store.open()
        resume = resume_from(store, settings.checkpoint_interval_secs)
    context = SinkContext(agent=agent_identity(state_dir))
    built = [spec.build(context) for spec in specs(settings)]
    for destination in built:
        destination.open_spool()
    destinations = Destinations(built)
    stage, parse = stage_of(settings.multiline), ParseStage(settings.parse)
    router = Router([d.route for d in built], stage=stage, parse=parse)
    since = None if settings.backlog else format_timestamp_ns(time.time_ns())
    source = source_of(
        kind,
        settings,
        router.emit,
        options=ReadOptions(
            since=since,
            max_line_bytes=settings.max_line_bytes,
            max_partial_bytes=settings.max_partial_bytes,
            quiet_stream_secs=settings.quiet_stream_secs,
        ),
        resume=resume,
        backpressure=Backpressure(destinations),
    )
    checkpointer = None
    if store is not None:
        checkpointer = Checkpointer(
            store, source, built, interval_secs=settings.checkpoint_interval_secs
        )
    reloads = Reloads()
    server: OperatorWindow | None = None
    if settings.http is not None:
        from logship.server.app import OperatorServer  # aiohttp.web only if asked

        server = OperatorServer(
            settings.http,
            source=source,
            router=router,
            destinations=destinations,
            checkpoints=checkpointer.saved_positions if checkpointer is not None else None,
            per_container_metrics=settings.metrics.per_container,
            reloads=reloads,
        )
    return Agent(
        source,
        destinations,
        checkpointer=checkpointer,
        server=server,
        shutdown_grace_secs=settings.shutdown_grace_secs,
        router=router,
        reconfigure=None
        if load is None
        else Reconfigurator(load, settings, built, stage=stage, parse=parse, context=context),
        reloads=reloads,
    )
