"""Saves each followed container's checkpoint every ``checkpoint_interval_secs`` (when it
changed) and once more at shutdown."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Protocol

from logship.pipeline.observer import DeliveryObserver
from logship.record import ContainerMeta, ResumePosition
from logship.state.checkpoints import CheckpointStore
from logship.state.progress import Progress, checkpoint

log = logging.getLogger("logship.state")


class _Container(Protocol):
    """What a checkpoint needs of a container a source knows."""

    @property
    def meta(self) -> ContainerMeta: ...

    @property
    def skip_reason(self) -> str | None: ...

    @property
    def start(self) -> ResumePosition | None: ...


class _Source(Protocol):
    """What the checkpointer needs of the source (a :class:`logship.sources.base.Source`)."""

    @property
    def ready(self) -> asyncio.Event: ...

    def containers(self) -> Mapping[str, _Container]: ...


class _Observed(Protocol):
    """A destination, as the checkpointer follows it (a
    :class:`~logship.pipeline.destination.Destination`)."""

    def observe(self, observer: DeliveryObserver) -> None: ...


class Checkpointer:
    """Owns the state directory's checkpoint file while the agent runs (``store``, opened);
    follows what each of ``destinations`` handled (a :class:`Progress` observing each, from
    before it runs)."""

    def __init__(
        self,
        store: CheckpointStore,
        source: _Source,
        destinations: Iterable[_Observed],
        *,
        interval_secs: float,
    ) -> None:
        self.store = store
        self.source = source
        self._followed: dict[_Observed, Progress] = {}
        for destination in destinations:
            self._follow(destination, Progress())
        self.interval_secs = interval_secs
        self.saved: dict[str, ResumePosition | None] | None = None  # what the file holds now
        self._lock = threading.Lock()  # a periodic write in its thread vs the final one

    # -- a reload adds and removes destinations ----------------------------------------------

    @property
    def progresses(self) -> list[Progress]:
        return list(self._followed.values())

    def _follow(self, destination: _Observed, progress: Progress) -> None:
        destination.observe(progress)
        self._followed[destination] = progress

    def follow_from_now(self, destination: _Observed) -> None:
        """A destination a reload adds (before it takes a record): it begins with the lines
        routed from now on, so it holds no container's checkpoint before where the others
        were last offered lines. It needs none of the lines before, and a restart must not
        read them again for it."""
        newest: dict[str, ResumePosition] = {}
        for progress in self._followed.values():
            for container_id, position in progress.offered.items():
                known = newest.get(container_id)
                if known is None or known < position:
                    newest[container_id] = position
        self._follow(destination, Progress(newest))

    def unfollow(self, destination: _Observed) -> None:
        """A destination a reload took away, done: it holds no checkpoint back any more."""
        self._followed.pop(destination, None)

    def snapshot(self) -> tuple[dict[str, ResumePosition | None], dict[str, str]]:
        """Checkpoint and name of every followed container; forgets containers gone."""
        positions: dict[str, ResumePosition | None] = {}
        names: dict[str, str] = {}
        containers = self.source.containers()
        for container_id, tracked in containers.items():
            if tracked.skip_reason is None:
                positions[container_id] = checkpoint(container_id, tracked.start, self.progresses)
                names[container_id] = tracked.meta.name
        for progress in self.progresses:
            progress.forget(containers)
        return positions, names

    def _write(self, positions: dict[str, ResumePosition | None], names: dict[str, str]) -> None:
        with self._lock:
            if positions != self.saved and self.store.write(positions, names):
                self.saved = positions

    async def run(self) -> None:
        """Every interval, once the source has found what runs, save what changed."""
        await self.source.ready.wait()
        while True:
            await asyncio.sleep(self.interval_secs)
            positions, names = self.snapshot()
            if positions != self.saved:
                await asyncio.to_thread(self._write, positions, names)

    def save(self) -> None:
        """Save now (at shutdown, after the destinations were drained)."""
        if not self.source.ready.is_set():
            return  # the containers were never listed: keep the file as it is
        positions, names = self.snapshot()
        self._write(positions, names)
        log.info("checkpoints of %d containers saved to %s", len(positions), self.store.path)

    def saved_positions(self) -> Mapping[str, ResumePosition | None]:
        """The positions the file holds now (empty before the first write)."""
        return self.saved or {}

    def close(self) -> None:
        """Let go of the state directory (its lock)."""
        self.store.close()
