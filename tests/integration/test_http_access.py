"""Who can read the logs, against a real agent listening on every address of a network
namespace of its own (only its loopback is in it, so no test traffic leaves 127.0.0.1):
without a token /logs, /containers and the page answer 403 saying how to turn them on, and the
probes stay open; with one, /logs needs it and a Host header no longer matters."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.agent_process import AgentProcess
from tests.helpers.containers import TEST_LABEL
from tests.helpers.waiting import wait_until

# a namespace with only a loopback: binding 0.0.0.0 there reaches nothing else
UNSHARE = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
PORT = 9880  # the namespace is the agent's own: nothing else listens there

CLIENT = """
import json, sys, urllib.request
answers = []
for path, headers in json.loads(sys.argv[1]):
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answers.append([response.status, response.read().decode(errors="replace")])
    except urllib.error.HTTPError as error:
        answers.append([error.code, error.read().decode(errors="replace")])
print(json.dumps(answers))
""".replace("{PORT}", str(PORT))


def ask(agent: AgentProcess, requests: list[tuple[str, dict[str, str]]]) -> list[Any]:
    """Each request's status and body, asked from inside the agent's network namespace."""
    assert agent.process is not None
    netns = f"/proc/{agent.process.pid}/ns/net"
    result = subprocess.run(
        ["nsenter", f"--net={netns}", sys.executable, "-c", CLIENT, json.dumps(requests)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answers: list[Any] = json.loads(result.stdout)
    return answers


@pytest.fixture
def in_a_namespace(tmp_path: Path, test_label: str) -> Iterator[Any]:
    agents: list[AgentProcess] = []

    def start(*args: str) -> AgentProcess:
        argv = ["run", "--include-label", f"{TEST_LABEL}={test_label}", *args]
        agent = AgentProcess(tmp_path, argv, launcher=UNSHARE).start()
        agents.append(agent)
        wait_until(
            lambda: "operator's window on" in agent.stderr,
            what=f"the agent to listen (stderr so far: {agent.stderr!r})",
        )
        return agent

    yield start
    for agent in agents:
        agent.stop(signal.SIGTERM)


def test_on_every_address_without_a_token_the_logs_are_off_and_the_probes_open(
    in_a_namespace: Any,
) -> None:
    agent = in_a_namespace("--http", f"0.0.0.0:{PORT}")
    assert "answer 403 on 0.0.0.0:9880: it is not a loopback address and no token is set" in (
        agent.stderr
    )
    answers = ask(
        agent,
        [
            ("/logs", {}),
            ("/containers", {}),
            ("/", {}),
            ("/healthz", {}),
            ("/metrics", {}),
            ("/readyz", {"Host": "node-1.example:9880"}),  # any name: this is no loopback
        ],
    )
    for status, body in answers[:3]:
        assert status == 403
        assert "--http-token-file FILE" in body
    assert [status for status, _ in answers[3:]] == [200, 200, 200]


def test_on_every_address_with_a_token_the_logs_need_it(
    in_a_namespace: Any, containers: Any, tmp_path: Path
) -> None:
    token = f"ns-{uuid.uuid4().hex}"
    (tmp_path / "token").write_text(token + "\n")
    agent = in_a_namespace(
        "--http", f"0.0.0.0:{PORT}", "--http-token-file", str(tmp_path / "token")
    )
    c = containers.run("echo in-the-namespace; sleep 60")
    wait_until(lambda: f"following {c.name}" in agent.stderr, what="the container followed")
    bearer = {"Authorization": f"Bearer {token}", "Host": "node-1.example:9880"}
    answers = ask(
        agent,
        [
            ("/containers", {}),
            ("/containers", {"Authorization": "Bearer nope"}),
            ("/containers", bearer),
            ("/", {}),
        ],
    )
    assert [status for status, _ in answers] == [401, 401, 200, 200]
    assert c.name in [container["name"] for container in json.loads(answers[2][1])]
    assert token not in agent.stderr
