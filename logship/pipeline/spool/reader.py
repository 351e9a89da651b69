"""The disk spool's reading side: the oldest segment loaded and given out in batches
(:meth:`SpoolReader.take`), forgotten as it is delivered (:meth:`SpoolReader.ack`, which moves
the cursor, and deletes the segment once it is all delivered), and what cannot be read (a
corrupt frame, a file that fails) counted and skipped. The segment set is :mod:`.store`'s; the
segment being written is made readable by :mod:`.writer`. Files are read, deleted and the
cursor written in the spool's disk thread (:mod:`.disk`)."""

from __future__ import annotations

from logship.pipeline.spool.counts import Counts
from logship.pipeline.spool.disk import DiskThread
from logship.pipeline.spool.format import CorruptFrame, FrameInfo, decode_frame, walk
from logship.pipeline.spool.store import Job, Segment, SegmentStore
from logship.pipeline.spool.writer import SpoolWriter
from logship.record import ContainerMeta, HostMeta, Record


class Reading:
    """The oldest segment, loaded to be sent."""

    __slots__ = ("data", "frames", "hosts", "index", "metas", "records", "segment", "skip")

    def __init__(self, segment: Segment, data: bytes, frames: list[FrameInfo]) -> None:
        self.segment = segment
        self.data = data
        self.frames = frames
        self.index, self.skip = segment.start
        self.metas: dict[int, ContainerMeta] = {}
        self.hosts: dict[tuple[str, str], HostMeta] = {}
        self.records: list[Record] | None = None  # frames[index], decoded

    def position(self) -> tuple[int, int]:
        """(offset of the frame the next record is in, records of it already taken)."""
        if self.index < len(self.frames):
            return self.frames[self.index].offset, self.skip
        return len(self.data), 0

    def take(self, n: int) -> list[Record]:
        out: list[Record] = []
        while len(out) < n and self.index < len(self.frames):
            records = self.records
            if records is None:
                records = self.records = self._decode(self.frames[self.index])
            chunk = records[self.skip : self.skip + n - len(out)]
            out += chunk
            self.skip += len(chunk)
            if self.skip >= len(records):
                self.index += 1
                self.skip = 0
                self.records = None
        return out

    def skip_delivered(self) -> None:
        """Read the containers defined by the frames delivered before this run."""
        for frame in self.frames[: self.index]:
            self._decode(frame)

    def _decode(self, frame: FrameInfo) -> list[Record]:
        return decode_frame(self.data, frame, self.metas, self.hosts)

    @property
    def exhausted(self) -> bool:
        return self.index >= len(self.frames)


class SpoolReader:
    """Gives out one spool's records, oldest first, and forgets them once delivered."""

    def __init__(
        self, store: SegmentStore, writer: SpoolWriter, counts: Counts, disk: DiskThread
    ) -> None:
        self._disk = disk
        self._store = store
        self._writer = writer
        self._counts = counts
        self._head: Reading | None = None  # None, or its segment deleted: load the oldest
        self._taken: Segment | None = None  # what take gave (segment.sending records of it)

    async def take(self, max_records: int) -> list[Record]:
        """The oldest records held, up to ``max_records`` (all of one segment); [] if none.
        Until :meth:`ack`, they still count as held."""
        segments = self._store.segments
        while self._counts.records:
            head = self._head
            if head is None or head.segment.deleted:
                if not segments or segments[0] is self._writer.active:
                    await self._writer.seal()  # what waits, and the active segment: readable
                if not segments:
                    return []
                segment = segments[0]
                try:
                    data = await self._disk.run(segment.path.read_bytes)
                except OSError as exc:
                    if not segment.deleted:  # (deleted meanwhile: the spool was full)
                        await self._damaged(segment, segment.size, f"cannot read it: {exc}")
                    continue
                if segment.deleted:
                    continue
                head = Reading(segment, data, walk(data).frames)
                self._head = head
                self._reconcile(head)
                try:
                    head.skip_delivered()
                except CorruptFrame as exc:
                    await self._corrupt(head, exc)
                    continue
            try:
                records = head.take(max_records)
            except CorruptFrame as exc:
                await self._corrupt(head, exc)
                continue
            if records:
                if self._taken is not None:  # given before and not acked: not being sent now
                    self._taken.sending = 0
                self._taken = head.segment
                head.segment.sending = len(records)
                return records
            await self._disk.run(self._finish(head.segment))  # nothing left in it
        return []

    async def ack(self) -> None:
        """What :meth:`take` gave was delivered (or refused for good): forget it."""
        segment, self._taken = self._taken, None
        if segment is None:
            return
        n, segment.sending = segment.sending, 0
        counts = self._counts
        counts.sent += n
        if segment.deleted:
            return  # deleted while being sent (spool full): already not counted as held
        segment.remaining -= n
        counts.records -= n
        head = self._head
        if head is None or head.segment is not segment:  # not expected: see restart
            if not segment.remaining:
                await self._disk.run(self._finish(segment))
        elif head.exhausted:
            await self._disk.run(self._finish(segment))
        else:
            segment.start = (head.index, head.skip)  # should it be loaded again
            # not waited for: it is written in its turn, before anything asked of the disk
            # after it (a crash before it sends this batch again, as it always could)
            self._disk.later(self._store.cursor(segment.seq, *head.position()))

    def restart(self) -> None:
        """A segment was put before the others: it is read next. Not expected while a segment
        is being read (the runner takes from the buffer only when the spool is empty); that
        one is read again from its start when its turn comes."""
        self._head = None

    def _finish(self, segment: Segment) -> Job:
        if self._head is not None and self._head.segment is segment:
            self._head = None
        if segment.remaining:  # frames said more than they held: nothing more to read
            self._counts.damaged += segment.remaining
            self._counts.records -= segment.remaining
            segment.remaining = 0
        return self._store.release(segment)

    def _reconcile(self, head: Reading) -> None:
        """After a failed write the file may hold fewer (or more) records than counted."""
        segment = head.segment
        actual = sum(f.records for f in head.frames)
        if actual != segment.records:
            diff = actual - segment.records
            segment.records = actual
            segment.remaining += diff
            self._counts.records += diff

    async def _corrupt(self, head: Reading, exc: CorruptFrame) -> None:
        offset = head.frames[head.index].offset if not head.exhausted else len(head.data)
        await self._damaged(head.segment, len(head.data) - offset, str(exc))

    async def _damaged(self, segment: Segment, nbytes: int, why: str) -> None:
        """The rest of this segment cannot be read: counted, logged, the segment deleted."""
        self._store.damage_found(segment.path, nbytes, segment.remaining, why)
        self._counts.records -= segment.remaining
        segment.remaining = 0
        await self._disk.run(self._finish(segment))
