"""``/containers``: every container the source knows, with its enrichment, what was read of it,
what each destination holds and dropped of it, and where its log is read from."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from logship.pipeline.running import Destinations
from logship.record import STDERR, STDOUT, ResumePosition
from logship.server.reads import ReadCounter
from logship.sources.base import ContainerView, Source
from logship.state.checkpoints import position_json

Checkpoints = Callable[[], Mapping[str, ResumePosition | None]]
"""The positions last written to the state directory (when checkpoints are on)."""


def _state(container: ContainerView) -> str:
    if container.skip_reason is not None:
        return "skipped"
    return "following" if container.following else "stopped"


def _position(position: ResumePosition | None) -> dict[str, Any] | None:
    """Where a container's log is read (or saved) up to: Docker's timestamp and the entries
    with it consumed, or a file and an offset in it."""
    if position is None:
        return None
    shown = position_json(position)
    if "file" in shown:
        return shown["file"]  # type: ignore[no-any-return]
    return {"timestamp": shown["timestamp"], "entries_at_timestamp": shown["skip"]}


class Containers:
    def __init__(
        self,
        source: Source,
        destinations: Destinations,
        reads: ReadCounter,
        checkpoints: Checkpoints | None = None,
    ) -> None:
        self.source = source
        self.destinations = destinations
        self.reads = reads
        self.checkpoints = checkpoints

    async def handle(self, request: web.Request) -> web.Response:
        self.reads.settle()
        named = self.destinations.named()
        held = [d.held_by_container() for _, d in named]
        shed = [d.shed_by_container() for _, d in named]
        saved = self.checkpoints() if self.checkpoints is not None else {}
        listing = []
        for container in sorted(self.source.containers().values(), key=lambda c: c.meta.name):
            doc = self.describe(container)
            container_id = container.meta.id
            doc["destinations"] = [
                {
                    "name": name,
                    "buffered": holding.get(container_id, 0),
                    # what a full buffer shed went to the disk spool, when there is one
                    ("spooled" if d.has_spool else "dropped"): gone.get(container_id, 0),
                }
                for (name, d), holding, gone in zip(named, held, shed, strict=True)
            ]
            if container_id in saved:
                doc["checkpoint"] = _position(saved[container_id])
            listing.append(doc)
        return web.json_response(listing)

    def describe(self, container: ContainerView) -> dict[str, Any]:
        meta = container.meta
        k8s = meta.kubernetes
        entry = self.reads.current.get(meta.id)
        doc: dict[str, Any] = {
            "id": meta.id,
            "name": meta.name,
            "image": {"name": meta.image_name, "tag": meta.image_tag, "id": meta.image_id},
            "labels": meta.labels,
            "kubernetes": None
            if k8s is None
            else {
                "namespace": k8s.namespace,
                "pod": {"name": k8s.pod_name, "uid": k8s.pod_uid},
                "container": {"name": k8s.container_name},
            },
            "state": _state(container),
            "lines_read": {
                STDOUT: entry.stdout if entry else 0,
                STDERR: entry.stderr if entry else 0,
            },
            "lines_truncated": container.counts().get("truncated", 0),
            "position": _position(container.position),
        }
        if container.skip_reason is not None:
            doc["skip_reason"] = container.skip_reason
        return doc
