"""The HTTP transport of Elasticsearch and GELF HTTP against a local aiohttp server: redirects
are never followed (a 3xx is an error naming the status and where it pointed) and an answer's
body is read only up to its limit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from logship.errors import DeliveryError
from logship.record import Record
from logship.sinks.elasticsearch.config import ElasticsearchConfig
from logship.sinks.elasticsearch.sink import ElasticsearchSink
from logship.transport.http import HttpTransport
from tests.helpers.local_server import Handler, local_server
from tests.helpers.records import make_meta


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[dict[str, Handler]], Awaitable[str]]]:
    """``await serve({path: handler})``: a server on 127.0.0.1; its base URL."""
    runners: list[web.AppRunner] = []

    async def start(routes: dict[str, Handler]) -> str:
        runner, base = await local_server(routes)
        runners.append(runner)
        return base

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
async def test_a_redirect_is_an_error_naming_status_and_location_and_is_not_followed(
    serve: Any, status: int, method: str
) -> None:
    followed: list[str] = []

    async def elsewhere(request: web.Request) -> web.Response:
        followed.append(request.method)
        return web.Response(text="{}")

    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": f"{base}/elsewhere"})

    base = await serve({"/_bulk": redirect, "/elsewhere": elsewhere})
    transport = HttpTransport(base)
    try:
        with pytest.raises(DeliveryError) as info:
            await transport.request(method, "/_bulk", data=b"{}\n" if method == "POST" else None)
    finally:
        await transport.aclose()
    message = str(info.value)
    assert f"HTTP {status}" in message
    assert f"{base}/elsewhere" in message
    assert "does not follow redirects" in message
    assert info.value.retriable
    assert followed == []


@pytest.mark.parametrize("chunked", [False, True])
async def test_an_answer_longer_than_its_limit_is_an_error_and_is_not_read_whole(
    serve: Any, chunked: bool
) -> None:
    sent = 0

    async def huge(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse()
        if not chunked:
            response.content_length = 64 * 1024 * 1024
        await response.prepare(request)
        try:
            for _ in range(1024):
                await response.write(b"x" * 65536)
                sent += 65536
        except (ConnectionError, RuntimeError):
            pass  # the client hung up
        return response

    base = await serve({"/gelf": huge})
    transport = HttpTransport(base, max_answer_bytes=1024 * 1024)
    try:
        with pytest.raises(DeliveryError, match=r"longer than the 1048576 bytes|more than the"):
            await transport.request("POST", "/gelf", data=b"{}")
    finally:
        await transport.aclose()
    assert sent < 64 * 1024 * 1024  # the client stopped reading


async def test_an_answer_within_its_limit_is_read_whole(serve: Any) -> None:
    async def small(request: web.Request) -> web.Response:
        return web.Response(body=b"y" * 1000)

    base = await serve({"/": small})
    transport = HttpTransport(base, max_answer_bytes=1000)
    try:
        response = await transport.request("GET", "/")
        await transport.request("POST", "/", data=b"z" * 300)
    finally:
        await transport.aclose()
    assert (response.status, response.body) == (200, b"y" * 1000)
    assert transport.bytes_sent == 300  # request bodies answered: logship_bytes_sent_total


async def test_a_bulk_answer_far_longer_than_its_items_need_is_retried_not_read(
    serve: Any,
) -> None:
    async def bulk(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"errors":false,"items":[' + b" " * (32 * 1024 * 1024))
        return response

    base = await serve({"/_bulk": bulk})
    host, port = base.removeprefix("http://").split(":")
    sink = ElasticsearchSink(ElasticsearchConfig(host=host, port=int(port)))
    record = Record("hello", "stdout", "2026-11-27T05:24:33.000000001Z", make_meta())
    try:
        with pytest.raises(DeliveryError) as info:
            await sink.send([record])
    finally:
        await sink.close()
    assert "longer than the" in str(info.value)
    assert info.value.retriable and info.value.remaining == [record]
