"""A destination's disk spool: what its full memory buffer would drop goes to disk instead.

Off by default; ``spool.enabled`` on a destination turns it on (it needs ``state_dir``).

Modules, one job each:

- :mod:`.format`: the bytes of a segment, records to frames and back (no I/O);
- :mod:`.store`: the segment files in order, what the last run left found again at open
  (torn tails cut off), the cursor, and deleting segments (delivered, or the oldest when full);
- :mod:`.writer`: what waits in memory for the disk (bounded), flushes (write, fsync, then
  ``on_stored``), rotation, the bound ``max_bytes``, segments put in front, a failing disk;
- :mod:`.disk`: the spool's disk I/O, in a worker thread of its own, in order; a flush all
  or nothing;
- :mod:`.reader`: giving out the oldest records in batches, forgetting them once delivered
  (the cursor moves), and what cannot be read;
- :mod:`.spool`: :class:`Spool`, the parts built together, and its counters (:mod:`.counts`).

Design
------
*Overflow only.* Records reach the spool through the buffer's ``on_discard``: the records a
full buffer sheds (fairly: the container holding the most first, its oldest first). While the
destination keeps up nothing is written, and the per-line path is the same as without a spool.
Records are collected in memory and appended together every ``FLUSH_INTERVAL_SECS`` (0.2 s)
or sooner when many are waiting: one ``write`` and one ``fsync`` per flush (and one of the
directory when a segment file was created), never per record.

*On disk.* ``<state_dir>/spool/<destination key>/`` holds segment files ``<seq>.seg`` in the
format of :mod:`.format` (msgpack frames with length, count and CRC; the container's metadata
once per segment, of its environment only the variables the destination sends), each about
``segment_bytes``, and a 24-byte ``cursor`` file saying how far the oldest segment was
delivered. The key comes from the destination's ``name`` when it has one
(so its options can be changed and the spool is found again), else from its type, host, port
and a hash of its delivery options (not of buffer, batch, filter, spool or ``*_secs`` options).
Together the segments stay within ``max_bytes``: when a flush would pass it, the oldest segment
is deleted and its records are counted as dropped (``dropped``, metric reason ``spool_full``),
logged once per episode.

*Checkpoints.* A record counts as handled by the destination (so the container's checkpoint
may move past it) once it is in a segment and that segment was fsync'd: the spool delivers it
even after a crash or a power cut. During an outage checkpoints therefore keep moving.

*Order.* The runner sends from the spool first, oldest segment first, and only when the spool
is empty from the memory buffer. A buffer sheds each container's oldest records first and the
spool keeps them in shedding order, so each container's lines reach the destination in the
order they were written. Across containers the order is no longer arrival order: a quiet
container's lines, kept in memory, wait until the spool is sent. What goes to disk is what
the buffer's fairness chose (mostly the flooding containers' lines); when the spool itself is
full it drops its oldest segment, whichever containers' lines it holds.

*A refused batch.* A batch taken from the buffer is older than anything spooled (the runner
takes from the buffer only when the spool is empty). When the destination refuses it for now
(down), it goes to disk as a segment placed *before* all others and is retried from there, so
order holds and no batch from memory is held during an outage (a checkpoint cannot move past
a batch being sent; this way it moves on).

*Shutdown and restart.* After the drain grace, what is still in the memory buffer goes to the
spool, and so does a batch from it the runner was still sending (placed before the others, as
above). Everything is fsync'd before the checkpoints are saved, so a clean
restart loses nothing even when the destination is down. At start, the segments found are
sent first, from the cursor on; a record is rebuilt with its container's full metadata even
when that container is gone. A crash between a delivery and the cursor's write sends at most
one batch again.

*Off the event loop.* Every read, write, fsync, file deletion and cursor write runs in the
spool's own worker thread, one at a time in the order asked (:mod:`.disk`); the event loop
decides, encodes and counts. A disk that stalls stalls the spool (what waits for it stays
bounded, above), never the agent: its health answers, the other destinations and the sources
go on.

*A disk that refuses.* A flush whose write or fsync fails (ENOSPC, EDQUOT, EIO...) is undone
whole: each file it wrote to is cut back to what it held, and its records are not stored:
counted as lost (``disk_full`` for ENOSPC and EDQUOT, ``disk_error`` otherwise, metric reasons
of the same names), logged once per episode (and once when writing works again), and given to
``on_lost``, so that their containers' checkpoints hold before them for the rest of the run: a
restart reads them again. A batch the destination refused that cannot be put in front stays
in memory and is retried from there.

*Damage.* A segment cut short by a crash (a torn tail) is found at start from the frame
headers: the good frames are kept, the rest is cut off, counted (``damaged``, metric reason
``spool_damaged``) and logged once per segment. A frame whose CRC does not match is found
when read: the rest of that segment is counted and logged the same way.
"""

from __future__ import annotations

from logship.pipeline.spool.format import EnvKept
from logship.pipeline.spool.spool import Spool
from logship.pipeline.spool.store import CURSOR_NAME

__all__ = ["CURSOR_NAME", "EnvKept", "Spool"]
