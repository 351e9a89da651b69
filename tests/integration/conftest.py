"""Fixtures for the real parts: the Docker engine, containers, the agent process, and the
receivers it ships to (a real rsyslogd; the Elasticsearch, GELF and forward stand-ins).

A receiver a test configures its own way comes from a ``start_*`` factory
(``start_forward(shared_key=b"k")``, ``start_rsyslog(tls=test_ca, client_auth=True)``); each
call starts another one, and every one is stopped after the test. ``rsyslog``, ``rsyslog_tcp``,
``rsyslog_tls`` and ``es`` are the plain ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.agent_process import AgentProcess
from tests.helpers.containers import IMAGE, RUN_ID, TEST_LABEL, Containers
from tests.helpers.receivers.elasticsearch import ElasticsearchStandIn
from tests.helpers.receivers.forward import ForwardReceiver
from tests.helpers.receivers.gelf import GelfReceiver
from tests.helpers.rsyslog import Rsyslog
from tests.helpers.tls import TlsFiles

# -- the engine and its containers --------------------------------------------------------------


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


# -- the agent ------------------------------------------------------------------------------------


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


# -- receivers ------------------------------------------------------------------------------------


@pytest.fixture
def start_rsyslog(tmp_path: Path) -> Iterator[Callable[..., Rsyslog]]:
    """``start_rsyslog(tcp=True)``, ``start_rsyslog(tls=test_ca, client_auth=True)``: a real
    rsyslogd (see :class:`Rsyslog` for the options), each in a directory of its own."""
    servers: list[Rsyslog] = []

    def start(**options: Any) -> Rsyslog:
        workdir = tmp_path / f"rsyslog-{len(servers)}"
        workdir.mkdir()
        server = Rsyslog(workdir, **options)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def rsyslog(start_rsyslog: Callable[..., Rsyslog]) -> Rsyslog:
    """rsyslogd on UDP."""
    return start_rsyslog()


@pytest.fixture
def rsyslog_tcp(start_rsyslog: Callable[..., Rsyslog]) -> Rsyslog:
    """rsyslogd on UDP and plain TCP (``tcp_port``)."""
    return start_rsyslog(tcp=True)


@pytest.fixture
def rsyslog_tls(start_rsyslog: Callable[..., Rsyslog], test_ca: TlsFiles) -> Rsyslog:
    """rsyslogd on UDP, TCP and TLS (``tls_port``, the test CA's server certificate)."""
    return start_rsyslog(tcp=True, tls=test_ca)


@pytest.fixture
def start_elasticsearch() -> Iterator[Callable[..., ElasticsearchStandIn]]:
    """``start_elasticsearch(users={"writer": "secret"}, ssl_context=...)``: the ``_bulk``
    stand-in (see :class:`ElasticsearchStandIn` for the options)."""
    servers: list[ElasticsearchStandIn] = []

    def start(**options: Any) -> ElasticsearchStandIn:
        server = ElasticsearchStandIn(**options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def es(start_elasticsearch: Callable[..., ElasticsearchStandIn]) -> ElasticsearchStandIn:
    """The Elasticsearch stand-in over plain HTTP, no credentials asked."""
    return start_elasticsearch()


@pytest.fixture
def start_gelf() -> Iterator[Callable[..., GelfReceiver]]:
    """``start_gelf(tls=..., http_status=...)``: a strict GELF receiver on UDP, TCP and HTTP
    (see :class:`GelfReceiver` for the options)."""
    receivers: list[GelfReceiver] = []

    def start(**options: Any) -> GelfReceiver:
        receiver = GelfReceiver(**options).start()
        receivers.append(receiver)
        return receiver

    yield start
    for receiver in receivers:
        receiver.stop()


@pytest.fixture
def start_forward() -> Iterator[Callable[..., ForwardReceiver]]:
    """``start_forward(shared_key=b"key")``: a strict Fluentd forward server (see
    :class:`ForwardReceiver` for the options)."""
    servers: list[ForwardReceiver] = []

    def start(**options: Any) -> ForwardReceiver:
        server = ForwardReceiver(**options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
