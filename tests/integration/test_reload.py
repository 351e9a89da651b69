"""SIGHUP under a flood: destinations added, changed and removed, and an invalid configuration
once, with a state directory; real rsyslogd receivers counting each line. The lines come from
busybox containers on the real engine, and from pod logs as containerd writes them (a
Kubernetes node: the file sources pause for a busy destination, the Engine API's does not)."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.helpers.agent_process import AgentProcess
from tests.helpers.http import base_url, scrape
from tests.helpers.kubelet import CriLogWriter, PodLogs
from tests.helpers.rsyslog import Rsyslog
from tests.helpers.waiting import wait_until

CONTAINERS = ("a", "b")
# 20,000 lines a container, 100 at a time: about 20 s, long enough for the four reloads to
# fall within it
BATCHES, PER = 200, 100
TOTAL = BATCHES * PER
UID = "7c1e2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b"
FLOOD = (
    "i=0; while [ $i -lt {batches} ]; do seq $((i*{per}+1)) $((i*{per}+{per})) | "
    "sed 's/^/{name}-/'; i=$((i+1)); sleep 0.1; done"
)


def destination(name: str, rsyslog: Rsyslog, **options: Any) -> dict[str, Any]:
    return {
        "type": "syslog",
        "name": name,
        "transport": "tcp",
        "host": "127.0.0.1",
        "port": rsyslog.tcp_port,
        **options,
    }


def write_config(path: Path, destinations: list[dict[str, Any]]) -> None:
    # JSON is YAML: the file as an operator's editor would leave it, read whole at each SIGHUP
    path.write_text(json.dumps({"destinations": destinations}))


def lines(rsyslog: Rsyslog, app: Callable[[str], bool] = lambda _: True) -> list[str]:
    return [m["msg"].strip() for m in rsyslog.messages() if app(m.get("app", ""))]


def numbers(received: list[str], name: str) -> list[int]:
    """The line numbers of one container's lines, in the order received."""
    return [int(line.split("-", 1)[1]) for line in received if line.startswith(f"{name}-")]


def lost_and_twice(received: list[int], wanted: range) -> tuple[int, int]:
    counts = Counter(received)
    lost = sum(1 for n in wanted if counts[n] == 0)
    twice = sum(n - 1 for n in counts.values() if n > 1)
    return lost, twice


def reload(agent: AgentProcess, times: int, what: str) -> None:
    assert agent.process is not None
    agent.process.send_signal(signal.SIGHUP)
    wait_until(
        lambda: agent._alive() and agent.stderr.count("SIGHUP: reloading") >= times,
        timeout=30,
        what=f"reload {times} ({what})",
    )
    wait_until(
        lambda: agent.stderr.count("reloaded: ") + agent.stderr.count("reload failed") >= times,
        timeout=30,
        what=f"reload {times} done ({what})",
    )


class Producers:
    """Two producers flooding ``{name}-{n}`` lines, ``n`` from 1 to :data:`TOTAL`."""

    def start(self) -> None:
        raise NotImplementedError

    def wait_done(self) -> None:
        raise NotImplementedError


class Containers(Producers):
    """Busybox containers on the real engine."""

    def __init__(self, containers: Any) -> None:
        self.containers = containers
        self.started: list[Any] = []

    def start(self) -> None:
        for name in CONTAINERS:
            command = FLOOD.format(batches=BATCHES, per=PER, name=name)
            self.started.append(self.containers.run(command))

    def wait_done(self) -> None:
        for c in self.started:
            wait_until(lambda c=c: c.reload() or c.status == "exited", timeout=180, what="end")


class Pods(Producers):
    """Pod logs written as containerd writes them (a Kubernetes node, no engine)."""

    def __init__(self, node: PodLogs) -> None:
        self.logs = [node.container("shop", name, UID, "app") for name in CONTAINERS]
        self.threads = [
            threading.Thread(target=self._write, args=(log, name), daemon=True)
            for log, name in zip(self.logs, CONTAINERS, strict=True)
        ]

    @staticmethod
    def _write(log: CriLogWriter, name: str) -> None:
        for n in range(1, TOTAL + 1):
            log.write(f"{name}-{n}")
            if n % PER == 0:
                time.sleep(0.1)

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def wait_done(self) -> None:
        for thread in self.threads:
            thread.join(timeout=180)
            assert not thread.is_alive()


@pytest.mark.parametrize("source", ["files", "docker"])
def test_reloads_under_a_flood_from_containers_lose_no_line_and_repeat_none(
    source: str,
    start_agent: Any,
    start_rsyslog: Callable[..., Rsyslog],
    containers: Any,
    tmp_path: Path,
) -> None:
    """Their json-file logs read (the reader pauses for a busy destination), and their
    Engine API streams (nothing pauses: the buffers take the lines a changed destination's
    new self holds while its old self drains)."""

    def agent(*args: str, **options: Any) -> AgentProcess:
        # only this test's containers
        return start_agent("run", "--source", source, *args, **options)

    reloads_under_a_flood(agent, Containers(containers), start_rsyslog, tmp_path)


def test_reloads_under_a_flood_from_pod_logs_lose_no_line_and_repeat_none(
    start_agent: Any, start_rsyslog: Callable[..., Rsyslog], tmp_path: Path
) -> None:
    node = PodLogs(tmp_path / "var-log-pods", tmp_path / "var-log-containers")
    where = ("--source", "cri", "--pods-dir", str(node.pods_dir))
    where += ("--pod-links-dir", str(node.links_dir))

    def agent(*args: str, **options: Any) -> AgentProcess:
        started = start_agent("run", *where, *args, ready=None, select=False, **options)
        wait_until(
            lambda: started._alive() and "container log files under" in started.stderr,
            timeout=30,
            what="the agent to start",
        )
        return started

    try:
        reloads_under_a_flood(agent, Pods(node), start_rsyslog, tmp_path)
    finally:
        node.close()


def reloads_under_a_flood(
    start_agent: Callable[..., AgentProcess],
    producers: Producers,
    start_rsyslog: Callable[..., Rsyslog],
    tmp_path: Path,
) -> None:
    steady, changing, late, leaving = (start_rsyslog(tcp=True) for _ in range(4))
    config = tmp_path / "logship.yaml"
    before = destination("changing", changing, tag="before-{{.Name}}")
    after = destination("changing", changing, tag="after-{{.Name}}", batch={"max_records": 100})
    first = [destination("steady", steady), before, destination("leaving", leaving)]
    write_config(config, first)
    state = tmp_path / "state"
    agent = start_agent(
        "--config",
        str(config),
        "--state-dir",
        str(state),
        "--http",
        "0",
        env={"LOGSHIP_CHECKPOINT_INTERVAL_SECS": "0.5"},
    )
    base = base_url(agent)
    producers.start()
    total = TOTAL
    wait_until(lambda: len(lines(steady)) >= total // 5, timeout=120, what="a fifth")
    # 1: a destination added
    write_config(config, [*first, destination("late", late)])
    reload(agent, 1, "add")
    assert "reloaded: added 1, removed 0, changed 0" in agent.stderr
    wait_until(lambda: len(lines(late)) >= 1000, timeout=60, what="lines at the added one")

    # 2: one changed (its tag and batch size), under the same name
    second = [first[0], after, first[2], destination("late", late)]
    write_config(config, second)
    reload(agent, 2, "change")
    assert "reloaded: added 0, removed 0, changed 1" in agent.stderr
    wait_until(
        lambda: len(lines(changing, lambda app: app.startswith("after-"))) >= 1000,
        timeout=60,
        what="lines at the changed one, as changed",
    )

    # 3: an invalid configuration: the running one is kept, the field named
    broken = [*second[:3], {**destination("late", late), "port": 70000}]
    write_config(config, broken)
    reload(agent, 3, "invalid")
    assert "reload failed, the running configuration is kept" in agent.stderr
    assert "destinations.3.port" in agent.stderr
    sent_at_late = len(lines(late))
    wait_until(lambda: len(lines(late)) > sent_at_late + 500, timeout=60, what="still sending")

    # 4: one removed
    final = [second[0], second[1], second[3]]
    write_config(config, final)
    reload(agent, 4, "remove")
    assert "reloaded: added 0, removed 1, changed 0" in agent.stderr

    async def reload_metrics() -> tuple[float | None, float | None]:
        async with aiohttp.ClientSession() as http:
            metrics = await scrape(http, base)
        return (
            metrics.value("logship_config_reloads_total", result="success"),
            metrics.value("logship_config_reloads_total", result="failure"),
        )

    assert asyncio.run(reload_metrics()) == (3.0, 1.0)

    # the flood ends; the agent stops (SIGTERM) and another starts from the state directory
    producers.wait_done()
    for name in CONTAINERS:
        wait_until(
            lambda name=name: len(numbers(lines(steady), name)) >= total,
            timeout=120,
            what=f"every line of {name} at the steady one",
        )
    assert agent.stop() == 0
    # a checkpoint held back (by the removed one, or by the added one's start) would be read
    # again now, and counted twice below
    second_run = start_agent("--config", str(config), "--state-dir", str(state))
    time.sleep(3)
    assert second_run.stop() == 0

    out = agent.stderr
    for name in CONTAINERS:
        wanted = range(1, total + 1)
        # present throughout, untouched by every reload
        assert lost_and_twice(numbers(lines(steady), name), wanted) == (0, 0), name
        # present throughout, changed once: each line once, before the change or after it
        olds = numbers(lines(changing, lambda app: app.startswith("before-")), name)
        news = numbers(lines(changing, lambda app: app.startswith("after-")), name)
        assert lost_and_twice(olds + news, wanted) == (0, 0), name
        assert olds and news and max(olds) < min(news), name
        # added: from a line on to the last, each once
        added = numbers(lines(late), name)
        assert lost_and_twice(added, range(min(added), total + 1)) == (0, 0), name
        # removed: from the first line up to one, each once
        removed = numbers(lines(leaving), name)
        assert lost_and_twice(removed, range(1, max(removed) + 1)) == (0, 0), name
    assert "Traceback" not in out
