"""Fans each batch of records from the source out to every destination's buffer, through
each destination's own filter; joins multiline records on the way (once for every destination,
or in a destination's route when it joins its own way) and runs their flush timer."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase

from logship.config.filters import DestinationFilter
from logship.config.labels import container_options
from logship.pipeline.buffer import DropOldestBuffer
from logship.pipeline.observer import DeliveryObserver
from logship.record import ContainerMeta, Record
from logship.transform.multiline import MultilineStage
from logship.transform.parse import ParseStage

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
    """One destination's way in: its own multiline joining (``stage``; None: it takes the
    router's), its filter and its buffer; ``observer`` is told what was routed (checkpoints):
    what the stage gives out, never a line it still holds.

    With ``honor_opt_outs``, a container labelled ``logship.destinations`` that does not name
    this destination (``name``) is filtered out."""

    def __init__(
        self,
        buffer: DropOldestBuffer,
        filter: DestinationFilter | None = None,
        observer: DeliveryObserver | None = None,
        stage: MultilineStage | None = None,
        *,
        name: str = "",
        honor_opt_outs: bool = False,
    ) -> None:
        self.buffer = buffer
        self.stage = stage
        self.name = name
        self.honor_opt_outs = honor_opt_outs
        if honor_opt_outs and filter is None:
            filter = DestinationFilter()
        self.filter = filter if filter or honor_opt_outs else None
        self.observer = observer if observer is not None else DeliveryObserver()
        self.filtered = 0  # records this destination did not want
        self._key = ("route", next(_route_ids))
        self._sources = frozenset(filter.sources) if filter and filter.sources else None

    def wants_container(self, meta: ContainerMeta) -> bool:
        """Whether this route may take any record of this container (name, id, labels, and
        the container's own choice of destinations if it is honoured)."""
        if self.honor_opt_outs:
            chosen = container_options(meta).destinations
            if chosen is not None and self.name not in chosen:
                return False
        return self.filter is None or wants_container(self.filter, meta)

    def select(self, records: list[Record]) -> list[Record]:
        key = self._key
        sources = self._sources
        if sources is None and records and records[0].meta is records[-1].meta:
            meta = records[0].meta  # one container's batch, as sources emit them: one look
            known: bool | None = meta.cache.get(key)
            if known is None:
                known = meta.cache[key] = self.wants_container(meta)
            if known and all(r.meta is meta for r in records):
                return records
        out = []
        last_meta: ContainerMeta | None = None
        wanted: bool | None = False
        for r in records:
            if r.meta is not last_meta:
                last_meta = r.meta
                wanted = last_meta.cache.get(key)
                if wanted is None:
                    wanted = last_meta.cache[key] = self.wants_container(last_meta)
            if wanted and (sources is None or r.stream in sources):
                out.append(r)
        self.filtered += len(records) - len(out)
        return out

    def put(self, records: list[Record]) -> None:
        if self.stage is not None:
            records = self.stage.push(records, time.monotonic())
            if not records:
                return
        self._deliver(records)

    def flush(self, now: float | None) -> None:
        """Deliver what its own stage held past the flush timeout by ``now`` (None: all)."""
        if self.stage is not None:
            for batch in self.stage.due(now):
                self._deliver(batch)

    def _deliver(self, records: list[Record]) -> None:
        selected = self.select(records) if self.filter is not None else records
        self.observer.routed(records, selected)
        self.buffer.put(selected)

    def release(self, metas: Iterable[ContainerMeta]) -> None:
        """Forget what this route noted on these containers (a route that goes away early)."""
        for meta in metas:
            meta.cache.pop(self._key, None)


class Router:
    """Called by the source with each decoded batch: the ``parse`` stage (JSON lines read as
    fields), the multiline ``stage`` (once, for the routes that have none of their own), every
    route, then every tap (which see the lines as
    they were read). :meth:`run` gives out what the stages hold once their flush timeout
    passes; :meth:`flush` at the end, everything they hold."""

    def __init__(
        self,
        routes: list[Route],
        stage: MultilineStage | None = None,
        parse: ParseStage | None = None,
    ) -> None:
        self.records = 0
        self._taps: list[Tap] = []  # none unless --http is on
        self._holding = asyncio.Event()  # set when a stage may hold something
        self._set(routes, stage, parse)

    def _set(
        self, routes: list[Route], stage: MultilineStage | None, parse: ParseStage | None
    ) -> None:
        self.routes = routes
        self.stage = stage
        self.parse = parse
        self._shared = [r for r in routes if r.stage is None] if stage is not None else []
        self._own = [r for r in routes if r.stage is not None or stage is None]
        self._stages = [s for s in (stage, *(r.stage for r in routes)) if s is not None]

    def reroute(
        self,
        routes: list[Route],
        stage: MultilineStage | None = None,
        parse: ParseStage | None = None,
    ) -> None:
        """A reload: the batches emitted from now on go through these ``routes`` and stages
        (the same objects where nothing changed). A route that goes, and the shared
        ``stage`` when it is replaced, first deliver what they hold to the routes they fed:
        no line read before the reload is left behind in a stage nobody flushes."""
        if self.stage is not None and stage is not self.stage:
            for batch in self.stage.due(None):
                for route in self._shared:
                    route.put(batch)
        for route in self.routes:
            if route not in routes:
                route.flush(None)
        self._set(routes, stage, parse)
        self._holding.set()  # the flush timer looks at the stages again

    def emit(self, records: list[Record]) -> None:
        """Called by the source with each decoded batch; never blocks."""
        self.records += len(records)
        read = records
        if self.parse is not None:
            records = self.parse.push(records)
        if self.stage is not None:
            joined = self.stage.push(records, time.monotonic())
            if joined:
                for route in self._shared:
                    route.put(joined)
        for route in self._own:
            route.put(records)
        if not self._holding.is_set() and any(s.holding for s in self._stages):
            self._holding.set()  # wake the flush timer: a record is open
        for tap in self._taps:
            tap(read)

    # -- what the multiline stages hold ---------------------------------------------------------

    def next_deadline(self) -> float | None:
        deadlines = [d for s in self._stages if (d := s.next_deadline()) is not None]
        return min(deadlines, default=None)

    def flush(self, now: float | None = None) -> None:
        """Deliver what the stages held past their flush timeout by ``now`` (monotonic
        seconds; None: everything they hold, when no more lines come)."""
        if self.stage is not None:
            for batch in self.stage.due(now):
                for route in self._shared:
                    route.put(batch)
        for route in self.routes:
            route.flush(now)

    async def run(self) -> None:
        """Deliver open multiline records once their flush timeout passes, until cancelled.
        Returns at once when nothing is joined (``logship run`` always has a stage, which a
        reload may turn on)."""
        if not self._stages:
            return
        while True:
            deadline = self.next_deadline()
            if deadline is None:
                self._holding.clear()
                await self._holding.wait()
                continue
            # a record opened meanwhile is due a full flush timeout after it opened: never
            # sooner than the shortest timeout from now, so sleeping no longer than that
            # oversleeps no one's
            delay = min(deadline - time.monotonic(), self._shortest_timeout())
            if delay > 0:
                await asyncio.sleep(delay)
            self.flush(time.monotonic())

    def _shortest_timeout(self) -> float:
        return min(s.flush_timeout_secs for s in self._stages)

    def add_tap(self, tap: Tap) -> None:
        self._taps.append(tap)

    def remove_tap(self, tap: Tap) -> None:
        if tap in self._taps:
            self._taps.remove(tap)
