"""The container image, built and run as the README's "Run on a Docker host" and
docs/docker-host.md say.

``scripts/build-image.sh --local-base`` builds it on a Debian base made by debootstrap (no
registry here; the base image and the wheels are kept between runs, and Docker's layer cache
does the rest). Then the README's own ``docker run`` line starts it, with only the names, the
image tag and the destination changed: root with no capability, the engine's containers
directory and the socket mounted read-only, a read-only root, the state in a volume. It must
read the json-file logs, ship its neighbours' lines to a real rsyslogd, report healthy, run as
PID 1, and on ``docker stop`` drain, exit 0 and leave its checkpoints in the volume. The
README's second line (the Engine API alone, as user 10001 with the socket's group), the compose
file and the tmpfs options of docs/docker-host.md run too, and that page shows the README's own
commands.
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

from tests.helpers.containers import IMAGE, RUN_ID, TEST_LABEL
from tests.helpers.docker_cli import docker, logs
from tests.helpers.image import build_image, doc_commands, readme_command, readme_commands
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


def start_agent(command: str, image: str, name: str, volume: str, port: int, label: str) -> None:
    """The README's ``docker run`` line ``command``, with its own names, image and receiver,
    following only the containers labelled ``label``; returns once the agent follows them."""
    http = f"127.0.0.1:{free_port(socket.SOCK_STREAM)}"
    for readme, ours in (
        ("--name logship ", f"--name {name} --label {TEST_LABEL}={label}-agent "),
        (" logship-state:", f" {volume}:"),
        # the host's network: an HTTP port of its own, in case 9880 is taken on this machine
        ("logship:0.1.0 run ", f"--health-interval 2s -e LOGSHIP_HTTP={http} {image} run "),
        ("syslog+tcp://logs.example.com:514", f"syslog+tcp://127.0.0.1:{port}"),
    ):
        assert readme in command, f"the README's docker run line changed: {command}"
        command = command.replace(readme, ours)
    command += f" --include-label {TEST_LABEL}={label}"
    subprocess.run(["bash", "-c", command], check=True, capture_output=True, timeout=60)
    wait_until(
        lambda: (
            re.search(r"following \d+ containers", logs(name))
            or docker("inspect", "-f", "{{.State.Running}}", name) == "false"
        ),
        timeout=60,
        what="the agent in its container to start",
    )
    assert docker("inspect", "-f", "{{.State.Running}}", name) == "true", logs(name)


def process_status(container: str) -> dict[str, str]:
    """``/proc/1/status`` of the container: its PID 1's user, groups, capabilities..."""
    status = docker("exec", container, "cat", "/proc/1/status")
    return dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)


@pytest.fixture(scope="module")
def run(image: str, docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    label = f"{RUN_ID}-img-{uuid.uuid4().hex[:6]}"
    agent = f"lt-agent-{uuid.uuid4().hex[:8]}"
    volume = f"lt-state-{uuid.uuid4().hex[:8]}"
    workdir = tmp_path_factory.mktemp("rsyslog")
    rsyslog = Rsyslog(workdir, tcp=True).start()
    started: list[Any] = []
    try:
        start_agent(readme_command("docker run"), image, agent, volume, rsyslog.tcp_port, label)

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


def test_the_agent_reads_the_log_files_as_root_with_no_capability_as_pid_1(run: Run) -> None:
    cmdline = docker("exec", run.agent, "cat", "/proc/1/cmdline").split("\0")
    assert cmdline[1:3] == ["/opt/logship/bin/logship", "run"], cmdline
    status = process_status(run.agent)
    assert status["Uid"].split() == ["0"] * 4, status
    nothing = "0" * 16
    assert [status[f"Cap{s}"] for s in ("Inh", "Prm", "Eff", "Bnd", "Amb")] == [nothing] * 5
    assert status["NoNewPrivs"] == "1"
    assert docker("inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", run.agent) == "true"
    assert "through source files" in logs(run.agent), logs(run.agent)[-3000:]


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
    # everything read, and a restart would go on with the next line, none lost or sent twice.
    # The position is in the container's json-file log (the host's path, mounted as it is).
    position = checkpoints[run.steady.id]["file"]
    assert position["path"] == docker("inspect", "-f", "{{.LogPath}}", run.steady.id), saved
    with open(position["path"], "rb") as log_file:
        read = log_file.read(position["offset"])
    entries = [json.loads(line) for line in read.splitlines()]
    handled = [e["log"].removesuffix("\n") for e in entries if e["stream"] == "stderr"]
    assert handled, saved

    def shipped() -> list[str]:
        return [m["msg"] for m in by_container(run.rsyslog, run.steady.name)]

    wait_until(lambda: shipped() == handled, timeout=10, what=f"{handled[-3:]} at rsyslogd")


def test_the_image_runs_the_hot_modules_compiled(image: str) -> None:
    """The image ships the mypyc build (pyproject.toml): the modules every line goes through
    are C extensions there, not the pure-Python fallback."""
    where = docker(
        "run", "--rm", "--network", "none", "--entrypoint", "python3", image, "-c",
        "import logship.record, logship.protocol.cri, logship.pipeline.buffer as b; "
        "print(logship.record.__file__, logship.protocol.cri.__file__, b.__file__)",
    )  # fmt: skip
    assert [path.rsplit(".", 1)[-1] for path in where.split()] == ["so", "so", "so"], where


def test_the_docker_host_page_shows_the_readme_commands() -> None:
    """docs/docker-host.md repeats the README's build and run commands; they must not drift."""
    for starts in ("bash scripts/build-image.sh --local-base", "docker run"):
        assert doc_commands(DOCKER_HOST_PAGE, starts) == readme_commands(starts)


def test_the_readmes_api_only_line_runs_as_user_10001_with_the_sockets_group(
    image: str, containers: Any, test_label: str, rsyslog_tcp: Rsyslog
) -> None:
    _, api_only = readme_commands("docker run")
    assert "/var/lib/docker/containers" not in api_only and "--user" not in api_only
    agent = f"lt-agent-{uuid.uuid4().hex[:8]}"
    volume = f"lt-state-{uuid.uuid4().hex[:8]}"
    try:
        start_agent(api_only, image, agent, volume, rsyslog_tcp.tcp_port, test_label)
        assert "through source docker" in logs(agent), logs(agent)[-3000:]
        status = process_status(agent)
        assert status["Uid"].split() == ["10001"] * 4, status
        socket_gid = str(Path("/var/run/docker.sock").stat().st_gid)
        assert socket_gid in status["Groups"].split(), status
        neighbour = containers.run("echo through the api; sleep 30")
        (line,) = wait_until(lambda: by_container(rsyslog_tcp, neighbour.name), what="its line")
        assert line["msg"] == "through the api"
        docker("stop", agent, timeout=30)
        assert docker("inspect", "-f", "{{.State.ExitCode}}", agent) == "0", logs(agent)
    finally:
        docker("rm", "-f", agent, check=False)
        docker("volume", "rm", "-f", volume, check=False)


def test_the_docs_compose_file_runs_the_same_agent(
    image: str, docker_client: Any, tmp_path: Path, rsyslog_tcp: Rsyslog
) -> None:
    block = re.search(
        r"With Docker Compose \(`(.*?)`\)[^\n]*:\n\n```yaml\n(.*?)```",
        DOCKER_HOST_PAGE.read_text(),
        re.DOTALL,
    )
    assert block, "docs/docker-host.md's compose example is missing"
    up, compose = block.group(1), yaml.safe_load(block.group(2))
    assert up == "docker compose up -d"
    service = compose["services"]["logship"]
    assert service["read_only"] is True and service["network_mode"] == "host"
    assert (service["user"], service["cap_drop"]) == ("0", ["ALL"])
    assert "/var/lib/docker/containers:/var/lib/docker/containers:ro" in service["volumes"]
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
    env = dict(os.environ)

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
        assert "through source files" in logs(agent), logs(agent)[-3000:]
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


@pytest.mark.parametrize("user", ["root", "10001"])
def test_a_read_only_agent_with_the_docs_tmpfs_for_its_state_starts_and_stops_cleanly(
    image: str, user: str
) -> None:
    tmpfs = re.findall(
        r"`(--tmpfs /var/lib/logship:\S+)` as (root|user 10001)", DOCKER_HOST_PAGE.read_text()
    )
    options = {who.removeprefix("user "): option for option, who in tmpfs}
    assert set(options) == {"root", "10001"}, "docs/docker-host.md's tmpfs options are missing"
    if user == "root":
        who = ["--user", "0", "--cap-drop", "ALL"]
    else:
        who = ["--group-add", str(Path("/var/run/docker.sock").stat().st_gid)]
    agent = f"lt-agent-{uuid.uuid4().hex[:8]}"
    try:
        docker(
            "run", "-d", "--name", agent, "--label", f"{TEST_LABEL}={RUN_ID}-tmpfs",
            "--read-only", *options[user].split(), "--network", "none", *who,
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
