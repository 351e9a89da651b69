"""logship throughput benchmark: lines/s, loss, CPU and memory against the engine's own limit.

    .venv/bin/python bench/throughput.py --quick --scenario flood-1,flood-4,console-1
    .venv/bin/python bench/throughput.py --quick --scenario flood-1 --source files
    .venv/bin/python bench/throughput.py --quick --scenario cri-1,cri-200
    .venv/bin/python bench/throughput.py --scenario steady-200 --runs 1
    .venv/bin/python bench/throughput.py --scenario soak --runs 1   # 50 x 100 lines/s x 600 s

Every run of a Docker scenario has passes with fresh producer containers: the engine pass
(plain logs-API follow clients that only count), in floods a pass with no reader at all (what
the engine costs before anyone reads; in steady scenarios too with ``--unread``), and one agent
pass per source measured (logship reading through the Engine API, ``docker``, or the json-file
logs, ``files``, and shipping to a counting C receiver: syslog over UDP or TLS, GELF over UDP,
forward, an Elasticsearch stand-in; or to /dev/null). The CRI scenarios have no engine: a C
writer writes pod log files as containerd does, and the agent reads them with ``--source
cri``. The soak scenario has the agent pass only and watches the agent's memory over a long
steady run. See bench/README.md for what each column means.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import docker  # type: ignore[import-untyped]
import docker.errors  # type: ignore[import-untyped]
import passes
import receiver
from criwriter import CriOptions
from procfs import machine_info, pid_of
from producers import SESSION_LABEL, Workload, remove_labelled
from report import metrics_for, suite_table, summarize, table

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parent.parent

Sink = Literal["syslog", "console", "gelf", "gelf-auto", "syslog-tls", "forward", "elasticsearch"]

# every sink but console: the destination URI and the receiver that counts what arrives
DESTINATIONS: dict[str, passes.Destination] = {
    "syslog": passes.Destination("udprecv", "syslog+udp://127.0.0.1:{port}", udp=True),
    # Docker's gelf driver: gzip, chunks of 1420 bytes (logship's defaults too, said here anyway)
    "gelf": passes.Destination(
        "udprecv",
        "gelf+udp://127.0.0.1:{port}?compression=gzip&chunk_size_bytes=1420",
        ("--gelf",),
        udp=True,
    ),
    # uncompressed where a message fits one datagram (what the user may ask for, not the default)
    "gelf-auto": passes.Destination(
        "udprecv",
        "gelf+udp://127.0.0.1:{port}?compression=auto&chunk_size_bytes=1420",
        ("--gelf",),
        udp=True,
    ),
    "syslog-tls": passes.Destination(
        "streamrecv",
        "syslog+tls://127.0.0.1:{port}?tls.ca_file={ca_file}",
        ("--proto", "syslog", "--tls", "{server_cert}", "{server_key}"),
        tls=True,
    ),
    "forward": passes.Destination(
        "streamrecv", "forward://127.0.0.1:{port}?ack=true", ("--proto", "forward")
    ),
    "elasticsearch": passes.Destination(
        "streamrecv", "elasticsearch+http://127.0.0.1:{port}", ("--proto", "bulk")
    ),
}
DESCRIPTIONS = {
    "syslog": "syslog+udp -> C receiver",
    "console": "console:// -> /dev/null",
    "gelf": "gelf+udp (gzip, 1420-byte chunks) -> C receiver (reassembles, inflates)",
    "gelf-auto": "gelf+udp (compression=auto, 1420-byte chunks) -> C receiver",
    "syslog-tls": "syslog+tls -> C TLS receiver (OpenSSL)",
    "forward": "forward (ack=true) -> C forward receiver (acks every chunk)",
    "elasticsearch": "elasticsearch+http -> C _bulk stand-in",
}


# how the agent reads Docker containers, and the floor shipper in its place
DOCKER_SOURCES = ("docker", "files", *passes.FLOORS)
PASS_CODES = {"floor": "l", "floor-threads": "t"}  # in pass ids: the others' first letter


@dataclass(frozen=True)
class Variant:
    """What the lines are and what the agent is asked to do with them (``--lines-as``)."""

    name: str
    json: bool  # the producers write JSON lines (producers.JSON_LINE)
    env: dict[str, str]  # the agent's settings, as LOGSHIP_* variables


# every pass sets both, so nothing in the benchmark's own environment turns either on
VARIANTS = {
    v.name: v
    for v in (
        Variant("plain", False, {"LOGSHIP_PARSE": "off", "LOGSHIP_MULTILINE": "off"}),
        Variant("json", True, {"LOGSHIP_PARSE": "json", "LOGSHIP_MULTILINE": "off"}),
        # the java preset on lines that never continue a trace: what every line of a
        # container with multiline on pays (a joined trace is one record for many marks, which
        # the receivers cannot count)
        Variant("multiline", False, {"LOGSHIP_PARSE": "off", "LOGSHIP_MULTILINE": "java"}),
        Variant("json+multiline", True, {"LOGSHIP_PARSE": "json", "LOGSHIP_MULTILINE": "java"}),
    )
}


def pass_key(source: str, variant: str) -> str:
    """How an agent pass is named in a run and its table: ``docker``, ``docker+json``..."""
    return source if variant == "plain" else f"{source}+{variant}"


DEFAULT_RATE = 100.0  # steady: lines/s per producer


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: Literal["flood", "steady"]
    sink: Sink
    containers: int  # CRI scenarios: pod log files
    quick_containers: int
    secs: float = 60  # steady: seconds of writing
    quick_secs: float = 20
    engine: bool = True  # False: never run the engine pass (as if --no-engine)
    in_all: bool = True  # False: runs only when named, not as part of "all"
    host: Literal["docker", "cri"] = "docker"  # cri: pod log files, no engine
    pin: bool = False  # pin the agent to one core (--pin-agent auto)
    rate: float = DEFAULT_RATE  # steady: lines/s per producer, unless --rate
    cri: CriOptions = field(
        default_factory=CriOptions
    )  # how the CRI writer writes, unless --cri-* say otherwise
    suite_sources: tuple[str, ...] = ()  # in a --suite: the sources it is measured with

    def workload(self, args: argparse.Namespace, json: bool = False) -> Workload:
        containers = args.containers or (self.quick_containers if args.quick else self.containers)
        if self.kind == "flood":
            lines = args.lines or (200_000 if args.quick else 1_000_000)
            return Workload("flood", containers, lines, args.line_bytes, json=json)
        secs = args.secs or (self.quick_secs if args.quick else self.secs)
        rate = args.rate or self.rate
        return Workload("steady", containers, round(rate * secs), args.line_bytes, rate, json)

    def variants(self, args: argparse.Namespace) -> list[str]:
        """The ``--lines-as`` variants this scenario runs: all of them, but only plain lines
        from the CRI writer."""
        return ["plain"] if self.host == "cri" else args.variants

    def passes(self, args: argparse.Namespace) -> list[tuple[str, str]]:
        """Every agent pass of one run, as (source, variant)."""
        return [(s, v) for s in self.sources(args) for v in self.variants(args)]

    def sources(self, args: argparse.Namespace) -> list[str]:
        """The agent sources of ``--source`` that this scenario's producers can be read with."""
        if self.suite_sources:
            return list(self.suite_sources)
        mine = ("cri",) if self.host == "cri" else DOCKER_SOURCES
        return [
            s
            for s in args.sources
            if s in mine and (s not in passes.FLOORS or self.sink == "syslog")  # it sends UDP
        ]

    def cri_options(self, args: argparse.Namespace) -> CriOptions:
        options = self.cri
        if args.cri_partial_every is not None:
            options = replace(options, partial_every=args.cri_partial_every)
        if args.cri_rotate_mib is not None:
            options = replace(options, rotate_bytes=round(args.cri_rotate_mib * 2**20))
        return options


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("flood-1", "flood", "syslog", 1, 1),
        Scenario("flood-4", "flood", "syslog", 4, 4),
        Scenario("console-1", "flood", "console", 1, 1),
        Scenario("console-4", "flood", "console", 4, 4),
        Scenario("steady-200", "steady", "syslog", 200, 50),
        # the everyday node of issue 17: 50 containers x 100 lines/s (only when named)
        Scenario("steady-50", "steady", "syslog", 50, 50, in_all=False),
        # the other destinations, 1 flooding container each (--containers 4 for more)
        Scenario("gelf-1", "flood", "gelf", 1, 1),
        Scenario("gelf-1-auto", "flood", "gelf-auto", 1, 1, in_all=False),
        Scenario("syslog-tls-1", "flood", "syslog-tls", 1, 1),
        Scenario("forward-1", "flood", "forward", 1, 1),
        Scenario("elasticsearch-1", "flood", "elasticsearch", 1, 1),
        # memory over a long steady run: agent pass only, and only when named
        Scenario("soak", "steady", "syslog", 50, 50, 600, 180, engine=False, in_all=False),
        # Kubernetes: pod log files written by a local writer (no engine), --source cri
        Scenario("cri-1", "flood", "syslog", 1, 1, engine=False, host="cri", pin=True),
        Scenario("cri-4", "flood", "syslog", 4, 4, engine=False, host="cri", pin=True),
        Scenario("cri-200", "steady", "syslog", 200, 200, engine=False, host="cri"),
        # kubelet rotation (10 MiB, looked at every second) and split lines under a fast writer
        Scenario(
            "cri-rotate",
            "steady",
            "syslog",
            1,
            1,
            30,
            20,
            engine=False,
            in_all=False,
            host="cri",
            rate=20_000,
            cri=CriOptions(partial_every=10, rotate_bytes=10 * 2**20),
        ),
    )
}


@dataclass(frozen=True)
class Target:
    """A figure a suite reports next to its target: the agent's CPU per million lines (and in
    steady scenarios the delay's p99) of one scenario, per source."""

    scenario: str
    sources: tuple[str, ...]
    cpu_per_mline: float  # at most
    p99_ms: float | None = None  # steady: at most
    issue: int = 17


SUITES: dict[str, tuple[Target, ...]] = {
    # issue 17's four scenarios, and the file sources' floods of issue 12 (both sources of a
    # Docker scenario run side by side, in alternating order)
    "issue17": (
        Target("steady-50", ("docker", "files"), 7, p99_ms=1000),
        Target("gelf-1", ("docker",), 8),
        Target("gelf-1-auto", ("docker",), 8),
        Target("flood-1", ("docker", "files"), 5),
        Target("flood-4", ("docker", "files"), 5),
        Target("cri-1", ("cri",), 5, issue=12),
    ),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Measure logship against the Docker engine's own log throughput "
        "(see bench/README.md).",
    )
    p.add_argument(
        "--scenario",
        action="append",
        metavar="NAME[,NAME]",
        help=f"scenarios to run (repeatable): {', '.join(SCENARIOS)}, or all (default: all; "
        "all leaves out soak)",
    )
    p.add_argument(
        "--suite",
        choices=list(SUITES),
        help="run a set of scenarios with their sources and print their figures next to their "
        "targets at the end: issue17 (steady-50 and flood-1, flood-4 with docker and files, "
        "gelf-1 and gelf-1-auto with docker, cri-1); no engine passes; --scenario and --source "
        "are not taken with it",
    )
    p.add_argument("--runs", type=int, default=3, help="runs per scenario (default 3)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smaller workloads: flood 200,000 lines per container, steady 50 containers x 20 s, "
        "soak 50 containers x 180 s",
    )
    p.add_argument("--lines", type=int, help="flood: lines per container (default 1,000,000)")
    p.add_argument(
        "--line-bytes", type=int, default=100, help="bytes per line incl. newline (default 100)"
    )
    p.add_argument("--containers", type=int, help="override the scenario's container count")
    p.add_argument(
        "--rate",
        type=float,
        help="steady: lines/s per container (default 100; cri-rotate 20,000)",
    )
    p.add_argument("--secs", type=float, help="steady: seconds of writing (default 60; soak 600)")
    p.add_argument(
        "--idle-secs",
        type=float,
        default=5,
        help="end an agent pass when nothing arrived so long (default 5)",
    )
    p.add_argument(
        "--timeout-secs", type=float, help="give up a pass after this long (default: from size)"
    )
    p.add_argument("--no-engine", action="store_true", help="skip the engine passes (no ratio)")
    p.add_argument(
        "--unread",
        action="store_true",
        help="steady scenarios: a pass with no reader too, as floods always have (dockerd's CPU "
        "per line at the same fixed rate, with nobody reading: what a files reader is held to)",
    )
    p.add_argument(
        "--source",
        default="all",
        metavar="SOURCE[,SOURCE]",
        help="how the agent reads: docker (Engine API), files (json-file logs), cri (pod log "
        "files), or all (default). Docker scenarios run one agent pass per source of docker "
        "and files given, side by side; CRI scenarios (cri-*) run only with cri. Not in all: "
        "floor and floor-threads, bench/floorship.c in the agent's place (the least a shipper "
        "of the json-file logs does, in one thread or one thread a file; UDP syslog only)",
    )
    p.add_argument(
        "--pin-agent",
        default="auto",
        metavar="CPU|auto|none",
        help="pin the agent to this CPU (every pass); auto (default): the last CPU, in the "
        "scenarios that report lines/s on one core (cri-1, cri-4); none: never",
    )
    p.add_argument(
        "--cri-partial-every",
        type=int,
        help="CRI writer: split every Nth line into a P and an F piece (default: never; "
        "cri-rotate 10)",
    )
    p.add_argument(
        "--cri-rotate-mib",
        type=float,
        help="CRI writer: rotate a file of this size as the kubelet does, looked at every "
        "second (default: never; cri-rotate 10)",
    )
    p.add_argument(
        "--lines-as",
        default="plain",
        metavar="VARIANT[,VARIANT]",
        help=f"what the lines are and what the agent does with them: {', '.join(VARIANTS)} "
        "(default plain). Several: one agent pass for each in the same run, the order turned "
        "round every run (Docker scenarios; the CRI writer writes plain lines only)",
    )
    p.add_argument(
        "--sink",
        choices=[*DESTINATIONS, "console"],
        help="ship to this destination in every selected scenario instead of the scenario's own "
        "(e.g. --scenario steady-200 --sink forward)",
    )
    p.add_argument(
        "--logship",
        default=str(Path(sys.executable).with_name("logship")),
        help="the logship command to run (default: logship next to this Python)",
    )
    p.add_argument(
        "--docker-socket",
        default="/var/run/docker.sock",
        help="engine API socket (default /var/run/docker.sock)",
    )
    p.add_argument(
        "--out", type=Path, default=RESULTS, help="where results go (default bench/results)"
    )
    args = p.parse_args(argv)
    if args.pin_agent not in ("auto", "none") and not args.pin_agent.isdigit():
        p.error(f"--pin-agent takes a CPU number, auto or none (got {args.pin_agent!r})")
    args.variants = []
    for name in filter(None, (n.strip() for n in args.lines_as.split(","))):
        if name not in VARIANTS:
            p.error(f"unknown --lines-as {name!r}; expected one of {', '.join(VARIANTS)}")
        if name not in args.variants:
            args.variants.append(name)
    if not args.variants:
        p.error("--lines-as names no variant")
    if args.suite:
        if args.scenario or args.source != "all" or args.sink:
            p.error(
                "--suite chooses its own scenarios and sources: leave out --scenario, "
                "--source and --sink"
            )
        args.no_engine = True  # the targets are the agent's own figures
        args.targets = SUITES[args.suite]
        args.sources = []
        args.scenarios = [
            replace(SCENARIOS[t.scenario], suite_sources=t.sources) for t in args.targets
        ]
        return _checked(p, args)
    args.targets = ()
    names: list[str] = []
    for item in args.scenario or ["all"]:
        for name in filter(None, (n.strip() for n in item.split(","))):
            if name == "all":
                names += [n for n, s in SCENARIOS.items() if s.in_all and n not in names]
            elif name not in SCENARIOS:
                p.error(f"unknown scenario {name!r}; expected one of {', '.join(SCENARIOS)}, all")
            elif name not in names:
                names.append(name)
    args.sources = []
    for name in filter(None, (n.strip() for n in args.source.split(","))):
        if name == "all":
            args.sources += [s for s in passes.SOURCES if s not in args.sources]
        elif name not in passes.SOURCES + passes.FLOORS:
            known = ", ".join(passes.SOURCES + passes.FLOORS)
            p.error(f"unknown source {name!r}; expected {known} or all")
        elif name not in args.sources:
            args.sources.append(name)
    scenarios = [SCENARIOS[n] for n in names]
    args.scenarios = [s for s in scenarios if s.sources(args)]
    if not args.scenarios:
        p.error(
            f"no scenario of {', '.join(names)} reads with --source {args.source}: the "
            "cri-* scenarios need cri, the others docker or files (floor and floor-threads: "
            "the scenarios with the syslog sink only)"
        )
    if args.sink:
        args.scenarios = [
            s if s.sink == args.sink else replace(s, name=f"{s.name}.{args.sink}", sink=args.sink)
            for s in args.scenarios
        ]
    return _checked(p, args)


def _checked(p: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    if args.runs < 1:
        p.error(f"--runs must be at least 1 (got {args.runs})")
    for scenario in args.scenarios:
        try:
            for variant in scenario.variants(args):
                _ = scenario.workload(args, VARIANTS[variant].json).pad
        except ValueError as exc:
            p.error(str(exc))
    return args


def timeout_for(workload: Workload, args: argparse.Namespace) -> float:
    if args.timeout_secs:
        return float(args.timeout_secs)
    if workload.kind == "steady":
        return workload.lines / (workload.rate_per_sec or 1) * 1.5 + 120
    return max(120.0, workload.total_lines / 10_000)  # far below any plausible rate


def describe(scenario: Scenario, w: Workload, args: argparse.Namespace) -> str:
    dest = DESCRIPTIONS[scenario.sink]
    if w.kind == "flood":
        what = f"{w.containers} x {w.lines:,} lines x {w.line_bytes} B as fast as possible"
    else:
        secs = w.lines / (w.rate_per_sec or 1)
        what = f"{w.containers} x {w.rate_per_sec:g} lines/s x {secs:g} s ({w.total_lines:,} lines)"
    if scenario.host == "cri":
        options = scenario.cri_options(args)
        what = f"{what} into pod log files (CRI writer"
        if options.partial_every:
            what += f", every {options.partial_every}th line split P+F"
        if options.rotate_bytes:
            what += f", rotated at {options.rotate_bytes / 2**20:g} MiB"
        what += ")"
    cpus = agent_cpus(scenario, args)
    pinned = f", agent pinned to CPU {min(cpus)}" if cpus else ""
    variants = scenario.variants(args)
    lines = f", lines as {' / '.join(variants)}" if variants != ["plain"] else ""
    return f"{scenario.name}: {what}, {dest}{pinned}{lines}"


def agent_cpus(scenario: Scenario, args: argparse.Namespace) -> set[int] | None:
    """The CPUs the agent is pinned to in this scenario, or None."""
    if args.pin_agent == "none" or (args.pin_agent == "auto" and not scenario.pin):
        return None
    if args.pin_agent == "auto":
        return {max(os.sched_getaffinity(0))}
    return {int(args.pin_agent)}


def notes_for(scenario: Scenario, runs: list[dict[str, Any]]) -> list[str]:
    notes = []
    if scenario.host == "cri":
        notes.append(f"{scenario.name}: no engine (pod log files written by bench/criwriter.c)")
    elif not scenario.engine:
        notes.append(f"{scenario.name}: agent pass only (no engine pass, so no ratio)")
    if scenario.sink == "console":
        notes.append(
            "console: loss cannot be counted (output goes to /dev/null); lines/s = lines / "
            f"(go -> agent idle, ±{passes.CONSOLE_SAMPLE_SECS:g}s)"
        )
    for i, run in enumerate(runs, 1):
        eng = run.get("engine") or {}
        if eng.get("errors") or eng.get("timed_out") or eng.get("resumes"):
            notes.append(
                f"run {i}: engine readers resumed {eng.get('resumes', 0)}x, "
                f"timed out: {eng.get('timed_out')}, errors: {eng.get('errors')}"
            )
        if (run.get("unread") or {}).get("timed_out"):
            notes.append(f"run {i}: the producers of the no-reader pass did not finish in time")
        for key, agent in (run.get("agents") or {}).items():
            notes += agent_notes(scenario, f"run {i} [{key}]", agent.get("source", key), agent)
    return notes


def agent_notes(scenario: Scenario, run: str, source: str, agent: dict[str, Any]) -> list[str]:
    """What is unusual about one agent pass; ``run`` names it ("run 2 [files]")."""
    notes = []
    if agent.get("ended_by") not in (None, "complete", "idle"):
        notes.append(f"{run}: agent pass ended by {agent['ended_by']}")
    report = agent.get("agent") or {}
    if report.get("source") not in (None, source):
        notes.append(f"{run}: the agent read through source {report['source']}, not {source}")
    if report.get("through_api"):
        notes.append(f"{run}: {report['through_api']} containers followed through the Engine API")
    producers = agent.get("producers") or {}
    codes = producers.get("exit_codes")
    if codes and codes != [0]:
        notes.append(f"{run}: producer exit codes {codes}")
    rotations = (producers.get("writer") or {}).get("rotations")
    if rotations:
        notes.append(f"{run}: the CRI writer rotated {rotations} times")
    by_minute = (agent.get("rss") or {}).get("by_minute_median_mib")
    if by_minute:
        cells = " ".join("-" if v is None else f"{v:.1f}" for v in by_minute)
        notes.append(f"{run}: agent RSS MiB by minute since go (median): {cells}")
    rec = agent.get("receiver") or {}
    if rec.get("protocol_errors") or rec.get("inflate_errors"):
        notes.append(
            f"{run}: receiver refused the agent's data {rec.get('protocol_errors')}x "
            f"(inflate errors {rec.get('inflate_errors')}): {rec.get('first_error')}"
        )
    gelf = rec.get("gelf") or {}
    if gelf.get("chunked_messages") or gelf.get("incomplete") or gelf.get("bad_chunks"):
        notes.append(
            f"{run}: GELF chunks {gelf['chunks']:,}, chunked messages "
            f"{gelf['chunked_messages']:,}, incomplete {gelf['incomplete']}, "
            f"bad chunks {gelf['bad_chunks']}, inflate errors {gelf['inflate_errors']}"
        )
    if rec.get("acks") is not None and scenario.sink == "forward":
        notes.append(
            f"{run}: forward receiver: {rec['units']:,} messages, {rec['acks']:,} acked, "
            f"{rec['connections']} connection(s)"
        )
    notable = report.get("notable_lines", [])
    notes += [f"{run} agent: {line[:160]}" for line in notable[:3]]
    return notes


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_scenario(
    ctx: passes.Context, scenario: Scenario, args: argparse.Namespace
) -> dict[str, Any]:
    workload = scenario.workload(args)
    engine_pass = scenario.engine and not args.no_engine
    unread_pass = engine_pass and (workload.kind == "flood" or args.unread)
    sources = scenario.sources(args)
    variants = scenario.variants(args)
    agent_passes = scenario.passes(args)
    cpus = agent_cpus(scenario, args)
    ctx.timeout_secs = timeout_for(workload, args)
    ctx.cri = scenario.cri_options(args)
    _say(f"\n== {describe(scenario, workload, args)}")
    runs: list[dict[str, Any]] = []
    for k in range(1, args.runs + 1):
        base = f"{ctx.session}-{scenario.name}-r{k}"
        load = os.getloadavg()
        run: dict[str, Any] = {"run": k, "load_avg": load, "load_1m": load[0]}
        if engine_pass:
            run["engine"] = eng = passes.engine_pass(ctx, workload, base + "-e")
            _say(f"   run {k}: engine {eng['lines_per_sec'] or 0:,.0f} lines/s ({eng['lines']:,})")
        if unread_pass:
            run["unread"] = unread = passes.unread_pass(ctx, workload, base + "-u")
            _say(
                f"   run {k}: no reader: producers wrote {unread['lines_per_sec'] or 0:,.0f} "
                f"lines/s, dockerd {unread['dockerd_cpu_per_mline'] or 0:.2f} CPU-s/M lines"
            )
        # every other run the other way round, so no pass always goes first
        order = agent_passes if k % 2 else agent_passes[::-1]
        run["agents"], run["ratio"] = {}, {}
        for source, variant in order:
            key = pass_key(source, variant)
            lines = VARIANTS[variant]
            load_now = os.getloadavg()[0]
            pass_id = f"{base}-{PASS_CODES.get(source, source[0])}{variants.index(variant)}"
            stderr_name = f"{scenario.name}-run{k}-{key}.agent.stderr"
            work = scenario.workload(args, lines.json)
            if scenario.sink == "console":
                agent = passes.console_pass(
                    ctx, work, pass_id, stderr_name, source, cpus, env=lines.env
                )
            else:
                dest = DESTINATIONS[scenario.sink]
                agent = passes.counted_pass(
                    ctx, work, pass_id, stderr_name, dest, source, cpus, env=lines.env
                )
            agent["variant"] = variant
            agent["load_1m"] = load_now
            run["agents"][key] = agent
            engine_rate = (run.get("engine") or {}).get("lines_per_sec")
            rate = agent["lines_per_sec"]
            run["ratio"][key] = rate / engine_rate if engine_rate and rate else None
            loss = agent["loss"] if agent["loss"] is not None else "n/a"
            _say(
                f"   run {k}: agent [{key}] {rate or 0:,.0f} lines/s, loss {loss}, "
                f"CPU {agent['agent_cpu_per_mline'] or 0:.2f} s/M lines ({agent['ended_by']}), "
                f"load {load_now:.2f}"
            )
        passes_run = [run.get("engine"), run.get("unread"), *run["agents"].values()]
        for key in ("machine_busy_before_percent", "dockerd_before_percent", "settle_secs"):
            before = [p.get(key) for p in passes_run if p]
            run[key] = max((b for b in before if b is not None), default=None)
        runs.append(run)
    metrics = metrics_for(
        scenario.sink,
        workload.kind,
        engine=engine_pass,
        unread=unread_pass,
        sources=[pass_key(s, v) for s, v in agent_passes],
        host=scenario.host,
    )
    title = f"{describe(scenario, workload, args)} ({len(runs)} runs)"
    text = table(title, runs, metrics, notes_for(scenario, runs))
    print("\n" + text + "\n", flush=True)
    return {
        "scenario": asdict(scenario),
        "workload": asdict(workload),
        "sources": sources,
        "variants": variants,
        "agent_cpus": sorted(cpus) if cpus else None,
        "runs": runs,
        "summary": summarize(runs, metrics),
        "table": text,
    }


def prepare(ctx: passes.Context, scenarios: list[Scenario], args: argparse.Namespace) -> None:
    """Compile the receivers the scenarios need (and the CRI writer) and, for TLS, make a test
    CA and a server certificate for 127.0.0.1 (with openssl, as the tests do)."""
    dests = [DESTINATIONS[s.sink] for s in scenarios if s.sink in DESTINATIONS]
    needed = {d.receiver for d in dests} | (
        {"criwriter"} if any(s.host == "cri" for s in scenarios) else set()
    )
    if any(s in passes.FLOORS for s in args.sources):
        needed.add("floorship")
    for name in sorted(needed):
        ctx.receivers[name] = receiver.build(name)
    if any(d.tls for d in dests):
        sys.path.insert(1, str(REPO))
        from tests.helpers.tls import make_test_ca  # the CA the TLS tests use

        files = make_test_ca(receiver.BUILD_DIR / f"tls-{ctx.session}")
        ctx.tls_files = {
            "ca_file": str(files.ca_file),
            "server_cert": str(files.server_cert),
            "server_key": str(files.server_key),
        }


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in background
    client, dockerd, engine_version = None, None, ""
    if any(s.host == "docker" for s in args.scenarios):  # the CRI scenarios need no engine
        try:
            client = docker.DockerClient(base_url=f"unix://{args.docker_socket}", timeout=120)
            engine_version = client.version()["Version"]
        except docker.errors.DockerException as exc:
            print(
                f"throughput: cannot reach the Docker engine at {args.docker_socket}: {exc}",
                file=sys.stderr,
            )
            return 1
        dockerd = pid_of("dockerd")
        if dockerd is None:
            print("throughput: no dockerd process on this machine to measure", file=sys.stderr)
            return 1
    if not Path(args.logship).exists():
        print(
            f"throughput: logship command {args.logship!r} not found (--logship)", file=sys.stderr
        )
        return 1
    stamp = time.strftime("%Y%m%dT%H%M%S")
    session = f"b{stamp[9:]}{os.getpid() % 1000:03d}"
    args.out.mkdir(parents=True, exist_ok=True)
    ctx = passes.Context(
        client=client,
        session=session,
        socket_path=args.docker_socket,
        dockerd_pid=dockerd,
        logship=args.logship,
        receivers={},
        logs_dir=args.out / stamp,
        idle_secs=args.idle_secs,
        timeout_secs=0,
    )
    try:
        prepare(ctx, args.scenarios, args)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        print(f"throughput: {exc}", file=sys.stderr)
        return 1
    output: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(engine_version),
        "options": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in vars(args).items()
            if k != "scenarios"
        },
        "scenarios": {},
    }
    path = args.out / f"{stamp}.json"
    code = 0
    try:
        for scenario in args.scenarios:
            output["scenarios"][scenario.name] = run_scenario(ctx, scenario, args)
        if args.targets:
            text = suite_table(f"suite {args.suite}", args.targets, output["scenarios"])
            output["suite"] = {"name": args.suite, "table": text}
            print("\n" + text + "\n", flush=True)
    except KeyboardInterrupt:
        print("\nthroughput: interrupted, cleaning up", file=sys.stderr)
        output["interrupted"] = True
        code = 130
    except (RuntimeError, OSError, docker.errors.DockerException) as exc:
        print(f"\nthroughput: {exc}", file=sys.stderr)
        output["error"] = f"{type(exc).__name__}: {exc}"
        code = 1
    finally:
        shutil.rmtree(receiver.BUILD_DIR / f"tls-{session}", ignore_errors=True)
        removed = remove_labelled(client, f"{SESSION_LABEL}={session}") if client else 0
        if removed:
            print(f"throughput: removed {removed} leftover containers", file=sys.stderr)
        output["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        path.write_text(json.dumps(output, indent=2, default=str) + "\n")
        print(f"results: {path}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
