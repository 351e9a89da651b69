"""``--source files`` on the real engine: each container's lines read from its json-file log
(the engine's own files, rotated by the engine itself), the containers and their metadata from
the Engine API."""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.helpers.agent_process import AgentProcess
from tests.helpers.waiting import wait_until

FILES = ("--source", "files")


def records(agent: AgentProcess, name: str) -> list[dict[str, Any]]:
    return [r for r in agent.stdout_json() if r["container"]["name"] == name]


def messages(agent: AgentProcess, name: str) -> list[str]:
    return [r["message"] for r in records(agent, name)]


def exited(container: Any) -> bool:
    container.reload()
    return bool(container.status == "exited")


def test_every_line_once_with_the_same_record_as_through_the_engine_api(
    start_agent: Any, containers: Any
) -> None:
    api = start_agent("run", "console://?format=json", "--source", "docker")
    files = start_agent("run", "console://?format=json", *FILES)
    long_line = "x" * 40_000  # more than Docker's 16 KiB pieces: joined back
    c = containers.run(
        f"echo one; echo two >&2; printf 'no newline'; echo; echo {long_line}; "
        "printf 'caf\\303\\251\\n'; sleep 30",
        labels={"com.example.team": "payments"},
        environment={"APP_ENV": "test"},
    )
    wait_until(lambda: len(records(files, c.name)) == 5, timeout=30, what="five lines")
    wait_until(lambda: len(records(api, c.name)) == 5, timeout=30, what="five lines by the API")
    by_stream = {
        stream: [r["message"] for r in records(files, c.name) if r["log"]["iostream"] == stream]
        for stream in ("stdout", "stderr")
    }
    assert by_stream == {"stdout": ["one", "no newline", long_line, "café"], "stderr": ["two"]}

    def key(record: dict[str, Any]) -> tuple[str, str]:
        return record["@timestamp"], record["message"]

    # time, stream, enrichment: all the same (stdout and stderr may interleave otherwise)
    assert sorted(records(files, c.name), key=key) == sorted(records(api, c.name), key=key)
    assert "through source files" in files.stderr


def test_a_flood_rotated_many_times_arrives_whole_and_once(
    start_agent: Any, containers: Any
) -> None:
    """The issue's measure: 60,000 short lines with max-size=1m, max-file=3. Through the Engine
    API the follow stream ends at each rotation and the rotated files are gone by the time it
    is asked again; the file source holds them open. The flood starts once the agent follows
    the container (its first line shipped): a file rotated away before any reader found the
    container (three files of 1 MB, written in well under a second) is the engine's loss, not
    what this measures."""
    agent = start_agent("run", "console://?format=json", *FILES)
    total = 60_000
    c = containers.run(
        f"echo ready; until [ -e /tmp/go ]; do sleep 0.05; done; seq 1 {total}; sleep 30",
        log_config={"type": "json-file", "config": {"max-size": "1m", "max-file": "3"}},
    )
    wait_until(lambda: messages(agent, c.name) == ["ready"], what="the agent to follow it")
    c.exec_run(["touch", "/tmp/go"])
    with contextlib.suppress(AssertionError):  # the check below says what arrived
        wait_until(lambda: len(records(agent, c.name)) > total, timeout=60, interval=0.5)
    flood = messages(agent, c.name)[1:]
    got = Counter(flood)
    missing = [n for n in range(1, total + 1) if str(n) not in got]
    assert not missing, f"{len(missing)} lost, first {missing[:5]}"
    assert max(got.values()) == 1
    assert [int(m) for m in flood] == list(range(1, total + 1))  # in order


def test_with_max_file_1_the_file_deleted_and_made_anew_is_followed(
    start_agent: Any, containers: Any
) -> None:
    """Docker's default max-file is 1: at max-size the engine deletes the file and makes a new
    one. Nothing rotated is kept, so a file deleted before any reader opened it is the engine's
    loss; at this pace (5000 lines/s, a file every ~0.3 s) the reader keeps up."""
    agent = start_agent("run", "console://?format=json", *FILES)
    total = 20_000
    c = containers.run(
        "i=0; while [ $i -lt 20 ]; do seq $((i*1000+1)) $((i*1000+1000)); i=$((i+1)); "
        "sleep 0.2; done; sleep 30",
        log_config={"type": "json-file", "config": {"max-size": "100k", "max-file": "1"}},
    )
    wait_until(lambda: len(records(agent, c.name)) >= total, timeout=60, what="all lines")
    assert [int(m) for m in messages(agent, c.name)] == list(range(1, total + 1))


def test_a_container_with_another_log_driver_is_read_through_the_engine_api(
    start_agent: Any, containers: Any
) -> None:
    agent = start_agent("run", "console://?format=json", *FILES)
    c = containers.run("echo from-local; sleep 30", log_config={"type": "local", "config": {}})
    wait_until(lambda: messages(agent, c.name) == ["from-local"], timeout=30, what="its line")
    assert f"following {c.name} through the Engine API: its log driver is local" in agent.stderr


def test_a_container_restarted_is_read_on_with_nothing_twice(
    start_agent: Any, containers: Any
) -> None:
    agent = start_agent("run", "console://?format=json", *FILES)
    c = containers.run(
        "n=$(cat /runs 2>/dev/null || echo 0); n=$((n+1)); echo $n > /runs; "
        "for i in $(seq 1 100); do echo run$n-$i; done; sleep 3"
    )
    wait_until(lambda: exited(c), timeout=30, what="the first run to end")
    c.start()
    wait_until(lambda: "run2-100" in messages(agent, c.name), timeout=30, what="the second run")
    expected = [f"run{r}-{n}" for r in (1, 2) for n in range(1, 101)]
    assert messages(agent, c.name) == expected


def test_kill_9_then_resume_loses_nothing_and_repeats_only_what_followed_the_checkpoint(
    start_agent: Any, containers: Any, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    args = ("run", "console://?format=json", *FILES, "--state-dir", str(state))
    env = {"LOGSHIP_CHECKPOINT_INTERVAL_SECS": "1"}
    first = start_agent(*args, env=env)
    total = 20_000
    c = containers.run(
        "i=0; while [ $i -lt 40 ]; do seq $((i*500+1)) $((i*500+500)); i=$((i+1)); "
        "sleep 0.1; done; sleep 30"
    )
    wait_until(lambda: len(records(first, c.name)) >= total // 4, timeout=60, what="a quarter")
    assert first.process is not None
    first.process.kill()  # nothing flushed, nothing saved on the way out
    first.process.wait()
    saved = json.loads((state / "checkpoints.json").read_text())["containers"][c.id]["file"]
    time.sleep(1)
    second = start_agent(*args, env=env)
    wait_until(
        lambda: len(set(messages(first, c.name) + messages(second, c.name))) >= total,
        timeout=90,
        what="every line",
    )
    assert second.stop() == 0
    shipped = Counter(messages(first, c.name) + messages(second, c.name))
    lost = [n for n in range(1, total + 1) if str(n) not in shipped]
    # what comes twice is exactly what the first agent shipped past its last checkpoint: the
    # lines of the file after the saved offset
    with open(saved["path"], "rb") as f:
        f.seek(saved["offset"])
        after = {json.loads(line)["log"].rstrip("\n") for line in f}
    past_checkpoint = sum(1 for m in messages(first, c.name) if m in after)
    duplicated = sum(n - 1 for n in shipped.values())
    print(
        f"\nFAULT kill -9 mid-flood, restart (source files): produced {total}, "
        f"lost {len(lost)}, duplicated {duplicated} (past the checkpoint: {past_checkpoint})"
    )
    assert not lost
    assert duplicated == past_checkpoint
