"""Real containers print real stack traces (tests/data/multiline/); through `logship run` each
trace arrives as one record, with the lines around it as records of their own. A container's
``logship.*`` labels choose its joining, fields, tag and destinations."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.agent_process import AgentProcess
from tests.helpers.paths import ROOT
from tests.helpers.receivers.gelf import GelfReceiver, Received
from tests.helpers.waiting import wait_until

WAIT_SECS = 60  # the machine is shared with other test runs: generous, never asserted
DATA = ROOT / "tests" / "data" / "multiline"
EXPECTED = json.loads((DATA / "expected.json").read_text())
JAVA = (DATA / "java-uncaught.log").read_text()
PYTHON = (DATA / "python-logged.log").read_text()


def print_then_wait(
    containers: Any,
    text: str,
    stream: str = "stderr",
    then: str = "",
    labels: dict[str, str] | None = None,
) -> Any:
    """A container that prints ``text`` on ``stream``, then "done" on the other (and
    ``then``), then is quiet: nothing comes after the trace to say it ended."""
    other = ">&1" if stream == "stderr" else ">&2"
    redirect = ">&2" if stream == "stderr" else ""
    return containers.run(
        f'printf "%s" "$TRACE" {redirect}; echo "done" {other}; {then} sleep 60',
        environment={"TRACE": text},
        labels=labels,
    )


def texts(received: list[Received], stream: str) -> list[str]:
    return [
        m.message.get("full_message", m.message["short_message"])
        for m in received
        if m.message["_stream"] == stream
    ]


def arrived(receiver: GelfReceiver, name: str, count: int) -> list[Received]:
    def mine() -> list[Received]:
        return [r for r in receiver.received() if r.message.get("_container_name") == name]

    wait_until(lambda: len(mine()) >= count, timeout=WAIT_SECS, what=f"{count} from {name}")
    return mine()


def two_gelf(
    start_gelf: Any, start_agent: Any, first: str, second: str, env: dict[str, str] | None = None
) -> tuple[AgentProcess, GelfReceiver, GelfReceiver]:
    """An agent shipping to two GELF receivers over TCP, each with the URI options given."""
    a, b = start_gelf(), start_gelf()
    agent = start_agent(
        "run",
        f"gelf+tcp://127.0.0.1:{a.tcp_port}?{first}",
        f"gelf+tcp://127.0.0.1:{b.tcp_port}?{second}",
        env=env,
    )
    return agent, a, b


def test_a_java_trace_arrives_as_one_gelf_message_while_the_container_is_quiet(
    start_gelf: Any, start_agent: Any, containers: Any
) -> None:
    receiver = start_gelf()
    agent = start_agent("run", f"gelf+tcp://127.0.0.1:{receiver.tcp_port}?multiline=java")
    c = print_then_wait(containers, JAVA)
    got = {m.message["_stream"]: m.message for m in arrived(receiver, c.name, 2)}
    (trace,) = EXPECTED["java"]["java-uncaught.log"]
    assert got["stderr"]["full_message"] == trace
    assert got["stderr"]["short_message"] == trace.partition("\n")[0]
    assert got["stdout"]["short_message"] == "done"
    assert "full_message" not in got["stdout"]
    assert agent.stop() == 0
    assert len(receiver.received()) == 2
    assert receiver.rejections == []


def test_the_global_setting_joins_and_a_destination_may_turn_it_off(
    start_gelf: Any, start_agent: Any, containers: Any
) -> None:
    agent, joined, plain = two_gelf(
        start_gelf, start_agent, "", "multiline=off", env={"LOGSHIP_MULTILINE": "python"}
    )
    c = print_then_wait(containers, PYTHON, stream="stdout")
    expected = EXPECTED["python"]["python-logged.log"]
    lines = PYTHON.splitlines()
    got = arrived(joined, c.name, len(expected) + 1)
    as_read = arrived(plain, c.name, len(lines) + 1)
    assert (texts(got, "stdout"), texts(got, "stderr")) == (expected, ["done"])
    assert (texts(as_read, "stdout"), texts(as_read, "stderr")) == (lines, ["done"])
    assert agent.stop() == 0


def test_a_trace_still_open_when_the_agent_stops_is_shipped_before_it_exits(
    start_gelf: Any, start_agent: Any, containers: Any
) -> None:
    receiver = start_gelf()
    agent = start_agent(
        "run",
        f"gelf+tcp://127.0.0.1:{receiver.tcp_port}?multiline.preset=java"
        "&multiline.flush_timeout_secs=60",
    )
    c = print_then_wait(containers, JAVA, then="echo later;")
    arrived(receiver, c.name, 1)  # "done", given out by "later": the trace was read, is held
    assert agent.stop() == 0
    (trace,) = EXPECTED["java"]["java-uncaught.log"]
    assert texts(receiver.received(), "stderr") == [trace]
    assert texts(receiver.received(), "stdout") == ["done", "later"]


LABELS = {
    "logship.multiline": "java",
    "logship.field.team": "payments",
    "logship.tag": "billing-{{.Name}}",
    "logship.destinations": "chosen",
}


def test_a_containers_labels_join_its_trace_add_its_fields_and_tag_and_choose_its_destination(
    start_gelf: Any, start_agent: Any, containers: Any
) -> None:
    agent, chosen, other = two_gelf(start_gelf, start_agent, "name=chosen", "name=other")
    labelled = print_then_wait(containers, JAVA, labels=LABELS)
    plain = print_then_wait(containers, JAVA)
    got = {m.message["_stream"]: m.message for m in arrived(chosen, labelled.name, 2)}
    (trace,) = EXPECTED["java"]["java-uncaught.log"]
    assert got["stderr"]["full_message"] == trace  # joined: the setting is off, the label on
    assert got["stderr"]["_team"] == got["stdout"]["_team"] == "payments"
    assert got["stderr"]["_tag"] == f"billing-{labelled.name}"
    # the other container: not joined, its own tag, to both destinations
    lines = JAVA.splitlines()
    for receiver in (chosen, other):
        theirs = arrived(receiver, plain.name, len(lines) + 1)
        assert texts(theirs, "stderr") == lines
        assert {m.message["_tag"] for m in theirs} == {plain.id[:12]}
    assert agent.stop() == 0
    assert [m for m in other.received() if m.message["_container_name"] == labelled.name] == []


def test_an_operator_who_does_not_honour_opt_outs_gets_every_container_everywhere(
    start_gelf: Any, start_agent: Any, containers: Any
) -> None:
    agent, chosen, other = two_gelf(
        start_gelf, start_agent, "name=chosen", "name=other", env={"LOGSHIP_HONOR_IGNORE": "false"}
    )
    labelled = print_then_wait(containers, JAVA, labels=LABELS)
    for receiver in (chosen, other):
        got = arrived(receiver, labelled.name, 2)
        (trace,) = EXPECTED["java"]["java-uncaught.log"]
        assert texts(got, "stderr") == [trace]  # what only adds is still honoured
    assert agent.stop() == 0


@pytest.mark.parametrize("source", ["docker", "files"])
def test_a_trace_held_open_when_the_agent_is_killed_is_shipped_after_the_restart(
    start_agent: Any, containers: Any, tmp_path: Path, source: str
) -> None:
    state = tmp_path / "state"
    args = ("run", "console://?format=json", "--source", source, "--state-dir", str(state))
    env = {"LOGSHIP_CHECKPOINT_INTERVAL_SECS": "1"}
    first = start_agent(*args, env={**env, "LOGSHIP_MULTILINE__FLUSH_TIMEOUT_SECS": "60"})
    c = print_then_wait(
        containers,
        JAVA,
        then="echo a; echo b; echo c;",
        labels={"logship.multiline": "java"},
    )

    def shipped(agent: AgentProcess) -> list[str]:
        return [r["message"] for r in agent.stdout_json() if r["container"]["name"] == c.name]

    # "done", "a" and "b" are shipped while the trace (written before them) is held open
    wait_until(lambda: "b" in shipped(first), timeout=WAIT_SECS, what="b")

    def saved() -> bool:
        path = state / "checkpoints.json"
        return path.exists() and c.id in json.loads(path.read_text())["containers"]

    wait_until(saved, timeout=WAIT_SECS, what="a checkpoint")
    time.sleep(2)  # a checkpoint or two more: none may pass the open trace
    assert first.process is not None
    first.process.kill()  # nothing flushed, nothing saved on the way out
    first.process.wait()
    (trace,) = EXPECTED["java"]["java-uncaught.log"]
    assert trace not in shipped(first)
    second = start_agent(*args, env=env)
    wait_until(lambda: trace in shipped(second), timeout=WAIT_SECS, what="the trace, read again")
    assert second.stop() == 0
    assert "c" in shipped(second)
