"""``/containers``: every container the source knows, with its enrichment, what was read of it,
what each destination holds and dropped of it, and where its log is read from."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from logship.record import STDERR, STDOUT

if TYPE_CHECKING:
    from logship.agent import Agent
    from logship.protocol.docker import Position
    from logship.server.metrics import ReadCounter
    from logship.sources.docker.source import Tracked


def _state(tracked: Tracked) -> str:
    if tracked.skip_reason is not None:
        return "skipped"
    return "following" if tracked.task is not None else "stopped"


def _position(position: Position | None) -> dict[str, Any] | None:
    """(Docker's timestamp, entries with it consumed) as JSON."""
    if position is None:
        return None
    timestamp, count = position
    return {"timestamp": timestamp, "entries_at_timestamp": count}


class Containers:
    def __init__(self, agent: Agent, names: list[str], reads: ReadCounter) -> None:
        self.agent = agent
        self.names = names
        self.reads = reads

    async def handle(self, request: web.Request) -> web.Response:
        self.reads.settle()
        agent = self.agent
        held = [d.runner.buffer.held_by_container() for d in agent.destinations]
        # the positions last written to the state directory, when checkpoints are on
        checkpointer = agent.checkpointer
        saved = (checkpointer.saved if checkpointer is not None else None) or {}
        listing = []
        for tracked in sorted(agent.source.containers.values(), key=lambda t: t.meta.name):
            doc = self.describe(tracked)
            container_id = tracked.meta.id
            doc["destinations"] = [
                {
                    "name": name,
                    "buffered": holding.get(container_id, 0),
                    # what a full buffer shed went to the disk spool, when there is one
                    ("dropped" if d.runner.spool is None else "spooled"): (
                        d.runner.buffer.dropped_by_container.get(container_id, 0)
                    ),
                }
                for name, d, holding in zip(self.names, agent.destinations, held, strict=True)
            ]
            if container_id in saved:
                doc["checkpoint"] = _position(saved[container_id])
            listing.append(doc)
        return web.json_response(listing)

    def describe(self, tracked: Tracked) -> dict[str, Any]:
        meta = tracked.meta
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
            "state": _state(tracked),
            "lines_read": {
                STDOUT: entry.stdout if entry else 0,
                STDERR: entry.stderr if entry else 0,
            },
            "lines_truncated": tracked.decoder.truncated,
            "position": _position(tracked.decoder.position),
        }
        if tracked.skip_reason is not None:
            doc["skip_reason"] = tracked.skip_reason
        return doc
