"""``/logs`` of a running agent, read by a real HTTP client while containers log: text lines or
NDJSON, destination filters, and a reader too slow for the logs that loses its own records
without slowing the agent."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import uuid
from typing import Any

import aiohttp

from tests.helpers.agent_process import lines_of
from tests.helpers.http import base_url, scrape
from tests.helpers.waiting import until, wait_until

TEXT_LINE = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) testhost (?P<name>\S+) "
    r"\(logship-test/busybox:1\.35\) (?P<stream>stdout|stderr): (?P<message>.*)$"
)


async def read_lines(resp: aiohttp.ClientResponse, count: int) -> list[str]:
    lines = []
    while len(lines) < count:
        line = await asyncio.wait_for(resp.content.readline(), 30)
        assert line, f"the stream ended after {lines}"
        lines.append(line.decode().rstrip("\n"))
    return lines


async def test_logs_streams_text_and_ndjson_with_destination_filters(
    start_agent: Any, containers: Any
) -> None:
    agent = start_agent("run", "console://?format=json", "--hostname", "testhost", "--http", "0")
    base = base_url(agent)
    prefix = f"logs-{uuid.uuid4().hex[:6]}"
    async with aiohttp.ClientSession() as http:
        text = await http.get(f"{base}/logs", params={"filter.name": f"{prefix}-a*"})
        ndjson = await http.get(
            f"{base}/logs",
            params={"filter.sources": "stderr"},
            headers={"Accept": "application/x-ndjson"},
        )
        by_label = await http.get(f"{base}/logs?format=json&filter.labels=role:b")
        assert text.headers["Content-Type"] == "text/plain; charset=utf-8"
        for resp in (ndjson, by_label):
            assert resp.headers["Content-Type"] == "application/x-ndjson"
        assert (await scrape(http, base)).value("logship_http_logs_clients") == 3
        for role in ("a", "b"):
            containers.run(
                f"for i in 1 2 3; do echo {role}-out-$i; echo {role}-err-$i >&2; done; sleep 60",
                name=f"{prefix}-{role}",
                labels={"role": role},
            )

        # text: the console's text format, only container a, both streams
        matches = [TEXT_LINE.match(line) for line in await read_lines(text, 6)]
        assert all(matches), matches
        assert {m["name"] for m in matches if m} == {f"{prefix}-a"}
        assert sorted((m["stream"], m["message"]) for m in matches if m) == [
            ("stderr", f"a-err-{i}") for i in (1, 2, 3)
        ] + [("stdout", f"a-out-{i}") for i in (1, 2, 3)]

        # NDJSON: stderr of both, the very documents the console's JSON format writes
        documents = [json.loads(line) for line in await read_lines(ndjson, 6)]
        assert sorted(d["message"] for d in documents) == sorted(
            f"{role}-err-{i}" for role in "ab" for i in (1, 2, 3)
        )
        assert {d["log"]["iostream"] for d in documents} == {"stderr"}
        console = {
            r["message"]: r for role in "ab" for r in wait_until_lines(agent, f"{prefix}-{role}", 6)
        }
        assert all(d == console[d["message"]] for d in documents)

        # a label filter: only container b, and the enrichment is all there
        documents = [json.loads(line) for line in await read_lines(by_label, 6)]
        assert {d["container"]["name"] for d in documents} == {f"{prefix}-b"}
        assert documents[0]["container"]["labels"]["role"] == "b"
        assert documents[0]["host"]["name"] == "testhost"
        for resp in (text, ndjson, by_label):
            resp.close()

        async def readers_gone() -> bool:
            m = await scrape(http, base)
            return m.value("logship_http_logs_clients") == 0

        await until(readers_gone, what="the readers that hung up to be forgotten")


def wait_until_lines(agent: Any, name: str, count: int) -> list[dict[str, Any]]:
    def enough() -> list[dict[str, Any]] | None:
        lines = lines_of(agent, name)
        return lines if len(lines) >= count else None

    return wait_until(enough, what=f"{count} console lines of {name}")


async def test_a_bad_filter_is_answered_400_naming_it(start_agent: Any) -> None:
    agent = start_agent("run", "--http", "0")
    base = base_url(agent)
    async with aiohttp.ClientSession() as http:
        for query, expected in (
            ("filter.sources=stdin", "filter.sources"),
            ("filter.labels=novalue", "label filter 'novalue' must be key:value"),
            ("filter.nope=1", "unknown filter 'filter.nope'; expected filter.name, filter.id"),
            ("filter.sources=stdin", "(got 'stdin')"),
            ("format=xml", "format='xml': expected text or json"),
            ("name=web", "unknown parameter 'name'"),
        ):
            async with http.get(f"{base}/logs?{query}") as resp:
                assert resp.status == 400, query
                assert expected in (await resp.json())["error"], query


async def test_a_reader_slower_than_the_logs_loses_its_oldest_records_not_the_agent(
    start_agent: Any, containers: Any
) -> None:
    # slow, not stalled: it must not be taken for a reader that takes nothing at all
    agent = start_agent(
        "run",
        "console://?format=json",
        "--http",
        "0",
        env={"LOGSHIP_HTTP__LOG_READER_TIMEOUT_SECS": "600"},
    )
    base = base_url(agent)
    host, port = base.removeprefix("http://").rsplit(":", 1)
    lines = 100_000
    with socket.socket() as reader:  # asks for the stream, then reads nothing for a while
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        reader.connect((host, int(port)))
        reader.sendall(b"GET /logs HTTP/1.1\r\nHost: localhost\r\n\r\n")
        async with aiohttp.ClientSession() as http:

            async def subscribed() -> bool:
                return (await scrape(http, base)).value("logship_http_logs_clients") == 1

            await until(subscribed, what="the reader to be subscribed")
            padding = "x" * 120
            c = containers.run(f"seq 1 {lines} | sed 's/$/ {padding}/'; sleep 60")
            # the agent is not held back: every line reaches the console (only c logs here)
            await until(
                lambda: asyncio.to_thread(lambda: agent.stdout.count("\n") == lines),
                limit_secs=120,
                what="every line on the console",
            )
            assert lines_of(agent, c.name)[-1]["message"] == f"{lines} {padding}"
            m = await scrape(http, base)
            skipped = m.value("logship_http_logs_records_skipped_total")
            assert skipped is not None and skipped > 0
        # when the reader reads again, it is told what it missed
        reader.settimeout(30)
        seen = b""
        while b"-- logship: skipped " not in seen:
            chunk = reader.recv(1 << 20)
            assert chunk, "the stream ended before the notice"
            seen = seen[-200:] + chunk
        notice = re.search(rb"-- logship: skipped (\d+) records", seen)
        assert notice is not None and int(notice[1]) > 0
