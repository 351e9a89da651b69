"""``logship run --source cri`` as a user runs it on a Kubernetes node, against pod logs
written as containerd writes them and rotated as the kubelet rotates them (gzip included), in
temporary directories: no engine, no kubelet needed. Each line once with its pod's metadata;
then ``kill -9`` in a flood and a restart, measured as the fault suite measures (a ``FAULT``
line: produced, shipped, lost, duplicated)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.agent_process import AgentProcess
from tests.helpers.faults import report
from tests.helpers.kubelet import CriLogWriter, PodLogs, container_id
from tests.helpers.waiting import wait_until

INTERVAL_SECS = 1.0
UID = "7c1e2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[PodLogs]:
    logs = PodLogs(tmp_path / "var-log-pods", tmp_path / "var-log-containers")
    yield logs
    logs.close()


@pytest.fixture
def agents() -> Iterator[list[AgentProcess]]:
    """Agents a test started; any still running afterwards is killed."""
    started: list[AgentProcess] = []
    yield started
    for agent in started:
        if agent.process is not None and agent.process.poll() is None:
            agent.process.kill()
            agent.process.wait()


def start(agents: list[AgentProcess], tmp_path: Path, node: PodLogs, *extra: str) -> AgentProcess:
    args = [
        "run",
        "console://?format=json",
        "--source",
        "cri",
        "--pods-dir",
        str(node.pods_dir),
        "--pod-links-dir",
        str(node.links_dir),
        "--hostname",
        "node-1",
        *extra,
    ]
    env = {"LOGSHIP_CHECKPOINT_INTERVAL_SECS": str(INTERVAL_SECS)}
    agent = AgentProcess(tmp_path, args, env=env).start(ready=None)
    agents.append(agent)
    wait_until(
        lambda: agent._alive() and re.search(r"following \d+ container log files", agent.stderr),
        timeout=20,
        what=f"the agent to start (stderr so far: {agent.stderr!r})",
    )
    return agent


def records(agent: AgentProcess, name: str) -> list[dict[str, Any]]:
    """The agent's console records of container ``name`` (a line still being written: not
    yet)."""
    complete = agent.stdout.split("\n")[:-1]
    return [r for r in map(json.loads, complete) if r["container"]["name"] == name]


def messages(agents: list[AgentProcess], name: str) -> list[str]:
    return [r["message"] for agent in agents for r in records(agent, name)]


def test_pod_logs_written_and_rotated_as_on_a_node_arrive_once_with_their_pods_metadata(
    tmp_path: Path, node: PodLogs, agents: list[AgentProcess]
) -> None:
    old = node.container("shop", "db-0", UID, "postgres", id=container_id(1))
    for i in range(50):
        old.write(f"before the agent {i}")
    agent = start(agents, tmp_path, node)

    # while it runs: more of the old pod (read from where the agent found its end), and a new
    # pod (read from its start), both rotated by the kubelet, gzip included
    web = node.container("shop", "web-7d9f", UID, "nginx", restart=1, id=container_id(2))
    written: dict[str, list[tuple[str, str]]] = {"db-0/postgres": [], "web-7d9f/nginx": []}
    long_line = "x" * 40000  # three CRI entries: P, P, F
    for i in range(2000):
        for log, name in ((old, "db-0/postgres"), (web, "web-7d9f/nginx")):
            text = long_line if i == 1000 else f"{name} line {i}"
            stream = "stderr" if i % 10 == 0 else "stdout"
            log.write(text, stream)
            written[name].append((text, stream))
        if i % 500 == 499:
            old.rotate()
            web.rotate()
            time.sleep(0.2)
    wait_until(
        lambda: all(len(records(agent, n)) >= len(w) for n, w in written.items()),
        timeout=20,
        what="every line",
    )
    time.sleep(0.5)  # nothing more comes
    assert agent.stop() == 0

    for name, lines in written.items():
        got = records(agent, name)
        assert [(r["message"], r["log"]["iostream"]) for r in got] == lines
    assert any(p.name.endswith(".gz") for p in web.path.parent.iterdir())
    (first,) = records(agent, "web-7d9f/nginx")[:1]
    assert first["container"]["id"] == container_id(2)
    assert first["kubernetes"] == {
        "namespace": "shop",
        "pod": {"name": "web-7d9f", "uid": UID},
        "container": {"name": "nginx", "restart_count": 1},
    }
    assert first["container"]["labels"]["io_kubernetes_pod_namespace"] == "shop"
    assert first["host"]["name"] == "node-1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", first["@timestamp"])
    assert records(agent, "db-0/postgres")[0]["container"]["id"] == container_id(1)


class Flood:
    """A container writing ``total`` lines, ``per`` at a time with a pause between, the kubelet
    rotating its file every ``rotate_every`` lines; where each line ends in which file."""

    def __init__(self, log: CriLogWriter, total: int, per: int, pause: float, rotate_every: int):
        self.log = log
        self.total, self.per, self.pause, self.rotate_every = total, per, pause, rotate_every
        self.ends: list[tuple[int, int]] = []  # per line: (file generation, offset after it)
        self.generations: dict[tuple[int, int], int] = {}  # (dev, ino) -> generation
        self.thread = threading.Thread(target=self._run, daemon=True)

    def lines(self) -> list[str]:
        return [str(n) for n in range(1, self.total + 1)]

    def _run(self) -> None:
        for n in range(1, self.total + 1):
            self.log.write(str(n))
            dev, ino, end = self.log.position()
            generation = self.generations.setdefault((dev, ino), len(self.generations))
            self.ends.append((generation, end))
            if n % self.rotate_every == 0:
                self.log.rotate()
            if n % self.per == 0:
                time.sleep(self.pause)

    def past(self, saved: dict[str, Any] | None, shipped: list[str]) -> int:
        """How many of the ``shipped`` lines come after the checkpoint ``saved`` (a file
        position; None: none was saved, all of them)."""
        if saved is None:
            return len(shipped)
        generation = self.generations[saved["dev"], saved["ino"]]
        after = {
            str(i + 1)
            for i, (g, end) in enumerate(self.ends)
            if g > generation or (g == generation and end > saved["offset"])
        }
        return sum(1 for m in shipped if m in after)


def test_kill_9_mid_flood_loses_nothing_and_repeats_only_lines_past_the_checkpoint(
    tmp_path: Path, node: PodLogs, agents: list[AgentProcess]
) -> None:
    state = tmp_path / "state"
    first = start(agents, tmp_path, node, "--state-dir", str(state))
    log = node.container("shop", "flood", UID, "app", id=container_id(3))
    name, cid = "flood/app", container_id(3)
    # about 2000 lines/s for 9 s; the kubelet rotates every 3 s (it looks every 10 s at most)
    flood = Flood(log, total=18000, per=200, pause=0.1, rotate_every=6000)
    flood.thread.start()

    def checkpointed() -> bool:
        try:
            saved = json.loads((state / "checkpoints.json").read_text())["containers"]
        except (OSError, ValueError, KeyError):
            return False
        return "file" in saved.get(cid, {}) and len(messages([first], name)) >= 4000

    wait_until(checkpointed, timeout=20, interval=0.05, what="a quarter, and a checkpoint")
    assert first.process is not None
    first.process.kill()  # SIGKILL: nothing flushed, nothing saved on the way out
    first.process.wait()
    saved = json.loads((state / "checkpoints.json").read_text())["containers"].get(cid)
    second = start(agents, tmp_path, node, "--state-dir", str(state))
    flood.thread.join(timeout=30)
    produced = flood.lines()
    wait_until(
        lambda: set(messages([first, second], name)) >= set(produced),
        timeout=20,
        what="every line",
    )
    assert second.stop() == 0
    figures = report(
        "kill -9 mid-flood, restart (cri pod logs, kubelet rotation)",
        produced,
        messages([first, second], name),
        note=f"checkpoint interval {INTERVAL_SECS:g} s; rotation every {flood.rotate_every}",
    )
    assert figures["lost"] == 0
    # exactly the lines the first agent shipped after its last checkpoint come twice
    assert figures["duplicated"] == flood.past(
        saved["file"] if saved else None, messages([first], name)
    )
    assert messages([second], name)[-1] == str(flood.total)
