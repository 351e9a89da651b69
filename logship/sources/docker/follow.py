"""Following one container's log through the Engine API, for as long as it runs.

When a stream ends, the follower asks again from the last position it saw until the engine has
nothing more: Docker 20.10 ends a follow stream early when the container exits while the
existing log is still being replayed, and a container restarted by Docker keeps writing to the
same log. A stream that fails is read again from its position, with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import time

from logship.errors import DockerAPIError, DockerUnavailable, ProtocolError
from logship.pipeline.retry import Backoff
from logship.protocol.docker import LogDecoder, Position
from logship.record import Record, format_timestamp_ns
from logship.sources.base import ReadOptions
from logship.sources.docker.client import DockerClient
from logship.sources.docker.logstream import Emit, LogStream, read_logs
from logship.sources.docker.tracked import Tracked
from logship.sources.held import HeldLines

log = logging.getLogger("logship.docker")

_UNREADABLE_DRIVER = (400, 501)  # "configured logging driver does not support reading"
_GONE = (404, 409)  # no such container; "dead or marked for removal"


def _now() -> str:
    return format_timestamp_ns(time.time_ns())


class Follower:
    """Reads containers' logs with ``client`` as ``options`` say, handing each decoded batch
    to ``emit``."""

    def __init__(
        self, client: DockerClient, emit: Emit, options: ReadOptions, held: HeldLines
    ) -> None:
        self.client = client
        self.emit = emit
        self.options = options
        self.held = held  # the bound on what unfinished lines hold, all readers together
        self.stream_errors = 0  # log streams that failed (then read again)

    async def follow(self, tracked: Tracked) -> None:
        """Read the container's log until it is over (or the task is cancelled); what the
        source does then with the container is the caller's business."""
        container_id = tracked.meta.id
        decoder = tracked.decoder
        assert isinstance(decoder, LogDecoder)  # followed through the Engine API
        backoff = Backoff(initial_secs=0.1, maximum_secs=5)
        last_seen: Position | None = None
        failing = False
        options = self.options
        follow = options.follow
        # --tail: the first request only, for a container nothing was read of yet
        tail = options.tail if decoder.position == tracked.start else None

        def emit(records: list[Record]) -> None:
            tracked.lines += len(records)
            self.emit(records)

        def watch(stream: LogStream | None) -> None:
            tracked.stream = stream

        try:
            while True:
                tracked.wake = False
                if follow and options.until is not None and _now() > options.until:
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
                        until=options.until,
                        held=self.held,
                    )
                except DockerAPIError as exc:
                    if exc.status in _GONE:
                        tracked.destroyed = exc.status == 404  # no such container any more
                        return
                    if exc.status in _UNREADABLE_DRIVER:
                        log.warning("cannot read the log of %s: %s", tracked.meta.name, exc)
                        tracked.skip_reason = str(exc)
                        return
                    failing = self._failed(tracked, exc, failing)
                    await asyncio.sleep(backoff.next_delay())
                    continue
                except (ProtocolError, DockerUnavailable, OSError) as exc:
                    failing = self._failed(tracked, exc, failing)
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

    def _failed(self, tracked: Tracked, exc: BaseException, failing: bool) -> bool:
        self.stream_errors += 1
        if not failing:
            log.warning("log stream of %s failed, retrying: %s", tracked.meta.name, exc)
        return True
