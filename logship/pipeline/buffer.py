"""The bounded buffer between the source and one destination.

``put`` never waits: when the buffer is over its record or byte bound, records are dropped and
counted. A slow or dead destination therefore costs at most the bound in memory and never delays
the source or any other destination.

Dropping is fair between containers: the buffer sheds from the container holding the most
records (the most bytes, when the byte bound is the one exceeded), that container's oldest
first, so one container flooding cannot push a quiet neighbour's lines out. ``take`` hands out
records in the order they were put, minus the dropped ones: a container's lines never change
order; lines of different containers keep their arrival order too.

How: one FIFO queue per container ("lane") plus one queue of *runs* (lane, how many records)
saying in which order the lanes' records arrived. Dropping a lane's oldest records leaves their
entries in the runs; the lane's ``skip`` says how many of its next run entries are gone, and
``take`` passes over them. Runs are compacted once they hold more dropped entries than live
ones, so the runs stay within about twice the records held. Cost: per put, a few C-level passes
over the batch (one run per batch, as the source emits per container); per shed, one pass over
the containers in the buffer (a sort only when no single container is far ahead).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from operator import attrgetter

from logship.record import Record

log = logging.getLogger("logship.buffer")

# The byte bound counts memory: each message as Python holds it (sys.getsizeof: its header
# and 1, 2 or 4 bytes a character, so a line with one emoji counts 4 bytes a character) and
# what a record costs besides (the object with its slots, 72; its own timestamp string, 79;
# its place in a queue, 8).
RECORD_OVERHEAD_BYTES = 160
# sys.getsizeof of a str, called directly: messages are str, which the garbage collector does
# not track (no header to add), and this skips getsizeof's lookup (6x faster, per line)
getsizeof = str.__sizeof__
# containers whose drop counts are kept (the ones that dropped most recently); see dropped_by
MAX_DROP_COUNTERS = 1024
_SLACK_MIN_RECORDS = 4096
_SLACK_MIN_BYTES = 4 * 1024 * 1024
_COMPACT_MIN = 1024
_PRUNE_MIN = 64  # dropped run entries tolerated before compacting, whatever the size
# a lead not known: so far below any excess that a victim's puts cannot raise it into use
_UNKNOWN = -(1 << 62)

_message = attrgetter("message")
_meta = attrgetter("meta")


class _Lane:
    """One container's records in the buffer, oldest first."""

    __slots__ = ("bytes", "id", "queue", "skip")

    def __init__(self, container_id: str) -> None:
        self.id = container_id
        self.queue: deque[Record] = deque()
        self.bytes = 0
        self.skip = 0  # entries in the runs for records of this lane that were dropped


class DropOldestBuffer:
    def __init__(
        self,
        *,
        max_records: int,
        max_bytes: int,
        on_discard: Callable[[list[Record]], None] | None = None,
        spills: bool = False,
        name: str = "buffer",
    ) -> None:
        if max_records < 1 or max_bytes < 1:
            raise ValueError("a buffer needs room for at least one record")
        # told of every record dropped to make room, each container's oldest first
        # (checkpoints count a dropped record as handled); called once per shedding, never
        # per record
        self.on_discard = on_discard
        self.name = name  # the destination, for the log
        self.spills = spills  # on_discard keeps what is shed (a disk spool): say so in the log
        self.max_records = max_records
        self.max_bytes = max_bytes
        # A large buffer that overflows sheds 1/256 of its bound more than needed (195 records
        # of the default 50,000): when many containers put a line at a time, the look at every
        # container then happens once per ~200 lines, not per line. Small buffers shed exactly.
        self._slack_records = max_records >> 8 if max_records >= _SLACK_MIN_RECORDS else 0
        self._slack_bytes = max_bytes >> 8 if max_bytes >= _SLACK_MIN_BYTES else 0
        self._lanes: dict[str, _Lane] = {}  # by container id; emptied lanes may stay a while
        self._prune_at = _PRUNE_MIN
        self._run_lanes: deque[_Lane] = deque()
        self._run_sizes: deque[int] = deque()
        self._dead = 0  # run entries of dropped records, not yet passed over by take
        self._len = 0
        self._bytes = 0
        self._event = asyncio.Event()
        self.dropped = 0  # records dropped because the buffer was full
        # container id -> records of it dropped; bounded: only the MAX_DROP_COUNTERS containers
        # that dropped most recently are kept (``dropped`` has the total)
        self.dropped_by_container: dict[str, int] = {}
        self.accepted = 0
        self.closed = False
        self._shedding = False  # a drop episode is going on (logged at its start and end)
        # The lane that held the most at the last shedding, and lower bounds of its lead over
        # every other lane in records and in bytes (_UNKNOWN): while the lead covers what
        # must go, that lane is the fullest still and shedding needs no look at the others.
        self._victim: _Lane | None = None
        self._lead_n = _UNKNOWN
        self._lead_b = _UNKNOWN
        self._episode_dropped = 0

    def __len__(self) -> int:
        return self._len

    @property
    def bytes(self) -> int:
        return self._bytes

    def held_by_container(self) -> dict[str, int]:
        """Container id -> records of it in the buffer now (for metrics and tests)."""
        return {key: len(lane.queue) for key, lane in self._lanes.items() if lane.queue}

    # -- in ----------------------------------------------------------------------------------

    def put(self, records: list[Record]) -> None:
        """Append records; while over a bound, drop fairly (see the module). Never blocks."""
        n = len(records)
        if not n:
            return
        meta = records[0].meta
        if n == 1 or (records[-1].meta is meta and list(map(_meta, records)).count(meta) == n):
            self._append(meta.id, records, n)
        else:  # records of several containers: one run per stretch of one container
            start = 0
            for i in range(1, n):
                if records[i].meta is not records[i - 1].meta:
                    self._append(records[start].meta.id, records[start:i], i - start)
                    start = i
            self._append(records[start].meta.id, records[start:], n - start)
        self.accepted += n
        if self._len > self.max_records or self._bytes > self.max_bytes:
            self._shed()
        self._event.set()

    def _append(self, key: str, records: list[Record], n: int) -> None:
        size = (
            getsizeof(records[0].message) if n == 1 else sum(map(getsizeof, map(_message, records)))
        ) + RECORD_OVERHEAD_BYTES * n
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._new_lane(key)
        lane.queue.extend(records)
        lane.bytes += size
        # how far the lanes that shedding goes to next lead the others (see _drop_to_level)
        if lane is self._victim:
            self._lead_n += n
            self._lead_b += size
        else:
            self._lead_n -= n
            self._lead_b -= size
        if self._run_lanes and self._run_lanes[-1] is lane:
            self._run_sizes[-1] += n
        else:
            self._run_lanes.append(lane)
            self._run_sizes.append(n)
        self._len += n
        self._bytes += size

    def _new_lane(self, key: str) -> _Lane:
        """Emptied lanes stay, for their container's next lines; those of containers gone
        quiet are let go when they are half of all (amortised O(1) per new lane)."""
        lanes = self._lanes
        if len(lanes) >= self._prune_at:
            for empty in [k for k, lane in lanes.items() if not lane.queue]:
                del lanes[empty]
            self._prune_at = max(2 * len(lanes), _PRUNE_MIN)
        lane = lanes[key] = _Lane(key)
        return lane

    # -- dropping ----------------------------------------------------------------------------

    def _shed(self) -> None:
        gone: list[Record] = []
        if self._len > self.max_records:
            excess = self._len - self.max_records + self._slack_records
            self._drop_to_level(min(excess, self._len), gone, by_bytes=False)
        if self._bytes > self.max_bytes:
            excess = self._bytes - self.max_bytes + self._slack_bytes
            self._drop_to_level(min(excess, self._bytes), gone, by_bytes=True)
        if not gone:
            return
        self.dropped += len(gone)
        self._episode_dropped += len(gone)
        if not self._shedding:
            self._shedding = True
            log.warning(
                "%s: buffer full (%d records / %d bytes): %s the oldest lines of the "
                "containers holding the most, first of container %s",
                self.name,
                self.max_records,
                self.max_bytes,
                "moving to the disk spool" if self.spills else "dropping",
                gone[0].meta.name,
            )
        if self._dead > max(self._len, _COMPACT_MIN):
            self._compact()
        if self.on_discard is not None:
            self.on_discard(gone)

    def _drop_to_level(self, excess: int, gone: list[Record], *, by_bytes: bool) -> None:
        """Drop at least ``excess`` records (bytes) from the fullest lanes, oldest first.

        Water-filling: the fullest lanes are brought down to a common level, so that what they
        lose together covers ``excess``. Nobody below that level loses anything. Exact in
        records; in bytes each lane may lose up to one record more than an exact cut would.
        """
        victim = self._victim
        lead = self._lead_b if by_bytes else self._lead_n
        if victim is not None and lead >= excess and self._lanes.get(victim.id) is victim:
            # the flooding container is still that far ahead: no need to look at the others
            size = victim.bytes if by_bytes else len(victim.queue)
            freed = self._drop_from(victim, size - excess, gone, by_bytes=by_bytes)
            self._set_victim(victim, lead - freed, by_bytes=by_bytes)
            return
        lanes = list(self._lanes.values())
        sizes = [lane.bytes for lane in lanes] if by_bytes else [len(lane.queue) for lane in lanes]
        top = max(sizes)
        first = sizes.index(top)
        if len(lanes) > 1:
            sizes[first] = -1
            second = max(sizes)
            sizes[first] = top
        else:
            second = 0
        if top - second >= excess:  # the usual case: one container far ahead of the rest
            freed = self._drop_from(lanes[first], top - excess, gone, by_bytes=by_bytes)
            self._set_victim(lanes[first], top - freed - second, by_bytes=by_bytes)
            return
        self._set_victim(None, 0, by_bytes=by_bytes)
        order = sorted(range(len(lanes)), key=sizes.__getitem__, reverse=True)
        total = 0
        width = 0
        for width, index in enumerate(order, 1):
            total += sizes[index]
            below = sizes[order[width]] if width < len(order) else 0
            if total - width * below >= excess:
                break
        if by_bytes:
            level = (total - excess) / width
            for i in order[:width]:
                self._drop_from(lanes[i], level, gone, by_bytes=True)
        else:  # exact: the first lanes of the order (the oldest, among equals) keep one more
            keep, extra = divmod(total - excess, width)
            for k, i in enumerate(order[:width]):
                self._drop_from(lanes[i], keep + (k < extra), gone, by_bytes=False)

    def _set_victim(self, lane: _Lane | None, lead: int, *, by_bytes: bool) -> None:
        if lane is not self._victim:
            self._victim = lane
            self._lead_n = self._lead_b = _UNKNOWN
        if by_bytes:
            self._lead_b = lead
        else:
            self._lead_n = lead

    def _drop_from(self, lane: _Lane, target: float, gone: list[Record], *, by_bytes: bool) -> int:
        """Drop the lane's oldest records down to ``target``; return the records (bytes) freed."""
        queue = lane.queue
        popleft = queue.popleft
        before = len(gone)
        if by_bytes:
            size = lane.bytes
            while queue and size > target:
                record = popleft()
                size -= getsizeof(record.message) + RECORD_OVERHEAD_BYTES
                gone.append(record)
            freed = lane.bytes - size
        else:
            k = len(queue) - int(target)
            if k <= 0:
                return 0
            dropped = [popleft() for _ in range(k)]
            freed = sum(map(getsizeof, map(_message, dropped))) + RECORD_OVERHEAD_BYTES * k
            gone += dropped
        k = len(gone) - before
        if not k:
            return 0
        lane.bytes -= freed
        if lane is self._victim:  # its lead shrinks in both bounds, whichever one shed
            self._lead_n -= k
            self._lead_b -= freed
        lane.skip += k
        self._dead += k
        self._len -= k
        self._bytes -= freed
        counters = self.dropped_by_container
        counters[lane.id] = counters.pop(lane.id, 0) + k  # to the end: most recent
        if len(counters) > MAX_DROP_COUNTERS:
            del counters[next(iter(counters))]
        return freed if by_bytes else k

    def _compact(self) -> None:
        """Take the dropped records' entries out of the runs (amortised O(1) per drop)."""
        lanes: deque[_Lane] = deque()
        sizes: deque[int] = deque()
        for lane, n in zip(self._run_lanes, self._run_sizes, strict=True):
            if lane.skip:
                passed = min(lane.skip, n)
                lane.skip -= passed
                n -= passed
            if n:
                if lanes and lanes[-1] is lane:
                    sizes[-1] += n
                else:
                    lanes.append(lane)
                    sizes.append(n)
        self._run_lanes, self._run_sizes = lanes, sizes
        self._dead = 0

    # -- out ---------------------------------------------------------------------------------

    def take(self, max_records: int) -> list[Record]:
        """Remove and return up to ``max_records`` records, in the order they came (maybe none)."""
        if not self._len:
            return []
        run_lanes = self._run_lanes
        run_sizes = self._run_sizes
        if len(run_lanes) == 1 and self._len <= max_records and not self._dead:
            # the usual case when the destination keeps up: everything, of one container
            lane = run_lanes[0]
            out = list(lane.queue)
            lane.queue.clear()
            lane.bytes = 0
            run_lanes.clear()
            run_sizes.clear()
            self._len = self._bytes = 0
            self._emptied()
            return out
        out = []
        want = max_records
        taken_bytes = 0
        while want and run_lanes:
            lane = run_lanes[0]
            n = run_sizes[0]
            if lane.skip:
                passed = min(lane.skip, n)
                lane.skip -= passed
                self._dead -= passed
                n -= passed
                if not n:
                    run_lanes.popleft()
                    run_sizes.popleft()
                    continue
            queue = lane.queue
            k = min(n, want)
            if k == len(queue):
                chunk = list(queue)
                queue.clear()
                size = lane.bytes
                lane.bytes = 0
            else:
                popleft = queue.popleft
                chunk = [popleft() for _ in range(k)]
                size = sum(map(getsizeof, map(_message, chunk))) + RECORD_OVERHEAD_BYTES * k
                lane.bytes -= size
            if lane is self._victim:
                self._lead_n -= k
                self._lead_b -= size
            taken_bytes += size
            out += chunk
            want -= k
            if k == n:
                run_lanes.popleft()
                run_sizes.popleft()
            else:
                run_sizes[0] = n - k
        self._len -= len(out)
        self._bytes -= taken_bytes
        if not self._len:
            self._emptied()
        return out

    def _emptied(self) -> None:
        self._event.clear()
        self._victim = None
        if self._shedding:
            self._shedding = False
            log.warning(
                "%s: buffer caught up; %d records were %s while it was full",
                self.name,
                self._episode_dropped,
                "moved to the disk spool" if self.spills else "dropped",
            )
            self._episode_dropped = 0

    async def wait(self) -> None:
        """Until there is something to take, or the buffer is closed."""
        if not self._len and not self.closed:
            self._event.clear()  # a put whose records were all dropped at once leaves it set
            await self._event.wait()

    def close(self) -> None:
        """No more records will come; wake the consumer so it can drain and stop."""
        self.closed = True
        self._event.set()
