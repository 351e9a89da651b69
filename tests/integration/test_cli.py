"""The command line as users meet it: `logship tail`, config errors, exit codes."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.helpers.agent_process import AgentProcess, run_cli
from tests.helpers.paths import ROOT
from tests.helpers.waiting import wait_until


def test_tail_no_follow_prints_each_line_after_its_container_name(containers: Any) -> None:
    a = containers.run("echo alpha-1; echo alpha-2 >&2")
    b = containers.run("echo beta-1")
    for c in (a, b):
        wait_until(lambda c=c: c.reload() or c.status == "exited", what="exit")
    result = run_cli(["tail", "--no-follow", a.name, b.name])
    assert result.returncode == 0, result.stderr
    width = max(len(a.name), len(b.name))
    lines = result.stdout.splitlines()
    assert sorted(lines) == sorted(
        [
            f"{a.name.ljust(width)} | alpha-1",
            f"{a.name.ljust(width)} | alpha-2",
            f"{b.name.ljust(width)} | beta-1",
        ]
    )
    assert "\x1b[" not in result.stdout  # not a terminal: no colour


def test_tail_json_and_since_select_lines_by_time(containers: Any) -> None:
    c = containers.run("echo old; sleep 3; echo new")
    wait_until(lambda: c.reload() or c.status == "exited", what="exit")
    result = run_cli(["tail", "--no-follow", "--json", "--since", "2s", c.name])
    assert result.returncode == 0, result.stderr
    import json

    assert [json.loads(line)["message"] for line in result.stdout.splitlines()] == ["new"]


def test_tail_piped_into_head_ends_quietly(containers: Any) -> None:
    c = containers.run("while true; do echo flood; done")
    tail = subprocess.Popen(
        f"{sys.executable} -m logship tail {c.name} | head -n 5",
        shell=True,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = tail.communicate(timeout=60)
    assert out.splitlines() == [f"{c.name} | flood"] * 5
    assert "Traceback" not in err and "Error" not in err, err
    assert tail.returncode == 0


def test_tail_no_log_prefix_prints_the_lines_alone(containers: Any) -> None:
    c = containers.run("echo alpha-1; echo alpha-2")
    wait_until(lambda: c.reload() or c.status == "exited", what="exit")
    result = run_cli(["tail", "--no-follow", "--no-log-prefix", c.name])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["alpha-1", "alpha-2"]


def _tail_on_a_terminal(name: str, env: dict[str, str], *options: str) -> bytes:
    pid, fd = pty.fork()
    if pid == 0:  # child: logship tail with a terminal as stdout
        os.chdir(ROOT)
        os.execve(
            sys.executable,
            [sys.executable, "-m", "logship", "tail", "--no-follow", *options, name],
            env,
        )
    output = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    os.waitpid(pid, 0)
    return output


def test_tail_colours_names_on_a_terminal_unless_no_color_is_set_or_asked(
    containers: Any,
) -> None:
    c = containers.run("echo painted")
    wait_until(lambda: c.reload() or c.status == "exited", what="exit")
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    coloured = _tail_on_a_terminal(c.name, env)
    assert b"\x1b[" in coloured and b"painted" in coloured
    plain = _tail_on_a_terminal(c.name, {**env, "NO_COLOR": "1"})
    assert b"\x1b[" not in plain and f"{c.name} | painted".encode() in plain
    asked = _tail_on_a_terminal(c.name, env, "--no-color")  # docker compose logs' flag
    assert b"\x1b[" not in asked and f"{c.name} | painted".encode() in asked


def test_a_bad_destination_port_exits_2_naming_it() -> None:
    result = run_cli(["run", "syslog+udp://127.0.0.1:99999"])
    assert result.returncode == 2
    assert "destinations" in result.stderr and "syslog+udp://127.0.0.1:99999" in result.stderr


def test_a_bad_environment_value_exits_2_naming_field_and_value() -> None:
    result = run_cli(["run"], env={"LOGSHIP_BUFFER__MAX_RECORDS": "-5"})
    assert result.returncode == 2
    assert "buffer.max_records" in result.stderr and "-5" in result.stderr


def test_an_engine_address_that_cannot_be_used_exits_2_naming_it() -> None:
    # the engine's client is made only for the sources that read through it: still at start
    result = run_cli(["run", "--source", "files", "--docker-host", "ftp://node-7:2375"])
    assert result.returncode == 2
    assert "docker_host 'ftp://node-7:2375'" in result.stderr and "unix://" in result.stderr


def test_an_unknown_key_in_the_config_file_exits_2_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "logship.yaml"
    config.write_text("destinations:\n  - syslog+udp://127.0.0.1:514\nbufer:\n  max_records: 5\n")
    result = run_cli(["run", "--config", str(config)])
    assert result.returncode == 2
    assert "bufer" in result.stderr


def test_the_example_config_is_valid(tmp_path: Path) -> None:
    from logship.settings import load_settings

    settings = load_settings(ROOT / "config" / "logship.example.yaml")
    assert settings.destinations


def test_tail_without_an_engine_says_where_it_looked_and_exits_1() -> None:
    result = run_cli(["tail", "--no-follow"], env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert result.returncode == 1
    assert "/nonexistent.sock" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_waits_for_an_engine_that_is_not_there_yet(tmp_path: Path) -> None:
    agent = AgentProcess(tmp_path, ["run"], env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    agent.start(ready=None)
    wait_until(lambda: "waiting for it" in agent.stderr, what="the agent to say it waits")
    assert agent.process is not None and agent.process.poll() is None
    assert agent.stop() == 0
