"""One pass = one set of fresh producers read by one reader: the engine's plain follow clients,
or nobody (the engine writing its json-file logs alone), or the agent shipping to a counting
receiver (UDP syslog, GELF, syslog over TLS, forward, the Elasticsearch stand-in), or the agent
writing to /dev/null.

The producers are Docker containers, or for the agent's ``cri`` source, pod log files written
by a local writer (bench/criwriter.py). The agent reads the containers through the source a
pass names: ``docker`` (the Engine API's log streams), ``files`` (their json-file logs) or
``cri`` (the pod log files).

Every pass starts its reader first, then the producers (which wait), checks the reader is
attached to every producer, lets the producers go, and measures from that moment.
"""

from __future__ import annotations

import functools
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import docker  # type: ignore[import-untyped]
import engine
from agentproc import AgentProcess, FloorProcess, RssSampler
from criwriter import CriOptions, CriPods
from floor import agent_layout
from procfs import busy_percent, cpu_secs, machine_cpu, udp_drops, udp_snmp
from producers import LABEL, ProducerSet, Workload
from receiver import BUILD_DIR, Receiver

ENGINE_GATHER_SECS = 0.0005  # flood: engine readers nap after small reads (see engine.py)
BASELINE_SECS = 1.0  # how long each pass first watches the machine before starting anything
# before that, each pass waits (up to SETTLE_MAX_SECS) for a second in which the machine is
# less busy than this: what the last pass left running (dockerd removing its containers, a
# whole copy of a file system each with vfs) would otherwise be counted in this one
SETTLE_BUSY_PERCENT = 20.0
SETTLE_MAX_SECS = 30.0
CONSOLE_SAMPLE_SECS = 0.1
CONSOLE_BUSY_CPU_SECS = 0.02  # per sample: 20% of a core or more counts as busy
CONSOLE_IDLE_SECS = 1.5
RSS_TAIL_SECS = 60.0  # "last minute" of a pass, for passes of RSS_TAIL_MIN_PASS_SECS or more
RSS_TAIL_MIN_PASS_SECS = 180.0  # shorter passes use their last third instead
RSS_GROWTH_MIN_SAMPLES = 3  # fewer samples in the second half: no growth figure
EXIT_POLL_SECS = 0.5  # how often a pass asks the engine whether the producers are done
SOURCES = ("docker", "files", "cri")  # the agent's --source values a pass can use
# bench/floorship.c in the agent's place, reading the same json-file logs: one thread for every
# file (as the agent), or one thread a file
FLOORS = ("floor", "floor-threads")


@dataclass(frozen=True)
class Destination:
    """A destination whose lines a C receiver counts: which receiver, with which options, and
    the agent's destination URI. ``{port}``, ``{ca_file}``, ``{server_cert}`` and
    ``{server_key}`` in ``options`` and ``uri`` are filled in per pass."""

    receiver: str  # "udprecv" or "streamrecv" (bench/receiver.py)
    uri: str
    options: tuple[str, ...] = ()
    udp: bool = False  # the kernel's UDP drop counters mean something
    tls: bool = False  # needs the test CA and server certificate


@dataclass
class Context:
    client: docker.DockerClient | None  # None: CRI scenarios only, no engine needed
    session: str
    socket_path: str
    dockerd_pid: int | None
    logship: str
    receivers: dict[str, Path]  # receiver name -> binary (bench/receiver.py build())
    logs_dir: Path
    idle_secs: float
    timeout_secs: float
    tls_files: dict[str, str] = field(default_factory=dict)  # ca_file, server_cert, server_key
    cri: CriOptions = field(default_factory=CriOptions)


class Feed(Protocol):
    """What a pass's producers must do: be made (waiting), be let go together, say what they
    wrote, be removed."""

    @property
    def names(self) -> list[str]:
        """What the agent calls each producer in its "following NAME (" lines."""
        ...

    def start(self) -> None: ...

    def running(self) -> int:
        """How many producers are still writing."""
        ...

    def release(self) -> int:
        """Let every producer write; the moment (time.time_ns) they were let go."""
        ...

    def summary(self, go_ns: int, total: int) -> dict[str, Any]: ...

    def remove(self) -> None: ...


class DockerFeed:
    """Busybox producer containers (bench/producers.py)."""

    def __init__(self, producers: ProducerSet) -> None:
        self.producers = producers

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.producers.producers]

    def start(self) -> None:
        self.producers.start()

    def running(self) -> int:
        return self.producers.running()

    def release(self) -> int:
        return self.producers.release()

    def summary(self, go_ns: int, total: int) -> dict[str, Any]:
        return producer_summary(self.producers.states(), go_ns, total)

    def remove(self) -> None:
        self.producers.remove()


class CriFeed:
    """Pod log files and their C writer (bench/criwriter.py)."""

    def __init__(self, pods: CriPods) -> None:
        self.pods = pods

    @property
    def names(self) -> list[str]:
        return self.pods.names

    def start(self) -> None:
        self.pods.start()

    def running(self) -> int:
        return int(self.pods.running())

    def release(self) -> int:
        go = time.time_ns()
        self.pods.release()
        return go

    def summary(self, go_ns: int, total: int) -> dict[str, Any]:
        done = self.pods.finish(timeout_secs=30) or {}
        out: dict[str, Any] = {"exit_codes": [done.get("exit_code")], "writer": done}
        if "end_ns" in done:
            secs = (done["end_ns"] - go_ns) / 1e9
            out["secs"] = secs
            out["offered_lines_per_sec"] = total / secs if secs > 0 else None
            out["writer_cpu_secs"] = done.get("cpu_secs")
        return out

    def remove(self) -> None:
        self.pods.remove()


def per_mline(cpu: float | None, lines: int) -> float | None:
    return cpu / (lines / 1e6) if lines and cpu is not None else None


def net_per_mline(
    cpu: float | None, secs: float | None, before: dict[str, float | None], lines: int
) -> float | None:
    """dockerd's CPU over ``secs`` less what it spent at the rate it served others just before
    the pass (``dockerd_before_percent`` of :func:`baseline`), per million lines."""
    rate = before.get("dockerd_before_percent")
    if cpu is None or secs is None or rate is None:
        return None
    return per_mline(cpu - rate / 100 * secs, lines)


def dockerd_cpu(ctx: Context) -> float:
    """dockerd's CPU seconds so far (the passes that need an engine)."""
    assert ctx.dockerd_pid is not None, "this pass needs the engine"
    return cpu_secs(ctx.dockerd_pid)


def rfc3339_ns(text: str | None) -> int | None:
    """Docker's ``2026-11-27T05:24:33.719017123Z`` -> nanoseconds since the epoch."""
    if not text or text.startswith("0001-"):
        return None
    base, _, frac = text.rstrip("Z").partition(".")
    secs = int(datetime.fromisoformat(base + "+00:00").timestamp())
    return secs * 1_000_000_000 + int((frac + "000000000")[:9])


def producer_summary(states: list[dict[str, Any]], go_ns: int, total: int) -> dict[str, Any]:
    """When the producers finished writing, and the rate they offered."""
    ends = [rfc3339_ns(s["finished_at"]) for s in states]
    done = [e for e in ends if e is not None]
    out: dict[str, Any] = {
        "exit_codes": sorted({s["exit_code"] for s in states}),
        "still_running": sum(1 for s in states if s["running"]),
    }
    if done:
        secs = (max(done) - go_ns) / 1e9
        out["secs"] = secs
        out["offered_lines_per_sec"] = total / secs if secs > 0 else None
    return out


def delay_summary(values_us: list[int]) -> dict[str, float] | None:
    if not values_us:
        return None
    values = sorted(values_us)

    def pct(q: float) -> float:
        return values[min(len(values) - 1, round(q * (len(values) - 1)))] / 1000

    return {
        "count": len(values),
        "p50_ms": pct(0.5),
        "p90_ms": pct(0.9),
        "p99_ms": pct(0.99),
        "p999_ms": pct(0.999),
        "max_ms": values[-1] / 1000,
        "mean_ms": statistics.fmean(values) / 1000,
    }


def rss_summary(samples: list[list[float]]) -> dict[str, Any] | None:
    """The agent's memory over a pass from its ``[secs since go, MiB]`` samples: RSS at go, the
    median over the last minute (the last third for passes under 3 minutes), and the growth in
    MiB/min over the second half (least-squares slope)."""
    if not samples:
        return None
    end = samples[-1][0]
    tail_from = end - RSS_TAIL_SECS if end >= RSS_TAIL_MIN_PASS_SECS else end * 2 / 3
    tail = [mib for t, mib in samples if t >= tail_from]
    half = [(t, mib) for t, mib in samples if t >= end / 2]
    growth = None
    if len(half) >= RSS_GROWTH_MIN_SAMPLES and half[-1][0] > half[0][0]:
        xs, ys = zip(*half, strict=True)
        growth = statistics.linear_regression(xs, ys).slope * 60
    by_minute = None
    if end >= 2 * RSS_TAIL_SECS:
        minutes: list[list[float]] = [[] for _ in range(int(end // 60) + 1)]
        for t, mib in samples:
            minutes[int(t // 60)].append(mib)
        by_minute = [statistics.median(m) if m else None for m in minutes]
    mibs = [mib for _, mib in samples]
    return {
        "start_mib": samples[0][1],
        "tail_median_mib": statistics.median(tail),
        "tail_secs": end - tail_from,
        "growth_mib_per_min": growth,
        "growth_samples": len(half),
        "min_mib": min(mibs),
        "max_mib": max(mibs),
        "by_minute_median_mib": by_minute,
        "pass_secs": end,
        "samples": len(samples),
    }


def _receiver_delay(delay_us: dict[str, int] | None) -> dict[str, float] | None:
    """udprecv's delay percentiles (microseconds) in the units of :func:`delay_summary`."""
    if not delay_us or not delay_us["count"]:
        return None
    out: dict[str, float] = {"count": delay_us["count"]}
    for key in ("min", "p50", "p90", "p99", "p999", "max"):
        out[f"{key}_ms"] = delay_us[key] / 1000
    out["bad_timestamps"] = delay_us["bad_timestamps"]
    return out


def baseline(ctx: Context) -> dict[str, float | None]:
    """How busy the machine, and dockerd (in % of one core), are before a pass starts anything:
    other work sharing the cores, and the engine serving others (their containers, their API
    calls), which every dockerd figure of the pass includes."""
    engine_here = ctx.dockerd_pid is not None
    waited = settle()
    machine0, dockerd0 = machine_cpu(), dockerd_cpu(ctx) if engine_here else 0.0
    time.sleep(BASELINE_SECS)
    dockerd = dockerd_cpu(ctx) - dockerd0 if engine_here else None
    return {
        "machine_busy_before_percent": busy_percent(machine0, machine_cpu()),
        "dockerd_before_percent": 100 * dockerd / BASELINE_SECS if dockerd is not None else None,
        "settle_secs": waited,
    }


def settle() -> float:
    """Wait until the machine was quiet for a second (:data:`SETTLE_BUSY_PERCENT`), at most
    :data:`SETTLE_MAX_SECS`: the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < SETTLE_MAX_SECS:
        machine0 = machine_cpu()
        time.sleep(1.0)
        busy = busy_percent(machine0, machine_cpu())
        if busy is not None and busy < SETTLE_BUSY_PERCENT:
            break
    return time.monotonic() - start


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def engine_pass(ctx: Context, workload: Workload, pass_id: str) -> dict[str, Any]:
    before = baseline(ctx)
    producers = ProducerSet(ctx.client, workload, pass_id, ctx.session)
    readers: engine.EngineReaders | None = None
    try:
        producers.start()
        readers = engine.EngineReaders(
            ctx.socket_path,
            [p.id for p in producers.producers],
            workload.lines,
            delays=workload.kind == "steady",
            gather_secs=ENGINE_GATHER_SECS if workload.kind == "flood" else 0.0,
        )
        readers.open_all()
        dockerd0, self0, machine0 = dockerd_cpu(ctx), _self_cpu(), machine_cpu()
        go = producers.release()
        finished = readers.run(time.monotonic() + ctx.timeout_secs)
        dockerd1, self1, machine1 = dockerd_cpu(ctx), _self_cpu(), machine_cpu()
        streams = readers.streams
        lines = sum(s.lines for s in streams)
        last = max((s.last_data_ns for s in streams), default=0)
        secs = (last - go) / 1e9 if last else None
        dockerd = dockerd1 - dockerd0
        delays = [d for s in streams for d in s.delays_us]
        return {
            "lines": lines,
            "expected": workload.total_lines,
            "missing": workload.total_lines - lines,
            "secs": secs,
            "lines_per_sec": lines / secs if secs else None,
            "dockerd_cpu_secs": dockerd,
            "dockerd_cpu_per_mline": per_mline(dockerd, lines),
            "reader_cpu_secs": self1 - self0,
            "machine_busy_percent": busy_percent(machine0, machine1),
            **before,
            "resumes": sum(s.resumes for s in streams),
            "errors": [f"{s.container_id[:12]}: {s.error}" for s in streams if s.error],
            "timed_out": not finished,
            "delay": delay_summary(delays),
            "producers": producer_summary(producers.states(), go, workload.total_lines),
        }
    finally:
        if readers is not None:
            readers.close()
        producers.remove()


def unread_pass(ctx: Context, workload: Workload, pass_id: str) -> dict[str, Any]:
    """The engine with no reader at all: the producers write, dockerd writes their json-file
    logs, nobody follows them. Its CPU per line is what the engine costs before anyone reads;
    a reader of the files should add nothing to it."""
    before = baseline(ctx)
    producers = ProducerSet(ctx.client, workload, pass_id, ctx.session)
    try:
        producers.start()
        dockerd0, machine0 = dockerd_cpu(ctx), machine_cpu()
        go = producers.release()
        deadline = time.monotonic() + ctx.timeout_secs
        finished = False
        while time.monotonic() < deadline:
            time.sleep(EXIT_POLL_SECS)
            if producers.running() == 0:
                finished = True
                break
        dockerd1, machine1 = dockerd_cpu(ctx), machine_cpu()
        secs = (time.time_ns() - go) / 1e9
        summary = producer_summary(producers.states(), go, workload.total_lines)
        dockerd = dockerd1 - dockerd0
        return {
            "lines": workload.total_lines,
            "lines_per_sec": summary.get("offered_lines_per_sec"),
            "dockerd_cpu_secs": dockerd,
            "dockerd_cpu_per_mline": per_mline(dockerd, workload.total_lines),
            "dockerd_secs": secs,
            "dockerd_net_per_mline": net_per_mline(dockerd, secs, before, workload.total_lines),
            "machine_busy_percent": busy_percent(machine0, machine1),
            **before,
            "timed_out": not finished,
            "producers": summary,
        }
    finally:
        producers.remove()


@dataclass(frozen=True)
class AgentRun:
    """The agent as one pass runs it: its producers, and its command line for them."""

    feed: Feed
    argv: list[str]
    started: str  # what the agent logs once it follows what was there at start
    process: Callable[..., AgentProcess] = AgentProcess  # called as AgentProcess is


def floor_run(ctx: Context, workload: Workload, pass_id: str, source: str, port: int) -> AgentRun:
    """bench/floorship.c shipping this pass's containers' json-file logs in datagrams of the
    agent's layout (made by logship's syslog encoder, bench/floor.py)."""
    assert ctx.client is not None, f"--source {source} needs the engine"
    client = ctx.client
    before, between = agent_layout()
    argv = [str(ctx.receivers["floorship"]), str(port), str(workload.lines)]
    argv += [before.hex(), between.hex(), *(["--threads"] if source == "floor-threads" else [])]

    def log_path(name: str) -> str:
        return str(client.api.inspect_container(name)["LogPath"])

    feed = DockerFeed(ProducerSet(client, workload, pass_id, ctx.session))
    return AgentRun(feed, argv, "", functools.partial(FloorProcess, log_path=log_path))


def agent_run(
    ctx: Context, workload: Workload, pass_id: str, source: str, destination: str
) -> AgentRun:
    """The producers of a pass reading through ``source``, and the agent's command line:
    docker and files follow this pass's containers (by label), cri a fresh pods directory."""
    argv = [ctx.logship, "run", destination, "--source", source]
    if source == "cri":
        pods = CriPods(ctx.receivers["criwriter"], workload, pass_id, ctx.cri, BUILD_DIR)
        pods.lay_out()
        argv += ["--pods-dir", str(pods.pods_dir), "--pod-links-dir", str(pods.links_dir)]
        return AgentRun(CriFeed(pods), argv, r"following \d+ container log files")
    argv += ["--include-label", f"{LABEL}={pass_id}"]
    assert ctx.client is not None, f"--source {source} needs the engine"
    feed = DockerFeed(ProducerSet(ctx.client, workload, pass_id, ctx.session))
    return AgentRun(feed, argv, r"following \d+ containers")


def counted_pass(
    ctx: Context,
    workload: Workload,
    pass_id: str,
    stderr_name: str,
    dest: Destination,
    source: str = "docker",
    cpus: set[int] | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The agent shipping to ``dest`` what it reads through ``source`` (pinned to ``cpus`` if
    given, with the variables ``env`` set), while the receiver counts every line."""
    before = baseline(ctx)
    if dest.tls and not ctx.tls_files:
        raise RuntimeError(f"{dest.uri}: no TLS files in the context")
    options = tuple(o.format(**ctx.tls_files) for o in dest.options)
    receiver = Receiver(
        ctx.receivers[dest.receiver],
        workload.containers,
        workload.lines,
        delays=workload.kind == "steady",
        options=options,
    )
    agent: AgentProcess | None = None
    sampler: RssSampler | None = None
    uri = dest.uri.format(port=receiver.port, **ctx.tls_files)
    if source in FLOORS:
        run = floor_run(ctx, workload, pass_id, source, receiver.port)
    else:
        run = agent_run(ctx, workload, pass_id, source, uri)
    feed = run.feed
    try:
        agent = run.process(run.argv, ctx.logs_dir / stderr_name, cpus=cpus, env=env)
        agent.wait_started(run.started)
        feed.start()
        agent.wait_following(feed.names)
        snmp0, machine0, receiver0 = udp_snmp(), machine_cpu(), cpu_secs(receiver.pid)
        engine_here = ctx.dockerd_pid is not None  # CRI scenarios may run with no engine
        agent0, dockerd0 = agent.cpu_secs(), dockerd_cpu(ctx) if engine_here else 0.0
        go = feed.release()
        sampler = agent.sample_rss(go)
        expected = workload.total_lines
        ended_by = "timeout"
        seen, machine1 = -1, machine0  # machine CPU at the last progress, not after idling
        # dockerd's CPU once the producers are done: the window of the no-reader pass
        dockerd_at_exit, exit_check, exit_secs = None, 0.0, None
        # the agent's CPU and the lines received then: its share of the CPU while the
        # producers compete for it, and how far behind them it was
        agent_at_exit, received_at_exit = None, None
        while time.time_ns() - go < ctx.timeout_secs * 1e9:
            if engine_here and dockerd_at_exit is None and time.monotonic() >= exit_check:
                exit_check = time.monotonic() + EXIT_POLL_SECS
                if feed.running() == 0:
                    dockerd_at_exit = dockerd_cpu(ctx)
                    exit_secs = (time.time_ns() - go) / 1e9
                    agent_at_exit = agent.cpu_secs()
                    received_at_exit = receiver.progress.distinct
            progress = receiver.progress
            if progress.datagrams != seen:
                seen, machine1 = progress.datagrams, machine_cpu()
            if progress.distinct >= expected:
                ended_by = "complete"
                break
            if (time.time_ns() - max(go, progress.last_arrival_ns)) / 1e9 > ctx.idle_secs:
                ended_by = f"nothing arrived for {ctx.idle_secs:g}s"
                break
            if agent.proc.poll() is not None:
                ended_by = f"agent exited ({agent.proc.returncode})"
                break
            time.sleep(0.05)
        agent1 = agent.cpu_secs()
        dockerd = dockerd_cpu(ctx) - dockerd0 if engine_here else None
        if dockerd is not None and dockerd_at_exit is None and feed.running() == 0:
            dockerd_at_exit = dockerd0 + dockerd  # they exited since the last look
            exit_secs = (time.time_ns() - go) / 1e9
            agent_at_exit, received_at_exit = agent1, receiver.progress.distinct
        until_exit = dockerd_at_exit - dockerd0 if dockerd_at_exit is not None else None
        receiver1 = cpu_secs(receiver.pid)
        rss_samples = sampler.stop()
        rss = agent.peak_rss_mib()
        receiver_drops = udp_drops(receiver.port) if dest.udp else None
        snmp1 = udp_snmp()
        totals = receiver.stop()
        agent.stop()
        report = agent.report()
        distinct = totals["distinct"]
        first, last = totals["first_arrival_ns"], totals["last_arrival_ns"]
        secs = (last - go) / 1e9 if last else None
        loss = expected - distinct
        agent_cpu = agent1 - agent0
        return {
            "ended_by": ended_by,
            "expected": expected,
            "received": distinct,
            "datagrams": totals["datagrams"],  # stream receivers: lines (entries, documents)
            "duplicates": totals["duplicates"],
            "unparsed": totals["unparsed"],
            "loss": loss,
            "receiver_drops": receiver_drops,
            "loss_before_receiver": loss - (receiver_drops or 0),
            "udp_rcvbuf_errors": (snmp1["RcvbufErrors"] - snmp0["RcvbufErrors"])
            if dest.udp
            else None,
            "udp_sndbuf_errors": (snmp1["SndbufErrors"] - snmp0["SndbufErrors"])
            if dest.udp
            else None,
            "receiver_rcvbuf_bytes": totals["rcvbuf_bytes"],
            "secs": secs,
            "lines_per_sec": distinct / secs if secs else None,
            "first_to_last_lines_per_sec": (
                distinct / ((last - first) / 1e9) if last > first else None
            ),
            "first_arrival_after_go_secs": (first - go) / 1e9 if first else None,
            "agent_cpu_secs": agent_cpu,
            "agent_cpu_per_mline": per_mline(agent_cpu, distinct),
            # near 100: the agent had a core's work to do all along (its CPU, not the rate
            # lines came in, set the pace); far below: it waited for lines, or for a CPU
            "agent_core_percent": 100 * agent_cpu / secs if secs else None,
            # while the producers wrote (known to EXIT_POLL_SECS): on 2 cores shared with
            # them and dockerd, the agent's share of the CPU bounds its rate until they exit
            "agent_core_percent_until_exit": 100 * (agent_at_exit - agent0) / exit_secs
            if agent_at_exit is not None and exit_secs
            else None,
            "lines_behind_at_exit": expected - received_at_exit
            if received_at_exit is not None
            else None,
            "dockerd_cpu_secs": dockerd,
            "dockerd_cpu_per_mline": per_mline(dockerd, distinct),
            "dockerd_cpu_until_exit_per_mline": per_mline(until_exit, expected),
            "dockerd_until_exit_secs": exit_secs,
            "dockerd_net_until_exit_per_mline": net_per_mline(
                until_exit, exit_secs, before, expected
            ),
            "receiver_cpu_secs": receiver1 - receiver0,
            "receiver_cpu_per_mline": per_mline(receiver1 - receiver0, distinct),
            "receiver": {
                k: v
                for k, v in totals.items()
                if k not in ("delay_us", "datagrams", "distinct", "duplicates", "unparsed")
            },
            "destination": uri,
            "source": source,
            "agent_cpus": sorted(cpus) if cpus else None,
            "machine_busy_percent": busy_percent(machine0, machine1),
            **before,
            "peak_rss_mib": rss,
            "rss": rss_summary(rss_samples),
            "rss_samples": rss_samples,
            "delay": _receiver_delay(totals.get("delay_us")),
            "agent": report,
            "producers": feed.summary(go, expected),
        }
    finally:
        if sampler is not None:
            sampler.stop()
        receiver.kill()
        if agent is not None:
            agent.kill()
        feed.remove()


def console_pass(
    ctx: Context,
    workload: Workload,
    pass_id: str,
    stderr_name: str,
    source: str = "docker",
    cpus: set[int] | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The agent writing text to /dev/null: no receiver, so speed is judged by when the agent
    goes idle after the producers exited. Lines cannot be counted; the agent's own shutdown
    report of buffer drops is the only loss signal. Docker producers only."""
    before = baseline(ctx)
    run = agent_run(ctx, workload, pass_id, source, "console://")
    assert isinstance(run.feed, DockerFeed), "console passes read Docker containers"
    producers = run.feed.producers
    agent = AgentProcess(run.argv, ctx.logs_dir / stderr_name, cpus=cpus, env=env)
    sampler: RssSampler | None = None
    try:
        agent.wait_started(run.started)
        producers.start()
        agent.wait_following(run.feed.names)
        agent0, dockerd0, machine0 = agent.cpu_secs(), dockerd_cpu(ctx), machine_cpu()
        go = producers.release()
        sampler = agent.sample_rss(go)
        previous, last_busy_ns, exited_ns = agent0, go, None
        machine1 = machine_cpu()
        ended_by = "timeout"
        next_check = 0.0
        while time.time_ns() - go < ctx.timeout_secs * 1e9:
            time.sleep(CONSOLE_SAMPLE_SECS)
            now = time.time_ns()
            cpu = agent.cpu_secs()
            if cpu - previous >= CONSOLE_BUSY_CPU_SECS:
                last_busy_ns = now
                machine1 = machine_cpu()
            previous = cpu
            if exited_ns is None and time.monotonic() >= next_check:
                next_check = time.monotonic() + 0.5
                if producers.running() == 0:
                    exited_ns = now
            if exited_ns is not None and (now - last_busy_ns) / 1e9 >= CONSOLE_IDLE_SECS:
                ended_by = "idle"
                break
            if agent.proc.poll() is not None:
                ended_by = f"agent exited ({agent.proc.returncode})"
                break
        agent1, dockerd1 = agent.cpu_secs(), dockerd_cpu(ctx)
        rss_samples = sampler.stop()
        rss = agent.peak_rss_mib()
        agent.stop()
        report = agent.report()
        expected = workload.total_lines
        secs = (last_busy_ns - go) / 1e9
        agent_cpu = agent1 - agent0
        return {
            "ended_by": ended_by,
            "expected": expected,
            "secs": secs,
            "lines_per_sec": expected / secs if secs > 0 else None,
            "producers_exited_after_secs": (exited_ns - go) / 1e9 if exited_ns else None,
            "agent_cpu_secs": agent_cpu,
            "agent_cpu_per_mline": per_mline(agent_cpu, expected),
            "dockerd_cpu_secs": dockerd1 - dockerd0,
            "dockerd_cpu_per_mline": per_mline(dockerd1 - dockerd0, expected),
            "source": source,
            "agent_cpus": sorted(cpus) if cpus else None,
            "machine_busy_percent": busy_percent(machine0, machine1),
            **before,
            "peak_rss_mib": rss,
            "rss": rss_summary(rss_samples),
            "rss_samples": rss_samples,
            "loss": None,
            "agent": report,
            "producers": producer_summary(producers.states(), go, expected),
        }
    finally:
        if sampler is not None:
            sampler.stop()
        agent.kill()
        producers.remove()
