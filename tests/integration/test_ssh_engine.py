"""An engine reached over ssh as the docker CLI reaches it (``DOCKER_HOST=ssh://USER@HOST:PORT``,
or a docker context whose host is one): a real OpenSSH server of the test's own on 127.0.0.1,
whose ``docker system dial-stdio`` joins the shared engine. The client's key, known_hosts and
config are given as a user's ``~/.ssh/config`` would give them (see tests/helpers/ssh_server.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers.agent_process import AgentProcess, run_cli
from tests.helpers.containers import Containers
from tests.helpers.docker_context import write_context
from tests.helpers.ssh_server import SshServer
from tests.helpers.waiting import wait_until


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    server = SshServer(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.close()


def test_run_follows_a_container_of_an_ssh_engine(
    sshd: SshServer, containers: Containers, start_agent: Callable[..., AgentProcess]
) -> None:
    env = sshd.env(os.environ["PATH"])
    agent = start_agent("run", "--docker-host", sshd.url, "console://?format=json", env=env)
    # the engine's own API, not its log files (they are on the far side)
    assert f"through source docker: the engine at {sshd.url} is remote" in agent.stderr
    containers.run("for i in 1 2 3; do echo over-ssh-$i; sleep 1; done; sleep 60")
    wait_until(
        lambda: (
            [r["message"] for r in agent.stdout_json()][-3:] == [f"over-ssh-{i}" for i in (1, 2, 3)]
        ),
        what="the container's three lines, read over ssh",
    )
    assert agent.stop() == 0
    assert "the connection failed" not in agent.stderr


def test_check_and_tail_reach_the_engine_of_an_ssh_docker_context(
    sshd: SshServer, containers: Containers, tmp_path: Path
) -> None:
    container = containers.run("echo from-the-ssh-context")
    wait_until(lambda: container.reload() or container.status == "exited", what="it to exit")
    write_context(tmp_path, "build-box", sshd.url, current=True)
    temp = tmp_path / "temp"  # where the private socket of each run is made
    temp.mkdir()
    env = {
        **sshd.env(os.environ["PATH"]),
        "DOCKER_CONFIG": str(tmp_path),
        "DOCKER_CONTEXT": "",
        "TMPDIR": str(temp),
    }
    check = run_cli(["check", "console://"], env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"OK   engine {sshd.url}: Docker " in check.stdout
    assert f"the engine at {sshd.url} is remote" in check.stdout  # never its files here
    result = run_cli(["tail", "--no-follow", container.name], env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{container.name} | from-the-ssh-context"]
    assert list(temp.iterdir()) == []  # each run's socket removed as it stopped


def test_a_host_ssh_cannot_log_in_to_fails_the_check_with_what_ssh_said(
    sshd: SshServer,
) -> None:
    url = sshd.url.replace("root@", "nobody-here@")
    check = run_cli(["check", "console://", "--docker-host", url], env=sshd.env(os.environ["PATH"]))
    assert check.returncode == 1
    assert f"FAIL engine {url}" in check.stdout
    assert "Permission denied (publickey)" in check.stderr
