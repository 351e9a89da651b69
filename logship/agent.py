"""The agent: runs a source, its destinations and what watches them, and shuts them down cleanly.

It is given its parts built (:mod:`logship.assemble` builds them for ``logship run``,
:mod:`logship.tail` for ``logship tail``) and owns their tasks:
``serve -> startup -> main loop -> shutdown``. SIGTERM or SIGINT stops reading, lets every
destination send what it holds for up to ``shutdown_grace_secs``, puts what is left into the
disk spools (where there are some), saves the checkpoints of what was handled (with a
checkpointer), then exits 0; a second signal exits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Sequence
from typing import Protocol

from logship.errors import DockerUnavailable, LogshipError, OutputClosed
from logship.pipeline.destination import Destination
from logship.pipeline.router import Router
from logship.sources.base import Source
from logship.state.checkpointer import Checkpointer

log = logging.getLogger("logship")


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
        destinations: Sequence[Destination],
        *,
        checkpointer: Checkpointer | None = None,
        server: OperatorWindow | None = None,
        shutdown_grace_secs: float = 5.0,
        router: Router | None = None,
    ) -> None:
        self.source = source
        self.destinations = list(destinations)
        self.router = router  # its flush timer runs; what it holds is delivered at the end
        self.checkpointer = checkpointer
        self.server = server
        self.shutdown_grace_secs = shutdown_grace_secs
        self._stop = asyncio.Event()
        self._signals = 0

    # -- lifecycle -----------------------------------------------------------------------------

    async def run(self) -> int:
        """Run until the source is done (not following), a signal, or stdout closing."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._on_signal, sig)
        if not await self._serve():
            return 1
        sending = {
            asyncio.create_task(d.run(), name=f"sink-{d.name}"): d for d in self.destinations
        }
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
            done, _ = await asyncio.wait(
                {source, stop, *sending}, return_when=asyncio.FIRST_COMPLETED
            )
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
            if self.server is not None:
                self.server.draining()  # /readyz says so while what is buffered drains
            if flushes is not None:
                flushes.cancel()
                await asyncio.gather(flushes, return_exceptions=True)
            await self._shutdown(source, sending, checkpoints)
            if self.server is not None:
                await self.server.stop()
        return exit_code

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
        tasks = [task for task in sending if not task.done()]
        # a destination that is down and has a disk spool loses nothing by not waiting for it:
        # what it holds goes to disk now, rather than after the whole grace period
        for task, destination in sending.items():
            if destination.has_spool and not destination.up:
                log.info("%s: down; what it holds goes to the disk spool now", destination.name)
                task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.shutdown_grace_secs)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for destination in self.destinations:
            destination.park()
        if self.checkpointer is not None:
            # only what every destination handled: unsent records are read again next time
            if checkpoints is not None:
                checkpoints.cancel()
                await asyncio.gather(checkpoints, return_exceptions=True)
            self.checkpointer.save()
            self.checkpointer.close()
