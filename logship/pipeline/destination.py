"""One destination, assembled complete from its options: its route (filter), its bounded
buffer, its disk spool if it has one, the runner that sends, and the sink.

::

    router ──> Route (filter) ──> DropOldestBuffer ──> SinkRunner ──> Sink
                                        │ sheds             ▲
                                        └──> Spool ─────────┘ (sent first when it holds any)

Everything is wired here, through constructors; what watches the data path (checkpoints,
metrics) registers with :meth:`Destination.observe` before the destination runs.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from logship.config.destination import BatchConfig, DestinationConfig, SpoolConfig
from logship.config.filters import DestinationFilter
from logship.config.multiline import MultilineConfig
from logship.errors import ConfigError
from logship.pipeline.buffer import RECORD_OVERHEAD_BYTES, DropOldestBuffer
from logship.pipeline.hosts import HostState, ReportsHosts
from logship.pipeline.observer import DeliveryObserver, Observers
from logship.pipeline.retry import Backoff
from logship.pipeline.router import Route
from logship.pipeline.runner import Sink, SinkRunner
from logship.pipeline.spool import EnvKept, Spool
from logship.transform.multiline import stage_of

log = logging.getLogger("logship.sink")

DEFAULT_MAX_RECORDS = 50_000
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
FIRST_RETRY_SECS = 0.2


@dataclass(frozen=True, slots=True)
class SpoolStats:
    records: int  # waiting to be written, on disk, or being sent
    bytes: int  # of its files
    max_bytes: int  # its bound (spool.max_bytes)
    received: int  # records the buffer shed into it
    dropped: int  # lost because it was full
    damaged: int  # lost to a torn or corrupt segment
    disk_full: int  # lost because the disk had no space (or quota) left for them
    disk_error: int  # lost because the disk failed to write or fsync them


@dataclass(frozen=True, slots=True)
class DestinationStats:
    """What one destination has done so far, and holds now (read at a scrape, never per line)."""

    name: str
    up: bool
    down_secs: float  # 0 while up
    last_error: str  # why the last attempt failed
    retry_window_secs: float  # the longest wait between two attempts
    sent: int
    bytes_sent: int  # handed to the destination (retries count again)
    errors: Mapping[str, int]  # failed attempts to deliver, by reason (runner.ERROR_REASONS)
    rejected: int  # refused for good, too_large and encode_errors included
    too_large: int  # refused for good for their size
    encode_errors: int  # records the sink failed on (its bug, or its encoder's)
    retries: int
    reconnects: int
    filtered: int  # not wanted by its filter
    shed: int  # shed by the full buffer (to the spool, when there is one)
    buffered: int
    buffered_bytes: int
    max_records: int
    max_bytes: int
    spool: SpoolStats | None
    hosts: tuple[HostState, ...] = ()  # each host, for a sink that sends to several


class Destination:
    """A sink with its own filter, bounded buffer, batching, retry pacing and, with
    ``spool_dir``, a disk spool for what the buffer would drop (see
    :mod:`logship.pipeline.spool`), which keeps of each container's environment only
    ``spool_env`` (none by default). With ``multiline``, its route joins multiline records
    its own way (see :mod:`logship.transform.multiline`), else as the router does. With
    ``honor_opt_outs``, a container's ``logship.destinations`` label that does not name it
    keeps that container's records away from it."""

    def __init__(
        self,
        sink: Sink,
        *,
        filter: DestinationFilter | None = None,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        batch: BatchConfig | None = None,
        retry_max_secs: float = 30.0,
        spool_dir: Path | None = None,
        spool: SpoolConfig | None = None,
        spool_env: EnvKept | None = None,
        multiline: MultilineConfig | None = None,
        honor_opt_outs: bool = False,
    ) -> None:
        self.name = sink.name
        self._observers = Observers()
        batch = batch or BatchConfig()
        self._spool: Spool | None = None
        self._spool_max_bytes = 0
        if spool_dir is not None:
            options = spool or SpoolConfig(enabled=True)
            self._spool_max_bytes = options.max_bytes
            self._spool = Spool(
                spool_dir,
                max_bytes=options.max_bytes,
                segment_bytes=options.segment_size(),
                name=self.name,
                # what the buffer sheds is handled once it is on disk
                on_stored=self._observers.discarded,
                # what the disk refuses is not: the checkpoints hold before it
                on_lost=self._observers.lost,
                env=spool_env,
            )
        self._buffer = DropOldestBuffer(
            max_records=max_records,
            max_bytes=max_bytes,
            on_discard=self._spool.add if self._spool is not None else self._observers.discarded,
            spills=self._spool is not None,
            name=self.name,
        )
        self.route = Route(
            self._buffer,
            filter,
            self._observers,
            stage=stage_of(multiline) if multiline is not None else None,
            name=self.name,
            honor_opt_outs=honor_opt_outs,
        )
        self._runner = SinkRunner(
            sink,
            self._buffer,
            spool=self._spool,
            observer=self._observers,
            max_batch=batch.max_records,
            linger_secs=batch.timeout_secs,
            backoff=Backoff(initial_secs=FIRST_RETRY_SECS, maximum_secs=retry_max_secs),
        )

    @classmethod
    def from_config(
        cls,
        sink: Sink,
        config: DestinationConfig,
        *,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        spool_dir: Path | None = None,
        honor_opt_outs: bool = False,
    ) -> Destination:
        """The destination ``config`` describes; ``max_records``/``max_bytes`` are the buffer
        bounds it has unless it sets its own; ``spool_dir`` where its spool lives, if on.

        Its spool writes only the container environment variables the destination sends:
        those its ``env`` option names or its ``env_regex`` finds (GELF and forward; Docker's
        log options of the same names), none for the others."""
        regex = getattr(config, "env_regex", None)
        env = EnvKept(frozenset(getattr(config, "env", ())), re.compile(regex) if regex else None)
        return cls(
            sink,
            filter=config.filter,
            max_records=config.buffer_max_records or max_records,
            max_bytes=config.buffer_max_bytes or max_bytes,
            batch=config.batch,
            retry_max_secs=getattr(config, "reconnect_max_secs", 30.0),
            spool_dir=spool_dir if config.spool.enabled else None,
            spool=config.spool,
            spool_env=env,
            multiline=config.multiline,
            honor_opt_outs=honor_opt_outs,
        )

    def observe(self, observer: DeliveryObserver) -> None:
        """Tell ``observer`` what happens to this destination's records (before it runs)."""
        self._observers.add(observer)

    def open_spool(self) -> None:
        """Find what the disk spool holds from the last run; :class:`ConfigError` naming the
        directory if it cannot be used. Nothing to do without a spool."""
        if self._spool is None:
            return
        try:
            self._spool.open()
        except OSError as exc:
            raise ConfigError(
                f"destinations: cannot use the disk spool {str(self._spool.dir)!r} of "
                f"{self.name!r}: {exc.strerror or exc}"
            ) from None

    # -- running ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Send until the input is closed and what it holds is sent."""
        await self._runner.run()

    def close_input(self) -> None:
        """No more records come: send what is held, then :meth:`run` returns."""
        self._buffer.close()

    @property
    def up(self) -> bool:
        return self._runner.up

    def congested(self) -> bool:
        """Up, and holding more than half of what its buffer may: a reader that can wait
        (log files) should, before it makes the buffer shed (see logship.pipeline.flow)."""
        return not self.has_room(0, 0)

    def has_room(self, records: int, text_bytes: int) -> bool:
        """Whether the buffer takes ``records`` more records holding ``text_bytes`` of text
        and is still not :meth:`congested`; always while down (reading never waits for a
        destination that is down)."""
        buffer = self._buffer
        return not self._runner.up or (
            (len(buffer) + records) * 2 <= buffer.max_records
            and (buffer.bytes + text_bytes + RECORD_OVERHEAD_BYTES * records) * 2
            <= buffer.max_bytes
        )

    @property
    def has_spool(self) -> bool:
        return self._spool is not None

    def park(self) -> None:
        """At shutdown, once :meth:`run` has ended: what was not sent goes to the disk spool
        (without one, it is reported as left unsent)."""
        spool = self._spool
        if spool is None:
            buffer = self._buffer
            if len(buffer) or buffer.dropped:
                log.warning(
                    "%s: %d records left unsent, %d dropped while the buffer was full",
                    self.name,
                    len(buffer),
                    buffer.dropped,
                )
            return
        self._runner.park()
        lost_to_disk = spool.disk_full + spool.disk_error
        if spool.records or spool.dropped or spool.damaged or lost_to_disk:
            log.warning(
                "%s: %d records kept in the disk spool for the next start (%d bytes); "
                "%d dropped because it was full, %d lost to damage, %d refused by the disk",
                self.name,
                spool.records,
                spool.bytes,
                spool.dropped,
                spool.damaged,
                lost_to_disk,
            )

    # -- what it did -------------------------------------------------------------------------

    def stats(self, now: float | None = None) -> DestinationStats:
        runner, buffer, spool = self._runner, self._buffer, self._spool
        now = time.monotonic() if now is None else now
        down_since = runner.down_since
        sink = runner.sink
        return DestinationStats(
            name=self.name,
            up=runner.up,
            down_secs=0.0 if runner.up or down_since is None else now - down_since,
            last_error=runner.last_error,
            retry_window_secs=runner.backoff.maximum_secs,
            sent=runner.sent,
            bytes_sent=runner.sink.bytes_sent,
            errors=dict(runner.errors),
            rejected=runner.rejected,
            too_large=runner.too_large,
            encode_errors=runner.encode_errors,
            retries=runner.retries,
            reconnects=runner.reconnects,
            filtered=self.route.filtered,
            shed=buffer.dropped,
            buffered=len(buffer),
            buffered_bytes=buffer.bytes,
            max_records=buffer.max_records,
            max_bytes=buffer.max_bytes,
            spool=None
            if spool is None
            else SpoolStats(
                records=spool.records,
                bytes=spool.bytes,
                max_bytes=self._spool_max_bytes,
                received=spool.received,
                dropped=spool.dropped,
                damaged=spool.damaged,
                disk_full=spool.disk_full,
                disk_error=spool.disk_error,
            ),
            hosts=tuple(sink.host_states()) if isinstance(sink, ReportsHosts) else (),
        )

    def held_by_container(self) -> dict[str, int]:
        """Container id -> records of it in the buffer now."""
        return self._buffer.held_by_container()

    def shed_by_container(self) -> Mapping[str, int]:
        """Container id -> records of it the full buffer shed (dropped, or spooled); only
        the containers that shed most recently."""
        return self._buffer.dropped_by_container
