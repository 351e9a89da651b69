"""Every metric a running agent serves is the one the docs list (name, type, labels), and
nothing the docs list is missing from what it serves; the alerts and the dashboard read only
what it serves; the series per container only when asked for; bytes read and sent are what
was really read and written."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import aiohttp

from tests.helpers.http import Scrape, base_url, get_json, scrape
from tests.helpers.monitoring import alert_rules, dashboard_queries, metric_names
from tests.helpers.paths import ROOT
from tests.helpers.ports import free_port
from tests.helpers.waiting import until

PAGE = ROOT / "docs" / "operators-window.md"

Catalogue = dict[str, tuple[str, frozenset[str]]]


def documented() -> Catalogue:
    """The metrics table of docs/operators-window.md: name -> (type, label names)."""
    text = PAGE.read_text()
    section = text[text.index("\n## Metrics\n") :]
    section = section[: section.index("\n### ")]
    out: Catalogue = {}
    for row in section.splitlines():
        if not row.startswith("| `"):
            continue
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        names, kind, labels = re.findall(r"`([^`]+)`", cells[0]), cells[1], cells[2]
        assert len(names) == 1, f"one metric a row: {row}"
        assert names[0] not in out, f"listed twice: {names[0]}"
        out[names[0]] = (kind, frozenset(re.findall(r"`([^`]+)`", labels)))
    return out


def exposed(m: Scrape) -> Catalogue:
    """What a scrape serves: each family under the name it has on the wire (a counter's with
    its ``_total``), its type and the labels its series carry (a histogram's ``le`` aside)."""
    out: Catalogue = {}
    for family in m.families:
        name = f"{family.name}_total" if family.type == "counter" else family.name
        labels = {label for sample in family.samples for label in sample.labels} - {"le"}
        out[name] = (family.type, frozenset(labels))
    return out


async def test_the_metrics_page_lists_exactly_what_a_running_agent_serves(
    start_agent: Any, containers: Any, tmp_path: Path
) -> None:
    dead = free_port(socket.SOCK_STREAM)  # nothing listens: its lines go to its disk spool
    spooled = f"syslog+tcp://127.0.0.1:{dead}"
    agent = start_agent(
        "run",
        "console://?format=json",
        f"{spooled}?spool.enabled=true&reconnect_max_secs=1",
        f"elasticsearch+http://127.0.0.1:{dead}",  # its hosts' series
        "--state-dir",
        str(tmp_path / "state"),
        "--http",
        "0",
        env={"LOGSHIP_METRICS__PER_CONTAINER": "true"},
    )
    base = base_url(agent)
    c = containers.run("for i in $(seq 1 20); do echo line-$i; done; echo oops >&2; sleep 60")
    mine = {"container_name": c.name, "container_id": c.id[:12]}
    async with aiohttp.ClientSession() as http:

        async def all_sent() -> Scrape | None:
            m = await scrape(http, base)
            if m.value("logship_records_sent_total", destination="console (json)") != 21:
                return None
            read = m.value("logship_container_records_read_total", stream="stdout", **mine)
            return m if read == 20 else None

        m = await until(all_sent, what="the console to have sent every line")
        served = exposed(m)
        page = documented()
        missing = {name: served[name] for name in served.keys() - page.keys()}
        stale = sorted(page.keys() - served.keys())
        assert not missing, f"served but not in {PAGE.name}: {missing}"
        assert not stale, f"in {PAGE.name} but not served: {stale}"
        assert {n: page[n] for n in served} == served

        # the alerts and the dashboard read only what is served: no panel stays empty, no
        # alert waits for a series that never comes
        names = {sample.name for sample in m.samples}
        queries = {rule["alert"]: rule["expr"] for rule in alert_rules()} | dashboard_queries()
        for where, query in queries.items():
            unknown = metric_names(query) - names
            assert not unknown, f"{where} reads what /metrics does not serve: {unknown}"

        # bytes: the console's are exactly what it printed; what was read holds every line
        printed = agent.stdout_path.read_bytes()
        assert m.value("logship_bytes_sent_total", destination="console (json)") == len(printed)
        written = sum(len(f"line-{i}\n") for i in range(1, 21)) + len("oops\n")
        read = m.value("logship_bytes_read_total")
        assert read is not None and read > written
        # the dead destination: failed connects counted, nothing sent, its lines on disk
        assert m.value("logship_destination_errors_total", destination=spooled, reason="connect")
        assert m.value("logship_bytes_sent_total", destination=spooled) == 0
        assert m.value("logship_spool_max_bytes", destination=spooled) == 256 * 1024 * 1024
        (info,) = m.all("logship_build_info")
        assert info.value == 1 and info.labels["python"].startswith("3.")


async def test_series_per_container_are_off_unless_asked_for(
    start_agent: Any, containers: Any
) -> None:
    agent = start_agent("run", "console://?format=json", "--http", "0")
    base = base_url(agent)
    c = containers.run("echo one; echo two; sleep 60")
    async with aiohttp.ClientSession() as http:

        async def sent() -> Scrape | None:
            m = await scrape(http, base)
            return (
                m
                if m.value("logship_records_sent_total", destination="console (json)") == 2
                else None
            )

        m = await until(sent, what="the console to have sent both lines")
        assert "logship_container_records_read" not in m.text
        assert m.value("logship_records_read_total", stream="stdout") == 2
        # /containers still counts per container
        status, listing = await get_json(http, f"{base}/containers")
        assert status == 200
        (entry,) = [e for e in listing if e["id"] == c.id]
        assert entry["lines_read"] == {"stdout": 2, "stderr": 0}
