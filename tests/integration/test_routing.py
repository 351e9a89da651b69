"""Several destinations at once: each gets what its filter wants, and one that is dead or
stalled never delays the others."""

from __future__ import annotations

import socket
from typing import Any

from tests.helpers.agent_process import lines_of
from tests.helpers.ports import free_port
from tests.helpers.rsyslog import Rsyslog
from tests.helpers.waiting import wait_until


def test_each_destination_gets_what_its_filter_selects(
    rsyslog: Rsyslog, start_agent: Any, containers: Any
) -> None:
    agent = start_agent(
        "run",
        f"syslog+udp://127.0.0.1:{rsyslog.udp_port}?filter.name=*-web",
        "console://?format=json&filter.sources=stderr&filter.labels=tier:front",
    )
    web = containers.run(
        "echo web-out; echo web-err >&2; sleep 30",
        name=f"r{id(agent)}-web",
        labels={"tier": "front"},
    )
    db = containers.run(
        "echo db-out; echo db-err >&2; sleep 30", name=f"r{id(agent)}-db", labels={"tier": "data"}
    )
    wait_until(lambda: len(rsyslog.messages()) >= 2, what="syslog lines")
    wait_until(lambda: lines_of(agent, web.name), what="console lines")
    assert sorted(m["msg"].strip() for m in rsyslog.messages()) == ["web-err", "web-out"]
    assert [r["message"] for r in agent.stdout_json()] == ["web-err"]
    assert lines_of(agent, db.name) == []


def test_a_dead_destination_does_not_delay_the_others(start_agent: Any, containers: Any) -> None:
    dead = free_port(socket.SOCK_STREAM)  # nothing listens there
    agent = start_agent(
        "run", f"syslog+tcp://127.0.0.1:{dead}?reconnect_max_secs=1", "console://?format=json"
    )
    c = containers.run("for i in $(seq 1 200); do echo line-$i; done; sleep 30")
    wait_until(lambda: len(lines_of(agent, c.name)) == 200, what="all lines on the console")
    wait_until(lambda: "destination is down" in agent.stderr, what="the dead one reported")
    assert agent.stderr.count("destination is down") == 1


def test_a_receiver_that_stops_reading_does_not_stall_the_others(
    start_agent: Any, containers: Any
) -> None:
    with socket.socket() as stalled:  # accepts connections, never reads
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills up soon
        stalled.bind(("127.0.0.1", 0))
        stalled.listen()
        port = stalled.getsockname()[1]
        agent = start_agent(
            "run",
            f"syslog+tcp://127.0.0.1:{port}?write_timeout_secs=2&buffer_max_records=1000",
            "console://?format=json",
        )
        line = "x" * 2000
        # ~20 MB: more than the kernel buffers between the agent and the receiver hold
        c = containers.run(f"for i in $(seq 1 10000); do echo {line}-$i; done; sleep 60")
        wait_until(
            lambda: len(lines_of(agent, c.name)) == 10000, timeout=90, what="every console line"
        )
        wait_until(lambda: "took no more data" in agent.stderr, timeout=60, what="the stall")
    assert [r["message"] for r in lines_of(agent, c.name)][-1] == f"{line}-10000"
