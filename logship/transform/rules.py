"""Which line continues the record before it: the presets, and the user's own patterns. No I/O.

A rule looks at one line at a time, knowing only the *state* the lines before it left (an
index into the rule's table): :meth:`Rule.first` gives the state of a line that begins a record,
:meth:`Rule.follows` the state after a line that continues the record, or ``-1`` when the line
begins a new one. A state can be *tentative*: the lines that led into it (a blank line between
a Python exception and "During handling of the above exception...") join the record only if a
line that continues it comes after them; otherwise they are records of their own.

The presets are small state tables, one regular expression per state (an alternation whose
matching branch names the next state), in the spirit of Google's detect-exceptions rules
and Fluent Bit's built-in multiline parsers: the facts (what each runtime prints) carry over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from logship.config.multiline import MultilineConfig, Preset

NO = -1  # the line does not continue the record: it begins the next


class Table(Protocol):
    """A compiled preset or pattern."""

    tentative: tuple[bool, ...]  # per state

    def first(self, line: str) -> int:
        """The state of ``line`` beginning a record."""

    def follows(self, state: int, line: str) -> int:
        """The state after ``line`` continuing a record in ``state``; NO: it begins one."""


@dataclass(frozen=True, slots=True)
class Rule:
    """How one container's lines are joined: a compiled preset or pattern, and the bounds."""

    name: str
    table: Table
    max_lines: int
    max_bytes: int


class _Pattern:
    """The user's pattern: it marks the lines that begin a record, or those that continue."""

    __slots__ = ("continues", "pattern", "tentative")

    def __init__(self, pattern: str, *, starts: bool) -> None:
        self.pattern = re.compile(pattern)
        self.continues = not starts
        self.tentative: tuple[bool, ...] = (False,)

    def first(self, line: str) -> int:
        return 0

    def follows(self, state: int, line: str) -> int:
        return 0 if (self.pattern.search(line) is not None) is self.continues else NO


class _Table:
    """A preset's states: each one regular expression matched at the line's start, whose
    matching branch says the next state."""

    __slots__ = ("_first", "_first_next", "_next", "_states", "tentative")

    def __init__(self, spec: _Spec) -> None:
        names = list(spec.states)
        index = {name: i for i, name in enumerate(names)}

        def alternation(rules: tuple[tuple[str, str], ...]) -> tuple[re.Pattern[str], list[int]]:
            # one capturing group per branch (the rules use only non-capturing groups inside):
            # the match's lastindex is the branch that matched
            if not rules:
                return re.compile(r"(?!)"), []
            pattern = "|".join(f"({regex})" for regex, _ in rules)
            return re.compile(pattern), [-2, *(index[nxt] for _, nxt in rules)]

        compiled = [alternation(spec.states[name]) for name in names]
        self._states = [pattern.match for pattern, _ in compiled]
        self._next = [nxt for _, nxt in compiled]
        first, self._first_next = alternation(spec.first)
        self._first = first.match
        self.tentative = tuple(name in spec.tentative for name in names)

    def first(self, line: str) -> int:
        m = self._first(line)
        return 0 if m is None else self._first_next[m.lastindex or 0]

    def follows(self, state: int, line: str) -> int:
        m = self._states[state](line)
        return NO if m is None else self._next[state][m.lastindex or 0]


@dataclass(frozen=True)
class _Spec:
    """A preset: the state of a line that begins a record (``start`` unless one of ``first``
    matches), and per state what may follow."""

    states: dict[str, tuple[tuple[str, str], ...]]
    first: tuple[tuple[str, str], ...] = ()
    tentative: frozenset[str] = frozenset()


# -- the presets (the first state is "start", that of an ordinary line) -----------------------

_JAVA_FRAME = (
    r"[\t ]+at |[\t ]*(?:Caused by|Suppressed): |[\t ]*\.\.\. \d+ (?:more|common frames omitted)"
    r"|[\t ]+--- End of |[\t ]*nested exception is"
    # the exception itself, on the line after the one that logged it: a qualified class name
    r"|(?:[A-Za-z_$][\w$]*\.)+[A-Za-z_$][\w$]*(?:Exception|Error|Throwable)(?::|$)"
)
_JAVA = _Spec(states={"start": ((_JAVA_FRAME, "start"),)})

_PY_TRACEBACK = r"Traceback \(most recent call last\):$"
_PY_CHAINED = (
    r"(?:During handling of the above exception, another exception occurred:"
    r"|The above exception was the direct cause of the following exception:)$"
)
_PYTHON = _Spec(
    states={
        "start": ((_PY_TRACEBACK, "frames"),),  # logging.exception: the message, then this
        "frames": ((r"[\t ]+\S", "frames"), (r"\S", "raised")),  # frames; the exception
        "raised": ((r"$", "gap"),),
        "gap": ((_PY_CHAINED, "chained"),),
        "chained": ((r"$", "chained"), (_PY_TRACEBACK, "frames")),
    },
    first=((_PY_TRACEBACK, "frames"),),
    tentative=frozenset({"gap"}),
)

_GO_HEAD = r"(?:panic: |fatal error: |runtime: )"
_GO_GOROUTINE = r"goroutine \d+(?: [^\[]*)?\[[^\]]*\]:$|runtime stack:$"
_GO = _Spec(
    states={
        "start": (),
        # panic: ... [recovered], its nested panics, [signal ...], then the goroutines
        "panic": (
            (r"[\t ]+\S|" + _GO_HEAD + r"|\[signal ", "panic"),
            (r"$", "gap"),
            (_GO_GOROUTINE, "stack"),
        ),
        "gap": ((_GO_GOROUTINE, "stack"), (r"$", "gap")),
        # function lines (ending with a call's parentheses), their \tfile:line, created by
        "stack": (
            (r"\t|created by |\S.*\)$|\.\.\.\d+ frames elided\.\.\.$|exit status \d+$", "stack"),
            (r"$", "gap"),
        ),
    },
    first=((_GO_HEAD, "panic"),),
    tentative=frozenset({"gap"}),
)

_NODE_ERROR = r"(?:Uncaught )?(?:[A-Za-z_$][\w$.]*)?(?:Error|Exception)(?: \[[\w.]+\])?(?::|$)"
_NODE = _Spec(
    states={
        "start": ((r"[\t ]+at ", "stack"),),  # console.error("...", err) prints both
        # an uncaught exception: file:line, the source line, a caret, a blank line, the error
        "source": ((r".*", "code"),),
        "code": ((r"[\t ]*\^+[\t ]*$", "caret"),),
        "caret": ((r"$", "caret"), (r"\S", "stack")),
        # the stack, the error's properties ({ code: ... }), then Node's version line
        "stack": ((r"[\t ]+\S|\}$|\(Use `node ", "stack"), (r"$", "gap")),
        "gap": ((r"Node\.js v\d", "end"),),
        "end": (),
    },
    first=(
        (r"(?:/|[A-Za-z]:\\|file://|node:)\S*:\d+$", "source"),
        (_NODE_ERROR, "stack"),
    ),
    tentative=frozenset({"gap"}),
)

_INDENTED = _Spec(states={"start": ((r"[\t ]+\S", "start"),)})

_SPECS: dict[Preset, _Spec] = {
    "java": _JAVA,
    "python": _PYTHON,
    "go": _GO,
    "nodejs": _NODE,
    "indented": _INDENTED,
}
_TABLES: dict[Preset, _Table] = {}


def compile_rule(config: MultilineConfig) -> Rule | None:
    """The rule ``config`` describes; None when it joins nothing. Raises ValueError for a bad
    pattern (the config model checks them first)."""
    table: Table
    if config.preset is not None:
        table = _TABLES.get(config.preset) or _TABLES.setdefault(
            config.preset, _Table(_SPECS[config.preset])
        )
        name: str = config.preset
    elif config.start_pattern is not None:
        table, name = _Pattern(config.start_pattern, starts=True), "start_pattern"
    elif config.continuation_pattern is not None:
        table = _Pattern(config.continuation_pattern, starts=False)
        name = "continuation_pattern"
    else:
        return None
    return Rule(
        name=name,
        table=table,
        max_lines=config.max_lines,
        max_bytes=config.max_bytes,
    )
