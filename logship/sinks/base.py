"""What a destination type is: its config model, its URI schemes and its sink, in one place.

Each destination folder (``logship/sinks/<type>/``) describes itself with one
:class:`DestinationType` in its ``__init__.py``; :mod:`logship.sinks.registry` lists the
folders. The sink class is named by an import string and imported only when a destination of
that type is built, so the configuration can be read without loading every sink's code.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from logship.config.destination import DestinationConfig
from logship.pipeline.runner import Sink
from logship.record import AgentIdentity


class CheckedSink(Sink, Protocol):
    """A destination's sink: it sends (:class:`~logship.pipeline.runner.Sink`), and it can say
    whether the destination works, for ``logship check``."""

    async def healthcheck(self) -> str:
        """Reach the destination the way sending would (connect, handshake, ask something
        harmless) and say what was found; raise a :class:`~logship.errors.LogshipError` (or
        an ``OSError``) saying why it does not work. Nothing a receiver would store is sent."""
        ...


@dataclass(frozen=True)
class SinkContext:
    """What the agent tells every sink it builds, beyond the destination's own config: who
    is shipping (``agent``: Elasticsearch documents carry it). A sink built without one (a
    test, ``logship check``) is given a new identity of its own."""

    agent: AgentIdentity


def import_string(target: str) -> Any:
    """``"package.module:Attribute"`` -> the attribute; ImportError naming the target."""
    module, _, attribute = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        raise ImportError(f"cannot import {target!r}: {exc}") from exc


@dataclass(frozen=True)
class DestinationType:
    """One kind of destination.

    ``schemes``: each URI scheme that means this type, with the options the scheme implies
    (``syslog+tls`` -> ``{"transport": "tls"}``). ``sink``: ``"module:Class"`` of the sink,
    built with the destination's config and the agent's :class:`SinkContext`
    (``Class(config, context=context)``).
    """

    name: str
    config: type[DestinationConfig]
    sink: str
    schemes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def build(self, config: DestinationConfig, context: SinkContext | None = None) -> CheckedSink:
        sink_class = import_string(self.sink)
        sink: CheckedSink = sink_class(config, context=context)
        return sink
