"""Fans each batch of records from the source out to every destination's buffer, through
each destination's own filter."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase

from logship.config.filters import DestinationFilter
from logship.pipeline.buffer import DropOldestBuffer
from logship.record import ContainerMeta, Record
from logship.state.progress import Progress

_route_ids = itertools.count()


class Route:
    """One destination's way in: its filter and its buffer."""

    def __init__(self, buffer: DropOldestBuffer, filter: DestinationFilter | None = None) -> None:
        self.buffer = buffer
        self.filter = filter if filter else None
        self.filtered = 0  # records this destination did not want
        self.progress: Progress | None = None  # told what was routed here (checkpoints)
        self._key = ("route", next(_route_ids))
        self._sources = frozenset(filter.sources) if filter and filter.sources else None
        self._labels = [item.partition(":")[::2] for item in filter.labels] if filter else []

    def _wants_container(self, meta: ContainerMeta) -> bool:
        f = self.filter
        assert f is not None
        if f.name is not None and not fnmatchcase(meta.name, f.name):
            return False
        if f.id is not None and not meta.id.startswith(f.id):
            return False
        return all(
            key in meta.labels and fnmatchcase(meta.labels[key], value)
            for key, value in self._labels
        )

    def wants_container(self, meta: ContainerMeta) -> bool:
        """Whether this route may take any record of this container (name, id, labels)."""
        return self.filter is None or self._wants_container(meta)

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
                    wanted = last_meta.cache[key] = self._wants_container(last_meta)
            if wanted and (sources is None or r.stream in sources):
                out.append(r)
        self.filtered += len(records) - len(out)
        return out

    def put(self, records: list[Record]) -> None:
        selected = self.select(records) if self.filter is not None else records
        if self.progress is not None:
            self.progress.routed(records, selected)
        self.buffer.put(selected)

    def release(self, metas: Iterable[ContainerMeta]) -> None:
        """Forget what this route noted on these containers (a route that goes away early)."""
        for meta in metas:
            meta.cache.pop(self._key, None)


class Router:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes
        self.records = 0
        # also given every batch, after the routes: the HTTP server's counters and live /logs
        # readers. A tap must not block nor keep the list; none are there unless --http is on.
        self.taps: list[Callable[[list[Record]], None]] = []

    def emit(self, records: list[Record]) -> None:
        """Called by the source with each decoded batch; never blocks."""
        self.records += len(records)
        for route in self.routes:
            route.put(records)
        for tap in self.taps:
            tap(records)
