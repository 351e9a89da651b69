"""The operator's window of a running agent (``logship run --http``): /metrics counts what
containers really wrote and what was dropped, /containers shows them, /healthz and /readyz
say when something is wrong, and a port that is taken or badly written stops logship."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.helpers.agent_process import lines_of, run_cli
from tests.helpers.http import Scrape, base_url, get_json, scrape
from tests.helpers.ports import free_port
from tests.helpers.waiting import until


async def test_metrics_count_what_containers_wrote_sent_and_dropped(
    start_agent: Any, containers: Any
) -> None:
    dead = free_port(socket.SOCK_STREAM)  # nothing listens there: that destination stays down
    dead_name = f"syslog+tcp://127.0.0.1:{dead}"
    agent = start_agent(
        "run",
        "console://?format=json",
        f"{dead_name}?buffer_max_records=5&filter.sources=stdout&reconnect_max_secs=1",
        "--http",
        "0",
        env={"LOGSHIP_MAX_LINE_BYTES": "1024", "LOGSHIP_METRICS__PER_CONTAINER": "true"},
    )
    base = base_url(agent)
    c = containers.run(
        "for i in $(seq 1 200); do echo out-$i; done; for i in $(seq 1 50); do echo err-$i >&2;"
        " done; head -c 20000 /dev/zero | tr '\\0' x; echo; sleep 120"
    )
    async with aiohttp.ClientSession() as http:

        async def all_sent() -> Scrape | None:
            m = await scrape(http, base)
            console_sent = m.value("logship_records_sent_total", destination="console (json)")
            return m if console_sent == 251 else None

        m = await until(all_sent, what="the console to have sent every line")
        # what was read, in total and for the container, per stream
        assert m.value("logship_records_read_total", stream="stdout") == 201
        assert m.value("logship_records_read_total", stream="stderr") == 50
        mine = {"container_name": c.name, "container_id": c.id[:12]}
        assert m.value("logship_container_records_read_total", stream="stdout", **mine) == 201
        assert m.value("logship_container_records_read_total", stream="stderr", **mine) == 50
        assert m.value("logship_lines_truncated_total") == 1
        for problem in ("bad_timestamp", "malformed_frame", "engine_error", "truncated_frame"):
            assert m.value("logship_log_stream_problems_total", problem=problem) == 0
        assert m.value("logship_log_stream_skipped_bytes_total") == 0
        assert m.value("logship_engine_events_skipped_total") == 0
        assert m.value("logship_containers_followed") == 1
        assert m.value("logship_engine_up") == 1
        # the console took everything, the dead destination kept 5 and dropped the rest of
        # what its filter wanted
        assert len(lines_of(agent, c.name)) == 251
        for reason in ("buffer_full", "rejected", "filtered"):
            assert (
                m.value(
                    "logship_records_dropped_total", destination="console (json)", reason=reason
                )
                == 0
            )
        assert m.value("logship_records_sent_total", destination=dead_name) == 0
        dropped = {
            reason: m.value("logship_records_dropped_total", destination=dead_name, reason=reason)
            for reason in ("buffer_full", "too_large", "rejected", "filtered")
        }
        assert dropped == {"buffer_full": 201 - 5, "too_large": 0, "rejected": 0, "filtered": 50}
        assert m.value("logship_buffer_records", destination=dead_name) == 5
        assert m.value("logship_buffer_max_records", destination=dead_name) == 5
        assert m.value("logship_buffer_bytes", destination=dead_name) > 0
        assert m.value("logship_destination_up", destination=dead_name) == 0
        assert m.value("logship_destination_up", destination="console (json)") == 1
        # one observation per batch the console sent, and the agent's own CPU and memory
        batches = m.value("logship_send_duration_seconds_count", destination="console (json)")
        assert batches is not None and 1 <= batches <= 251
        assert (
            m.value("logship_send_duration_seconds_bucket", destination="console (json)", le="+Inf")
            == batches
        )
        assert m.value("logship_send_duration_seconds_count", destination=dead_name) == 0
        assert m.value("process_cpu_seconds_total") > 0
        assert m.value("process_resident_memory_bytes") > 10 * 1024 * 1024

        # /containers: the enrichment, what was read, where the log is read from
        status, listing = await get_json(http, f"{base}/containers")
        assert status == 200
        (entry,) = [e for e in listing if e["id"] == c.id]
        assert entry["name"] == c.name
        assert entry["image"]["name"] == "logship-test/busybox"
        assert entry["image"]["tag"] == "1.35"
        assert entry["labels"]["logship.test"] == c.labels["logship.test"]
        assert entry["kubernetes"] is None
        assert entry["state"] == "following"
        assert entry["lines_read"] == {"stdout": 201, "stderr": 50}
        assert entry["lines_truncated"] == 1
        position = entry["position"]  # the Engine API's (a time), or a json-file's (an offset)
        assert (
            position["timestamp"].endswith("Z") if "timestamp" in position else position["offset"]
        )
        assert entry["destinations"] == [
            {"name": "console (json)", "buffered": 0, "dropped": 0},
            {"name": dead_name, "buffered": 5, "dropped": 201 - 5},
        ]

        # the dead destination has been down longer than its retry window: not ready
        async def not_ready() -> Any:
            status, body = await get_json(http, f"{base}/readyz")
            return body if status == 503 else None

        body = await until(not_ready, what="/readyz to answer 503")
        assert body["status"] == "not ready"
        assert (await scrape(http, base)).value("logship_ready") == 0  # what alerts read
        assert body["engine"]["connected"] is True
        (reason,) = body["reasons"]
        assert reason.startswith(f"destination {dead_name}: down for ")
        assert f"cannot connect to 127.0.0.1:{dead}" in reason
        states = {d["name"]: d for d in body["destinations"]}
        assert states["console (json)"]["up"] is True
        assert states[dead_name]["up"] is False

        # the container goes away: its series go, the totals stay
        c.remove(force=True)

        async def series_gone() -> Scrape | None:
            m = await scrape(http, base)
            return None if m.all("logship_container_records_read_total", **mine) else m

        m = await until(series_gone, what="the removed container's series to go")
        assert m.value("logship_records_read_total", stream="stdout") == 201
        assert m.value("logship_records_read_total", stream="stderr") == 50
        assert m.value("logship_lines_truncated_total") == 1
        assert m.value("logship_containers_followed") == 0
        status, listing = await get_json(http, f"{base}/containers")
        assert [e for e in listing if e["id"] == c.id] == []

        # SIGTERM: while the dead destination's records wait out the grace period, the window
        # stays open and says why logship is not ready; then it closes with the agent
        agent.process.send_signal(signal.SIGTERM)

        async def draining() -> Any:
            status, body = await get_json(http, f"{base}/readyz")
            return status == 503 and "shutting down: sending what is buffered" in body["reasons"]

        await until(draining, what="/readyz to say logship is shutting down")
        assert await asyncio.to_thread(agent.process.wait, 30) == 0
        with pytest.raises(aiohttp.ClientConnectionError):
            await get_json(http, f"{base}/healthz")


async def test_containers_shows_the_checkpoint_once_everything_was_shipped(
    start_agent: Any, containers: Any, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    agent = start_agent("run", "console://?format=json", "--state-dir", str(state), "--http", "0")
    base = base_url(agent)
    c = containers.run("for i in 1 2 3; do echo line-$i; done; sleep 60")
    async with aiohttp.ClientSession() as http:

        async def checkpointed() -> Any:
            _, listing = await get_json(http, f"{base}/containers")
            found = [e for e in listing if e["id"] == c.id and e["lines_read"]["stdout"] == 3]
            # everything read was sent: the checkpoint saved reaches where the log was read to
            return (
                found[0] if found and found[0].get("checkpoint") == found[0]["position"] else None
            )

        entry = await until(checkpointed, what="the checkpoint to reach the position read")
    checkpoint = entry["checkpoint"]
    if "timestamp" in checkpoint:  # read through the Engine API: the last line's time
        assert checkpoint["timestamp"] == lines_of(agent, c.name)[-1]["@timestamp"]
    else:  # read from its json-file log: the end of the file
        size = await asyncio.to_thread(lambda: Path(checkpoint["path"]).stat().st_size)
        assert checkpoint["offset"] == size
    assert c.id in (state / "checkpoints.json").read_text()


async def test_ready_only_once_the_engine_answers(start_agent: Any, tmp_path: Path) -> None:
    nowhere = tmp_path / "no-engine.sock"
    agent = start_agent("run", "--http", "0", env={"DOCKER_HOST": f"unix://{nowhere}"}, ready=None)
    base = base_url(agent)
    async with aiohttp.ClientSession() as http:
        status, body = await get_json(http, f"{base}/readyz")
        assert status == 503
        assert body["engine"]["connected"] is False
        assert body["engine"]["endpoint"] == f"unix://{nowhere}"
        (reason,) = body["reasons"]
        assert reason.startswith("Docker engine")
        assert str(nowhere) in reason
        status, health = await get_json(http, f"{base}/healthz")
        assert status == 200 and health["status"] == "ok"

        async def connect_failures() -> float | None:
            m = await scrape(http, base)
            return m.value("logship_engine_errors_total", operation="connect")

        await until(connect_failures, what="a failed connection to be counted")
        assert (await scrape(http, base)).value("logship_engine_up") == 0


async def test_healthz_says_when_the_event_loop_was_blocked(start_agent: Any) -> None:
    agent = start_agent("run", "--http", "0")
    base = base_url(agent)
    async with aiohttp.ClientSession() as http:
        status, body = await get_json(http, f"{base}/healthz")
        assert status == 200, body
        assert body["status"] == "ok"
        # a loop that cannot run for 6 s (past the 5 s limit) as if something blocked it
        agent.process.send_signal(signal.SIGSTOP)
        try:
            await asyncio.sleep(6)
        finally:
            agent.process.send_signal(signal.SIGCONT)
        status, body = await get_json(http, f"{base}/healthz")
        assert status == 503, body
        assert body["status"] == "unhealthy"
        assert body["worst_loop_lag_secs"] >= 5
        assert body["reason"].startswith("the event loop was blocked for ")


def test_a_port_in_use_stops_logship_with_a_message_naming_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(["run", "--http", f"127.0.0.1:{port}", "--include-label", "x=none"])
    assert result.returncode == 1, result.stderr
    assert f"cannot serve HTTP on 127.0.0.1:{port} (--http / LOGSHIP_HTTP): " in result.stderr
    assert "in use" in result.stderr


def test_a_bad_http_address_is_a_configuration_error() -> None:
    result = run_cli(["run", "--http", "127.0.0.1:99999"])
    assert result.returncode == 2
    assert "http.listen: '127.0.0.1:99999': expected [ADDR:]PORT with PORT 0-65535" in result.stderr
    result = run_cli(["run"], env={"LOGSHIP_HTTP": "::1:9880"})
    assert result.returncode == 2
    assert "write an IPv6 address in brackets, e.g. [::1]:9880" in result.stderr


def test_tail_never_serves_http_even_when_the_environment_asks() -> None:
    with socket.socket() as taken:  # as the running agent's port would be
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            ["tail", "--no-follow", "no-such-container-*"],
            env={"LOGSHIP_HTTP": f"127.0.0.1:{port}"},
        )
    assert result.returncode == 0, result.stderr
    assert "cannot serve HTTP" not in result.stderr
