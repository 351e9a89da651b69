"""What the benchmark reads from /proc: CPU time, memory, UDP drop counters, machine facts."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_secs(pid: int, *, children: bool = True) -> float:
    """utime + stime of the process (all its threads), plus its waited-for children's."""
    with open(f"/proc/{pid}/stat") as f:
        # the command name may hold spaces and parentheses: fields start after the last ")"
        fields = f.read().rpartition(")")[2].split()
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    ticks = utime + stime + (cutime + cstime if children else 0)
    return ticks / CLOCK_TICKS


def _status_mib(pid: int, field: str) -> float | None:
    """A ``kB`` field of /proc/<pid>/status in MiB, or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def peak_rss_mib(pid: int) -> float | None:
    """VmHWM: the most resident memory the process ever had."""
    return _status_mib(pid, "VmHWM:")


def rss_mib(pid: int) -> float | None:
    """VmRSS: the resident memory the process has now."""
    return _status_mib(pid, "VmRSS:")


def pid_of(name: str) -> int | None:
    """The oldest process whose command name is ``name`` (e.g. dockerd), or None."""
    found: list[tuple[float, int]] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.find("(") + 1 : stat.rfind(")")]
        if comm == name:
            start = float(stat.rpartition(")")[2].split()[19])
            found.append((start, int(entry)))
    return min(found)[1] if found else None


def machine_cpu() -> tuple[int, int]:
    """(busy, total) clock ticks over all cores since boot (/proc/stat); iowait counts idle."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    total = sum(ticks[:8])  # guest time is already inside user and nice
    idle = ticks[3] + ticks[4]
    return total - idle, total


def busy_percent(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    """Share of all cores' time that was busy between two :func:`machine_cpu` samples."""
    total = after[1] - before[1]
    return 100 * (after[0] - before[0]) / total if total > 0 else None


def udp_drops(port: int) -> int | None:
    """The kernel's drop counter of the IPv4 UDP socket bound to ``port`` (/proc/net/udp)."""
    want = f":{port:04X}"
    with open("/proc/net/udp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if parts[1].endswith(want):
                return int(parts[-1])
    return None


def udp_snmp() -> dict[str, int]:
    """System-wide UDP counters (/proc/net/snmp): InErrors, RcvbufErrors, SndbufErrors, ..."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    names, values = rows[0][1:], rows[1][1:]
    return {k: int(v) for k, v in zip(names, values, strict=True)}


def _output(argv: list[str]) -> str:
    """What a command printed, stripped; "" if it cannot run."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def machine_info(engine_version: str) -> dict[str, object]:
    cpu_model = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu_model = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), ""
            )
    except OSError:
        pass
    agent_version = _output([sys.executable, "-m", "logship.cli", "--version"])
    # the checkout the benchmark (and, by default, the agent) runs from
    commit = _output(["git", "-C", os.path.dirname(__file__), "describe", "--always", "--dirty"])
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "engine_version": engine_version,
        "agent_version": agent_version,
        "commit": commit,
        "hostname": platform.node(),
    }
