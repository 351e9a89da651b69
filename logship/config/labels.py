"""What a container says about its own logs, with ``logship.*`` labels: read once per container.

| label | what it does for that container |
| --- | --- |
| ``logship.ignore=true`` | not shipped (read in :mod:`logship.sources.filters`) |
| ``logship.multiline=java`` | joins multiline records by a preset, or ``off`` |
| ``logship.multiline.pattern=^\\d{4}-`` | joins by a start pattern |
| ``logship.parse=json`` | reads lines that are JSON objects as fields, or ``off`` |
| ``logship.field.<name>=<value>`` | a static field on every record |
| ``logship.tag=<template>`` | the syslog tag, GELF ``_tag``, forward tag |
| ``logship.destinations=es,syslog`` | ships only to these destinations (by name) |

Labels that narrow what is shipped (ignore, destinations) count only while the operator lets
containers opt out (``honor_ignore``). A label whose value cannot be used is logged once, with
the container's name, and ignored: the container is shipped as if it did not have it. Other
``logship.*`` labels are left alone (tools of one's own may use the prefix: the benchmark does).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from logship.config.multiline import OFF, PRESETS
from logship.config.parse import JSON
from logship.record import ContainerMeta

log = logging.getLogger("logship")

PREFIX = "logship."
IGNORE = "logship.ignore"
MULTILINE = "logship.multiline"
MULTILINE_PATTERN = "logship.multiline.pattern"
PARSE = "logship.parse"
FIELD = "logship.field."
TAG = "logship.tag"
DESTINATIONS = "logship.destinations"

_CACHE_KEY = "logship.labels"
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}")
_TAG_TEXT = re.compile(r"[^\x00-\x1f\x7f]{1,128}")


@dataclass(frozen=True, slots=True)
class Multiline:
    """How a container's labels ask its lines to be joined: a preset, a start pattern, or
    neither (``off``)."""

    preset: str | None = None
    start_pattern: str | None = None


@dataclass(frozen=True, slots=True)
class ContainerOptions:
    """A container's ``logship.*`` labels, checked."""

    multiline: Multiline | None = None  # None: no label; the destination's or global setting
    fields: dict[str, str] = field(default_factory=dict)
    tag: str | None = None
    destinations: frozenset[str] | None = None  # None: every destination
    problems: tuple[str, ...] = ()
    parse: bool | None = None  # None: no label; the global setting


NONE = ContainerOptions()


def container_options(meta: ContainerMeta) -> ContainerOptions:
    """The container's options from its labels, read (and its bad labels logged) once."""
    options: ContainerOptions | None = meta.cache.get(_CACHE_KEY)
    if options is None:
        options = read_labels(meta.labels)
        if options is NONE:  # no logship.* label: nothing to keep (asked once per user)
            return options
        for problem in options.problems:
            log.warning("container %s: %s; the label is ignored", meta.name, problem)
        meta.cache[_CACHE_KEY] = options
    return options


def read_labels(labels: dict[str, str]) -> ContainerOptions:
    """The options ``labels`` give; what cannot be used is in ``problems``, not applied."""
    if not any(key.startswith(PREFIX) for key in labels):
        return NONE
    problems: list[str] = []
    multiline = _multiline(labels, problems)
    fields: dict[str, str] = {}
    for key, value in sorted(labels.items()):
        if key.startswith(FIELD):
            name = key[len(FIELD) :]
            if _FIELD_NAME.fullmatch(name):
                fields[name] = value
            else:
                problems.append(
                    f"label {key}: {name!r} is no field name (letters, digits, '_', '.', '-'; "
                    "up to 64, not beginning with a digit)"
                )
    tag = labels.get(TAG)
    if tag is not None and not _TAG_TEXT.fullmatch(tag):
        problems.append(f"label {TAG}={tag!r}: expected 1 to 128 printable characters")
        tag = None
    destinations = None
    if DESTINATIONS in labels:
        names = frozenset(n.strip() for n in labels[DESTINATIONS].split(",") if n.strip())
        if names:
            destinations = names
        else:
            problems.append(f"label {DESTINATIONS}: expected destination names, a,b")
    parse = None
    if PARSE in labels:
        word = labels[PARSE].strip().lower()
        if word in (JSON, OFF):
            parse = word == JSON
        else:
            problems.append(f"label {PARSE}={labels[PARSE]!r}: expected {JSON} or {OFF}")
    return ContainerOptions(multiline, fields, tag, destinations, tuple(problems), parse)


def _multiline(labels: dict[str, str], problems: list[str]) -> Multiline | None:
    preset = labels.get(MULTILINE)
    pattern = labels.get(MULTILINE_PATTERN)
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            problems.append(f"label {MULTILINE_PATTERN}={pattern!r}: no regular expression ({exc})")
            pattern = None
    if preset is not None:
        value = preset.strip().lower()
        if value == OFF:
            if pattern is not None:
                problems.append(f"label {MULTILINE_PATTERN}: {MULTILINE}=off turns joining off")
            return Multiline()
        if value not in PRESETS:
            problems.append(
                f"label {MULTILINE}={preset!r}: expected one of {', '.join(PRESETS)} or {OFF}"
            )
        elif pattern is not None:
            problems.append(
                f"labels {MULTILINE} and {MULTILINE_PATTERN}: give one of them (the preset is used)"
            )
            return Multiline(preset=value)
        else:
            return Multiline(preset=value)
    if pattern is not None:
        return Multiline(start_pattern=pattern)
    return None
