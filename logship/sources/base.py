"""What a source is to the rest of the agent, whichever way it reads the logs.

A source finds containers, reads each one's log and hands every decoded batch of records to
the ``emit`` it was built with (one container's records per batch, in order). The agent needs
little else of it: :meth:`Source.run` and :meth:`Source.stop`, ``ready`` once it has found
what runs, each container it knows with where reading began and where it is
(:class:`ContainerView`, for checkpoints and the operator's window), and how its engine (or
whatever it reads from) is doing.

How a source reads is set by :class:`ReadOptions`; where it resumes after a restart by
:class:`Resume`. Positions are opaque to everyone but the source that made them, checkpoints
included: they are compared (older < newer) and stored, never looked into.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from logship.protocol.docker import DEFAULT_MAX_LINE_BYTES
from logship.record import ContainerMeta, ResumePosition
from logship.sources.held import DEFAULT_MAX_PARTIAL_BYTES


@dataclass(frozen=True)
class ReadOptions:
    """How a source reads.

    ``since``: the oldest line to read of a container seen for the first time (a canonical
    timestamp, usually when the agent started; None: each container's whole log).
    ``follow=False``: read what is there, then :meth:`Source.run` returns. ``stopped``: read
    containers that are not running too. ``wait_for_engine=False``: give up at once when the
    engine cannot be reached. ``max_partial_bytes``: what lines not yet complete may hold, all
    containers together (:class:`~logship.sources.held.HeldLines`). ``tail``: only the last N
    lines of a container read for the first time. ``until``: no line newer than this canonical
    timestamp; when following, the source ends once it has passed. ``quiet_stream_secs``: how
    long a follow stream may be silent before it is checked (0: never).
    """

    since: str | None = None
    follow: bool = True
    stopped: bool = False
    wait_for_engine: bool = True
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    max_partial_bytes: int = DEFAULT_MAX_PARTIAL_BYTES
    quiet_stream_secs: float = 0
    tail: int | None = None
    until: str | None = None


@dataclass(frozen=True)
class Resume:
    """Where an earlier run left off: positions saved per container id (None: its whole
    log), and the time after which a container with no saved position was created while no
    agent ran (so its whole log is new)."""

    positions: Mapping[str, ResumePosition | None] = field(default_factory=dict)
    created_after: str | None = None


class ContainerView(Protocol):
    """One container as a source knows it."""

    @property
    def meta(self) -> ContainerMeta: ...

    @property
    def skip_reason(self) -> str | None:
        """Why it is not followed (its labels, the include/exclude rules...); None if it is."""

    @property
    def following(self) -> bool:
        """Its log is being read now."""

    @property
    def start(self) -> ResumePosition | None:
        """Where reading it began (None: its whole log); a checkpoint falls back to it."""

    @property
    def position(self) -> ResumePosition | None:
        """How far its log was read."""

    def counts(self) -> Mapping[str, int]:
        """What its decoder counted of bad input (see logship.protocol.docker.LogDecoder)."""


@dataclass(frozen=True, slots=True)
class EngineStatus:
    """Whether the source can reach what it reads from."""

    endpoint: str
    connected: bool
    api_version: str | None = None
    error: str | None = None  # why it cannot, if it cannot


@dataclass(frozen=True, slots=True)
class SourceStats:
    connect_errors: int  # failed attempts to reach the engine at start
    events_errors: int  # times the events stream broke (then reconnected)
    stream_errors: int  # times a container's log stream failed (then read again)
    events_skipped: int  # lines of the events stream that were no container event
    quiet_streams: int  # follow streams found stuck and opened again
    partial_splits: int = 0  # lines shipped in parts to keep max_partial_bytes
    invalid_ids: int = 0  # containers the engine listed or inspected with no valid ID, skipped


class Source(Protocol):
    """What the agent runs: see the module's docstring."""

    @property
    def ready(self) -> asyncio.Event:
        """Set once the source has found what runs (and resumed what it should)."""

    async def run(self) -> None:
        """Read until stopped (or, without following, until what is there is read)."""

    async def stop(self) -> None:
        """Stop reading and let go of every connection; safe to call more than once."""

    def containers(self) -> Mapping[str, ContainerView]:
        """Every container the source knows now, by id."""

    def status(self) -> EngineStatus: ...

    def stats(self) -> SourceStats: ...
