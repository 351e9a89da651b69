"""How far each destination has *handled* each container's lines, and the checkpoint that
follows from it.

A destination has handled a record once it sent it, refused it for good, dropped it from its
full buffer, or did not want it (its filter). A container's checkpoint is the oldest of the
destinations' positions, so after a restart no destination misses a line.

The work is per batch: a source batch (one container's records) is noted by its last record;
for each batch a destination is done with, one C-level pass (``dict(zip(...))``) finds each
container's newest record, and only that record's position is kept. Measured (bench note in
docs/guarantees.md): about 0.04 us per line, with checkpoints on only.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter

from logship.pipeline.observer import DeliveryObserver
from logship.record import Record, ResumePosition, resume_position

_meta = attrgetter("meta")


def _note_newest(records: list[Record], into: dict[str, ResumePosition]) -> None:
    """For each container in ``records``, where reading resumes after its last record."""
    if not records:
        return
    last = records[-1]
    if len(records) == 1:
        newest = {last.meta: last}
    else:  # one C-level pass; the last record of each container wins
        newest = dict(zip(map(_meta, records), records, strict=True))
    for meta, record in newest.items():
        position = resume_position(record)
        if position is not None:
            into[meta.id] = position


def _note_last(records: list[Record], into: dict[str, ResumePosition]) -> None:
    """Like :func:`_note_newest` for a batch of one container (as the source emits them),
    in O(1). Should a batch hold several, the others are not noted: their checkpoint then
    lags (more is read again after a restart), it never runs ahead."""
    if records:
        last = records[-1]
        position = resume_position(last)
        if position is not None:
            into[last.meta.id] = position


class Progress(DeliveryObserver):
    """One destination's progress, per container id (it observes the destination).

    ``offered``: position after the newest record routed to this destination (wanted or not);
    ``accepted``: after the newest record put into its buffer; ``handled``: after the newest
    record of its buffer it is done with. A destination's buffer gives out (and drops) each
    container's records oldest first, so every accepted record up to ``handled`` is done too,
    and once ``handled`` reaches ``accepted`` everything offered is: the rest was filtered out.

    While a batch is being sent, a drop of newer records of the same container must not count
    yet (the batch may still fail): drops then wait in ``_later`` until the batch is done.

    ``held``: containers some of whose records were lost before they were handled (the disk
    refused to spool them), and where their checkpoint stays for the rest of this run (None:
    where reading began), so that a restart reads them again.
    """

    __slots__ = ("_busy", "_later", "accepted", "handled", "held", "offered")

    def __init__(self, begins: dict[str, ResumePosition] | None = None) -> None:
        """``begins``: where a destination added while the agent runs begins, per container
        (see :meth:`logship.state.checkpointer.Checkpointer.follow_from_now`): offered and
        handled up to there."""
        self.offered: dict[str, ResumePosition] = dict(begins or {})
        self.accepted: dict[str, ResumePosition] = {}
        self.handled: dict[str, ResumePosition] = dict(begins or {})
        self._busy = False
        self._later: dict[str, ResumePosition] = {}
        self.held: dict[str, ResumePosition | None] = {}

    # -- told by the destination (its route, runner, buffer and spool) -------------------------

    def routed(self, records: list[Record], selected: list[Record]) -> None:
        """A source batch (one container's records) reached this destination; ``selected``
        went into its buffer."""
        _note_last(records, self.offered)
        _note_last(selected, self.accepted)

    def sending(self) -> None:
        """The runner took a batch and is sending it."""
        self._busy = True

    def done(self, batch: list[Record]) -> None:
        """The batch was sent, or refused for good: handled either way."""
        _note_newest(batch, self.handled)
        self._busy = False
        if self._later:
            self.handled.update(self._later)
            self._later.clear()

    def discarded(self, records: list[Record]) -> None:
        """The buffer dropped these to make room (each container's oldest first)."""
        _note_newest(records, self._later if self._busy else self.handled)

    def lost(self, records: list[Record]) -> None:
        """The disk refused to spool these (each container's, newer than all it handled):
        their containers' checkpoints hold where they are."""
        held, handled = self.held, self.handled
        for meta in dict.fromkeys(map(_meta, records)):
            if meta.id not in held:
                held[meta.id] = handled.get(meta.id)

    # -- read by the checkpointer --------------------------------------------------------------

    def position(self, container_id: str) -> ResumePosition | None:
        """Where this destination needs the container read from again; None: no record of it
        has reached this destination yet."""
        if container_id in self.held:
            return self.held[container_id]
        accepted = self.accepted.get(container_id)
        handled = self.handled.get(container_id)
        if accepted is None or (handled is not None and handled >= accepted):
            return self.offered.get(container_id)
        return handled

    def forget(self, keep: Iterable[str]) -> None:
        """Drop what is known of containers not in ``keep`` (gone from the engine)."""
        keep = set(keep)
        for table in (self.offered, self.accepted, self.handled, self._later, self.held):
            for key in [k for k in table if k not in keep]:
                del table[key]


def checkpoint(
    container_id: str, start: ResumePosition | None, progresses: list[Progress]
) -> ResumePosition | None:
    """The container's checkpoint: the oldest position any destination still needs.

    ``start`` is where the source began reading the container (None: its whole log); a
    destination that has seen none of its records needs everything from there.
    """
    oldest: ResumePosition | None = None
    for progress in progresses:
        position = progress.position(container_id)
        if position is None:
            return start
        if oldest is None or position < oldest:
            oldest = position
    return start if oldest is None else oldest
