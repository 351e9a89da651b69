"""What runs now, as a reload (``SIGHUP``) changes it: the set of destinations that health,
metrics, ``/containers`` and back-pressure read at each look, and the reloads' own counts.

The agent owns both and changes them; the others only read them (and, for the destinations,
are told of each one that joins, before it takes a record: the send timer of ``/metrics``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

from logship.pipeline.destination import Destination

Joined = Callable[[Destination], None]


def unique_names(names: list[str]) -> list[str]:
    """Destination names as metric labels: a name used twice gets ``#2``, ``#3``."""
    out: list[str] = []
    for name in names:
        label, n = name, 1
        while label in out:
            n += 1
            label = f"{name} #{n}"
        out.append(label)
    return out


class Destinations:
    """The destinations the router feeds now, in configuration order."""

    def __init__(self, destinations: Sequence[Destination]) -> None:
        self._now = list(destinations)
        self._watchers: list[tuple[Joined, Joined | None]] = []

    def __iter__(self) -> Iterator[Destination]:
        return iter(self._now)

    def __len__(self) -> int:
        return len(self._now)

    def __getitem__(self, index: int) -> Destination:
        return self._now[index]

    def named(self) -> list[tuple[str, Destination]]:
        """Each destination with its name as health, metrics and /containers show it."""
        return list(zip(unique_names([d.name for d in self._now]), self._now, strict=True))

    def watch(self, joined: Joined, left: Joined | None = None) -> None:
        """Tell ``joined`` of every destination there is, and of each one a reload adds
        (before it takes a record); ``left`` of each one a reload takes away (before the
        destinations that join)."""
        self._watchers.append((joined, left))
        for destination in self._now:
            joined(destination)

    def replace(self, destinations: Sequence[Destination]) -> None:
        """A reload's new set (the agent's, only); then the watchers hear of the new ones."""
        staying = {id(d) for d in destinations}
        known = {id(d) for d in self._now}
        gone = [d for d in self._now if id(d) not in staying]
        self._now = list(destinations)
        for destination in gone:
            for _, left in self._watchers:
                if left is not None:
                    left(destination)
        for destination in destinations:
            if id(destination) not in known:
                for joined, _ in self._watchers:
                    joined(destination)


class Reloads:
    """How the reloads went: Prometheus' own ``prometheus_config_last_reload_*`` shape.

    ``last_success`` starts at the time the configuration was first read (as Prometheus'
    does): a dashboard's "configuration age" means the same before and after the first
    reload."""

    def __init__(self, now: float | None = None) -> None:
        self.succeeded = 0
        self.failed = 0
        self.last_ok = True  # the last attempt applied (or none was made yet)
        self.last_success = time.time() if now is None else now  # Unix seconds

    def success(self, now: float | None = None) -> None:
        self.succeeded += 1
        self.last_ok = True
        self.last_success = time.time() if now is None else now

    def failure(self) -> None:
        self.failed += 1
        self.last_ok = False
