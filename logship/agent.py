"""The agent: runs a source, its destinations and what watches them, and shuts them down cleanly.

It is given its parts built (:mod:`logship.assemble` builds them for ``logship run``,
:mod:`logship.tail` for ``logship tail``) and owns their tasks:
``serve -> startup -> main loop -> shutdown``. SIGTERM or SIGINT stops reading, lets every
destination send what it holds for up to ``shutdown_grace_secs``, puts what is left into the
disk spools (where there are some), saves the checkpoints of what was handled (with a
checkpointer), then exits 0; a second signal exits at once.

SIGHUP (with a :class:`Reconfigure`, as ``logship run`` has) reloads the configuration:
:meth:`Agent.reload` applies what :mod:`logship.reload` built, between two batches the source
hands over, so each line goes to the destinations of either the old configuration or the new
one, never both, never neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from logship.errors import DockerUnavailable, LogshipError, OutputClosed
from logship.pipeline.destination import Destination
from logship.pipeline.router import Router
from logship.pipeline.running import Destinations, Reloads
from logship.sources.base import Source
from logship.state.checkpointer import Checkpointer
from logship.transform.multiline import MultilineStage
from logship.transform.parse import ParseStage

log = logging.getLogger("logship")


@dataclass(frozen=True)
class Replacement:
    """A destination whose options changed: ``old`` is drained (as at shutdown), then ``new``
    starts, having buffered meanwhile the lines read since the reload; ``open_spool``: the
    new one's disk spool is the old one's directory, opened once the old one parked there."""

    old: Destination
    new: Destination
    open_spool: bool = False


@dataclass(frozen=True)
class Reconfiguration:
    """What a reload changes, built complete (by :mod:`logship.reload`): ``destinations`` the
    new set in order (the running objects where nothing changed); ``added`` ready to run
    (spools opened); ``stage``/``parse`` the router's (the running ones where unchanged);
    ``commit`` is called once it runs."""

    destinations: list[Destination]
    added: list[Destination]
    replacements: list[Replacement]
    removed: list[Destination]
    stage: MultilineStage | None
    parse: ParseStage | None
    summary: str  # "added X, removed Y, changed Z", or "unchanged"
    commit: Callable[[], None]


class Reconfigure(Protocol):
    """Reads the configuration again and builds what differs (logship.reload)."""

    def prepare(self) -> Reconfiguration:
        """:class:`~logship.errors.ConfigError` naming the field if it cannot be used."""
        ...


class OperatorWindow(Protocol):
    """The operator's HTTP server, as the agent runs it (see logship.server.app)."""

    async def start(self) -> None:
        """Listen; a :class:`~logship.errors.ListenError` naming the address if it cannot."""

    def draining(self) -> None:
        """The agent is shutting down."""

    async def stop(self) -> None: ...


class Agent:
    def __init__(
        self,
        source: Source,
        destinations: Destinations | Sequence[Destination],
        *,
        checkpointer: Checkpointer | None = None,
        server: OperatorWindow | None = None,
        shutdown_grace_secs: float = 5.0,
        router: Router | None = None,
        reconfigure: Reconfigure | None = None,
        reloads: Reloads | None = None,
    ) -> None:
        """With ``reconfigure`` (and a ``router``), SIGHUP reloads the configuration, counted
        in ``reloads``."""
        self.source = source
        if not isinstance(destinations, Destinations):
            destinations = Destinations(destinations)
        self.destinations = destinations
        self.router = router  # its flush timer runs; what it holds is delivered at the end
        self.checkpointer = checkpointer
        self.server = server
        self.shutdown_grace_secs = shutdown_grace_secs
        self.reconfigure = reconfigure if router is not None else None
        self.reloads = reloads if reloads is not None else Reloads()
        self._stop = asyncio.Event()
        self._signals = 0
        self._sending: dict[asyncio.Task[None], Destination] = {}
        self._changed = asyncio.Event()  # the destinations running changed (a reload)
        self._hangups = asyncio.Event()  # SIGHUPs not yet acted on
        self._reloading = asyncio.Lock()  # one reload at a time; shutdown waits for it
        self._stopping = False

    # -- lifecycle -----------------------------------------------------------------------------

    async def run(self) -> int:
        """Run until the source is done (not following), a signal, or stdout closing."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._on_signal, sig)
        reloads = None
        if self.reconfigure is not None:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signal.SIGHUP, self._hangups.set)
            reloads = asyncio.create_task(self._reload_on_hangup(), name="reloads")
        if not await self._serve():
            if reloads is not None:
                reloads.cancel()
                await asyncio.gather(reloads, return_exceptions=True)
            return 1
        for destination in self.destinations:
            self._start(destination)
        source = asyncio.create_task(self.source.run(), name="source")
        flushes = None
        if self.router is not None:
            flushes = asyncio.create_task(self.router.run(), name="multiline-flush")
        checkpoints = None
        if self.checkpointer is not None:
            checkpoints = asyncio.create_task(self.checkpointer.run(), name="checkpoints")
        stop = asyncio.create_task(self._stop.wait(), name="stop")
        exit_code = 0
        try:
            done = await self._until_done(source, stop)
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
            await self._no_more_reloads(reloads)
            if self.server is not None:
                self.server.draining()  # /readyz says so while what is buffered drains
            if flushes is not None:
                flushes.cancel()
                await asyncio.gather(flushes, return_exceptions=True)
            await self._shutdown(source, self._sending, checkpoints)
            if self.server is not None:
                await self.server.stop()
        return exit_code

    def _start(self, destination: Destination) -> None:
        task = asyncio.create_task(destination.run(), name=f"sink-{destination.name}")
        self._sending[task] = destination
        self._changed.set()

    async def _until_done(
        self, source: asyncio.Task[None], stop: asyncio.Task[bool]
    ) -> set[asyncio.Task[None] | asyncio.Task[bool]]:
        """Wait for the source to end, a stop, or a destination to fail; the destinations
        watched are the ones running now (a reload changes them)."""
        while True:
            self._changed.clear()
            changed = asyncio.create_task(self._changed.wait(), name="destinations-changed")
            watched: set[asyncio.Task[None] | asyncio.Task[bool]] = {source, stop, *self._sending}
            done, _ = await asyncio.wait({*watched, changed}, return_when=asyncio.FIRST_COMPLETED)
            changed.cancel()
            await asyncio.gather(changed, return_exceptions=True)
            # a destination a reload took away ends as it should: not a reason to stop
            ended = {t for t in done & watched if t in (source, stop) or t in self._sending}
            if ended:
                return ended

    # -- reloads ---------------------------------------------------------------------------------

    async def _reload_on_hangup(self) -> None:
        """Each SIGHUP, a reload (several while one runs: one more after it)."""
        while True:
            await self._hangups.wait()
            self._hangups.clear()
            log.info("SIGHUP: reloading the configuration")
            try:
                await self.reload()
            except Exception:  # a bug of ours: said, and the next SIGHUP is heard
                log.exception("reload failed")

    async def _no_more_reloads(self, reloads: asyncio.Task[None] | None) -> None:
        """At shutdown: a reload under way finishes first (it drains for up to
        ``shutdown_grace_secs``), then none starts."""
        self._stopping = True
        if reloads is None:
            return
        async with self._reloading:
            reloads.cancel()
        await asyncio.gather(reloads, return_exceptions=True)

    async def reload(self) -> bool:
        """Read the configuration again and apply what changed (see :mod:`logship.reload`);
        False, the running configuration kept and the reason logged, if it cannot be used."""
        if self.reconfigure is None or self.router is None:
            return False
        async with self._reloading:
            if self._stopping:
                return False
            try:
                change = self.reconfigure.prepare()
            except LogshipError as exc:
                self.reloads.failure()
                log.error(  # noqa: TRY400 - the message names the field; no traceback
                    "reload failed, the running configuration is kept: %s", exc
                )
                return False
            except Exception:  # a bug of ours, but nothing was touched yet: keep running
                self.reloads.failure()
                log.exception("reload failed, the running configuration is kept")
                return False
            retiring = self._switch(self.router, change)
            change.commit()
            self.reloads.success()
            log.info("reloaded: %s", change.summary)
            await self._retire(retiring, change)
        return True

    def _switch(
        self, router: Router, change: Reconfiguration
    ) -> dict[asyncio.Task[None], Destination]:
        """Between two batches (nothing here waits): the new destinations followed by the
        checkpoints from where the others are, the router on the new routes, the old ones'
        input closed. The tasks of the old ones, now draining."""
        fresh = [*change.added, *(r.new for r in change.replacements)]
        if self.checkpointer is not None:
            for destination in fresh:
                self.checkpointer.follow_from_now(destination)
        self.destinations.replace(change.destinations)
        router.reroute([d.route for d in change.destinations], change.stage, change.parse)
        going = {id(d) for d in (*change.removed, *(r.old for r in change.replacements))}
        retiring = {t: d for t, d in self._sending.items() if id(d) in going}
        for task, destination in retiring.items():
            del self._sending[task]
            destination.close_input()
        for destination in change.added:
            self._start(destination)
        self._changed.set()
        return retiring

    async def _retire(
        self, retiring: dict[asyncio.Task[None], Destination], change: Reconfiguration
    ) -> None:
        """The old destinations drained as at shutdown (up to ``shutdown_grace_secs``, what is
        left to their spools), then forgotten by the checkpoints; each changed one's new
        self started once its old self is done."""
        await self._drain(retiring)
        for destination in change.removed:
            destination.park()
            if self.checkpointer is not None:
                self.checkpointer.unfollow(destination)
        for replacement in change.replacements:
            old, new = replacement.old, replacement.new
            old.park()
            left = old.stats().buffered if not old.has_spool else 0
            if self.checkpointer is not None:
                if left:  # as at shutdown: a restart reads them again, for the new one
                    log.warning(
                        "%s: %d records not sent before its change; the checkpoints hold "
                        "before them until a restart, which reads them again",
                        old.name,
                        left,
                    )
                else:
                    self.checkpointer.unfollow(old)
            if replacement.open_spool:
                try:
                    new.open_spool()
                except LogshipError as exc:
                    log.error("%s", exc)  # noqa: TRY400 - the message says it all
            self._start(new)

    async def _drain(self, sending: dict[asyncio.Task[None], Destination]) -> None:
        """Let these destinations, their input closed, send what they hold for up to
        ``shutdown_grace_secs``; stop them then."""
        # a destination that is down and has a disk spool loses nothing by not waiting for it:
        # what it holds goes to disk now, rather than after the whole grace period
        for task, destination in sending.items():
            if destination.has_spool and not destination.up and not task.done():
                log.info("%s: down; what it holds goes to the disk spool now", destination.name)
                task.cancel()
        tasks = [task for task in sending if not task.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.shutdown_grace_secs)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(self) -> bool:
        """Start the operator's window, if there is one; False (logged) if it cannot listen."""
        if self.server is None:
            return True
        try:
            await self.server.start()
        except LogshipError as exc:
            log.error("%s", exc)  # noqa: TRY400 - the message says it all; no traceback
            await self.source.stop()
            if self.checkpointer is not None:
                self.checkpointer.close()
            return False
        return True

    def _on_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        if self._signals > 1:
            log.warning("second %s: exiting now", sig.name)
            os._exit(130 if sig == signal.SIGINT else 143)
        log.info("%s: finishing what is buffered (up to %.0fs)", sig.name, self.shutdown_grace_secs)
        self._stop.set()

    def request_stop(self) -> None:
        self._stop.set()

    async def _shutdown(
        self,
        source: asyncio.Task[None],
        sending: dict[asyncio.Task[None], Destination],
        checkpoints: asyncio.Task[None] | None,
    ) -> None:
        source.cancel()
        await asyncio.gather(source, return_exceptions=True)
        await self.source.stop()
        if self.router is not None:
            self.router.flush()  # the records still open for more lines: no more come
        for destination in self.destinations:
            destination.close_input()
        await self._drain(sending)
        for destination in self.destinations:
            destination.park()
        if self.checkpointer is not None:
            # only what every destination handled: unsent records are read again next time
            if checkpoints is not None:
                checkpoints.cancel()
                await asyncio.gather(checkpoints, return_exceptions=True)
            self.checkpointer.save()
            self.checkpointer.close()
