"""Follow streams that go quiet while their container keeps writing (Docker 20.10 after a log
rotation): found with one cheap request, and opened again from where they were."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Mapping
from typing import Any

from logship.errors import DockerAPIError, DockerUnavailable, ProtocolError
from logship.protocol.docker import LogDecoder
from logship.record import Record
from logship.sources.docker.client import DockerClient
from logship.sources.docker.logstream import LogStream, read_logs
from logship.sources.docker.tracked import Tracked

log = logging.getLogger("logship.docker")


class QuietStreams:
    """Checks the follow streams of ``containers`` silent for ``period_secs`` (see :meth:`run`)."""

    def __init__(
        self, client: DockerClient, containers: Mapping[str, Tracked], *, period_secs: float
    ) -> None:
        self.client = client
        self.containers = containers
        self.period_secs = period_secs
        self.reopened = 0  # follow streams found stuck and opened again
        self._checks: set[asyncio.Task[None]] = set()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    async def stop(self) -> None:
        """Cancel the checks under way (the watch itself is the caller's task)."""
        for task in list(self._checks):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._checks, return_exceptions=True)

    async def run(self) -> None:
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
        period = self.period_secs
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
                    self._spawn(self._check(tracked, stream))

    async def _check(self, tracked: Tracked, stream: LogStream) -> None:
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
        decoder = tracked.decoder
        seen = decoder.seen if isinstance(decoder, LogDecoder) else None
        if (
            newest
            and tracked.stream is stream
            and stream.last_read == last_read
            and (seen is None or newest[-1].timestamp > seen[0])
        ):
            self.reopened += 1
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
