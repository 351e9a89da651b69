"""What a disk spool counts: the figures :class:`~logship.pipeline.spool.Spool` shows (the log,
the metrics, the shutdown summary). One per spool, given to each of its parts through their
constructors; each part adds what it did."""

from __future__ import annotations


class Counts:
    """One spool's counters, in records unless said otherwise."""

    __slots__ = (
        "bytes",
        "damaged",
        "disk_error",
        "disk_full",
        "dropped",
        "received",
        "records",
        "replayed",
        "sent",
        "stored",
    )

    def __init__(self) -> None:
        self.records = 0  # held: waiting to be written, on disk, or being sent
        self.bytes = 0  # of the segment files
        self.received = 0  # records the buffer shed into the spool (its on_discard)
        self.stored = 0  # records written to disk
        self.sent = 0  # records delivered from the spool
        # records dropped because the spool was full (its oldest segments deleted), or because
        # the disk was slower than the overflow (the oldest of those waiting for it)
        self.dropped = 0
        self.damaged = 0  # records lost to a torn or corrupt segment
        # records lost because the disk refused to write or fsync them: out of space (ENOSPC,
        # EDQUOT), or any other error
        self.disk_full = 0
        self.disk_error = 0
        self.replayed = 0  # records found at start
