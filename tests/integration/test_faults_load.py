"""Faults of load and input, against the real engine and a real rsyslogd: a receiver killed and
restarted (fault scenario 3), 200 short-lived containers (4), a bad-input corpus written by a
real container (7), memory under a flood into a destination that takes nothing, and fairness
between a flooding container and quiet ones in front of a slow destination.

Each prints its figures as ``FAULT <scenario>: produced N, shipped N, lost N, duplicated N``
(``pytest -s`` shows them; the README's Guarantees table quotes them).
"""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.helpers.agent_process import AgentProcess
from tests.helpers.containers import IMAGE, TEST_LABEL
from tests.helpers.faults import dropped_counted, report, tally
from tests.helpers.rsyslog import Rsyslog, syslog_messages
from tests.helpers.waiting import wait_until


def console(agent: AgentProcess, name: str) -> list[str]:
    """The messages of one container on the agent's JSON console (complete lines only)."""
    import json

    out = []
    for line in agent.stdout.split("\n")[:-1]:
        record = json.loads(line)
        if record["container"]["name"] == name:
            out.append(record["message"])
    return out


# -- 3: the receiver killed for 10 s, then restarted ------------------------------------------


def test_a_receiver_killed_for_10_s_costs_only_counted_drops_and_what_was_in_flight(
    rsyslog_tcp: Rsyslog, start_agent: Callable[..., AgentProcess], containers: Any
) -> None:
    rsyslog = rsyslog_tcp
    agent = start_agent(
        "run",
        f"syslog+tcp://127.0.0.1:{rsyslog.tcp_port}?reconnect_max_secs=1&buffer_max_records=2000",
    )
    # 12000 numbered lines, 200 every 0.25 s: about 15 s of steady writing
    flood = containers.run(
        "i=0; while [ $i -lt 60 ]; do seq $((i*200+1)) $((i*200+200)); i=$((i+1)); sleep 0.25; done"
    )
    wait_until(lambda: len(syslog_messages(rsyslog)) >= 200, timeout=60, what="the first lines")
    rsyslog.kill()
    time.sleep(10)
    rsyslog.start()  # the same ports
    flood.wait(timeout=120)
    # nothing stuck: a container that writes after the outage gets every line through
    after = containers.run("for i in $(seq 1 500); do echo after-$i; done")
    wait_until(
        lambda: sum(m.startswith("after-") for m in syslog_messages(rsyslog, after.name)) >= 500,
        timeout=90,
        what="every line written after the outage",
    )
    assert agent.stop() == 0
    produced = [str(i) for i in range(1, 12001)]
    shipped = syslog_messages(rsyslog, flood.name)
    dropped = dropped_counted(agent)
    in_flight = tally(produced, shipped)["lost"] - dropped
    figures = report(
        "3 rsyslog TCP killed 10 s",
        produced,
        shipped,
        f"buffer 2000 records: {dropped} dropped by it and counted; {in_flight} lost in the "
        "connection rsyslogd died with (syslog over TCP has no acks)",
    )
    late = report(
        "3 after the outage",
        [f"after-{i}" for i in range(1, 501)],
        syslog_messages(rsyslog, after.name),
    )
    assert late["lost"] == late["duplicated"] == 0
    assert figures["duplicated"] == 0
    assert dropped > 0  # the outage overflowed the buffer, and the agent said how much
    assert dropped <= figures["lost"]
    assert agent.stderr.count("buffer full") == 1  # one outage, logged once
    # what was lost is the dropped records plus one stretch in flight at the kill; the lines
    # at the end of the flood, after the buffer drained, all arrived
    assert set(produced[-200:]) <= set(shipped)


# -- 4: 200 short-lived containers --------------------------------------------------------------


def test_two_hundred_containers_that_live_under_a_second_have_every_line_shipped(
    start_agent: Callable[..., AgentProcess], docker_client: Any, test_label: str
) -> None:
    import docker

    agent = start_agent("run", "console://?format=json")
    names = [f"short-{uuid.uuid4().hex[:8]}-{n}" for n in range(200)]
    started: list[str] = []
    lock = threading.Lock()

    def run(names_part: list[str]) -> None:
        client = docker.from_env(timeout=120)
        try:
            for name in names_part:
                c = client.containers.run(
                    IMAGE,
                    ["sh", "-c", f"for i in 1 2 3 4 5; do echo {name}-line-$i; done"],
                    name=name,
                    labels={TEST_LABEL: test_label},
                    network_mode="none",
                    detach=True,
                )
                with lock:
                    started.append(c.id)
        finally:
            client.close()

    try:
        began = time.monotonic()
        with ThreadPoolExecutor(8) as pool:  # modest parallel batches
            list(pool.map(run, [names[i::8] for i in range(8)]))
        started_in = time.monotonic() - began
        produced = [f"{n}-line-{i}" for n in names for i in range(1, 6)]

        def shipped() -> list[str]:
            return [r["message"] for r in agent.stdout_json() if r["container"]["name"] in names]

        wait_until(lambda: len(shipped()) >= len(produced), timeout=180, what="every line")
        time.sleep(1)  # anything twice would show by now
        lived = [
            docker_client.api.inspect_container(cid)["State"] for cid in started[:20]
        ]  # a sample: how long they lived
        figures = report(
            "4 200 short-lived containers",
            produced,
            shipped(),
            f"started in {started_in:.0f} s, 8 at a time",
        )
        assert figures["lost"] == figures["duplicated"] == 0
        assert all(s["Status"] == "exited" for s in lived)
    finally:
        remove_in_batches(docker_client, started)


def remove_in_batches(docker_client: Any, ids: list[str], size: int = 20) -> None:
    """Never more than ``size`` removals at once: ~190 at once wedged dockerd here before."""

    def remove(cid: str) -> None:
        try:
            docker_client.api.remove_container(cid, force=True)
        except Exception:  # noqa: BLE001 - gone already is fine
            pass

    with ThreadPoolExecutor(size) as pool:
        for i in range(0, len(ids), size):
            list(pool.map(remove, ids[i : i + size]))


# -- 7: a bad-input corpus from a real container --------------------------------------------------

CORPUS = (
    r"printf 'utf8 caf\351 \377\376 end\n'; "
    r"printf 'nul a\000b end\n'; "
    r"printf 'ansi \033[31mred\033[0m end\n'; "
    r"printf 'cr progress\r50%%\r100%% end\r\n'; "
    r"head -c 1200000 /dev/zero | tr '\000' L; echo; "
    r"head -c 300000 /dev/urandom; echo; "
    r"for i in $(seq 1 100); do echo after-$i; done"
)


def test_a_bad_input_corpus_is_shipped_and_the_lines_after_it_arrive(
    rsyslog_tcp: Rsyslog, start_agent: Callable[..., AgentProcess], containers: Any
) -> None:
    rsyslog = rsyslog_tcp
    agent = start_agent(
        "run", f"syslog+tcp://127.0.0.1:{rsyslog.tcp_port}", "console://?format=json"
    )
    c = containers.run(CORPUS)
    after = [f"after-{i}" for i in range(1, 101)]
    wait_until(lambda: console(agent, c.name)[-100:] == after, timeout=90, what="the after lines")
    wait_until(
        lambda: syslog_messages(rsyslog, c.name)[-100:] == after, timeout=90, what="syslog too"
    )
    lines = console(agent, c.name)
    assert lines[0] == "utf8 caf\ufffd \ufffd\ufffd end"
    assert lines[1] == "nul a\x00b end"
    assert lines[2] == "ansi \x1b[31mred\x1b[0m end"
    assert lines[3] == "cr progress\r50%\r100% end\r"  # as written: Docker keeps the CR
    assert lines[4] == "L" * 1048576 + f" [truncated {1200000 - 1048576} bytes]"
    binary = lines[5:-100]  # the random bytes, cut at their newlines, invalid UTF-8 replaced
    assert sum(len(b.encode()) for b in binary) > 300_000 * 0.9
    messages = syslog_messages(rsyslog, c.name)
    long_line = next(m for m in messages if m.startswith("LLLL"))
    assert re.search(r" \[truncated \d+ bytes\]$", long_line)  # max_message_bytes: 8192
    report(
        "7 bad-input corpus (console)",
        [*after, "utf8", "nul", "ansi", "cr", "long"],
        [*lines[-100:], *(x.split(" ")[0] for x in lines[:4]), "long"],
    )
    figures = report("7 bad-input corpus (rsyslog TCP)", after, messages)
    assert figures["lost"] == figures["duplicated"] == 0
    assert "Traceback" not in agent.stderr


# -- bounded memory: 50 containers flooding into a destination that takes nothing ------------------


def rss_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, MiB, from /proc."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


RSS_BOUND_MIB = (
    100  # README, "Guarantees": default buffers (50,000 records, 16 MiB), one destination
)


def test_memory_stays_bounded_under_a_flood_into_a_blackholed_destination(
    start_agent: Callable[..., AgentProcess], containers: Any
) -> None:
    with socket.socket() as blackhole:  # accepts, never reads
        blackhole.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(8)
        port = blackhole.getsockname()[1]
        # the Engine API source: its lines cannot wait, so the buffer fills and sheds. The
        # file sources pause reading instead while the destination still counts as up (the
        # lines wait on disk), and shed only once it is found down
        agent = start_agent(
            "run", f"syslog+tcp://127.0.0.1:{port}", env={"LOGSHIP_SOURCE": "docker"}
        )
        assert agent.process is not None
        start_rss, _ = rss_mib(agent.process.pid)
        line = "0123456789" * 10
        per = 4000
        flooders = [containers.run(f"yes {line} | head -n {per}") for _ in range(50)]
        peak = start_rss
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            rss, _ = rss_mib(agent.process.pid)
            peak = max(peak, rss)
            for f in flooders:
                f.reload()
            if all(f.status == "exited" for f in flooders):
                break
            time.sleep(0.2)
        for _ in range(15):  # the agent reads what is left of the logs
            peak = max(peak, rss_mib(agent.process.pid)[0])
            time.sleep(0.2)
        rss, hwm = rss_mib(agent.process.pid)
        print(
            f"\nFAULT memory: 50 containers x {per} lines of {len(line)} bytes into a blackhole:"
            f" RSS {start_rss:.0f} MiB at start, peak {max(peak, hwm):.0f} MiB, "
            f"{rss:.0f} MiB at the end (bound {RSS_BOUND_MIB} MiB)"
        )
        assert all(f.status == "exited" for f in flooders)
        assert max(peak, hwm) < RSS_BOUND_MIB
        assert "buffer full" in agent.stderr  # it was full, and shed
        agent.process.kill()


# -- fairness: a flooding container and quiet ones in front of a slow destination ----------------


class SlowProxy:
    """A TCP proxy in front of a real receiver that passes on at most ``rate`` bytes/s."""

    def __init__(self, upstream_port: int, rate: int) -> None:
        self.upstream_port = upstream_port
        self.rate = rate
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._pump, args=(client,), daemon=True).start()

    def _pump(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        try:
            while not self.closed and (data := client.recv(4096)):
                upstream.sendall(data)
                time.sleep(len(data) / self.rate)
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()

    def close(self) -> None:
        self.closed = True
        self.listener.close()


def test_quiet_containers_lines_all_arrive_past_a_flooding_neighbour(
    rsyslog_tcp: Rsyslog, start_agent: Callable[..., AgentProcess], containers: Any
) -> None:
    rsyslog = rsyslog_tcp
    proxy = SlowProxy(rsyslog.tcp_port or 0, rate=1_000_000)
    try:
        agent = start_agent("run", f"syslog+tcp://127.0.0.1:{proxy.port}?buffer_max_records=500")
        quiet = [
            containers.run("for i in $(seq 1 40); do echo quiet-$i; sleep 0.1; done")
            for _ in range(3)
        ]
        noisy = containers.run("seq 1 200000")
        expected = {q.name: [f"quiet-{i}" for i in range(1, 41)] for q in quiet}
        wait_until(
            lambda: all(syslog_messages(rsyslog, name)[-1:] == ["quiet-40"] for name in expected),
            timeout=120,
            what="the quiet containers' last lines",
        )
        noisy.wait(timeout=60)
        for name, lines in expected.items():
            figures = report(f"fairness quiet {name[-8:]}", lines, syslog_messages(rsyslog, name))
            assert figures["lost"] == figures["duplicated"] == 0
        flood = report(
            "fairness flooding neighbour",
            [str(i) for i in range(1, 200001)],
            syslog_messages(rsyslog, noisy.name),
            "slow destination (1 MB/s), buffer 500 records",
        )
        assert flood["lost"] > 0  # the buffer was under pressure: someone had to lose
        assert f"first of container {noisy.name}" in agent.stderr
        agent.process.kill()  # type: ignore[union-attr]
    finally:
        proxy.close()
