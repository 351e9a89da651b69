"""`logship tail`'s options against the real engine, as a user types them: --tail N, --until,
--grep, --stream, --filter (a destination's filter syntax), --no-follow, and the status line
that a terminal shows and a pipe never gets."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import sys
import time
from pathlib import Path
from typing import Any

from logship.record import format_timestamp_ns
from tests.helpers.agent_process import AgentProcess, run_cli
from tests.helpers.containers import TEST_LABEL
from tests.helpers.paths import ROOT
from tests.helpers.waiting import wait_until

STATUS = b"lines/s"  # in the status line, never in a container's line here


def exited(c: Any) -> bool:
    c.reload()
    return bool(c.status == "exited")


def lines(stdout: str, name: str) -> list[str]:
    prefix = f"{name} | "
    return [line.removeprefix(prefix) for line in stdout.splitlines() if line.startswith(prefix)]


def test_tail_n_shows_the_last_n_lines_of_each_container(containers: Any) -> None:
    a = containers.run("for i in 1 2 3 4 5; do echo a-$i; done")
    b = containers.run("echo b-1")
    for c in (a, b):
        wait_until(lambda c=c: exited(c), what="exit")
    result = run_cli(["tail", "--no-follow", "--tail", "2", a.name, b.name])
    assert result.returncode == 0, result.stderr
    assert lines(result.stdout, a.name.ljust(len(b.name))) == ["a-4", "a-5"]
    assert lines(result.stdout, b.name.ljust(len(a.name))) == ["b-1"]
    zero = run_cli(["tail", "--no-follow", "-n", "0", a.name])
    assert zero.returncode == 0 and zero.stdout == ""


def test_tail_reads_json_lines_and_joins_traces_as_run_does(containers: Any) -> None:
    """--parse and --multiline (or the settings, or the container's labels) as for `run`."""
    c = containers.run(
        """echo '{"msg":"paid","level":"warn","order":42}'; """
        "printf 'java.lang.IllegalStateException: boom\\n\\tat a.B.c(B.java:1)\\n'"
    )
    wait_until(lambda: exited(c), what="exit")
    result = run_cli(
        ["tail", "--no-follow", "--json", "--parse", "json", "--multiline", "java", c.name]
    )
    assert result.returncode == 0, result.stderr
    parsed, trace = (json.loads(line) for line in result.stdout.splitlines())
    assert (parsed["message"], parsed["log"]["level"], parsed["order"]) == ("paid", "warn", 42)
    assert trace["message"] == "java.lang.IllegalStateException: boom\n\tat a.B.c(B.java:1)"
    plain = run_cli(["tail", "--no-follow", "--json", "--parse", "off", c.name])
    assert json.loads(plain.stdout.splitlines()[0])["message"].startswith('{"msg":"paid"')


def test_tail_f_n_then_follows_what_comes_next(containers: Any, tmp_path: Path) -> None:
    """`-f` as docker logs -f takes it (following is the default: -f changes nothing)."""
    c = containers.run(
        "for i in 1 2 3; do echo old-$i; done; "
        "while [ ! -e /go ]; do sleep 0.1; done; echo new-1; sleep 60"
    )
    wait_until(lambda: c.logs().count(b"old-") == 3, what="the old lines")
    tail = AgentProcess(tmp_path, ["tail", "-f", "--tail", "1", c.name]).start(ready=None)
    wait_until(lambda: lines(tail.stdout, c.name) == ["old-3"], what="the last old line")
    c.exec_run(["touch", "/go"])
    wait_until(lambda: lines(tail.stdout, c.name) == ["old-3", "new-1"], what="the new line")
    assert tail.stop() == 0


def test_until_stops_at_that_time_even_while_following(containers: Any) -> None:
    c = containers.run("i=0; while true; do i=$((i+1)); echo seq-$i; sleep 0.1; done")
    wait_until(lambda: b"seq-5" in c.logs(), what="a few lines")
    until_ns = time.time_ns() + 2_000_000_000
    until = f"{until_ns // 10**9}.{until_ns % 10**9:09d}"
    result = run_cli(["tail", "--json", "--until", until, c.name], timeout=60)
    assert result.returncode == 0, result.stderr  # it ended on its own
    records = [json.loads(line) for line in result.stdout.splitlines()]
    seqs = [int(r["message"].removeprefix("seq-")) for r in records]
    assert seqs == list(range(1, len(seqs) + 1))  # from the start, none missing or twice
    assert all(r["@timestamp"] <= format_timestamp_ns(until_ns) for r in records)
    wait_until(lambda: f"seq-{seqs[-1] + 1}\n".encode() in c.logs(), what="a line after")
    kept = c.logs(timestamps=True).decode().splitlines()
    assert kept[seqs[-1]].split(" ")[0] > format_timestamp_ns(until_ns)  # the next: too late


def test_until_reads_only_what_came_before(containers: Any) -> None:
    c = containers.run("echo before; sleep 2; echo after")
    wait_until(lambda: exited(c), what="exit")
    first = json.loads(run_cli(["tail", "--no-follow", "--json", c.name]).stdout.splitlines()[0])
    assert first["message"] == "before"
    result = run_cli(["tail", "--json", "--until", first["@timestamp"], c.name])
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["message"] for line in result.stdout.splitlines()] == ["before"]


def test_grep_and_stream_select_lines(containers: Any) -> None:
    c = containers.run("echo keep-1; echo keep-2 >&2; echo drop-3 >&2; echo keep-4 >&2")
    wait_until(lambda: exited(c), what="exit")
    result = run_cli(["tail", "--no-follow", "--stream", "stderr", "--grep", "^keep-", c.name])
    assert result.returncode == 0, result.stderr
    assert lines(result.stdout, c.name) == ["keep-2", "keep-4"]
    stdout_only = run_cli(["tail", "--no-follow", "--stream", "stdout", c.name])
    assert lines(stdout_only.stdout, c.name) == ["keep-1"]


def test_filters_take_a_destinations_syntax(containers: Any, test_label: str) -> None:
    web = containers.run("echo from-web", labels={"tier": "web"})
    db = containers.run("echo from-db", labels={"tier": "db"})
    for c in (web, db):
        wait_until(lambda c=c: exited(c), what="exit")
    mine = f"labels={TEST_LABEL}:{test_label}"
    by_label = run_cli(
        ["tail", "--no-follow", "--all", "--filter", mine, "--filter", "labels=tier:w*"]
    )
    assert by_label.returncode == 0, by_label.stderr
    assert by_label.stdout.splitlines() == [f"{web.name} | from-web"]
    by_name = run_cli(
        [
            "tail",
            "--no-follow",
            "--all",
            "--filter",
            mine,
            "--filter",
            f"filter.name={db.name[:6]}*",
        ]
    )
    assert by_name.stdout.splitlines() == [f"{db.name} | from-db"]


def test_no_follow_returns_while_the_container_keeps_running(containers: Any) -> None:
    c = containers.run("echo up; sleep 120")
    wait_until(lambda: b"up" in c.logs(), what="the line")
    result = run_cli(["tail", "--no-follow", c.name], timeout=30)
    assert result.returncode == 0
    assert result.stdout.splitlines() == [f"{c.name} | up"]


def test_bad_options_exit_2_naming_the_option() -> None:
    for args, named in (
        (["--grep", "(unclosed"], "--grep '(unclosed' is not a valid regular expression"),
        (["--filter", "colour=red"], "--filter 'colour=red': expected KEY=VALUE"),
        (["--filter", "labels=novalue"], "must be key:value"),
        (["--tail", "-3"], "--tail '-3': expected a number of lines"),
        (["--until", "yesterday"], "--until: cannot read 'yesterday' as a time"),
        (["--stream", "stderr", "--filter", "sources=stdout"], "disagree"),
    ):
        result = run_cli(["tail", "--no-follow", *args])
        assert result.returncode == 2, (args, result.stderr)
        assert named in result.stderr, (args, result.stderr)


def test_follow_and_no_follow_together_exit_2_naming_both() -> None:
    result = run_cli(["tail", "-f", "--no-follow"])
    assert result.returncode == 2
    assert "--no-follow" in result.stderr and "-f/--follow" in result.stderr


def test_no_status_line_when_piped(containers: Any) -> None:
    c = containers.run("i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo piped-$i; sleep 0.1; done")
    wait_until(lambda: exited(c), timeout=30, what="exit")
    result = run_cli(["tail", "--no-follow", c.name])
    assert result.returncode == 0
    assert STATUS.decode() not in result.stdout + result.stderr
    assert "\x1b[" not in result.stdout + result.stderr


def _tail_on_a_terminal(name: str) -> bytes:
    """`logship tail NAME` with a pseudo-terminal as stdout and stderr, until the status line
    has been drawn twice; then Ctrl-C."""
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.chdir(ROOT)
        env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
        os.execve(sys.executable, [sys.executable, "-m", "logship", "tail", name], env)
    output = b""
    deadline = time.monotonic() + 60
    interrupted = False
    while time.monotonic() < deadline:
        if not interrupted and output.count(STATUS) >= 2:
            os.kill(pid, signal.SIGINT)
            interrupted = True
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
    if not interrupted:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert interrupted, f"no status line in {output[-2000:]!r}"
    assert os.waitstatus_to_exitcode(status) == 0
    return output


def test_status_line_on_a_terminal_counts_containers_and_lines(containers: Any) -> None:
    c = containers.run("i=0; while true; do i=$((i+1)); echo tty-$i; sleep 0.05; done")
    output = _tail_on_a_terminal(c.name)
    text = output.decode(errors="replace")
    assert "following 1 container, " in text and " dropped" in text
    assert f"{c.name} |" in text and "tty-1\r\n" in text
    # drawn in place: each status line is erased before a container's line is written
    status_at = text.rindex("following 1 container")
    assert "\r\x1b[K" in text[status_at:]  # and taken away at the end
