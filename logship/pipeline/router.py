"""Fans each batch of records from the source out to every destination's buffer, through
each destination's own filter."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase

from logship.config.filters import DestinationFilter
from logship.pipeline.buffer import DropOldestBuffer
from logship.pipeline.observer import DeliveryObserver
from logship.record import ContainerMeta, Record

_route_ids = itertools.count()

Tap = Callable[[list[Record]], None]
"""Also given every batch, after the routes. A tap must not block nor keep the list."""


def wants_container(filter: DestinationFilter, meta: ContainerMeta) -> bool:
    """Whether ``filter`` takes any record of this container (its name, id and labels; the
    streams are a matter of each record)."""
    if filter.name is not None and not fnmatchcase(meta.name, filter.name):
        return False
    if filter.id is not None and not meta.id.startswith(filter.id):
        return False
    for item in filter.labels:
        key, _, value = item.partition(":")
        if key not in meta.labels or not fnmatchcase(meta.labels[key], value):
            return False
    return True


class Route:
    """One destination's way in: its filter and its buffer; ``observer`` is told what was
    routed (checkpoints)."""

    def __init__(
        self,
        buffer: DropOldestBuffer,
        filter: DestinationFilter | None = None,
        observer: DeliveryObserver | None = None,
    ) -> None:
        self.buffer = buffer
        self.filter = filter if filter else None
        self.observer = observer if observer is not None else DeliveryObserver()
        self.filtered = 0  # records this destination did not want
        self._key = ("route", next(_route_ids))
        self._sources = frozenset(filter.sources) if filter and filter.sources else None

    def wants_container(self, meta: ContainerMeta) -> bool:
        """Whether this route may take any record of this container (name, id, labels)."""
        return self.filter is None or wants_container(self.filter, meta)

    def select(self, records: list[Record]) -> list[Record]:
        key = self._key
        sources = self._sources
        out = []
        last_meta: ContainerMeta | None = None
        wanted = False
        for r in records:
            if r.meta is not last_meta:
                last_meta = r.meta
                wanted = last_meta.cache.get(key)  # type: ignore[assignment]
                if wanted is None:
                    wanted = last_meta.cache[key] = self.wants_container(last_meta)
            if wanted and (sources is None or r.stream in sources):
                out.append(r)
        self.filtered += len(records) - len(out)
        return out

    def put(self, records: list[Record]) -> None:
        selected = self.select(records) if self.filter is not None else records
        self.observer.routed(records, selected)
        self.buffer.put(selected)

    def release(self, metas: Iterable[ContainerMeta]) -> None:
        """Forget what this route noted on these containers (a route that goes away early)."""
        for meta in metas:
            meta.cache.pop(self._key, None)


class Router:
    """Called by the source with each decoded batch: every route, then every tap."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes
        self.records = 0
        self._taps: list[Tap] = []  # none unless --http is on

    def emit(self, records: list[Record]) -> None:
        """Called by the source with each decoded batch; never blocks."""
        self.records += len(records)
        for route in self.routes:
            route.put(records)
        for tap in self._taps:
            tap(records)

    def add_tap(self, tap: Tap) -> None:
        self._taps.append(tap)

    def remove_tap(self, tap: Tap) -> None:
        if tap in self._taps:
            self._taps.remove(tap)
