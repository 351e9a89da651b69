"""One bound on the memory that half-read lines take, all containers together.

A line comes in pieces (Docker's 16 KiB entries, a CRI runtime's ``P`` lines, a TTY's chunks)
and is gathered until its end: up to ``max_line_bytes`` per stream of each container. A
hundred containers that each leave a long line open would hold a hundred times that. Each
reader tells :class:`HeldLines` what its decoder holds after every read; past the bound, the
reader holding the most ships what it has of its open lines as records of their own (marked
as continued, see :data:`~logship.record.CONTINUED_MARKER`) and starts gathering again. Nothing
is dropped: the rest of such a line comes as the next record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger("logship.source")

DEFAULT_MAX_PARTIAL_BYTES = 16 * 1024 * 1024


class Holder:
    """One reader's share: ``split()`` ships its open lines now (it is called from
    :meth:`HeldLines.update`, on whichever reader's turn the bound was passed) and returns
    what it still holds after that."""

    __slots__ = ("held", "name", "split")

    def __init__(self, name: str, split: Callable[[], int]) -> None:
        self.name = name
        self.split = split
        self.held = 0


class HeldLines:
    def __init__(self, max_bytes: int = DEFAULT_MAX_PARTIAL_BYTES) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0  # held by every reader now
        self.splits = 0  # times a reader's open lines were shipped in parts to stay bounded
        self._holding: set[Holder] = set()  # the readers that hold anything
        self._logged = False

    def update(self, holder: Holder, held: int) -> None:
        """``holder`` holds ``held`` bytes now; past the bound, the readers holding the
        most split their lines until it is kept again."""
        self._set(holder, held)
        while self.bytes > self.max_bytes and self._holding:
            longest = max(self._holding, key=_held)
            self.splits += 1
            if not self._logged:
                self._logged = True
                log.warning(
                    "lines being gathered hold more than %d bytes (max_partial_bytes): the "
                    "longest, of %s, is shipped in parts (each marked as continued; counted "
                    "in partial_splits)",
                    self.max_bytes,
                    longest.name,
                )
            before = longest.held
            self._set(longest, longest.split())
            if longest.held >= before:  # nothing it could let go: do not ask it again
                self._holding.discard(longest)

    def release(self, holder: Holder) -> None:
        """The reader is done (what it held is shipped or forgotten)."""
        self._set(holder, 0)

    def _set(self, holder: Holder, held: int) -> None:
        self.bytes += held - holder.held
        holder.held = held
        if held:
            self._holding.add(holder)
        else:
            self._holding.discard(holder)


def _held(holder: Holder) -> int:
    return holder.held
