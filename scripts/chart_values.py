"""Write docs/chart-values.md from helm/logship/values.yaml: every value of the chart, with its
default and the comment written above it in values.yaml.

    .venv/bin/python scripts/chart_values.py          # rewrite docs/chart-values.md
    .venv/bin/python scripts/chart_values.py --check  # exit 1 if it is not current

values.yaml's comments are the documentation; this only lays them out. A comment is the block
of lines starting with ``#`` right above a key (no blank line between); lines written ``#  ``
(two spaces: a commented-out example) are left out. tests/unit/deploy/test_chart_values.py
fails when the page is not what this writes, or when a value has no comment (its own, or one
of a map it is in).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, NamedTuple

import yaml

ROOT = Path(__file__).resolve().parent.parent
VALUES = ROOT / "helm" / "logship" / "values.yaml"
PAGE = ROOT / "docs" / "chart-values.md"

_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z][-\w.]*):(?: |$)")


class Value(NamedTuple):
    path: tuple[str, ...]
    comment: str
    default: Any


def values(text: str) -> list[Value]:
    """Every key of values.yaml that holds no map of keys of its own (a leaf), and every map
    with a comment, in the file's order."""
    data = yaml.safe_load(text)
    out: list[Value] = []
    stack: list[tuple[int, str]] = []  # (indent, key) of the maps we are in
    comments: list[str] = []
    inside = -1  # the indent of the leaf whose value's lines (a list, a block) follow
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            comments = []
            continue
        indent = len(line) - len(line.lstrip(" "))
        if inside >= 0 and not stripped.startswith("#"):
            if indent > inside or (indent == inside and stripped.startswith("- ")):
                continue
            inside = -1
        if stripped.startswith("#"):
            body = stripped[1:]
            if not body.startswith("  "):  # "#  ..." is a commented-out example
                comments.append(body.strip())
            continue
        found = _KEY.match(line)
        if found is None:  # a list item or a continuation of a value
            comments = []
            continue
        indent = len(found["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = (*[key for _, key in stack], found["key"])
        comment = " ".join(comments)
        default: Any = data
        for key in path:
            default = default[key]
        # a map of labels or of a Kubernetes object's own keys is one value
        leaf = not (isinstance(default, dict) and default) or any(
            "/" in key or "." in key for key in default
        )
        if leaf or comment:
            out.append(Value(path, comment, default if leaf else None))
        if leaf:
            inside = indent
        else:
            stack.append((indent, found["key"]))
        comments = []
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _default(value: Value) -> str:
    if value.default is None:  # a map whose values have rows of their own
        return ""
    shown = json.dumps(value.default, separators=(", ", ": "))
    return f"`{_cell(shown)}`"


def render() -> str:
    lines = [
        "# The chart's values",
        "",
        "<!-- Written by scripts/chart_values.py from helm/logship/values.yaml's comments; "
        "edit those and run it. -->",
        "",
        "Every value of `helm/logship` with its default; `values.schema.json` refuses any other"
        " key and a value of the wrong type at install time. How to install:"
        " [kubernetes.md](kubernetes.md).",
        "",
        "| value | default | what |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| `{'.'.join(value.path)}` | {_default(value)} | {_cell(value.comment)} |"
        for value in values(VALUES.read_text())
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    from reference import write_or_check  # scripts/reference.py, beside this one

    return write_or_check(PAGE, render(), __doc__ or "", "chart_values.py")


if __name__ == "__main__":
    sys.exit(main())
