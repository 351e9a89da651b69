"""The fault suite: the agent killed, stopped, its engine stopped, containers removed, renamed
and rotated under it, each against a real engine, each reporting lines produced, shipped,
lost and duplicated (printed as ``FAULT <scenario>: ...``; ``pytest -s`` shows them, and the
README's Guarantees table quotes them)."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.agent_process import AgentProcess
from tests.helpers.containers import IMAGE, TEST_LABEL
from tests.helpers.engine_proxy import EngineProxy
from tests.helpers.private_engine import PrivateEngine
from tests.helpers.receivers.elasticsearch import ElasticsearchStandIn
from tests.helpers.waiting import wait_until

INTERVAL_SECS = 1.0
# lines 1..batches*per, `per` at a time with a pause between: a flood the 2-core machine
# can take next to other tests (about 5000 lines/s)
FLOOD = (
    "i=0; while [ $i -lt {batches} ]; do seq $((i*{per}+1)) $((i*{per}+{per})); "
    "i=$((i+1)); sleep {pause}; done"
)


def flood(batches: int = 40, per: int = 500, pause: float = 0.1) -> tuple[str, int]:
    return FLOOD.format(batches=batches, per=per, pause=pause), batches * per


@dataclass
class Figures:
    scenario: str
    produced: int
    shipped: int
    lost: int
    duplicated: int
    note: str = ""

    def __str__(self) -> str:
        return (
            f"FAULT {self.scenario}: produced {self.produced}, shipped {self.shipped}, "
            f"lost {self.lost}, duplicated {self.duplicated}"
            + (f" ({self.note})" if self.note else "")
        )


def figures(scenario: str, produced: list[str], shipped: list[str], note: str = "") -> Figures:
    """Lost: lines produced (as often as produced: an engine may hold a line twice) that were
    shipped fewer times; duplicated: shipped more times than produced."""
    wanted = Counter(produced)
    counts = Counter(m for m in shipped if m in wanted)
    result = Figures(
        scenario,
        produced=len(produced),
        shipped=sum(min(n, counts[m]) for m, n in wanted.items()),
        lost=sum(max(0, n - counts[m]) for m, n in wanted.items()),
        duplicated=sum(max(0, counts[m] - wanted[m]) for m in counts),
        note=note,
    )
    print(f"\n{result}")
    return result


def records(agent: AgentProcess, name: str) -> list[dict[str, Any]]:
    """The agent's console records of this container (a line still being written: not yet)."""
    complete = agent.stdout.split("\n")[:-1]
    return [r for r in map(json.loads, complete) if r["container"]["name"] == name]


def messages(agents: list[AgentProcess], name: str) -> list[str]:
    return [r["message"] for agent in agents for r in records(agent, name)]


def timestamps(agents: list[AgentProcess], name: str) -> list[str]:
    return [r["@timestamp"] for agent in agents for r in records(agent, name)]


def exited(container: Any) -> bool:
    container.reload()
    return bool(container.status == "exited")


def state_args(state: Path) -> tuple[str, ...]:
    return ("run", "console://?format=json", "--state-dir", str(state))


STATE_ENV = {"LOGSHIP_CHECKPOINT_INTERVAL_SECS": str(INTERVAL_SECS)}


# -- restarts of the agent ---------------------------------------------------------------------


def test_a_clean_restart_resumes_with_nothing_lost_and_nothing_twice(
    start_agent: Any, containers: Any, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    first = start_agent(*state_args(state), env=STATE_ENV)
    command, total = flood()
    c = containers.run(command)
    wait_until(lambda: len(messages([first], c.name)) >= total // 5, timeout=60, what="a fifth")
    assert first.stop() == 0  # SIGTERM: drained, checkpoints saved, exit 0
    saved = json.loads((state / "checkpoints.json").read_text())
    assert saved["containers"][c.id]["name"] == c.name
    time.sleep(1)  # the container goes on writing while no agent runs
    second = start_agent(*state_args(state), env=STATE_ENV)
    wait_until(lambda: exited(c), timeout=120, what="the flood to end")
    wait_until(lambda: len(set(messages([first, second], c.name))) >= total, timeout=60, what="all")
    assert second.stop() == 0
    result = figures(
        "clean restart (SIGTERM, start again)",
        [str(n) for n in range(1, total + 1)],
        messages([first, second], c.name),
    )
    assert result.lost == 0 and result.duplicated == 0


def test_kill_9_mid_flood_loses_nothing_and_repeats_at_most_one_interval(
    start_agent: Any, containers: Any, tmp_path: Path
) -> None:
    """Through the Engine API (its checkpoints are times; the file source's is
    tests/integration/test_files_source.py)."""
    state = tmp_path / "state"
    env = {**STATE_ENV, "LOGSHIP_SOURCE": "docker"}
    first = start_agent(*state_args(state), env=env)
    command, total = flood()
    c = containers.run(command)
    shipped_by_then: list[tuple[float, int]] = []  # (when, lines the first agent had shipped)

    def a_quarter() -> bool:
        shipped_by_then.append((time.monotonic(), len(messages([first], c.name))))
        return shipped_by_then[-1][1] >= total // 4

    wait_until(a_quarter, timeout=60, interval=0.05, what="a quarter")
    assert first.process is not None
    first.process.kill()  # SIGKILL: nothing flushed, nothing saved on the way out
    first.process.wait()
    killed_at = time.monotonic()
    saved = json.loads((state / "checkpoints.json").read_text())["containers"]
    checkpoint = saved.get(c.id, {"timestamp": ""})  # none yet: read from its creation
    time.sleep(1)
    second = start_agent(*state_args(state), env=env)
    wait_until(lambda: exited(c), timeout=120, what="the flood to end")
    wait_until(lambda: len(set(messages([first, second], c.name))) >= total, timeout=60, what="all")
    second.stop()
    # the guarantee: at most what the first agent shipped in its last checkpoint interval
    # (plus the write's own latency on this busy machine: one more second)
    shipped_in_all = len(messages([first], c.name))
    window_start = killed_at - INTERVAL_SECS - 1
    before_window = max([n for t, n in shipped_by_then if t <= window_start], default=0)
    bound = shipped_in_all - before_window
    result = figures(
        "kill -9 mid-flood, restart (console)",
        [str(n) for n in range(1, total + 1)],
        messages([first, second], c.name),
        note=f"checkpoint interval {INTERVAL_SECS:g} s; bound {bound} lines",
    )
    assert result.lost == 0
    # exactly the lines shipped after the last checkpoint come twice: resuming skips the rest
    since = checkpoint["timestamp"] or ""
    past_checkpoint = sum(1 for t in timestamps([first], c.name) if t > since)
    assert result.duplicated == past_checkpoint
    assert result.duplicated <= bound


def test_containers_that_wrote_started_or_stopped_while_the_agent_was_away_are_caught_up(
    start_agent: Any, containers: Any, tmp_path: Path
) -> None:
    """While no agent runs, one followed container writes its last lines and exits, and a new
    container starts, writes and exits: the next agent ships all of it, from its checkpoint
    for the first and from its creation for the second."""
    state = tmp_path / "state"
    first = start_agent(*state_args(state), env=STATE_ENV)
    known = containers.run("seq 1 100; sleep 3; seq 101 200")
    wait_until(lambda: len(messages([first], known.name)) >= 100, what="its first lines")
    assert first.stop() == 0
    newcomer = containers.run("seq 1 300")
    wait_until(lambda: exited(known) and exited(newcomer), timeout=30, what="both to exit")
    second = start_agent(*state_args(state), env=STATE_ENV)
    wait_until(
        lambda: (
            len(messages([first, second], known.name)) >= 200
            and len(messages([second], newcomer.name)) >= 300
        ),
        timeout=30,
        what="what they wrote while no agent ran",
    )
    assert second.stop() == 0
    for container, total in ((known, 200), (newcomer, 300)):
        result = figures(
            f"{'followed' if container is known else 'new'} container that wrote and exited "
            "while the agent was away",
            [str(n) for n in range(1, total + 1)],
            messages([first, second], container.name),
        )
        assert result.lost == 0 and result.duplicated == 0


def test_kill_9_mid_flood_to_elasticsearch_stores_every_line_once(
    start_agent: Any, containers: Any, tmp_path: Path, es: ElasticsearchStandIn
) -> None:
    """Lines sent again after the restart have the same ``_id`` (container, Docker timestamp,
    sequence number), so Elasticsearch answers 409 and keeps one copy."""
    state = tmp_path / "state"
    uri = f"elasticsearch+http://127.0.0.1:{es.port}?index=faults"
    args = ("run", uri, "--state-dir", str(state))

    def stored() -> list[str]:
        return [d["message"] for d in es.documents("faults")]

    first = start_agent(*args, env=STATE_ENV)
    command, total = flood()
    c = containers.run(command)
    wait_until(lambda: len(stored()) >= total // 4, timeout=60, what="a quarter")
    assert first.process is not None
    first.process.kill()
    first.process.wait()
    time.sleep(1)
    second = start_agent(*args, env=STATE_ENV)
    wait_until(lambda: exited(c), timeout=120, what="the flood to end")
    wait_until(lambda: len(set(stored())) >= total, timeout=60, what="every line stored")
    second.stop()
    resent = sum(1 for e in es.item_errors if e["status"] == 409)
    result = figures(
        "kill -9 mid-flood, restart (Elasticsearch)",
        [str(n) for n in range(1, total + 1)],
        stored(),
        note=f"{resent} lines sent again, answered 409 and stored once",
    )
    assert result.lost == 0 and result.duplicated == 0


# -- containers removed or renamed while followed ------------------------------------------------


def test_a_container_removed_while_followed_is_let_go_and_pruned_from_checkpoints(
    start_agent: Any, containers: Any, docker_client: Any, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    agent = start_agent(*state_args(state), env=STATE_ENV)
    command, _ = flood(batches=400, per=100, pause=0.05)
    doomed = containers.run(command)
    stays = containers.run("i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done")
    wait_until(lambda: len(messages([agent], doomed.name)) >= 2000, timeout=60, what="lines")
    wait_until(
        lambda: doomed.id in json.loads((state / "checkpoints.json").read_text())["containers"],
        what="a checkpoint of the doomed container",
    )
    doomed.remove(force=True)
    wait_until(
        lambda: doomed.id not in json.loads((state / "checkpoints.json").read_text())["containers"],
        timeout=30,
        what="its checkpoint to be pruned",
    )
    shipped = messages([agent], doomed.name)
    # what the engine had of it is gone with it: the lines shipped are 1..n, each once
    result = figures(
        "container removed (docker rm -f) while followed",
        [str(n) for n in range(1, len(set(shipped)) + 1)],
        shipped,
        note="lines written before the removal; the rest of the flood never happened",
    )
    assert result.lost == 0 and result.duplicated == 0
    before = len(messages([agent], stays.name))
    wait_until(lambda: len(messages([agent], stays.name)) > before + 10, what="the other one")
    assert "Traceback" not in agent.stderr
    assert agent.stop() == 0


def test_a_container_renamed_while_followed_keeps_its_lines_and_checkpoint(
    start_agent: Any, containers: Any, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    first = start_agent(*state_args(state), env=STATE_ENV)
    command, total = flood(batches=60, per=200, pause=0.1)
    c = containers.run(command)
    old_name = c.name
    wait_until(lambda: len(messages([first], old_name)) >= 2000, timeout=60, what="lines")
    new_name = f"{old_name}-renamed"
    c.rename(new_name)
    wait_until(lambda: messages([first], new_name), timeout=30, what="lines under the new name")
    assert first.stop() == 0
    saved = json.loads((state / "checkpoints.json").read_text())
    assert saved["containers"][c.id]["name"] == new_name
    second = start_agent(*state_args(state), env=STATE_ENV)
    wait_until(lambda: exited(c), timeout=120, what="the flood to end")
    both = [first, second]
    wait_until(
        lambda: len(set(messages(both, old_name) + messages(both, new_name))) >= total,
        timeout=60,
        what="every line",
    )
    second.stop()
    result = figures(
        "container renamed while followed, then agent restarted",
        [str(n) for n in range(1, total + 1)],
        messages(both, old_name) + messages(both, new_name),
    )
    assert result.lost == 0 and result.duplicated == 0
    assert messages([second], old_name) == []  # the new run knows it by its new name


# -- log rotation --------------------------------------------------------------------------------


def test_after_log_rotation_during_a_flood_the_stream_does_not_fall_silent(
    start_agent: Any, containers: Any, tmp_path: Path
) -> None:
    """json-file rotation (max-size 10k, 3 files) during a flood. Docker 20.10's follow
    reader misses rotations: it can go silent for good, and it repeats entries of the
    rotated file (``docker logs -f``, run next to the agent, shows the same repeats). Lines
    rotated away before anyone read them are the engine's loss. What logship guarantees:
    the stream never stays silent (a quiet stream whose log has newer lines is read again
    from its position), so every line written after the flood arrives, each once."""
    agent = start_agent("run", "console://?format=json", env={"LOGSHIP_QUIET_STREAM_SECS": "2"})
    command, total = flood(batches=20, per=1000, pause=0.05)
    tail = 40
    c = containers.run(
        f"sleep 1; {command}; sleep 1; i=0; while [ $i -lt {tail} ]; do i=$((i+1)); "
        "echo tail-$i; sleep 0.1; done; sleep 60",
        log_config={"type": "json-file", "config": {"max-size": "10k", "max-file": "3"}},
    )
    with open(tmp_path / "docker-logs-f.out", "wb") as out:
        cli = subprocess.Popen(["docker", "logs", "-f", "-t", c.id], stdout=out)
    markers = [f"tail-{i}" for i in range(1, tail + 1)]
    try:
        wait_until(
            lambda: set(markers) <= set(messages([agent], c.name)),
            timeout=60,
            what=f"every line written after the flood (stderr: {agent.stderr[-1500:]})",
        )
    finally:
        cli.kill()
        cli.wait()
    shipped = messages([agent], c.name)
    flooded = Counter(m for m in shipped if m.isdigit())
    by_cli = Counter((tmp_path / "docker-logs-f.out").read_text().splitlines())
    reattached = agent.stderr.count("reading it again from")
    result = figures(
        "log rotation during a flood (max-size 10k, max-file 3)",
        markers,
        [m for m in shipped if m.startswith("tail-")],
        note=f"{len(flooded)} of the {total} flood lines read before rotation removed them; "
        f"the engine repeated {sum(flooded.values()) - len(flooded)} of them (docker logs -f "
        f"beside it: {sum(by_cli.values()) - len(by_cli)}); quiet stream re-attached "
        f"{reattached} times",
    )
    assert result.lost == 0 and result.duplicated == 0


def test_a_follow_stream_that_goes_silent_while_the_container_writes_is_read_again(
    start_agent: Any, containers: Any
) -> None:
    proxy = EngineProxy()
    try:
        agent = start_agent(
            "run",
            "console://?format=json",
            env={"DOCKER_HOST": proxy.url, "LOGSHIP_QUIET_STREAM_SECS": "1"},
        )
        total = 60
        c = containers.run(
            f"i=0; while [ $i -lt {total} ]; do i=$((i+1)); echo $i; sleep 0.1; done; sleep 60"
        )
        wait_until(lambda: len(messages([agent], c.name)) >= 10, what="the first lines")
        proxy.freeze()  # the log stream (and the events stream) now say nothing
        wait_until(
            lambda: len(messages([agent], c.name)) >= total,
            timeout=60,
            what=f"every line (stderr: {agent.stderr[-1500:]})",
        )
        result = figures(
            "follow stream silent while the container writes",
            [str(n) for n in range(1, total + 1)],
            messages([agent], c.name),
            note=f"re-attached {agent.stderr.count('reading it again from')} times",
        )
        assert result.lost == 0 and result.duplicated == 0
        assert "delivered nothing for" in agent.stderr
    finally:
        proxy.close()


# -- the engine stopped and started ----------------------------------------------------------------


@pytest.fixture
def live_restore_engine() -> Iterator[PrivateEngine]:
    engine = PrivateEngine(live_restore=True).start()
    engine.load_test_image()
    yield engine
    engine.close()


@pytest.fixture
def plain_engine() -> Iterator[PrivateEngine]:
    engine = PrivateEngine(live_restore=False).start()
    engine.load_test_image()
    yield engine
    engine.close()


def run_on(engine: PrivateEngine, test_label: str, command: str, **kwargs: Any) -> Any:
    client = engine.client()
    return client.containers.run(
        IMAGE,
        ["sh", "-c", command],
        labels={TEST_LABEL: test_label},
        network_mode="none",
        detach=True,
        **kwargs,
    )


def engine_kept(engine: PrivateEngine, container_id: str) -> list[str]:
    return engine.docker("logs", container_id).split()


def test_dockerd_stopped_and_started_mid_flood_with_live_restore_loses_nothing(
    live_restore_engine: PrivateEngine, start_agent: Any, test_label: str, tmp_path: Path
) -> None:
    engine = live_restore_engine
    agent = start_agent(
        *state_args(tmp_path / "state"), env={**STATE_ENV, "DOCKER_HOST": engine.url}
    )
    command, total = flood()
    c = run_on(engine, test_label, command)
    wait_until(lambda: len(messages([agent], c.name)) >= total // 5, timeout=60, what="a fifth")
    engine.stop()  # the container keeps running (live restore); its writes wait for dockerd
    time.sleep(2)
    engine.start()
    wait_until(lambda: exited(c), timeout=120, what="the flood to end")
    kept = engine_kept(engine, c.id)
    wait_until(
        lambda: set(kept) <= set(messages([agent], c.name)), timeout=60, what="every line kept"
    )
    assert agent.stop() == 0
    result = figures(
        "dockerd stopped and started mid-flood, --live-restore",
        kept,
        messages([agent], c.name),
        note=f"the engine kept {len(kept)} entries of the {total} lines written, "
        f"{len(kept) - len(set(kept))} of them twice",
    )
    assert result.lost == 0 and result.duplicated == 0


def cut_lines(kept: list[str]) -> list[str]:
    """The lines a file source ships of what the engine kept: a line run 1 left without its
    newline when the engine killed it is a line of its own when the container stops (the
    Engine API's stream, read again after the engine's restart, and ``docker logs`` show it
    glued to run 2's first line: ``r1-r2-1``)."""
    out: list[str] = []
    for line in kept:
        glued = line.find("r2-", 1)
        out += [line[:glued], line[glued:]] if line.startswith("r1-") and glued > 0 else [line]
    return out


@pytest.mark.parametrize("source", ["docker", "files"])
def test_dockerd_stopped_and_started_mid_flood_restarting_the_container_loses_nothing(
    plain_engine: PrivateEngine, start_agent: Any, test_label: str, tmp_path: Path, source: str
) -> None:
    """Without live restore, stopping dockerd stops the container; restart policy ``always``
    starts it again with the engine. Each run writes its own numbered lines."""
    engine = plain_engine
    agent = start_agent(
        *state_args(tmp_path / "state"),
        env={**STATE_ENV, "DOCKER_HOST": engine.url, "LOGSHIP_SOURCE": source},
    )
    command, total = flood(batches=30, per=500, pause=0.1)
    run = "n=$(cat /run-count 2>/dev/null || echo 0); n=$((n+1)); echo $n > /run-count; "
    c = run_on(
        engine,
        test_label,
        f'{run} if [ $n -le 2 ]; then ({command}) | sed "s/^/r$n-/"; fi; sleep 600',
        restart_policy={"Name": "always"},
        stop_signal="SIGKILL",  # the engine's stop kills it at once, mid-flood
    )
    wait_until(lambda: len(messages([agent], c.name)) >= 3000, timeout=60, what="lines")
    engine.stop()  # stops the container with it
    time.sleep(1)
    engine.start()  # ... and starts it again: run 2
    wait_until(lambda: f"r2-{total}" in engine_kept(engine, c.id), timeout=120, what="run 2 to end")
    kept = engine_kept(engine, c.id)
    assert f"r1-{total}" not in kept  # run 1 was cut short by the engine's stop
    if source == "files":
        kept = cut_lines(kept)
    wait_until(
        lambda: set(kept) <= set(messages([agent], c.name)), timeout=60, what="every line kept"
    )
    assert agent.stop() == 0
    result = figures(
        f"dockerd stopped and started mid-flood, container restarted (source {source})",
        kept,
        messages([agent], c.name),
        note=f"the engine kept {len(kept)} lines of 2 runs",
    )
    assert result.lost == 0 and result.duplicated == 0
