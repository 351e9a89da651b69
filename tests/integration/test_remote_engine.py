"""A remote engine as the docker CLI reaches it: ``DOCKER_HOST=tcp://HOST:PORT`` with
``DOCKER_TLS_VERIFY=1`` and ``DOCKER_CERT_PATH`` (ca.pem, cert.pem, key.pem), against a real
dockerd of the test's own started with ``--tlsverify``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.agent_process import AgentProcess, run_cli
from tests.helpers.containers import IMAGE
from tests.helpers.docker_context import write_context
from tests.helpers.tls import TlsFiles
from tests.helpers.tls_engine import TlsEngine
from tests.helpers.waiting import wait_until


@pytest.fixture(scope="module")
def engine(test_ca: TlsFiles) -> Iterator[TlsEngine]:
    server = TlsEngine(test_ca).start()
    yield server
    server.close()


def tls_env(engine: TlsEngine, cert_dir: Path) -> dict[str, str]:
    return {
        "DOCKER_HOST": engine.tcp_url,
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": str(cert_dir),
    }


def run_container(engine: TlsEngine, command: str) -> str:
    name = f"remote-{len(engine.docker('ps', '-aq').split())}"
    engine.docker("run", "-d", "--name", name, "--network", "none", IMAGE, "sh", "-c", command)
    return name


def test_tail_reads_a_container_of_a_remote_engine_over_tls(engine: TlsEngine) -> None:
    name = run_container(engine, "echo over-tls-1; echo over-tls-2 >&2; echo over-tls-3")
    wait_until(
        lambda: engine.docker("inspect", "-f", "{{.State.Status}}", name) == "exited",
        what="the remote container to exit",
    )
    result = run_cli(["tail", "--no-follow", name], env=tls_env(engine, engine.cert_dir()))
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == [f"{name} | over-tls-{i}" for i in (1, 2, 3)]
    assert result.stderr == ""  # no stream read twice (a TLS stream must not end early)


def test_tail_follows_a_running_remote_container(engine: TlsEngine, tmp_path: Path) -> None:
    name = run_container(engine, "i=0; while [ $i -lt 5 ]; do i=$((i+1)); echo n-$i; sleep 1; done")
    tail = AgentProcess(tmp_path, ["tail", name], env=tls_env(engine, engine.cert_dir()))
    tail.start(ready=None)
    expected = [f"{name} | n-{i}" for i in range(1, 6)]
    wait_until(lambda: tail.stdout.splitlines() == expected, what=f"{expected} in {tail.stdout!r}")
    assert tail.stop() == 0


def test_tail_reads_the_engine_of_the_current_docker_context(
    engine: TlsEngine, tmp_path: Path
) -> None:
    """As after `docker context use`: no DOCKER_HOST, the engine (here this test's own, not the
    shared one at the default socket) named in ~/.docker's current context."""
    name = run_container(engine, "echo from-the-context")
    wait_until(
        lambda: engine.docker("inspect", "-f", "{{.State.Status}}", name) == "exited",
        what="the container to exit",
    )
    write_context(tmp_path, "colima", engine.unix_url, current=True)
    env = {"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": ""}  # "": none named, as unset
    result = run_cli(["tail", "--no-follow", name], env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{name} | from-the-context"]


def test_run_and_check_reach_a_docker_context_over_tls_with_its_own_files(
    engine: TlsEngine, tmp_path: Path
) -> None:
    name = run_container(engine, "echo shipped-through-the-context; sleep 60")
    write_context(tmp_path, "node-7", engine.tcp_url, tls_dir=engine.cert_dir())
    env = {"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "node-7"}
    check = run_cli(["check", "console://"], env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"OK   engine {engine.tcp_url} (TLS): Docker " in check.stdout
    agent = AgentProcess(tmp_path, ["run", "--backlog", "console://?format=json"], env=env)
    agent.start()
    wait_until(
        lambda: any(r["message"] == "shipped-through-the-context" for r in agent.stdout_json()),
        what="the context's container's line",
    )
    assert agent.stop() == 0
    engine.docker("rm", "-f", name)


def test_check_reports_the_engine_over_tls(engine: TlsEngine) -> None:
    result = run_cli(["check", "console://"], env=tls_env(engine, engine.cert_dir()))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"OK   engine {engine.tcp_url} (TLS): Docker " in result.stdout


def test_an_engine_certificate_from_another_ca_is_refused(
    engine: TlsEngine, test_ca: TlsFiles
) -> None:
    cert_dir = engine.cert_dir(ca_file=test_ca.other_ca_file)
    result = run_cli(["tail", "--no-follow"], env=tls_env(engine, cert_dir))
    assert result.returncode == 1
    assert "TLS with the Docker engine at" in result.stderr
    assert "certificate verify failed: unable to get local issuer certificate" in result.stderr
    check = run_cli(["check", "console://"], env=tls_env(engine, cert_dir))
    assert check.returncode == 1
    assert "certificate verify failed" in check.stdout


def test_without_a_client_certificate_the_engine_turns_logship_away(engine: TlsEngine) -> None:
    cert_dir = engine.cert_dir(client_cert=False)
    result = run_cli(["check", "console://"], env=tls_env(engine, cert_dir))
    assert result.returncode == 1
    assert f"FAIL engine {engine.tcp_url} (TLS)" in result.stdout


def test_a_cert_path_that_is_not_a_directory_is_a_config_error(engine: TlsEngine) -> None:
    result = run_cli(["tail"], env=tls_env(engine, Path("/nonexistent/certs")))
    assert result.returncode == 2
    assert "docker_cert_path '/nonexistent/certs' is not a directory" in result.stderr
