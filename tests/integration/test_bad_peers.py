"""Peers that send nonsense: a destination answering garbage, an engine whose events stream or
log stream carries garbage. Each is handled, counted and logged once, and the data goes on.

The destinations are the strict test receivers (no Elasticsearch or Fluentd can run here) told
to answer nonsense; the engine is a small HTTP server on a unix socket speaking the Engine API's
framing, because the real engine never sends garbage on purpose.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from logship.pipeline.buffer import DropOldestBuffer
from logship.pipeline.retry import Backoff
from logship.pipeline.runner import SinkRunner
from logship.protocol.docker import LogDecoder
from logship.record import Record
from logship.settings import parse_destination_uri
from logship.sinks.elasticsearch.config import ElasticsearchConfig
from logship.sinks.elasticsearch.sink import ElasticsearchSink
from logship.sinks.forward.config import ForwardConfig
from logship.sinks.forward.sink import ForwardSink
from logship.sources.docker.client import DockerClient, Endpoint
from logship.sources.docker.logstream import read_logs
from tests.helpers.receivers.elasticsearch import ElasticsearchStandIn
from tests.helpers.receivers.forward import ForwardReceiver
from tests.helpers.records import make_meta

WEB = make_meta()


def lines(count: int) -> list[Record]:
    return [
        Record(f"line-{i}", "stdout", f"2026-11-27T05:24:33.{i:09d}Z", WEB) for i in range(count)
    ]


async def until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after 20 s waiting for {what}")
        await asyncio.sleep(0.05)


async def ship(sink: Any, records: list[Record], arrived: Callable[[], int]) -> SinkRunner:
    """Run the sink behind its buffer, as the agent does, until every record has arrived."""
    buffer = DropOldestBuffer(max_records=10_000, max_bytes=1 << 24, name=sink.name)
    runner = SinkRunner(sink, buffer, backoff=Backoff(initial_secs=0.05, maximum_secs=0.2))
    task = asyncio.create_task(runner.run())
    try:
        buffer.put(records)
        await until(lambda: arrived() >= len(records), f"{len(records)} records to arrive")
    finally:
        buffer.close()
        await asyncio.wait_for(task, 10)
    return runner


def down_and_back(caplog: pytest.LogCaptureFixture) -> tuple[int, int]:
    messages = [r.getMessage() for r in caplog.records]
    return (
        sum("destination is down" in m for m in messages),
        sum("destination is back" in m for m in messages),
    )


# -- destinations answering nonsense --------------------------------------------------------


async def test_an_elasticsearch_answering_nonsense_is_retried_counted_and_logged_once(
    es: ElasticsearchStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    es.answer_nonsense(3)
    sink = ElasticsearchSink(ElasticsearchConfig(host="127.0.0.1", port=es.port))
    runner = await ship(sink, lines(50), lambda: len(es.documents()))
    assert sorted(d["message"] for d in es.documents()) == sorted(f"line-{i}" for i in range(50))
    assert sink.unreadable_answers == 3
    assert (runner.sent, runner.rejected) == (50, 0)
    assert down_and_back(caplog) == (1, 1)
    assert "not JSON" in caplog.text and "It works!" in caplog.text


async def test_a_forward_server_answering_nonsense_gets_the_records_again_on_a_new_connection(
    start_forward: Callable[..., ForwardReceiver],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = start_forward()
    server.answer_nonsense(2)
    config = ForwardConfig(**parse_destination_uri(f"forward://127.0.0.1:{server.port}"))
    sink = ForwardSink(config.model_copy(update={"ack": True}))
    runner = await ship(sink, lines(30), lambda: len(server.events()))
    received = [e.record["log"] for e in server.events()]
    assert sorted(received) == sorted(f"line-{i}" for i in range(30))  # none twice
    assert sink.bad_answers == 2
    assert server.connections >= 3
    assert runner.sent == 30
    assert down_and_back(caplog) == (1, 1)
    assert "invalid msgpack" in caplog.text


# -- an engine sending garbage ----------------------------------------------------------------


def frame(stream: int, ts: str, body: bytes) -> bytes:
    payload = ts.encode() + b" " + body
    return struct.pack(">BxxxL", stream, len(payload)) + payload


class FakeEngine:
    """``/version``, ``/events`` and one container's ``/logs``, with what a test gives."""

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        self.events: list[bytes] = []
        self.logs: list[bytes] = []
        self.runner: web.AppRunner | None = None

    async def __aenter__(self) -> FakeEngine:
        app = web.Application()
        app.router.add_get("/version", self._version)
        app.router.add_get("/v1.41/events", self._stream(lambda: self.events))
        app.router.add_get("/v1.41/containers/{id}/logs", self._stream(lambda: self.logs))
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.UnixSite(self.runner, str(self.socket_path)).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"ApiVersion": "1.41", "Version": "20.10.24"})

    def _stream(self, pieces: Callable[[], list[bytes]]) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            for piece in pieces():
                await response.write(piece)
                await asyncio.sleep(0.001)
            await response.write_eof()
            return response

        return handler


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[tuple[FakeEngine, DockerClient]]:
    async with FakeEngine(tmp_path / "docker.sock") as fake:
        client = DockerClient(Endpoint(unix_path=str(fake.socket_path)))
        await client.negotiate()
        yield fake, client
        await client.close()


def event(action: str, container_id: str) -> bytes:
    doc = {"Type": "container", "Action": action, "Actor": {"ID": container_id}, "timeNano": 1}
    return json.dumps(doc).encode() + b"\n"


async def test_garbage_in_the_events_stream_is_skipped_counted_and_logged_once(
    engine: tuple[FakeEngine, DockerClient], caplog: pytest.LogCaptureFixture
) -> None:
    fake, client = engine
    fake.events = [
        b"this is not json\n",
        event("start", "a" * 64),  # container IDs are checked: 64 lowercase hex digits
        b'{"no": "fields"}\n[1, 2, 3]\n{"Action": "start", "Actor": "not a map"}\n',
        b"\x00\xff" * 600_000,  # a megabyte without a newline
        b"\n" + event("die", "b" * 64)[:10],
        event("die", "b" * 64)[10:],
    ]
    seen = [(e["Action"], e["Actor"]["ID"]) async for e in client.events()]
    assert seen == [("start", "a" * 64), ("die", "b" * 64)]
    # four garbage lines, and the megabyte: at least once (more if it came in pieces that
    # crossed the 1 MiB line at different places)
    assert client.events_errors >= 5
    warnings = [r for r in caplog.records if "events-stream" in r.getMessage()]
    assert len(warnings) == 1


async def test_garbage_in_a_log_stream_is_skipped_and_the_lines_after_it_arrive(
    engine: tuple[FakeEngine, DockerClient], caplog: pytest.LogCaptureFixture
) -> None:
    fake, client = engine
    t1, t2, t3 = (f"2026-11-27T05:24:3{i}.000000000Z" for i in (1, 2, 3))
    error = b"Error grabbing logs: invalid character 'x' looking for beginning of value\n"
    fake.logs = [
        frame(1, t1, b"before\n"),
        b"\x07not a frame at all" * 100,
        frame(2, t2, b"after garbage\n"),
        struct.pack(">BxxxL", 3, len(error)) + error,
        frame(1, t3, b"after an engine error\n"),
        frame(1, t3, b"cut off by the end")[:15],
    ]
    decoder = LogDecoder(WEB)
    got: list[Record] = []
    await read_logs(client, WEB.id, decoder, got.extend, follow=False)
    got += decoder.flush()
    assert [r.message for r in got] == ["before", "after garbage", "after an engine error"]
    assert (decoder.malformed_frames, decoder.skipped_bytes) == (1, 1900)
    assert (decoder.engine_errors, decoder.truncated_frames) == (1, 1)
    assert len([r for r in caplog.records if r.name == "logship.docker"]) == 3  # one per kind
