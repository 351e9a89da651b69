"""``logship tail``: every container's lines, live, on this terminal.

It builds a small agent of its own from the same pieces as ``logship run``: the Docker source
(each container's whole log unless ``--since`` says otherwise, never waiting for an engine that
is not there), one destination whose sink prints (:mod:`logship.tail.output`), no checkpoints
(tail never touches an agent's state directory) and no HTTP server (it would take the port an
agent on the same host holds).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from logship.agent import Agent
from logship.assemble import container_filter, docker_source
from logship.errors import ConfigError
from logship.pipeline.destination import Destination
from logship.pipeline.router import Router
from logship.record import parse_since, timestamp_ns
from logship.settings import Settings, wants_colour
from logship.sources.base import ReadOptions, Source
from logship.tail.options import TailContainers, compile_grep, parse_filters, parse_tail_lines
from logship.tail.output import TailSink
from logship.tail.status import StatusLine, TailStats
from logship.transform.multiline import stage_of
from logship.transform.parse import ParseStage


@dataclass(frozen=True)
class TailRequest:
    """What ``logship tail`` was asked, as given on its command line."""

    json: bool = False
    timestamps: bool = False
    colour: bool = True  # where the terminal takes colours (--no-color: never)
    prefix: bool = True  # each line after its container's name (--no-log-prefix: without)
    since: str | None = None  # a duration ago or a time, as docker logs takes it
    until: str | None = None
    tail: str | None = None  # the last N lines (or "all")
    follow: bool = True
    grep: str | None = None
    stream: str | None = None  # stdout or stderr
    filters: Sequence[str] = field(default_factory=list)  # --filter KEY=VALUE
    stopped: bool = False  # stopped containers too


def _time_option(option: str, text: str | None, now_ns: int) -> str | None:
    if not text:
        return None
    try:
        return parse_since(text, now_ns)
    except ValueError as exc:
        raise ConfigError(f"{option}: {exc}") from None


class Tail:
    """One ``logship tail`` run: its options checked when built (:class:`ConfigError` naming
    the option), then :meth:`run`, then :meth:`close`."""

    def __init__(self, settings: Settings, request: TailRequest) -> None:
        self.settings = settings
        now_ns = time.time_ns()
        self.since = _time_option("--since", request.since, now_ns)
        self.until = _time_option("--until", request.until, now_ns)
        # nothing after a past `until` can come: no need to follow then
        self.follow = request.follow and (self.until is None or timestamp_ns(self.until) > now_ns)
        self.stopped = request.stopped
        try:
            self.tail_lines = parse_tail_lines(request.tail)
            grep = compile_grep(request.grep)
            self.selection = parse_filters(list(request.filters), request.stream)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        # the status line only where somebody watches both outputs: never into a pipe or a file
        self.status: StatusLine | None = None
        if sys.stdout.isatty() and sys.stderr.isatty():
            self.status = StatusLine(sys.stderr)
            for handler in logging.getLogger().handlers:
                if isinstance(handler, logging.StreamHandler):
                    handler.setStream(self.status.guard(handler.stream))
        self.sink = TailSink(
            json=request.json,
            colour=request.colour and wants_colour(sys.stdout),
            prefix=request.prefix,
            timestamps=request.timestamps,
            grep=grep,
            status=self.status,
        )

    def _source(self, router: Router) -> Source:
        selection = container_filter(self.settings)
        return docker_source(
            self.settings,
            router.emit,
            filter=TailContainers(
                selection.include,
                selection.exclude,
                selection.honor_ignore,
                narrow=self.selection,
            ),
            options=ReadOptions(
                since=self.since,
                follow=self.follow,
                stopped=self.stopped,
                wait_for_engine=False,
                max_line_bytes=self.settings.max_line_bytes,
                quiet_stream_secs=self.settings.quiet_stream_secs if self.follow else 0,
                tail=self.tail_lines,
                until=self.until,
            ),
        )

    async def run(self) -> int:
        limits = self.settings.buffer
        destination = Destination(
            self.sink,
            filter=self.selection,
            max_records=limits.max_records,
            max_bytes=limits.max_bytes,
        )
        multiline = self.settings.multiline
        # lines go the way `run` takes them: JSON lines read as fields (--parse, the parse
        # setting, a container's logship.parse label), stack traces joined (--multiline...)
        router = Router(
            [destination.route], stage=stage_of(multiline), parse=ParseStage(self.settings.parse)
        )
        source = self._source(router)
        agent = Agent(
            source,
            [destination],
            shutdown_grace_secs=self.settings.shutdown_grace_secs,
            router=router,
        )
        status = None
        if self.status is not None:

            def stats() -> TailStats:
                followed = sum(1 for c in source.containers().values() if c.following)
                return TailStats(followed, router.records, destination.stats().shed)

            status = asyncio.create_task(self.status.run(stats))
        try:
            return await agent.run()
        finally:
            if status is not None:
                status.cancel()
                await asyncio.gather(status, return_exceptions=True)

    def close(self) -> None:
        """Take the status line away (the terminal is left as if it had never been there)."""
        if self.status is not None:
            self.status.close()
