"""What ``source: auto`` picks on a machine: the pod logs where no engine answers, the json-file
logs where a local engine answers and its files can be read, else the Engine API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from logship.errors import DockerUnavailable
from logship.sources.choice import choose_source
from logship.sources.docker.client import Endpoint


class Engine:
    """What choose_source asks of a client: negotiate (answering or not), endpoint, close."""

    def __init__(self, *, answers: bool, host: str = "unix:///var/run/docker.sock") -> None:
        self.answers = answers
        self.host = host
        self.endpoint = Endpoint.parse(host)
        self.closed = False

    async def negotiate(self) -> dict[str, Any]:
        if not self.answers:
            raise DockerUnavailable("cannot connect to the Docker engine: no such file")
        return {"Version": "20.10.24"}

    async def close(self) -> None:
        self.closed = True


async def ask(engine: Engine, source: str, pods: Path, root: Path) -> tuple[str, str]:
    return await choose_source(source, engine.host, lambda: engine, pods, root)  # type: ignore[arg-type,return-value]


@pytest.fixture
def node(tmp_path: Path) -> tuple[Path, Path]:
    pods, root = tmp_path / "pods", tmp_path / "docker"
    return pods, root


async def test_no_engine_and_pod_logs_there_is_cri(node: tuple[Path, Path]) -> None:
    pods, root = node
    pods.mkdir()
    engine = Engine(answers=False)
    kind, why = await ask(engine, "auto", pods, root)
    assert kind == "cri"
    assert "no engine answers at unix:///var/run/docker.sock" in why and str(pods) in why
    assert engine.closed


async def test_no_engine_and_no_pod_logs_is_docker_waiting_for_it(node: tuple[Path, Path]) -> None:
    pods, root = node
    kind, why = await ask(Engine(answers=False), "auto", pods, root)
    assert kind == "docker" and f"no {pods}" in why


async def test_a_local_engine_whose_files_can_be_read_is_files(node: tuple[Path, Path]) -> None:
    pods, root = node
    (root / "containers").mkdir(parents=True)
    kind, why = await ask(Engine(answers=True), "auto", pods, root)
    assert kind == "files" and str(root / "containers") in why


async def test_a_local_engine_whose_files_cannot_be_read_here_is_docker(
    node: tuple[Path, Path],
) -> None:
    pods, root = node  # no <root>/containers: not mounted here
    kind, why = await ask(Engine(answers=True), "auto", pods, root)
    assert kind == "docker" and "cannot be read here" in why


async def test_a_remote_engine_is_docker_even_with_readable_files(node: tuple[Path, Path]) -> None:
    pods, root = node
    (root / "containers").mkdir(parents=True)
    engine = Engine(answers=True, host="tcp://node-7:2376")
    kind, why = await ask(engine, "auto", pods, root)
    assert kind == "docker" and "remote" in why


async def test_a_source_given_is_taken_as_it_is(node: tuple[Path, Path]) -> None:
    pods, root = node
    engine = Engine(answers=False)
    assert await ask(engine, "files", pods, root) == ("files", "as configured")


async def test_no_socket_where_the_engine_would_listen_is_cri_without_asking(
    node: tuple[Path, Path], tmp_path: Path
) -> None:
    """A Kubernetes node without Docker: nothing at the socket's path, so no engine can
    answer, and no client is made to ask it."""
    pods, root = node
    pods.mkdir()
    socket = tmp_path / "docker.sock"

    def connect() -> Engine:
        raise AssertionError("no client should be made for a socket that is not there")

    kind, why = await choose_source("auto", f"unix://{socket}", connect, pods, root)  # type: ignore[arg-type]
    assert kind == "cri"
    assert f"no engine answers at unix://{socket} (no socket at {socket})" in why
