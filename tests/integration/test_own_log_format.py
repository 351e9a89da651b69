"""``--log-format json``: every line logship itself writes on stderr is one JSON object, from
start to shutdown, with a real container followed and a destination going down."""

from __future__ import annotations

import json
import socket
from typing import Any

from tests.helpers.agent_process import AgentProcess
from tests.helpers.waiting import wait_until


def test_with_log_format_json_every_line_of_logships_own_log_is_a_json_object(
    start_agent: Any, containers: Any
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = closed.getsockname()[1]  # bound, never listening: connections refused
        agent: AgentProcess = start_agent(
            "run",
            f"syslog+tcp://127.0.0.1:{dead}?reconnect_max_secs=1",
            "console://",
            "--log-format",
            "json",
        )
        c = containers.run("echo shipped; sleep 30")
        wait_until(lambda: "destination is down" in agent.stderr, what="the down line")
        wait_until(lambda: c.name in agent.stderr, what="the container followed")
        assert agent.stop() == 0
    lines = [line for line in agent.stderr.splitlines() if line.strip()]
    documents = [json.loads(line) for line in lines]  # each line, not one fails to parse
    assert {d["log"]["level"] for d in documents} <= {"debug", "info", "warning", "error"}
    assert all(d["log"]["logger"].startswith("logship") for d in documents), documents
    assert any("destination is down" in d["message"] for d in documents)
    assert all(d["@timestamp"].endswith("Z") for d in documents)
