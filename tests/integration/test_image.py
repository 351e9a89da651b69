"""The container image, built and run as the README's "Run on a Docker host" and
docs/docker-host.md say.

``scripts/build-image.sh --local-base`` builds it on a Debian base made by debootstrap (no
registry here; the base image and the wheels are kept between runs, and Docker's layer cache
does the rest). Then the README's own ``docker run`` line starts it, with only the names, the
image tag and the destination changed: the socket mounted read-only, the socket's group added,
a read-only root, the state in a volume. It must ship its neighbours' lines to a real rsyslogd,
report healthy, run as a non-root PID 1, and on ``docker stop`` drain, exit 0 and leave its
checkpoints in the volume. The compose file and the tmpfs option of docs/docker-host.md run
too, and that page shows the README's own commands.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from logship.record import normalize_timestamp
from tests.helpers.containers import IMAGE, RUN_ID, TEST_LABEL
from tests.helpers.docker_cli import docker, logs
from tests.helpers.image import build_image, doc_command, readme_command
from tests.helpers.paths import ROOT
from tests.helpers.ports import free_port
from tests.helpers.rsyslog import Rsyslog, by_container, parse_structured_data
from tests.helpers.waiting import wait_until

# the first run on a new machine makes the base (debootstrap, ~45 s) and builds every layer
pytestmark = pytest.mark.timeout(900)

DOCKER_HOST_PAGE = ROOT / "docs" / "docker-host.md"  # the whole of "Run on a Docker host"
LINES = 300  # what the short-lived neighbour writes before it exits


@pytest.fixture(scope="module")
def image() -> str:
    return build_image()


@dataclass
class Run:
    agent: str
    volume: str
    rsyslog: Rsyslog
    short: Any  # the neighbour that writes LINES lines and exits
    steady: Any  # the neighbour that keeps writing, to stderr
    stop_exit_code: int | None = None


@pytest.fixture(scope="module")
def run(image: str, docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    label = f"{RUN_ID}-img-{uuid.uuid4().hex[:6]}"
    agent = f"lt-agent-{uuid.uuid4().hex[:8]}"
    volume = f"lt-state-{uuid.uuid4().hex[:8]}"
    workdir = tmp_path_factory.mktemp("rsyslog")
    rsyslog = Rsyslog(workdir, tcp=True).start()
    command = readme_command("docker run")
    http = f"127.0.0.1:{free_port(socket.SOCK_STREAM)}"
    for readme, ours in (
        ("--name logship ", f"--name {agent} --label {TEST_LABEL}={label}-agent "),
        (" logship-state:", f" {volume}:"),
        # the host's network: an HTTP port of its own, in case 9880 is taken on this machine
        ("logship:0.1.0 run ", f"--health-interval 2s -e LOGSHIP_HTTP={http} {image} run "),
        ("syslog+tcp://logs.example.com:514", f"syslog+tcp://127.0.0.1:{rsyslog.tcp_port}"),
    ):
        assert readme in command, f"the README's docker run line changed: {command}"
        command = command.replace(readme, ours)
    command += f" --include-label {TEST_LABEL}={label}"
    started: list[Any] = []
    try:
        subprocess.run(["bash", "-c", command], check=True, capture_output=True, timeout=60)
        wait_until(
            lambda: (
                re.search(r"following \d+ containers", logs(agent))
                or docker("inspect", "-f", "{{.State.Running}}", agent) == "false"
            ),
            timeout=60,
            what="the agent in its container to start",
        )
        assert docker("inspect", "-f", "{{.State.Running}}", agent) == "true", logs(agent)

        def neighbour(script: str) -> Any:
            container = docker_client.containers.run(
                IMAGE,
                ["sh", "-c", script],
                name=f"lt-{uuid.uuid4().hex[:8]}",
                labels={TEST_LABEL: label},
                network_mode="none",
                detach=True,
            )
            started.append(container)
            return container

        short = neighbour(f"i=0; while [ $i -lt {LINES} ]; do i=$((i+1)); echo short $i; done")
        steady = neighbour("i=0; while true; do i=$((i+1)); echo steady $i >&2; sleep 0.2; done")
        yield Run(agent, volume, rsyslog, short, steady)
    finally:
        docker("rm", "-f", agent, check=False)
        for container in started:
            container.remove(force=True)
        docker("volume", "rm", "-f", volume, check=False)
        rsyslog.stop()


def test_the_image_ships_its_neighbours_lines_to_a_real_rsyslogd(run: Run) -> None:
    short = wait_until(
        lambda: len(got := by_container(run.rsyslog, run.short.name)) >= LINES and got,
        timeout=60,
        what=f"{LINES} lines of the short-lived neighbour at rsyslogd",
    )
    assert [m["msg"] for m in short] == [f"short {i}" for i in range(1, LINES + 1)]
    steady = wait_until(
        lambda: by_container(run.rsyslog, run.steady.name), what="the steady neighbour's lines"
    )
    assert steady[0]["severity"] == "3"  # stderr
    sd = parse_structured_data(short[0]["sd"])["logship@32473"]
    assert sd["container_id"] == run.short.id
    assert sd["image_name"] == IMAGE.split(":")[0]
    # --network host: the host's own name, not the container's
    assert short[0]["hostname"] == socket.gethostname()


def test_the_agent_runs_as_a_non_root_pid_1(run: Run) -> None:
    cmdline = docker("exec", run.agent, "cat", "/proc/1/cmdline").split("\0")
    assert cmdline[1:3] == ["/opt/logship/bin/logship", "run"], cmdline
    status = docker("exec", run.agent, "cat", "/proc/1/status")
    uid = re.search(r"^Uid:\s+(\d+)", status, re.MULTILINE)
    groups = re.search(r"^Groups:(.*)$", status, re.MULTILINE)
    assert uid and uid.group(1) != "0", status
    socket_gid = str(Path("/var/run/docker.sock").stat().st_gid)
    assert groups and socket_gid in groups.group(1).split(), status
    assert docker("inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", run.agent) == "true"


def test_the_healthcheck_reports_healthy(run: Run) -> None:
    def status() -> str:
        return docker("inspect", "-f", "{{.State.Health.Status}}", run.agent)

    wait_until(lambda: status() != "starting", timeout=40, what="a first health check")
    assert status() == "healthy", docker("inspect", "-f", "{{json .State.Health.Log}}", run.agent)


def test_docker_stop_drains_exits_0_and_leaves_checkpoints_in_the_volume(run: Run) -> None:
    wait_until(lambda: by_container(run.rsyslog, run.steady.name), what="steady lines")
    docker("stop", run.agent, timeout=30)
    state = docker("inspect", "-f", "{{.State.ExitCode}} {{.State.OOMKilled}}", run.agent)
    log = logs(run.agent)
    assert state == "0 false", log[-3000:]
    assert "SIGTERM" in log
    assert "left unsent" not in log, log[-3000:]
    saved = docker(
        "run", "--rm", "--network", "none", "-v", f"{run.volume}:/state:ro", IMAGE,
        "cat", "/state/checkpoints.json",
        check=False,
    )  # fmt: skip
    assert saved, f"no checkpoints.json in the state volume; agent log:\n{log[-3000:]}"
    checkpoints = json.loads(saved)["containers"]
    assert run.short.id in checkpoints and run.steady.id in checkpoints, saved
    # what the checkpoint says was handled is exactly what reached rsyslogd: the drain sent
    # everything read, and a restart would go on with the next line, none lost or sent twice
    position = checkpoints[run.steady.id]
    lines = []
    for line in run.steady.logs(stdout=False, stderr=True, timestamps=True).decode().splitlines():
        timestamp, _, text = line.partition(" ")
        lines.append((normalize_timestamp(timestamp), text))
    at = [text for ts, text in lines if ts == position["timestamp"]]
    handled = [text for ts, text in lines if ts < position["timestamp"]] + at[: position["skip"]]
    assert handled, saved

    def shipped() -> list[str]:
        return [m["msg"] for m in by_container(run.rsyslog, run.steady.name)]

    wait_until(lambda: shipped() == handled, timeout=10, what=f"{handled[-3:]} at rsyslogd")


def test_the_docker_host_page_shows_the_readme_commands() -> None:
    """docs/docker-host.md repeats the README's build and run commands; they must not drift."""
    for starts in ("bash scripts/build-image.sh --local-base", "docker run"):
        assert doc_command(DOCKER_HOST_PAGE, starts) == readme_command(starts)


def test_the_docs_compose_file_runs_the_same_agent(
    image: str, docker_client: Any, tmp_path: Path, rsyslog_tcp: Rsyslog
) -> None:
    block = re.search(
        r"With Docker Compose \(`(.*?)`\):\n\n```yaml\n(.*?)```",
        DOCKER_HOST_PAGE.read_text(),
        re.DOTALL,
    )
    assert block, "docs/docker-host.md's compose example is missing"
    up, compose = block.group(1), yaml.safe_load(block.group(2))
    assert up == "DOCKER_GID=$(stat -c %g /var/run/docker.sock) docker compose up -d"
    service = compose["services"]["logship"]
    assert service["read_only"] is True and service["network_mode"] == "host"
    assert "/var/run/docker.sock:/var/run/docker.sock:ro" in service["volumes"]
    assert "logship-state:/var/lib/logship" in service["volumes"]
    label = f"{RUN_ID}-compose-{uuid.uuid4().hex[:6]}"
    rsyslog = rsyslog_tcp
    project = f"lt{uuid.uuid4().hex[:8]}"
    assert service["command"] == ["run", "syslog+tcp://logs.example.com:514"]
    service["command"] = [
        "run",
        f"syslog+tcp://127.0.0.1:{rsyslog.tcp_port}",
        "--include-label",
        f"{TEST_LABEL}={label}",
    ]
    service["image"] = image
    service["labels"] = {TEST_LABEL: f"{label}-agent"}
    service["environment"] = {"LOGSHIP_HTTP": f"127.0.0.1:{free_port(socket.SOCK_STREAM)}"}
    (tmp_path / "compose.yaml").write_text(yaml.safe_dump(compose))
    env = {**os.environ, "DOCKER_GID": str(Path("/var/run/docker.sock").stat().st_gid)}

    def compose_cli(*args: str) -> str:
        # docker-compose (v1, Debian's): this docker client has no compose plugin
        done = subprocess.run(
            ["docker-compose", "-p", project, "-f", str(tmp_path / "compose.yaml"), *args],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    neighbour = None
    try:
        compose_cli("up", "-d")
        agent = compose_cli("ps", "-q", "logship").strip()
        wait_until(lambda: re.search(r"following \d+ containers", logs(agent)), what="the agent")
        neighbour = docker_client.containers.run(
            IMAGE, ["sh", "-c", "echo from compose; sleep 30"], labels={TEST_LABEL: label},
            network_mode="none", detach=True,
        )  # fmt: skip
        wait_until(lambda: by_container(rsyslog, neighbour.name), what="the neighbour's line")
        compose_cli("stop")
        assert docker("inspect", "-f", "{{.State.ExitCode}}", agent) == "0", logs(agent)
    finally:
        if neighbour is not None:
            neighbour.remove(force=True)
        subprocess.run(
            ["docker-compose", "-p", project, "-f", str(tmp_path / "compose.yaml"), "down", "-v"],
            capture_output=True, env=env, timeout=120, check=False,
        )  # fmt: skip


def test_a_read_only_agent_with_the_docs_tmpfs_for_its_state_starts_and_stops_cleanly(
    image: str,
) -> None:
    tmpfs = re.search(r"`(--tmpfs /var/lib/logship:\S+)`", DOCKER_HOST_PAGE.read_text())
    assert tmpfs, "docs/docker-host.md's tmpfs option is missing"
    agent = f"lt-agent-{uuid.uuid4().hex[:8]}"
    gid = str(Path("/var/run/docker.sock").stat().st_gid)
    try:
        docker(
            "run", "-d", "--name", agent, "--label", f"{TEST_LABEL}={RUN_ID}-tmpfs",
            "--read-only", *tmpfs.group(1).split(), "--network", "none", "--group-add", gid,
            "-v", "/var/run/docker.sock:/var/run/docker.sock:ro", image,
            "run", "console://", "--include-label", f"{TEST_LABEL}={RUN_ID}-nobody",
        )  # fmt: skip
        wait_until(
            lambda: (
                re.search(r"following \d+ containers", logs(agent))
                or docker("inspect", "-f", "{{.State.Running}}", agent) == "false"
            ),
            what="the agent to start",
        )
        docker("stop", agent, timeout=30)
        # a state directory logship cannot write stops it at start, with exit status 2
        assert docker("inspect", "-f", "{{.State.ExitCode}}", agent) == "0", logs(agent)
    finally:
        docker("rm", "-f", agent, check=False)
