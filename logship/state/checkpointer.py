"""Saves each followed container's checkpoint every ``checkpoint_interval_secs`` (when it
changed) and once more at shutdown."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from typing import Protocol

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


class Checkpointer:
    """Owns the state directory's checkpoint file while the agent runs (``store``, opened);
    reads what ``progresses`` (one per destination) say was handled."""

    def __init__(
        self,
        store: CheckpointStore,
        source: _Source,
        progresses: list[Progress],
        *,
        interval_secs: float,
    ) -> None:
        self.store = store
        self.source = source
        self.progresses = progresses
        self.interval_secs = interval_secs
        self.saved: dict[str, ResumePosition | None] | None = None  # what the file holds now
        self._lock = threading.Lock()  # a periodic write in its thread vs the final one

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
