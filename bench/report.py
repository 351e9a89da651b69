"""Per-scenario summaries (median, min-max over runs) and the printed tables.

A run holds the engine's passes (``engine``: plain follow clients; ``unread``: no reader at
all) and one agent pass per source measured (``agents.<source>``, with ``ratio.<source>``):
every agent row of a table is repeated per source, side by side.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol


def dig(data: Any, path: str) -> Any:
    """``dig(run, "agent.delay.p99_ms")``: None as soon as a step is missing."""
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _int(v: float) -> str:
    return f"{v:,.0f}"


def _f1(v: float) -> str:
    return f"{v:,.1f}"


def _f2(v: float) -> str:
    return f"{v:,.2f}"


@dataclass(frozen=True)
class Metric:
    key: str  # path into a run record
    label: str
    fmt: Callable[[float], str]
    sinks: tuple[str, ...] = ("counted", "console")  # counted: every sink with a receiver
    kinds: tuple[str, ...] = ("flood", "steady")
    hosts: tuple[str, ...] = ("docker", "cri")  # producers: containers, or CRI pod log files


DOCKER = ("docker",)
METRICS = [
    Metric("engine.lines_per_sec", "engine lines/s (plain follow clients)", _int),
    Metric(
        "unread.lines_per_sec",
        "engine lines/s, no reader (producers' write rate)",
        _int,
        kinds=("flood",),
        hosts=DOCKER,
    ),
    Metric("agent.lines_per_sec", "agent lines/s delivered", _int, ("counted",)),
    Metric("agent.lines_per_sec", "agent lines/s (until idle)", _int, ("console",)),
    Metric("ratio", "ratio to engine", _f2),
    Metric(
        "agent.producers.offered_lines_per_sec",
        "offered lines/s (producers)",
        _int,
        kinds=("steady",),
        hosts=DOCKER,
    ),
    Metric(
        "agent.producers.offered_lines_per_sec",
        "lines/s written (CRI writer)",
        _int,
        hosts=("cri",),
    ),
    Metric("agent.loss", "loss (lines never received)", _int, ("counted",)),
    Metric("agent.receiver_drops", "  of which receiver socket drops", _int, ("counted",)),
    Metric("agent.agent.buffer_dropped", "agent buffer drops (its own log)", _int),
    Metric("agent.duplicates", "duplicates", _int, ("counted",)),
    Metric("agent.agent_cpu_per_mline", "agent CPU-s / M lines", _f2),
    Metric(
        "agent.agent_core_percent", "agent CPU % of one core, go -> last line", _int, ("counted",)
    ),
    Metric(
        "agent.agent_core_percent_until_exit",
        "agent CPU % of one core, go -> producers exited",
        _int,
        ("counted",),
        kinds=("flood",),
        hosts=DOCKER,
    ),
    Metric(
        "agent.lines_behind_at_exit",
        "lines not yet received when the producers exited",
        _int,
        ("counted",),
        kinds=("flood",),
        hosts=DOCKER,
    ),
    Metric(
        "agent.receiver_cpu_per_mline",
        "receiver CPU-s / M lines (not the agent's)",
        _f2,
        ("counted",),
    ),
    Metric("unread.dockerd_cpu_per_mline", "dockerd CPU-s / M lines, no reader", _f2, hosts=DOCKER),
    Metric("engine.dockerd_cpu_per_mline", "dockerd CPU-s / M lines, engine pass", _f2),
    Metric("agent.dockerd_cpu_per_mline", "dockerd CPU-s / M lines, agent pass", _f2, hosts=DOCKER),
    Metric(
        "agent.dockerd_cpu_until_exit_per_mline",
        "dockerd CPU-s / M lines, agent pass until producers exited",
        _f2,
        ("counted",),
        kinds=("flood",),
        hosts=DOCKER,
    ),
    Metric("agent.peak_rss_mib", "agent peak RSS MiB", _f1),
    Metric("agent.rss.start_mib", "agent RSS MiB at start of pass", _f1),
    Metric("agent.rss.tail_median_mib", "agent RSS MiB, last minute median", _f1),
    Metric("agent.rss.growth_mib_per_min", "RSS growth MiB/min over the second half", _f2),
    Metric("engine.machine_busy_percent", "machine CPU busy %, engine pass", _int),
    Metric("unread.machine_busy_percent", "machine CPU busy %, no reader", _int, hosts=DOCKER),
    Metric("agent.machine_busy_percent", "machine CPU busy %, agent pass", _int),
    Metric(
        "agent.delay.p50_ms",
        "delay p50 ms (agent, Docker ts -> receiver)",
        _f1,
        ("counted",),
        ("steady",),
    ),
    Metric("agent.delay.p99_ms", "delay p99 ms (agent)", _f1, ("counted",), ("steady",)),
    Metric("agent.delay.max_ms", "delay max ms (agent)", _f1, ("counted",), ("steady",)),
    Metric(
        "engine.delay.p50_ms", "delay p50 ms (engine, Docker ts -> reader)", _f1, kinds=("steady",)
    ),
    Metric("engine.delay.p99_ms", "delay p99 ms (engine)", _f1, kinds=("steady",)),
    Metric("settle_secs", "s waited for a quiet machine before a pass (longest)", _int),
    Metric("machine_busy_before_percent", "machine CPU busy % before passes (others)", _int),
    Metric(
        "dockerd_before_percent",
        "dockerd CPU % of a core before passes (others)",
        _int,
        hosts=DOCKER,
    ),
    Metric("load_1m", "load average (1 min) at start of run", _f1),
    Metric("agent.load_1m", "load average (1 min) at start of pass", _f1),
    Metric("engine.missing", "engine lines missing", _int),
    Metric("agent.agent.warnings", "agent warnings/errors logged", _int),
]


def metrics_for(
    sink: str, kind: str, *, engine: bool, unread: bool, sources: list[str], host: str
) -> list[Metric]:
    """The rows of a scenario's table; those of the agent once per source, labelled."""
    group = "console" if sink == "console" else "counted"
    out = []
    for m in METRICS:
        if group not in m.sinks or kind not in m.kinds or host not in m.hosts:
            continue
        if (not engine and m.key.startswith(("engine", "ratio"))) or (
            not unread and m.key.startswith("unread")
        ):
            continue
        if m.key == "ratio" or m.key.startswith("agent."):
            for source in sources:
                key = f"ratio.{source}" if m.key == "ratio" else f"agents.{source}.{m.key[6:]}"
                out.append(replace(m, key=key, label=f"{m.label} [{source}]"))
        else:
            out.append(m)
    return out


def summarize(runs: list[dict[str, Any]], metrics: list[Metric]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in metrics:
        values = [dig(r, m.key) for r in runs]
        numbers = [v for v in values if isinstance(v, int | float)]
        out[m.key] = {
            "label": m.label,
            "values": values,
            "median": statistics.median(numbers) if numbers else None,
            "min": min(numbers) if numbers else None,
            "max": max(numbers) if numbers else None,
        }
    return out


def table(title: str, runs: list[dict[str, Any]], metrics: list[Metric], notes: list[str]) -> str:
    headers = ["metric", *(f"run {i + 1}" for i in range(len(runs))), "median", "min-max"]
    rows = [headers]
    for m in metrics:
        values = [dig(r, m.key) for r in runs]
        numbers = [v for v in values if isinstance(v, int | float)]
        cells = [m.fmt(v) if isinstance(v, int | float) else "n/a" for v in values]
        if numbers:
            median = m.fmt(statistics.median(numbers))
            low, high = min(numbers), max(numbers)
            spread = f"{m.fmt(low)}{' to ' if low < 0 else '-'}{m.fmt(high)}"
        else:
            median = spread = "n/a"
        rows.append([m.label, *cells, median, spread])
    widths = [max(len(r[i]) for r in rows) for i in range(len(headers))]
    lines = [title, ""]
    for n, row in enumerate(rows):
        lines.append(
            "  ".join(
                cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                for i, cell in enumerate(row)
            ).rstrip()
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines += [f"  * {note}" for note in notes]
    return "\n".join(lines)


class _Target(Protocol):
    scenario: str
    sources: tuple[str, ...]
    cpu_per_mline: float
    p99_ms: float | None
    issue: int


def _spread(summary: dict[str, Any], key: str, fmt: Callable[[float], str]) -> str:
    """``median (min-max)`` of one row of a scenario's summary; n/a when it has none."""
    row = summary.get(key) or {}
    if row.get("median") is None:
        return "n/a"
    low, high = row["min"], row["max"]
    if low == high:
        return fmt(row["median"])
    return f"{fmt(row['median'])} ({fmt(low)}-{fmt(high)})"


def suite_table(title: str, targets: Sequence[_Target], results: dict[str, Any]) -> str:
    """A suite's figures next to its targets: one row per scenario and source, medians with
    their min-max over the runs, and the load average at the start of the runs."""
    headers = [
        "scenario [source]",
        "agent CPU-s / M lines",
        "delay p99 ms",
        "loss",
        "target",
        "met?",
        "load avg 1 min",
        "runs",
    ]
    rows = [headers]
    for target in targets:
        result = results.get(target.scenario)
        for source in target.sources:
            name = f"{target.scenario} [{source}]"
            want = f"<= {target.cpu_per_mline:g}"
            if target.p99_ms is not None:
                want += f", p99 < {target.p99_ms / 1000:g} s"
            want += f" (#{target.issue})"
            if result is None:
                rows.append([name, "not run", "", "", want, "", "", "0"])
                continue
            summary = result["summary"]
            agent = f"agents.{source}"
            cpu = (summary.get(f"{agent}.agent_cpu_per_mline") or {}).get("median")
            p99 = (summary.get(f"{agent}.delay.p99_ms") or {}).get("median")
            met = cpu is not None and cpu <= target.cpu_per_mline
            if target.p99_ms is not None:
                met = met and p99 is not None and p99 < target.p99_ms
            rows.append(
                [
                    name,
                    _spread(summary, f"{agent}.agent_cpu_per_mline", _f2),
                    _spread(summary, f"{agent}.delay.p99_ms", _int)
                    if target.p99_ms is not None
                    else "-",
                    _spread(summary, f"{agent}.loss", _int),
                    want,
                    "yes" if met else "no",
                    _spread(summary, "load_1m", _f1),
                    str(len(result["runs"])),
                ]
            )
    widths = [max(len(r[i]) for r in rows) for i in range(len(headers))]
    lines = [title, ""]
    for n, row in enumerate(rows):
        lines.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("  * medians over the runs, min-max in brackets; load average at each run's start")
    return "\n".join(lines)
