"""``/containers``: every container the source knows, with its enrichment, what was read of it
and where its log is being read from."""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from logship.record import STDERR, STDOUT

_dumps = functools.partial(json.dumps, default=str)  # a checkpoint of a type not known here

if TYPE_CHECKING:
    from logship.server.metrics import ReadCounter
    from logship.sources.docker.source import DockerSource, Tracked


def _state(tracked: Tracked) -> str:
    if tracked.skip_reason is not None:
        return "skipped"
    return "following" if tracked.task is not None else "stopped"


def _position(position: tuple[str, int] | None) -> dict[str, Any] | None:
    if position is None:
        return None
    timestamp, count = position
    return {"timestamp": timestamp, "entries_at_timestamp": count}


def describe(tracked: Tracked, reads: ReadCounter) -> dict[str, Any]:
    meta = tracked.meta
    k8s = meta.kubernetes
    entry = reads.current.get(meta.id)
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
        "lines_read": {STDOUT: entry.stdout if entry else 0, STDERR: entry.stderr if entry else 0},
        "lines_truncated": tracked.decoder.truncated,
        "position": _position(tracked.decoder.position),
    }
    if tracked.skip_reason is not None:
        doc["skip_reason"] = tracked.skip_reason
    checkpoint = getattr(tracked, "checkpoint", None)  # where a restart resumes, once saved
    if checkpoint is not None:
        doc["checkpoint"] = _position(checkpoint) if isinstance(checkpoint, tuple) else checkpoint
    return doc


class Containers:
    def __init__(self, source: DockerSource, reads: ReadCounter) -> None:
        self.source = source
        self.reads = reads

    async def handle(self, request: web.Request) -> web.Response:
        self.reads.settle()
        tracked = sorted(self.source.containers.values(), key=lambda t: (t.meta.name, t.meta.id))
        return web.json_response([describe(t, self.reads) for t in tracked], dumps=_dumps)
