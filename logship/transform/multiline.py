"""Joining the lines of one event (a stack trace) into one record: the core, with no I/O and no
clock of its own (the caller says what time it is; :mod:`logship.pipeline.router` runs the
timer).

Each container's streams are joined apart (stdout and stderr never mix), by the container's
:class:`~logship.transform.rules.Rule` (None: its records pass as they are). The record being
gathered on a stream is *open* until a line comes that does not continue it, its bounds
(``max_lines``, ``max_bytes``) are reached, or nothing came for ``flush_timeout_secs``
(:meth:`MultilineStage.due`). A joined record has its lines separated by ``\\n``, the first
line's timestamp and ``seq``, and the last line's resume position.

Checkpoints: a line held open is not shipped yet, so no record given out may say that reading
resumes past it. Each record given out carries as ``end`` the older of its own resume position
and the position just before the oldest line still open in its container (None: not known,
which no checkpoint notes). Those positions never go backwards from one record given out to the
next, so a destination's progress stays a prefix of the container's log.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from logship.config.labels import Multiline, container_options
from logship.config.multiline import DEFAULT_FLUSH_TIMEOUT_SECS, MultilineConfig
from logship.record import ContainerMeta, Parsed, Record, ResumePosition, resume_position
from logship.transform.rules import NO, Rule, compile_rule

_stage_ids = itertools.count()
_UNKNOWN: Any = object()  # no line of the container came before this one (as far as known)


class Joined(Record):
    """A record given out by the stage: joined lines, or one line given out while an older one
    of its container is still open. ``end``: where reading resumes after it."""

    __slots__ = ("end",)
    end: ResumePosition | None


class _Open:
    """The record being gathered on one stream."""

    __slots__ = ("before", "bytes", "committed", "deadline", "records", "state")

    def __init__(self, record: Record, state: int, before: Record | None, deadline: float) -> None:
        self.records = [record]
        self.state = state
        self.committed = 1  # records[committed:] joined tentatively (see rules.py)
        self.bytes = -1  # UTF-8 size of the lines, once a second one comes
        self.before = before  # the line before its first (None: not known)
        self.deadline = deadline


class _Container:
    __slots__ = ("last", "open", "rule")

    def __init__(self, rule: Rule | None) -> None:
        self.rule = rule
        self.open: dict[str, _Open] = {}
        self.last: Record | None = None  # the newest line given to us


def _size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class MultilineStage:
    """Joins the lines of each container by the rule ``rule_for`` gives it (asked once per
    container). Given batches as the source emits them; gives out what is complete, and what
    waited ``flush_timeout_secs`` for a line that did not come (:meth:`due`)."""

    def __init__(
        self,
        rule_for: Callable[[ContainerMeta], Rule | None],
        *,
        flush_timeout_secs: float = DEFAULT_FLUSH_TIMEOUT_SECS,
    ) -> None:
        self._rule_for = rule_for
        self.flush_timeout_secs = flush_timeout_secs
        self._key = ("multiline", next(_stage_ids))
        self._holding: dict[ContainerMeta, _Container] = {}  # containers with open records
        self.joined = 0  # records made of more than one line
        self.flushed = 0  # open records given out because their flush timeout passed
        self.cut = 0  # records given out full (max_lines or max_bytes), their trace going on

    def _container(self, meta: ContainerMeta) -> _Container:
        state: _Container | None = meta.cache.get(self._key)
        if state is None:
            state = meta.cache[self._key] = _Container(self._rule_for(meta))
        return state

    @property
    def holding(self) -> int:
        """Containers with a record open."""
        return len(self._holding)

    def push(self, records: list[Record], now: float) -> list[Record]:
        """The records of a source batch that are complete (joined ones included), and those
        of earlier batches that these complete; the rest is held open. ``now``: monotonic
        seconds."""
        if not records:
            return records
        meta = records[0].meta
        if records[-1].meta is meta:  # the usual batch: one container's
            container = self._container(meta)
            if container.rule is None:
                return records
            out: list[Record] = []
            self._join(meta, container, records, now, out)
            return out
        out = []
        run: list[Record] = []
        for record in records:
            if record.meta is not meta and run:
                self._push_run(run, now, out)
                run = []
            meta = record.meta
            run.append(record)
        self._push_run(run, now, out)
        return out

    def _push_run(self, run: list[Record], now: float, out: list[Record]) -> None:
        meta = run[0].meta
        container = self._container(meta)
        if container.rule is None:
            out.extend(run)
        else:
            self._join(meta, container, run, now, out)

    def _join(
        self,
        meta: ContainerMeta,
        container: _Container,
        records: list[Record],
        now: float,
        out: list[Record],
    ) -> None:
        rule = container.rule
        assert rule is not None
        opened = container.open
        table = rule.table
        follows, first, tentative = table.follows, table.first, table.tentative
        max_lines, max_bytes = rule.max_lines, rule.max_bytes
        deadline = now + self.flush_timeout_secs
        before = container.last  # the line before this one
        for record in records:
            line = record.message
            stream = record.stream
            group = opened.get(stream)
            if type(record) is Parsed:  # read as fields: a record of its own, never joined
                if group is not None:
                    del opened[stream]
                    self._give_out(container, group, out)
                if opened:  # a line of another stream still open: the record resumes before it
                    self._give_out(container, _Open(record, 0, before, deadline), out)
                else:
                    out.append(record)  # nothing open: as it came (what _give_out would give)
                before = record
                continue
            if group is None:
                opened[stream] = _Open(record, first(line), before, deadline)
                before = record
                continue
            state = follows(group.state, line)
            if state != NO:
                size = len(line) if line.isascii() else _size(line)
                if group.bytes < 0:
                    group.bytes = _size(group.records[0].message)
                if len(group.records) < max_lines and group.bytes + size + 1 <= max_bytes:
                    group.records.append(record)
                    group.bytes += size + 1
                    group.state = state
                    group.deadline = deadline
                    if not tentative[state]:
                        group.committed = len(group.records)
                    before = record
                    continue
                self.cut += 1  # full: what follows begins the next record, in the same state
            else:
                state = first(line)
            if len(opened) == 1 and len(group.records) == 1:
                out.append(group.records[0])  # the usual line: a record of its own
            else:
                del opened[stream]
                self._give_out(container, group, out)
                opened[stream] = group
            group.records = [record]  # the object serves the next record
            group.state = state
            group.committed = 1
            group.bytes = -1
            group.before = before
            group.deadline = deadline
            before = record
        container.last = before
        if opened:
            self._holding[meta] = container
        else:
            self._holding.pop(meta, None)

    def _give_out(self, container: _Container, group: _Open, out: list[Record]) -> None:
        """Give out a record no longer open (already taken out of ``container.open``)."""
        records, committed = group.records, group.committed
        oldest: Any = None  # the resume position before the oldest line still open
        for other in container.open.values():
            position = None if other.before is None else resume_position(other.before)
            if position is None:
                oldest = _UNKNOWN
                break
            if oldest is None or position < oldest:
                oldest = position
        if committed == 1:
            self._one(records[0], oldest, out)
        else:
            self.joined += 1
            first, last = records[0], records[committed - 1]
            message = "\n".join([r.message for r in records[:committed]])
            joined = Joined(message, first.stream, first.timestamp, first.meta, first.seq)
            joined.end = _older(resume_position(last), oldest)
            out.append(joined)
        for record in records[committed:]:  # tentative lines nothing continued
            self._one(record, oldest, out)

    @staticmethod
    def _one(record: Record, oldest: Any, out: list[Record]) -> None:
        if oldest is None:  # nothing older open: the record as it came
            out.append(record)
            return
        held: Joined | Parsed
        if type(record) is Parsed:
            held = record.copy()
        else:
            held = Joined(record.message, record.stream, record.timestamp, record.meta, record.seq)
        held.end = _older(resume_position(record), oldest)
        out.append(held)

    # -- the flush timeout, and the end ------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When the first open record's flush timeout passes (monotonic); None: none open."""
        deadline = None
        for container in self._holding.values():
            for group in container.open.values():
                if deadline is None or group.deadline < deadline:
                    deadline = group.deadline
        return deadline

    def due(self, now: float | None = None) -> list[list[Record]]:
        """Give out the open records whose flush timeout passed by ``now`` (None: all of
        them, at shutdown): one batch per container."""
        batches = []
        for meta, container in list(self._holding.items()):
            out: list[Record] = []
            opened = container.open
            for stream, group in sorted(opened.items(), key=lambda item: item[1].deadline):
                if now is None or group.deadline <= now:
                    del opened[stream]
                    self._give_out(container, group, out)
                    self.flushed += now is not None
            if not opened:
                del self._holding[meta]
            if out:
                batches.append(out)
        return batches


def _older(position: ResumePosition | None, oldest: Any) -> ResumePosition | None:
    if oldest is None:
        return position
    if oldest is _UNKNOWN or position is None:
        return None
    return oldest if oldest < position else position


def stage_of(config: MultilineConfig) -> MultilineStage:
    """The stage that joins every container's lines as ``config`` says, or as the container's
    own labels say (``logship.multiline``, ``logship.multiline.pattern``: these win, within
    ``config``'s bounds)."""
    rule = compile_rule(config)
    by_labels: dict[Multiline, Rule | None] = {}

    def rule_for(meta: ContainerMeta) -> Rule | None:
        own = container_options(meta).multiline
        if own is None:
            return rule
        if own not in by_labels:  # the containers of one image share their labels
            if len(by_labels) >= 256:
                by_labels.clear()
            by_labels[own] = compile_rule(
                config.model_copy(
                    update={
                        "preset": own.preset,
                        "start_pattern": own.start_pattern,
                        "continuation_pattern": None,
                    }
                )
            )
        return by_labels[own]

    return MultilineStage(rule_for, flush_timeout_secs=config.flush_timeout_secs)
