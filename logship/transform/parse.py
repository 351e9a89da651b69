"""Lines that are JSON objects, read as fields (no I/O): the stage the router runs first, before
multiline joining (a parsed record is never joined to another line).

Each container's lines are parsed when its ``logship.parse`` label says so, else when the
setting does (:class:`~logship.config.parse.ParseConfig`). A line that is a JSON object becomes
a :class:`~logship.record.Parsed` record; any other line (not JSON, or JSON but no object) goes
on as it came, and is counted in :attr:`ParseStage.not_json`: never dropped.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import orjson

from logship.config.labels import container_options
from logship.config.parse import LEVEL_FIELDS, MESSAGE_FIELDS, TIME_FIELDS, ParseConfig, severity_of
from logship.record import ContainerMeta, Parsed, Record, format_timestamp_ns, normalize_timestamp

_stage_ids = itertools.count()
_MISSING: Any = object()


def line_time(value: object) -> str | None:
    """A line's own time as a canonical timestamp: RFC 3339 text or Unix seconds (a number);
    None when it is neither (or out of range)."""
    try:
        if isinstance(value, str):
            return normalize_timestamp(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            if 0 <= value < 253402300800:  # before year 10000
                return format_timestamp_ns(int(Decimal(repr(value)) * 1_000_000_000))
    except ValueError:
        return None
    return None


class ParseStage:
    """Gives each batch back with the lines of parsing containers read as fields."""

    def __init__(self, config: ParseConfig) -> None:
        self.config = config
        self._message_fields = (config.message_field,) if config.message_field else MESSAGE_FIELDS
        self._level_fields = (config.level_field,) if config.level_field else LEVEL_FIELDS
        self._time_fields = (config.time_field,) if config.time_field else TIME_FIELDS
        self._use_time = config.use_time
        self._severities: dict[str, Any] = {}  # level names seen -> severity
        self._key = ("parse", next(_stage_ids))
        self.parsed = 0  # lines read as fields
        self.not_json = 0  # lines of parsing containers that were no JSON object, shipped as such

    def wants(self, meta: ContainerMeta) -> bool:
        """Whether this container's lines are parsed (its label, else the setting); asked once."""
        wanted: bool | None = meta.cache.get(self._key)
        if wanted is None:
            own = container_options(meta).parse
            wanted = meta.cache[self._key] = self.config.enabled if own is None else own
        return wanted

    def push(self, records: list[Record]) -> list[Record]:
        if not records:
            return records
        meta = records[0].meta
        if records[-1].meta is meta:  # the usual batch: one container's
            return self._parse_all(records) if self.wants(meta) else records
        out: list[Record] = []
        last = None
        wanted = False
        for record in records:
            if record.meta is not last:
                last = record.meta
                wanted = self.wants(last)
            out.append(self.parse(record) if wanted else record)
        return out

    def parse(self, record: Record) -> Record:
        """``record`` read as fields, or as it is (counted) when it is no JSON object."""
        return self._parse_all([record])[0]

    def _parse_all(self, records: list[Record]) -> list[Record]:
        """Every record read as fields, or as it is (counted) when it is no JSON object. One
        loop with everything it needs in locals: this runs for every line of a parsing
        container."""
        loads, dumps, decode_error = orjson.loads, orjson.dumps, orjson.JSONDecodeError
        message_fields, level_fields = self._message_fields, self._level_fields
        severities = self._severities
        use_time = self._use_time
        out: list[Record] = []
        append = out.append
        parsed = 0
        for record in records:
            line = record.message
            first = line[:1]
            obj: object = None
            if first == "{" or (first.isspace() and line.lstrip()[:1] == "{"):
                try:
                    obj = loads(line)
                except decode_error:
                    pass
            if type(obj) is not dict:  # no JSON object: shipped as it is (counted below)
                append(record)
                continue
            parsed += 1
            text = line
            for name in message_fields:
                value = obj.pop(name, _MISSING)
                if value is not _MISSING:
                    text = value if type(value) is str else dumps(value).decode()
                    break
            level = severity = None
            for name in level_fields:
                value = obj.pop(name, _MISSING)
                if value is _MISSING:
                    continue
                if type(value) is str:
                    level = value
                    severity = severities.get(value, _MISSING)
                    if severity is _MISSING:
                        severity = severity_of(value)
                        if len(severities) < 256:
                            severities[value] = severity
                else:
                    severity = severity_of(value)
                    level = dumps(value).decode()
                break
            time = self._time(obj) if use_time else None
            append(Parsed(record, text, obj, level, severity, time))
        self.parsed += parsed
        self.not_json += len(records) - parsed
        return out

    def _time(self, obj: dict[str, object]) -> str | None:
        """The line's own time (its field then taken out of ``obj``), None if it has none."""
        for name in self._time_fields:
            if name in obj:
                time = line_time(obj[name])
                if time is not None:
                    del obj[name]
                return time
        return None
