"""The figures of a fault scenario: produced, shipped, lost, duplicated, and the drops the agent
counted. Printed as ``FAULT <scenario>: produced N, shipped N, lost N, duplicated N``
(``pytest -s`` shows them; docs/guarantees.md quotes them)."""

from __future__ import annotations

import re
from collections import Counter

from tests.helpers.agent_process import AgentProcess


def tally(produced: list[str], shipped: list[str]) -> dict[str, int]:
    """Lost: produced lines shipped fewer times than produced; duplicated: shipped more."""
    wanted = Counter(produced)
    got = Counter(m for m in shipped if m in wanted)
    return {
        "produced": len(produced),
        "shipped": sum(min(n, got[m]) for m, n in wanted.items()),
        "lost": sum(max(0, n - got[m]) for m, n in wanted.items()),
        "duplicated": sum(max(0, got[m] - wanted[m]) for m in got),
    }


def report(
    scenario: str, produced: list[str], shipped: list[str], note: str = ""
) -> dict[str, int]:
    figures = tally(produced, shipped)
    print(
        f"\nFAULT {scenario}: produced {figures['produced']}, shipped {figures['shipped']}, "
        f"lost {figures['lost']}, duplicated {figures['duplicated']}"
        + (f" ({note})" if note else "")
    )
    return figures


def dropped_counted(agent: AgentProcess) -> int:
    """Records the agent said its buffers dropped (each drop episode logs its total)."""
    return sum(int(n) for n in re.findall(r"(\d+) records were dropped while it", agent.stderr))
