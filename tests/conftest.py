"""Fixtures for the real parts: the Docker engine, rsyslogd, the agent process, containers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.agent_process import AgentProcess
from tests.helpers.containers import IMAGE, RUN_ID, TEST_LABEL, Containers
from tests.helpers.rsyslog import Rsyslog
from tests.helpers.tls import TlsFiles, make_test_ca


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """The real engine. Missing engine: a failure (CI must never skip these), with the fix."""
    import docker

    try:
        client = docker.from_env(timeout=60)
        client.ping()
        client.images.get(IMAGE)
    except Exception as exc:  # noqa: BLE001 - any failure here means the same thing
        pytest.fail(
            f"the Docker engine or the test image {IMAGE} is not available ({exc}); "
            "run scripts/setup-host.sh (scripts/test.sh does) first",
            pytrace=False,
        )
    yield client
    client.close()


@pytest.fixture
def test_label() -> str:
    """A label value unique to this test, so agents only see the test's own containers."""
    return f"{RUN_ID}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def containers(docker_client: Any, test_label: str) -> Iterator[Containers]:
    c = Containers(docker_client, test_label)
    yield c
    c.cleanup()


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """CA, server (127.0.0.1, localhost) and client certificates, made once per run."""
    return make_test_ca(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def rsyslog(tmp_path: Path) -> Iterator[Rsyslog]:
    workdir = tmp_path / "rsyslog"
    workdir.mkdir()
    server = Rsyslog(workdir).start()
    yield server
    server.stop()


@pytest.fixture
def start_agent(
    tmp_path: Path, test_label: str, docker_client: Any
) -> Iterator[Callable[..., AgentProcess]]:
    """``start_agent("run", "syslog+udp://...")``: the CLI, limited to this test's containers."""
    agents: list[AgentProcess] = []

    def start(
        *args: str,
        env: dict[str, str] | None = None,
        ready: str | None = "following ",
        select: bool = True,
    ) -> AgentProcess:
        argv = list(args)
        if select and argv and argv[0] == "run":
            argv += ["--include-label", f"{TEST_LABEL}={test_label}"]
        agent = AgentProcess(tmp_path, argv, env=env).start(ready=ready)
        agents.append(agent)
        return agent

    yield start
    for agent in agents:
        if agent.process is not None and agent.process.poll() is None:
            agent.process.kill()
            agent.process.wait()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.nodeid.split("::")[0]:
            item.add_marker(pytest.mark.engine)


def pytest_report_header() -> str:
    return f"logship test run {RUN_ID} (containers labelled {TEST_LABEL}={RUN_ID}-*)"
