"""``logship tail``'s own options, checked before anything starts: ValueError naming the option
and what was given."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from logship.config.filters import DestinationFilter
from logship.pipeline.router import wants_container
from logship.record import ContainerMeta
from logship.sources.filters import ContainerFilter


@dataclass(frozen=True)
class TailContainers(ContainerFilter):
    """The source's selection narrowed by tail's ``--filter`` (``narrow``): a container whose
    every record the filter would drop is never streamed from the engine at all."""

    narrow: DestinationFilter | None = None

    def reason_to_skip(self, meta: ContainerMeta) -> str | None:
        reason = super().reason_to_skip(meta)
        if reason is None and self.narrow is not None and not wants_container(self.narrow, meta):
            return "not matched by --filter"
        return reason


_FILTER_KEYS = ("name", "id", "sources", "labels")


def parse_filters(items: list[str], stream: str | None = None) -> DestinationFilter | None:
    """``--filter name=web*`` ``--filter labels=k:v`` (or ``filter.name=...``, as in a
    destination URI) and ``--stream``: one :class:`DestinationFilter`, the same a destination
    takes. ValueError naming the option and what was given."""
    given: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().removeprefix("filter.")
        if not sep or key not in _FILTER_KEYS:
            raise ValueError(
                f"--filter {item!r}: expected KEY=VALUE with KEY one of " + ", ".join(_FILTER_KEYS)
            )
        if key in ("name", "id"):
            if key in given and given[key] != value:
                raise ValueError(f"--filter {key}= given twice ({given[key]!r}, {value!r})")
            given[key] = value
        else:
            given.setdefault(key, []).extend(v.strip() for v in value.split(",") if v.strip())
    if stream is not None:
        if given.get("sources", [stream]) != [stream]:
            raise ValueError(f"--stream {stream} and --filter sources= disagree")
        given["sources"] = [stream]
    try:
        selection = DestinationFilter(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise ValueError(f"--filter: {problems}") from None
    return selection or None


def parse_tail_lines(text: str | None) -> int | None:
    """``--tail N`` (or ``all``, docker's way of saying the whole log)."""
    if text is None or text.strip().lower() == "all":
        return None
    try:
        lines = int(text)
    except ValueError:
        lines = -1
    if lines < 0:
        raise ValueError(f"--tail {text!r}: expected a number of lines (0 or more) or 'all'")
    return lines


def compile_grep(pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"--grep {pattern!r} is not a valid regular expression: {exc}") from None
