"""Memory bounds that count what Python really holds, against the real engine: a hundred
containers that each leave a 1 MiB line open (the lines being gathered have one bound, all
containers together), and a flood of 4-byte characters into a destination that takes nothing
(the buffer's byte bound counts memory, not characters). Each prints its figures as
``MEMORY <case>: ...`` (``pytest -s`` shows them; docs/guarantees.md quotes them)."""

from __future__ import annotations

import re
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers.agent_process import AgentProcess
from tests.helpers.containers import IMAGE, TEST_LABEL
from tests.helpers.waiting import wait_until

CONTINUED = " [line continued in the next record]"
OPEN_LINE_BYTES = 1024 * 1024
CONTAINERS = 100
OPEN_LINES_BOUND_MIB = 128  # docs/guarantees.md, "Bounded memory"
FLOOD_BOUND_MIB = 100  # the same bound as the ASCII flood in test_faults_load.py


def peak_rss_mib(pid: int) -> float:
    """VmHWM, the most the process has held, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for {pid}")


def metric(port: int, name: str, **labels: str) -> float:
    """The sum of a metric's series with these labels; -1 when /metrics did not answer (a
    busy machine: the caller waits and asks again)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=20) as answer:
            body = answer.read().decode()
    except OSError:
        return -1
    total = 0.0
    for line in body.splitlines():
        match = re.match(rf"{name}(?:\{{(.*)\}})? (\S+)$", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Crowd:
    """Many containers of one test, started and killed from 8 threads (one at a time takes
    minutes on vfs), all removed at the end."""

    def __init__(self, test_label: str) -> None:
        import docker

        self.test_label = test_label
        self.client = docker.from_env(timeout=120)
        self.ids: list[str] = []
        self._lock = threading.Lock()

    def start(self, names: list[str], command: str) -> None:
        def run(part: list[str]) -> None:
            for name in part:
                c = self.client.containers.run(
                    IMAGE,
                    ["sh", "-c", command],
                    name=name,
                    labels={TEST_LABEL: self.test_label},
                    network_mode="none",
                    detach=True,
                )
                with self._lock:
                    self.ids.append(c.id)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(run, [names[i::8] for i in range(8)]))

    def each(self, action: str) -> None:
        """``kill`` or ``remove`` every container; one already gone is fine."""
        import docker

        def act(container_id: str) -> None:
            try:
                container = self.client.containers.get(container_id)
                container.kill() if action == "kill" else container.remove(force=True)
            except docker.errors.APIError:
                pass

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(act, self.ids))


@pytest.fixture
def crowd(test_label: str) -> Iterator[Crowd]:
    c = Crowd(test_label)
    try:
        yield c
    finally:
        c.each("remove")
        c.client.close()


@pytest.mark.parametrize("source", ["docker", "files"])
def test_a_hundred_open_1_mib_lines_stay_under_the_bound_and_arrive_whole_in_parts(
    start_agent: Callable[..., AgentProcess], test_label: str, crowd: Crowd, source: str
) -> None:
    port = free_port()
    agent = start_agent(
        "run", "console://?format=json", "--http", str(port), env={"LOGSHIP_SOURCE": source}
    )
    assert agent.process is not None
    names = [f"open-{test_label}-{n}" for n in range(CONTAINERS)]
    # a line, then 1 MiB with no newline (Docker's 16 KiB pieces), then nothing
    crowd.start(
        names, f"echo first; head -c {OPEN_LINE_BYTES} /dev/zero | tr '\\0' a; exec sleep 3600"
    )
    wait_until(
        lambda: metric(port, "logship_lines_split_total") > 0,
        timeout=240,
        what="the open lines to pass max_partial_bytes",
    )
    # every open line is either shipped in parts or held: reading is done once what was
    # shipped stops growing
    last = -1.0
    for _ in range(60):
        now = metric(port, "logship_records_read_total")
        if now == last:
            break
        last = now
        time.sleep(2)
    peak_open = peak_rss_mib(agent.process.pid)
    crowd.each("kill")  # each stream ends: what a container still holds is shipped as it is

    def messages() -> dict[str, list[str]]:
        got: dict[str, list[str]] = {name: [] for name in names}
        for record in agent.stdout_json():
            name = record["container"]["name"]
            if name in got:
                got[name].append(record["message"])
        return got

    def whole(parts: list[str]) -> str:
        return "".join(p.removesuffix(CONTINUED) for p in parts[1:])

    wait_until(
        lambda: all(len(whole(p)) == OPEN_LINE_BYTES for p in messages().values()),
        timeout=120,
        what="every open line, whole, once the containers were killed",
    )
    peak = peak_rss_mib(agent.process.pid)
    got = messages()
    split = [name for name, parts in got.items() if parts[1].endswith(CONTINUED)]
    print(
        f"\nMEMORY open lines ({source}): {CONTAINERS} containers x a {OPEN_LINE_BYTES} byte "
        f"line left open: peak RSS {peak_open:.0f} MiB while open, {peak:.0f} MiB in all "
        f"(bound {OPEN_LINES_BOUND_MIB} MiB); {len(split)} lines shipped in parts"
    )
    for name, parts in got.items():
        assert parts[0] == "first", name
        assert whole(parts) == "a" * OPEN_LINE_BYTES, name  # nothing lost, nothing twice
        # each part but the last says the line goes on (the last one may too: the line had
        # no end when its container was killed)
        assert all(p.endswith(CONTINUED) for p in parts[1:-1]), name
    assert split, "the bound was passed: some lines came in parts"
    assert peak < OPEN_LINES_BOUND_MIB
    assert "Traceback" not in agent.stderr


def test_a_flood_of_4_byte_characters_into_a_dead_destination_stays_bounded_and_counted(
    start_agent: Callable[..., AgentProcess], test_label: str, crowd: Crowd
) -> None:
    port = free_port()
    with socket.socket() as blackhole:  # accepts, never reads
        blackhole.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(8)
        sink_port = blackhole.getsockname()[1]
        agent = start_agent("run", f"syslog+tcp://127.0.0.1:{sink_port}", "--http", str(port))
        assert agent.process is not None
        # 1 emoji and 99 ASCII characters a line: Python holds each line at 4 bytes a
        # character, 4x what counting characters would say
        line = "\U0001f600" + "x" * 99
        per, flooders = 20000, 20
        names = [f"wide-{test_label}-{n}" for n in range(flooders)]
        crowd.start(names, f"yes '{line}' | head -n {per}")
        produced = per * flooders
        wait_until(
            lambda: metric(port, "logship_records_read_total") >= produced,
            timeout=240,
            what="every line read",
        )
        peak = peak_rss_mib(agent.process.pid)
        destination = f"syslog+tcp://127.0.0.1:{sink_port}"
        read = metric(port, "logship_records_read_total")
        sent = metric(port, "logship_records_sent_total")
        dropped = metric(port, "logship_records_dropped_total", reason="buffer_full")
        held = metric(port, "logship_buffer_records")
        held_bytes = metric(port, "logship_buffer_bytes")
        max_bytes = metric(port, "logship_buffer_max_bytes")
        print(
            f"\nMEMORY wide flood: {flooders} containers x {per} lines of 1 emoji + 99 ASCII "
            f"into {destination} (takes nothing): peak RSS {peak:.0f} MiB (bound "
            f"{FLOOD_BOUND_MIB} MiB); read {read:.0f} = sent {sent:.0f} + dropped "
            f"{dropped:.0f} + buffered {held:.0f} ({held_bytes / 2**20:.1f} MiB of "
            f"{max_bytes / 2**20:.0f})"
        )
        assert read == produced
        # every line accounted for: sent, dropped (counted), buffered, or in the one batch
        # (batch.max_records, 2048) being written when the destination stopped taking any
        in_flight = read - sent - dropped - held
        assert 0 <= in_flight <= 2048
        assert held_bytes <= max_bytes
        # the bytes the buffer says it holds are what Python holds: at least each line's
        # string (counting characters said a quarter of it, and let the buffer take 4x more)
        assert held_bytes >= held * sys.getsizeof(line)
        assert peak < FLOOD_BOUND_MIB
        agent.process.kill()
