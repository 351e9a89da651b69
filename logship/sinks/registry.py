"""Every destination type logship has, registered once: one line per destination folder.

Adding a destination is its folder (config, sink, health check; see
docs/adding-a-destination.md) and one line here.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from logship.config.destination import DestinationConfig
from logship.sinks.base import CheckedSink, DestinationType, SinkContext, import_string

DESTINATIONS = (
    "logship.sinks.console:DESTINATION",
    "logship.sinks.syslog:DESTINATION",
    "logship.sinks.gelf:DESTINATION",
    "logship.sinks.elasticsearch:DESTINATION",
    "logship.sinks.forward:DESTINATION",
)


@functools.cache
def destination_types() -> tuple[DestinationType, ...]:
    """Every destination type, in the order above."""
    return tuple(import_string(target) for target in DESTINATIONS)


def by_name(name: str) -> DestinationType:
    for kind in destination_types():
        if kind.name == name:
            return kind
    names = ", ".join(kind.name for kind in destination_types())
    raise ValueError(f"unknown destination type {name!r}; expected one of {names}")


@functools.cache
def schemes() -> Mapping[str, tuple[str, Mapping[str, Any]]]:
    """URI scheme -> (destination type, the options the scheme implies)."""
    return {
        scheme: (kind.name, implied)
        for kind in destination_types()
        for scheme, implied in kind.schemes.items()
    }


def build_sink(config: DestinationConfig, context: SinkContext | None = None) -> CheckedSink:
    """The sink of a destination, built from its config (and what the agent tells every
    sink: :class:`~logship.sinks.base.SinkContext`)."""
    return by_name(config.type).build(config, context)
