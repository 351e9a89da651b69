"""What a destination tells about the records it is given: the one interface through which
checkpoints, metrics and anything else watch the data path.

A :class:`DeliveryObserver` is told, per batch (never per record), that records were routed to
the destination, that a batch is being sent, how long a successful send took, that a batch
was handled (sent, or refused for good), that records were discarded (dropped by the full
buffer, or stored in the disk spool), and that records were lost before they were handled (the
disk refused to spool them). Every method does nothing here: an observer overrides what it
wants. A destination fans every event out to the observers registered with it
(:class:`Observers`), before it runs.
"""

from __future__ import annotations

from logship.record import Record


class DeliveryObserver:
    """Told what happens to one destination's records. Calls must be cheap and never block."""

    __slots__ = ()

    def routed(self, records: list[Record], selected: list[Record]) -> None:
        """A source batch (one container's records) reached the destination; ``selected``
        (those its filter wanted) went into its buffer."""

    def sending(self) -> None:
        """A batch was taken from the buffer and is being sent."""

    def sent(self, batch: list[Record], seconds: float) -> None:
        """One attempt delivered ``batch`` (or what was left of it) in ``seconds``."""

    def done(self, batch: list[Record]) -> None:
        """A batch from the buffer is handled: sent, refused for good, or moved to the spool."""

    def discarded(self, records: list[Record]) -> None:
        """Records left the data path early: dropped by the full buffer (each container's
        oldest first), or written to the disk spool for good."""

    def lost(self, records: list[Record]) -> None:
        """Records were lost before they were handled (the disk refused to spool them): no
        checkpoint may move past them, so that a restart reads them again."""


class Observers(DeliveryObserver):
    """Every observer of one destination, told in the order they were added."""

    __slots__ = ("_observers",)

    def __init__(self) -> None:
        self._observers: list[DeliveryObserver] = []

    def add(self, observer: DeliveryObserver) -> None:
        self._observers.append(observer)

    def routed(self, records: list[Record], selected: list[Record]) -> None:
        for observer in self._observers:
            observer.routed(records, selected)

    def sending(self) -> None:
        for observer in self._observers:
            observer.sending()

    def sent(self, batch: list[Record], seconds: float) -> None:
        for observer in self._observers:
            observer.sent(batch, seconds)

    def done(self, batch: list[Record]) -> None:
        for observer in self._observers:
            observer.done(batch)

    def discarded(self, records: list[Record]) -> None:
        for observer in self._observers:
            observer.discarded(records)

    def lost(self, records: list[Record]) -> None:
        for observer in self._observers:
            observer.lost(records)
