"""What was read, per container and stream, counted once per decoded batch by a tap on the
router (:class:`ReadCounter`), with what the containers' decoders counted. Containers the
engine removed move into the totals, which therefore never go down. Read by ``/metrics`` and
``/containers``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from logship.record import STDERR, STDOUT, Record
from logship.sources.base import ContainerView, Source


@dataclass(eq=False)
class _Reads:
    container: ContainerView | None
    stdout: int = 0
    stderr: int = 0

    @property
    def read(self) -> int:
        return self.stdout + self.stderr


class ReadCounter:
    """Records read per container and stream, counted once per batch (a router tap), and the
    containers' decoder counts; what a removed container counted moves into the totals.

    Each batch the source emits comes from one container's decoder, so a batch costs one dict
    lookup and a count of its stderr records (a list comprehension, 20-40 ns a line; only while
    the HTTP server is on).
    """

    def __init__(self, source: Source) -> None:
        self.source = source
        self.current: dict[str, _Reads] = {}
        self.gone = {STDOUT: 0, STDERR: 0}
        self.gone_decoded: dict[str, int] = {}

    def __call__(self, records: list[Record]) -> None:
        if not records:
            return
        meta = records[0].meta
        if records[-1].meta is not meta:  # not one container's batch: never from the source
            for record in records:
                self([record])
            return
        entry = self.current.get(meta.id)
        if entry is None:
            containers = self.source.containers()
            if len(self.current) >= 2 * len(containers) + 64:
                self.settle()  # gone containers' counts (amortised: once per 64+ new ones)
            entry = self.current[meta.id] = _Reads(containers.get(meta.id))
        errors = [r.stream for r in records].count(STDERR)  # the one per-line cost
        entry.stderr += errors
        entry.stdout += len(records) - errors

    def settle(self) -> None:
        """Fold the counts of containers the engine no longer has into the totals, and start
        keeping those of containers that read nothing yet."""
        containers = self.source.containers()
        for container_id in [c for c in self.current if c not in containers]:
            entry = self.current.pop(container_id)
            self.gone[STDOUT] += entry.stdout
            self.gone[STDERR] += entry.stderr
            if entry.container is not None:
                _add(self.gone_decoded, entry.container.counts())
        for container_id, container in containers.items():
            if container_id not in self.current:
                self.current[container_id] = _Reads(container)

    def totals(self) -> dict[str, int]:
        out = dict(self.gone)
        for entry in self.current.values():
            out[STDOUT] += entry.stdout
            out[STDERR] += entry.stderr
        return out

    def decoded(self) -> dict[str, int]:
        """What containers' decoders counted (ContainerView.counts), summed over every
        container ever followed."""
        out = dict(self.gone_decoded)
        for entry in self.current.values():
            if entry.container is not None:
                _add(out, entry.container.counts())
        return out


def _add(into: dict[str, int], counts: Mapping[str, int]) -> None:
    for name, count in counts.items():
        into[name] = into.get(name, 0) + count
