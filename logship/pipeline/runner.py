"""Moves batches from a destination's buffer into its sink; owns retries for every sink."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from logship.errors import DeliveryError, OutputClosed
from logship.pipeline.buffer import DropOldestBuffer
from logship.pipeline.observer import DeliveryObserver
from logship.pipeline.retry import Backoff
from logship.pipeline.spool import Spool
from logship.record import Record

log = logging.getLogger("logship.sink")

# why an attempt to deliver failed (logship_destination_errors_total): opening the destination
# (connect), a batch the destination failed to take (send; retried), a batch it took part of
# and pushed back the rest (partial; retried), a batch it refused for good in part or whole
# (rejected), a record the sink failed on (encode)
ERROR_REASONS = ("connect", "send", "partial", "rejected", "encode")

# records a sink failed on (its bug, or a record its encoder cannot take) are logged at most
# once per this interval per destination, with how many since the last line
ENCODE_ERROR_LOG_SECS = 60.0


class Sink(Protocol):
    """What a destination implements. Sinks only encode and send; this module retries."""

    name: str

    @property
    def bytes_sent(self) -> int:
        """Bytes handed to the destination so far (retries count again)."""
        ...

    async def open(self) -> None: ...

    async def send(self, batch: list[Record]) -> None:
        """Deliver the batch or raise :class:`DeliveryError` saying whether a retry can help."""

    async def close(self) -> None: ...


class SinkRunner:
    """One destination's loop between its buffer and its sink.

    ``spool``: the destination's disk spool, sent from before the buffer while it holds
    records (None: no spool). ``observer`` is told when a batch is being sent, how long a
    send took, and when a batch is handled.
    """

    def __init__(
        self,
        sink: Sink,
        buffer: DropOldestBuffer,
        *,
        spool: Spool | None = None,
        observer: DeliveryObserver | None = None,
        max_batch: int = 2048,
        linger_secs: float = 0.05,
        backoff: Backoff | None = None,
    ) -> None:
        self.sink = sink
        self.buffer = buffer
        self.spool = spool
        self.observer = observer if observer is not None else DeliveryObserver()
        self.max_batch = max_batch
        self.linger_secs = linger_secs
        self.backoff = backoff or Backoff()
        self.sent = 0
        self.rejected = 0  # records the destination refused for good
        self.too_large = 0  # of those, the ones refused for their size
        self.encode_errors = 0  # of those, the ones the sink failed on (its bug, or the encoder's)
        self.retries = 0
        self.up = True
        self.down_since: float | None = None  # time.monotonic() when it went down
        self.last_error = ""  # why the last attempt failed
        self.reconnects = 0  # times it came back after being down
        self.errors = dict.fromkeys(ERROR_REASONS, 0)  # failed attempts, by ERROR_REASONS
        self._unlogged_errors = 0  # records the sink failed on, not yet said
        self._errors_logged_at: float | None = None  # time.monotonic() of the last such line
        # a batch taken from the buffer while it is being sent (for the spool at shutdown),
        # and what of it is still unsent
        self._in_flight: list[Record] | None = None
        self._unsent: list[Record] = []

    async def run(self) -> None:
        """Send until the buffer is closed and empty."""
        buffer = self.buffer
        spool = self.spool
        # the spool takes what overflows from the start, while the destination is not yet up too
        flusher = None if spool is None else asyncio.create_task(spool.run(), name="spool")
        try:
            await self._open()
            try:
                await self._loop(buffer, spool)
            finally:
                self._log_encode_errors(force=True)
                await self.sink.close()
        finally:
            if flusher is not None:
                flusher.cancel()  # what it holds is written by Spool.close at shutdown
                await asyncio.gather(flusher, return_exceptions=True)

    async def _loop(self, buffer: DropOldestBuffer, spool: Spool | None) -> None:
        while True:
            if spool is not None and spool.records:
                # the spool holds each container's older lines: it goes first
                batch = await spool.take(self.max_batch)
                if batch:
                    await self._deliver(batch)  # handled already: no progress to tell
                    await spool.ack()
                    continue
            batch = buffer.take(self.max_batch)
            if batch:
                self._in_flight = batch
                self.observer.sending()
                # sent, refused or dropped: handled; refused for now: to the spool
                await self._deliver(batch, spool)
                self._in_flight = None
                self.observer.done(batch)
            elif buffer.closed:
                return
            else:
                await buffer.wait()
                if len(buffer) < self.max_batch and not buffer.closed:
                    # a trickle: let a batch gather rather than wake per record
                    await asyncio.sleep(self.linger_secs)

    async def _open(self) -> None:
        while True:
            try:
                await self.sink.open()
            except DeliveryError as exc:
                self.errors["connect"] += 1
                self._down(exc)
                await asyncio.sleep(self.backoff.next_delay())
            else:
                self._delivered()  # connected: up, even before the first record comes
                return

    async def _deliver(self, batch: list[Record], spool: Spool | None = None) -> None:
        """Send until sent or refused for good. With ``spool`` (a batch from the buffer), a
        batch the destination refuses for now goes to the spool instead, before all it holds:
        it is retried from there, and meanwhile the checkpoints can move.

        A sink that fails on the batch with anything but a :class:`DeliveryError` (its bug,
        or a record its encoder cannot take) is given the batch again one record at a time:
        only the records it fails on are lost (counted as ``encode_errors``)."""
        self._unsent = batch
        one_by_one = False
        while True:
            started = time.monotonic()
            try:
                took = await self._send_each(batch) if one_by_one else await self._send(batch)
            except DeliveryError as exc:
                if exc.rejected or not exc.retriable:
                    self.errors["rejected"] += 1  # some records, or the batch, for good
                self.rejected += exc.rejected
                self.too_large += exc.too_large
                taken = 0
                if exc.remaining is not None:
                    taken = len(batch) - len(exc.remaining) - exc.rejected
                    self.sent += taken
                    batch = self._unsent = exc.remaining
                    if not batch:  # all taken or refused for good: nothing to retry
                        self._delivered()
                        return
                if not exc.retriable:
                    self.rejected += len(batch)
                    log.warning(
                        "%s: rejected %d records for good: %s", self.sink.name, len(batch), exc
                    )
                    return
                if taken:  # the destination works, it is only pushing back on some records
                    self.errors["partial"] += 1
                    log.debug("%s: retrying %d records: %s", self.sink.name, len(batch), exc)
                else:
                    self.errors["send"] += 1
                    self._down(exc)
                self.retries += 1
                if spool is not None and await spool.prepend(batch):
                    return
                await asyncio.sleep(self.backoff.next_delay())
            except OutputClosed:
                raise
            # a sink's bug (or its encoder's) must not stop the agent, nor cost the whole batch
            except Exception as exc:  # noqa: BLE001  counted, and logged by _encode_error
                if len(batch) > 1:
                    one_by_one = True  # at once: what it does not fail on goes through
                    continue
                self.rejected += 1
                self._encode_error(exc)
                return
            else:
                self.sent += len(took)
                self.rejected += len(batch) - len(took)
                self.observer.sent(took, time.monotonic() - started)
                self._delivered()
                return

    async def _send(self, batch: list[Record]) -> list[Record]:
        await self.sink.send(batch)
        return batch

    async def _send_each(self, batch: list[Record]) -> list[Record]:
        """Send ``batch`` one record at a time; what was taken. A record the sink fails on
        (with anything but a :class:`DeliveryError`) or refuses for good is left out, counted.
        When the destination itself fails, a :class:`DeliveryError` says what is left to send
        (``remaining``) and how many were left out before (``rejected``)."""
        took: list[Record] = []
        refused = 0
        for i, record in enumerate(batch):
            try:
                await self.sink.send([record])
            except DeliveryError as exc:
                if exc.retriable and not exc.rejected and exc.remaining != []:
                    raise DeliveryError(str(exc), remaining=batch[i:], rejected=refused) from exc
                if exc.rejected or not exc.retriable:
                    refused += 1
                    self.too_large += exc.too_large
                else:  # taken after all
                    took.append(record)
            except OutputClosed:
                raise
            except Exception as exc:  # noqa: BLE001  counted, and said at most once an interval
                refused += 1
                self._encode_error(exc)
            else:
                took.append(record)
        return took

    def _encode_error(self, exc: Exception) -> None:
        """The sink failed on one record (its bug, or what its encoder cannot take): counted,
        and said at most once per ``ENCODE_ERROR_LOG_SECS`` (the first time with where)."""
        self.encode_errors += 1
        self.errors["encode"] += 1
        self._unlogged_errors += 1
        self._log_encode_errors(exc)

    def _log_encode_errors(self, exc: Exception | None = None, *, force: bool = False) -> None:
        n = self._unlogged_errors
        now = time.monotonic()
        last = self._errors_logged_at
        if not n or not (force or last is None or now - last >= ENCODE_ERROR_LOG_SECS):
            return
        self._errors_logged_at = now
        self._unlogged_errors = 0
        if last is None:  # the first: with the traceback, the sink's bug may need it
            log.error(
                "%s: failed on a record (%s): rejected it and sent the rest of its batch; "
                "such records are counted (encode_error) and said at most once a minute",
                self.sink.name,
                type(exc).__name__,
                exc_info=exc,
            )
        else:
            log.error("%s: failed on %d more records, rejected (encode_error)", self.sink.name, n)

    def _delivered(self) -> None:
        if not self.up:
            self.up = True
            self.down_since = None
            self.reconnects += 1
            log.warning("%s: destination is back", self.sink.name)
        self.backoff.reset()

    def _down(self, exc: DeliveryError) -> None:
        self.last_error = str(exc)
        if self.up:
            self.up = False
            self.down_since = time.monotonic()
            log.warning("%s: destination is down, will retry: %s", self.sink.name, exc)

    def park(self) -> None:
        """At shutdown, after the runner stopped: what it could not send in time goes to its
        spool, on disk before the checkpoints are saved: a batch it was sending first (before
        everything spooled), then what the buffer holds (after it)."""
        spool = self.spool
        assert spool is not None
        in_flight, self._in_flight = self._in_flight, None
        front = self._unsent if in_flight is not None else []
        buffer = self.buffer
        spool.park(front, buffer.take(len(buffer)) if len(buffer) else [])
        if in_flight is not None:
            self.observer.done(in_flight)  # sent in part, on disk for the rest
        spool.close()
