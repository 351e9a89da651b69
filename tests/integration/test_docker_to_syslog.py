"""Real containers on the real engine, through `logship run`, into a real rsyslogd over UDP."""

from __future__ import annotations

import re
from typing import Any

from tests.helpers.agent_process import AgentProcess
from tests.helpers.rsyslog import Rsyslog, assert_every_enrichment_field
from tests.helpers.waiting import wait_until


def messages_from(rsyslog: Rsyslog, name: str) -> list[dict[str, Any]]:
    return [m for m in rsyslog.messages() if name in m.get("raw", "")]


def test_stdout_and_stderr_lines_arrive_in_rsyslog_with_every_enrichment_field(
    rsyslog: Rsyslog, start_agent: Any, containers: Any
) -> None:
    agent: AgentProcess = start_agent(
        "run",
        f"syslog+udp://127.0.0.1:{rsyslog.udp_port}",
        "--hostname",
        "node-1.example.com",
        "--host-ip",
        "10.1.2.3",
    )
    c = containers.run(
        'echo "hello from stdout"; echo "oops on stderr" >&2; sleep 30',
        labels={"app": "web", "com.example.team": "pay]ments"},
    )
    got = wait_until(
        lambda: (m := messages_from(rsyslog, c.name)) and len(m) >= 2 and m,
        what="two messages in rsyslog",
    )
    by_msg = {m["msg"].strip(): m for m in got}
    out, err = by_msg["hello from stdout"], by_msg["oops on stderr"]
    assert_every_enrichment_field(out, err, c)
    assert agent.stop() == 0


def test_rfc3164_and_a_docker_tag_template_reach_rsyslog(
    rsyslog: Rsyslog, start_agent: Any, containers: Any
) -> None:
    start_agent(
        "run",
        f"syslog+udp://127.0.0.1:{rsyslog.udp_port}?format=rfc3164&tag={{{{.ID}}}}",
    )
    c = containers.run('echo "old school"; sleep 30')
    (m,) = wait_until(lambda: messages_from(rsyslog, "old school"), what="the rfc3164 message")
    assert m["raw"].startswith("<30>")
    assert m["app"] == c.id[:12]
    assert m["msg"].strip() == "old school"


def test_dockers_facility_and_rfc5424micro_reach_rsyslog_as_dockers_driver_sends_them(
    rsyslog_tcp: Rsyslog, start_agent: Any, containers: Any
) -> None:
    rsyslog = rsyslog_tcp
    options = "format=rfc5424micro&facility=local0&tag={{.ID}}"  # --log-opt syslog-facility=...
    agent: AgentProcess = start_agent(
        "run",
        f"syslog+udp://127.0.0.1:{rsyslog.udp_port}?{options}",
        f"syslog+tcp://127.0.0.1:{rsyslog.tcp_port}?{options}",
        "--hostname",
        "vm",
    )
    c = containers.run('echo "hello micro"; echo "micro err" >&2; sleep 30')
    got = wait_until(
        lambda: (m := messages_from(rsyslog, "micro")) and len(m) >= 4 and m,
        what="two messages over udp and two over tcp",
    )
    assert len(got) == 4
    pid = str(agent.process.pid) if agent.process is not None else ""
    for m in got:
        stdout = m["msg"].strip() == "hello micro"
        # local0 (16): <134> for stdout, <131> for stderr, as Docker's syslog-facility=local0
        assert m["facility"] == "16" and m["severity"] == ("6" if stdout else "3"), m
        assert re.fullmatch(
            rf"<13[14]>1 \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{6}}Z vm {c.id[:12]} {pid} "
            rf"{c.id[:12]} - (hello micro|micro err)\n?",
            m["raw"],
        ), m["raw"]
        assert (m["procid"], m["sd"]) == (pid, "-")


def test_a_container_started_after_the_agent_is_picked_up_from_its_first_line(
    rsyslog: Rsyslog, start_agent: Any, containers: Any
) -> None:
    start_agent("run", f"syslog+udp://127.0.0.1:{rsyslog.udp_port}")
    c = containers.run("for i in 1 2 3 4 5; do echo line-$i; done; sleep 30")
    wait_until(lambda: len(messages_from(rsyslog, c.name)) == 5, what="5 lines")
    assert [m["msg"].strip() for m in messages_from(rsyslog, c.name)] == [
        f"line-{i}" for i in range(1, 6)
    ]


def test_a_100k_line_is_cut_to_the_datagram_limit_with_a_marker(
    rsyslog: Rsyslog, start_agent: Any, containers: Any
) -> None:
    start_agent("run", f"syslog+udp://127.0.0.1:{rsyslog.udp_port}?max_message_bytes=8192")
    c = containers.run("head -c 102400 /dev/zero | tr '\\0' x; echo; echo after; sleep 30")
    wait_until(lambda: len(messages_from(rsyslog, c.name)) == 2, what="both lines")
    big, after = messages_from(rsyslog, c.name)
    assert len(big["raw"].encode()) == 8192
    assert big["msg"].startswith("xxxx")
    assert big["msg"].endswith(" bytes]") and "[truncated " in big["msg"]
    assert after["msg"].strip() == "after"


def test_an_ignored_container_is_never_shipped(
    rsyslog: Rsyslog, start_agent: Any, containers: Any
) -> None:
    agent = start_agent("run", f"syslog+udp://127.0.0.1:{rsyslog.udp_port}")
    containers.run("echo by-label; sleep 30", labels={"logship.ignore": "true"})
    containers.run("echo by-env; sleep 30", environment={"LOGSHIP": "ignore"})
    containers.run("echo by-logspout-env; sleep 30", environment={"LOGSPOUT": "ignore"})
    shipped = containers.run("echo shipped; sleep 30")
    wait_until(lambda: messages_from(rsyslog, shipped.name), what="the shipped line")
    wait_until(
        lambda: (
            len(
                re.findall(r"not following lt-.*(LOGSHIP=|LOGSPOUT=|logship.ignore=)", agent.stderr)
            )
            == 3
        ),
        what="three skip notices",
    )
    assert [m["msg"].strip() for m in rsyslog.messages()] == ["shipped"]


def test_with_honor_ignore_false_containers_that_opt_out_are_shipped_all_the_same(
    rsyslog: Rsyslog, start_agent: Any, containers: Any
) -> None:
    agent = start_agent(
        "run", f"syslog+udp://127.0.0.1:{rsyslog.udp_port}", env={"LOGSHIP_HONOR_IGNORE": "false"}
    )
    by_label = containers.run("echo by-label; sleep 30", labels={"logship.ignore": "true"})
    by_env = containers.run("echo by-env; sleep 30", environment={"LOGSHIP": "ignore"})
    for c, line in ((by_label, "by-label"), (by_env, "by-env")):
        wait_until(lambda c=c: messages_from(rsyslog, c.name), what=f"the line of {c.name}")
        assert [m["msg"].strip() for m in messages_from(rsyslog, c.name)] == [line]
    assert "opts out" not in agent.stderr
