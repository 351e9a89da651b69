"""A logspout user's habits on a running agent, with real containers on the real engine: the
routes and syslog variables of logspout's environment into a real rsyslogd, and /logs read as
logspout serves it."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aiohttp

from tests.helpers.http import base_url
from tests.helpers.rsyslog import Rsyslog
from tests.helpers.waiting import wait_until


def test_route_uris_and_syslog_variables_reach_rsyslog_as_logspout_configured_them(
    rsyslog_tcp: Rsyslog, start_agent: Any, containers: Any
) -> None:
    rsyslog = rsyslog_tcp
    agent = start_agent(
        "run",  # no destination of ours: logspout's routes alone
        env={
            "ROUTE_URIS": f"syslog+tcp://127.0.0.1:{rsyslog.tcp_port},"
            f"syslog://127.0.0.1:{rsyslog.udp_port}?filter.sources=stderr",
            "SYSLOG_TAG": "{{.ContainerName}}-app",
            "SYSLOG_STRUCTURED_DATA": 'abc123@41058 tag="logspout"',
            "SYSLOG_HOSTNAME": "edge-7",
        },
    )
    c = containers.run('echo "to tcp only"; echo "to both" >&2; sleep 30')
    got = wait_until(
        lambda: (
            (m := [m for m in rsyslog.messages() if m["app"] == f"{c.name}-app"])
            and len(m) >= 3
            and m
        ),
        what="one stdout line over tcp and the stderr line over tcp and udp",
    )
    assert sorted(m["msg"].strip() for m in got) == ["to both", "to both", "to tcp only"]
    assert {m["hostname"] for m in got} == {"edge-7"}
    assert all(m["sd"].endswith('][abc123@41058 tag="logspout"]') for m in got), got
    assert agent.stop() == 0


async def test_logs_answers_logspouts_paths_colors_off_and_json(
    start_agent: Any, containers: Any
) -> None:
    agent = start_agent("run", "console://", "--http", "0")
    base = base_url(agent)
    prefix = f"ls-{uuid.uuid4().hex[:6]}"
    async with aiohttp.ClientSession() as http:
        by_name = await http.get(f"{base}/logs/name:{prefix}-*", params={"colors": "off"})
        as_json = await http.get(
            f"{base}/logs/name:{prefix}-*",
            params={"sources": "stderr"},
            headers={"Accept": "application/json"},
        )
        assert (by_name.status, as_json.status) == (200, 200)
        assert as_json.headers["Content-Type"] == "application/json"

        c = containers.run("echo first; echo oops >&2; sleep 60", name=f"{prefix}-web")
        texts = [
            (await asyncio.wait_for(by_name.content.readline(), 30)).decode() for _ in range(2)
        ]
        assert sorted(texts) == sorted([f"{c.name:>16}|first\n", f"{c.name:>16}|oops\n"]), texts
        document = json.loads(await asyncio.wait_for(as_json.content.readline(), 30))
        assert (document["message"], document["container"]["name"]) == ("oops", c.name)

        # /logs/id:PREFIX: the messages alone; an ID no container followed has: 404
        async with http.get(f"{base}/logs/id:{c.id[:12]}") as by_id:
            assert by_id.status == 200
        async with http.get(f"{base}/logs/id:ffffffffffff") as missing:
            assert missing.status == 404
        by_name.close()
        as_json.close()
    assert agent.stop() == 0
