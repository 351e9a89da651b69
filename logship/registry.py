"""Destination names, URI schemes and the classes behind them, imported only when used."""

from __future__ import annotations

import importlib
from typing import Any

# destination type -> "module:Class" of its sink
SINKS: dict[str, str] = {
    "console": "logship.sinks.console.sink:ConsoleSink",
    "syslog": "logship.sinks.syslog.sink:SyslogSink",
    "gelf": "logship.sinks.gelf.sink:GelfSink",
    "elasticsearch": "logship.sinks.elasticsearch.sink:ElasticsearchSink",
    "forward": "logship.sinks.forward.sink:ForwardSink",
}

# URI scheme -> (destination type, options the scheme implies)
SCHEMES: dict[str, tuple[str, dict[str, Any]]] = {
    "console": ("console", {}),
    "syslog": ("syslog", {"transport": "udp"}),
    "syslog+udp": ("syslog", {"transport": "udp"}),
    "syslog+tcp": ("syslog", {"transport": "tcp"}),
    "syslog+tls": ("syslog", {"transport": "tls"}),
    "gelf": ("gelf", {"transport": "udp"}),
    "gelf+udp": ("gelf", {"transport": "udp"}),
    "gelf+tcp": ("gelf", {"transport": "tcp"}),
    "gelf+http": ("gelf", {"transport": "http"}),
    "gelf+https": ("gelf", {"transport": "https"}),
    "elasticsearch+http": ("elasticsearch", {"scheme": "http"}),
    "elasticsearch+https": ("elasticsearch", {"scheme": "https"}),
    "opensearch+http": ("elasticsearch", {"scheme": "http"}),
    "opensearch+https": ("elasticsearch", {"scheme": "https"}),
    "forward": ("forward", {"transport": "tcp"}),
    "forward+tls": ("forward", {"transport": "tls"}),
}


def import_string(target: str) -> Any:
    module, _, attribute = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        raise ImportError(f"cannot import {target!r}: {exc}") from exc


def sink_class(destination_type: str) -> Any:
    try:
        target = SINKS[destination_type]
    except KeyError:
        raise ValueError(
            f"unknown destination type {destination_type!r}; expected one of {', '.join(SINKS)}"
        ) from None
    return import_string(target)
