"""What the Docker source keeps per container, and the metadata it reads from an inspect."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from logship.protocol.docker import LogDecoder
from logship.protocol.filelog import FileLogDecoder
from logship.record import ContainerMeta, HostMeta, ResumePosition
from logship.sources.docker.logstream import LogStream

if TYPE_CHECKING:
    from logship.sources.files.tail import FileTail

# what each container's decoder counts of its stream (bad input is counted and skipped; see
# logship.protocol.docker)
DECODER_COUNTS = (
    "bytes_read",
    "truncated",
    "bad_timestamps",
    "malformed_frames",
    "skipped_bytes",
    "engine_errors",
    "truncated_frames",
    "malformed_lines",
)


def meta_from_inspect(data: dict[str, Any], host: HostMeta) -> ContainerMeta:
    config = data.get("Config") or {}
    path = data.get("Path") or ""
    args = data.get("Args") or []
    return ContainerMeta(
        id=data["Id"],
        name=str(data.get("Name") or "").lstrip("/"),
        image=str(config.get("Image") or data.get("Image") or ""),
        image_id=str(data.get("Image") or ""),
        host=host,
        labels=dict(config.get("Labels") or {}),
        env=tuple(config.get("Env") or ()),
        command=" ".join([path, *args]).strip(),
        created=str(data.get("Created") or ""),
        tty=bool(config.get("Tty")),
    )


@dataclass(eq=False)
class Tracked:
    """What the source keeps per container for as long as the container exists (a
    :class:`~logship.sources.base.ContainerView`)."""

    meta: ContainerMeta
    decoder: LogDecoder | FileLogDecoder  # the Engine API's stream, or its json-file log
    skip_reason: str | None = None
    task: asyncio.Task[None] | None = None
    wake: bool = False  # a start event came while the task was finishing
    destroyed: bool = False
    lines: int = 0
    # where reading this container began (None: its whole log); checkpoints fall back to it
    start: ResumePosition | None = None
    stream: LogStream | None = None  # the follow stream open now, if any
    log_path: Path | None = None  # its json-file log, when read from the file (source files)
    tail: FileTail | None = None  # the reader of that file, while it reads
    found_at_start: bool = False  # running when the source started (not found by an event)
    exited: bool = False  # it stopped (a die event, or found not running) and did not start
    quiet_probes: int = 0  # checks of a quiet stream that found nothing newer, in a row
    probed_read: float = -1.0  # the stream's last read when it was last checked
    checking: bool = False  # a check of its quiet stream is under way

    @property
    def following(self) -> bool:
        return self.task is not None

    @property
    def position(self) -> ResumePosition | None:
        return self.decoder.position

    def counts(self) -> Mapping[str, int]:
        decoder = self.decoder
        return {name: getattr(decoder, name, 0) for name in DECODER_COUNTS}
