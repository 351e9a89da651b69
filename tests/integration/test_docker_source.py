"""What the Docker source reads from the real engine, observed on the console as JSON."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.helpers.agent_process import lines_of
from tests.helpers.waiting import wait_until


def test_a_100k_line_arrives_whole_on_the_console(start_agent: Any, containers: Any) -> None:
    agent = start_agent("run", "console://?format=json")
    c = containers.run("head -c 102400 /dev/zero | tr '\\0' y; echo; echo small; sleep 30")
    wait_until(lambda: len(lines_of(agent, c.name)) == 2, what="two lines")
    big, small = lines_of(agent, c.name)
    assert big["message"] == "y" * 102400
    assert small["message"] == "small"


def test_records_carry_the_enrichment_and_docker_nanosecond_timestamps(
    start_agent: Any, containers: Any
) -> None:
    agent = start_agent("run", "console://?format=json", "--hostname", "h1.example")
    c = containers.run("echo hi; sleep 30", labels={"app": "api", "com.example.team": "pay"})
    (record,) = wait_until(lambda: lines_of(agent, c.name), what="the line")
    c.reload()
    assert record["message"] == "hi"
    assert record["log"] == {"iostream": "stdout"}
    assert record["host"]["name"] == "h1.example"
    assert record["container"]["id"] == c.id
    # ECS names only, as Filebeat writes them: no image ID, dots in label keys as underscores
    assert record["container"]["image"] == {"name": "logship-test/busybox", "tag": "1.35"}
    assert record["container"]["labels"]["app"] == "api"
    assert record["container"]["labels"]["com_example_team"] == "pay"
    ts = record["@timestamp"]
    assert len(ts) == 30 and ts.endswith("Z") and ts[19] == "."  # nine digits, UTC


def test_a_tty_container_is_read_as_a_raw_stream(start_agent: Any, containers: Any) -> None:
    agent = start_agent("run", "console://?format=json")
    c = containers.run("echo one; echo two; printf 'no newline'; sleep 30", tty=True)
    wait_until(lambda: len(lines_of(agent, c.name)) >= 2, what="tty lines")
    assert [r["message"] for r in lines_of(agent, c.name)][:2] == ["one", "two"]
    c.kill()
    wait_until(lambda: len(lines_of(agent, c.name)) == 3, what="the last, unterminated line")
    assert lines_of(agent, c.name)[2]["message"] == "no newline"


def test_a_last_line_without_newline_is_kept_when_the_container_exits(
    start_agent: Any, containers: Any
) -> None:
    agent = start_agent("run", "console://?format=json")
    c = containers.run("echo first; printf 'last words'")
    wait_until(lambda: len(lines_of(agent, c.name)) == 2, what="both lines")
    assert [r["message"] for r in lines_of(agent, c.name)] == ["first", "last words"]


def test_short_lived_containers_have_every_line_shipped(start_agent: Any, containers: Any) -> None:
    agent = start_agent("run", "console://?format=json")
    names = [containers.run(f"for i in $(seq 1 50); do echo {n}-$i; done").name for n in range(10)]
    for name in names:
        wait_until(lambda name=name: len(lines_of(agent, name)) >= 50, what=f"{name}'s lines")
    for n, name in enumerate(names):
        assert [r["message"] for r in lines_of(agent, name)] == [f"{n}-{i}" for i in range(1, 51)]


def test_a_flood_that_exits_during_replay_loses_nothing_and_repeats_nothing(
    start_agent: Any, containers: Any
) -> None:
    """Docker 20.10 ends a follow stream early when the container exits while the log is
    still being replayed; logship asks again from its last position."""
    agent = start_agent("run", "console://?format=json")
    total = 60_000
    c = containers.run(f"seq 1 {total}")
    wait_until(lambda: len(lines_of(agent, c.name)) >= total, timeout=120, what="every line")
    wait_until(lambda: c.reload() or c.status == "exited", what="the container to exit")
    counts = Counter(r["message"] for r in lines_of(agent, c.name))
    assert len(counts) == total
    assert [m for m, n in counts.items() if n > 1] == []


def test_a_container_restarted_by_docker_keeps_being_followed_with_no_line_twice(
    start_agent: Any, containers: Any
) -> None:
    agent = start_agent("run", "console://?format=json")
    c = containers.run(
        "echo run-$(cat /proc/uptime | cut -d. -f1)-$$; sleep 0.3; exit 1",
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 3},
    )
    wait_until(lambda: len(lines_of(agent, c.name)) >= 4, timeout=60, what="four runs")
    wait_until(lambda: c.reload() or c.status == "exited", timeout=30, what="the last exit")
    messages = [r["message"] for r in lines_of(agent, c.name)]
    assert len(messages) == 4, messages
    assert len(set(r["@timestamp"] for r in lines_of(agent, c.name))) == 4


def test_include_and_exclude_filters_choose_which_containers_are_streamed(
    start_agent: Any, containers: Any
) -> None:
    agent = start_agent(
        "run", "console://?format=json", "--exclude-name", "*-skip", "--exclude-label", "tier=db"
    )
    skipped_by_name = containers.run("echo a; sleep 30", name=f"{id(agent)}-skip")
    skipped_by_label = containers.run("echo b; sleep 30", labels={"tier": "db"})
    kept = containers.run("echo c; sleep 30", labels={"tier": "web"})
    wait_until(lambda: lines_of(agent, kept.name), what="the kept container's line")
    wait_until(
        lambda: (
            f"not following {skipped_by_name.name}" in agent.stderr
            and f"not following {skipped_by_label.name}" in agent.stderr
        ),
        what="both skips logged",
    )
    assert {r["container"]["name"] for r in agent.stdout_json()} == {kept.name}
