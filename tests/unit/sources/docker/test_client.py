"""The Engine API client's answers to what is not an engine: a DOCKER_HOST that cannot be one,
an HTTP server that answers something other than Docker's JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from logship.errors import ConfigError, DockerUnavailable, RemoteProtocolError
from logship.sources.docker.client import DockerClient, Endpoint
from tests.helpers.local_server import local_server


@pytest.mark.parametrize(
    ("docker_host", "problem"),
    [
        ("tcp://127.0.0.1:99999", "Port out of range"),
        ("tcp://node:abc", "'abc'"),
        ("tcp://[::1", "Invalid IPv6 URL"),
    ],
)
def test_a_docker_host_that_is_no_address_is_a_config_error_quoting_it(
    docker_host: str, problem: str
) -> None:
    with pytest.raises(ConfigError, match="expected tcp://HOST:PORT") as info:
        Endpoint.parse(docker_host)
    assert repr(docker_host) in str(info.value)
    assert problem in str(info.value)


async def test_an_http_server_that_is_no_engine_is_unavailable_not_a_crash() -> None:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<html>welcome</html>")

    app = web.Application()
    app.router.add_get("/version", page)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    client = DockerClient(Endpoint.parse(f"tcp://127.0.0.1:{port}"))
    try:
        with pytest.raises(DockerUnavailable, match="not a Docker engine") as info:
            await client.negotiate()
        assert f"tcp://127.0.0.1:{port}" in str(info.value)
        assert "<html>welcome</html>" in str(info.value)
    finally:
        await client.close()
        await runner.cleanup()


def test_an_ipv6_engine_address_keeps_its_brackets_in_urls_and_messages() -> None:
    client = DockerClient(Endpoint.parse("tcp://[fd00::5]:2376"))
    assert str(client.endpoint) == "tcp://[fd00::5]:2376"
    assert client._base == "http://[fd00::5]:2376"  # not http://fd00::5:2376, no URL at all
    assert client.endpoint.authority == "[fd00::5]:2376"  # the log streams' Host header
    assert Endpoint.parse("tcp://node:2375").authority == "node:2375"


# -- what an engine (or what poses as one) answers ---------------------------------------------


async def _engine(routes: dict[str, Any]) -> tuple[web.AppRunner, DockerClient]:
    runner, base = await local_server(routes)
    return runner, DockerClient(Endpoint.parse(base.replace("http://", "tcp://")))


GOOD_ID = "ab" * 32


@pytest.mark.parametrize("status", [301, 302, 307])
async def test_an_engine_redirect_is_an_error_naming_it_and_is_not_followed(status: int) -> None:
    followed = []

    async def moved(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": "/v1.44/elsewhere"})

    async def elsewhere(request: web.Request) -> web.Response:
        followed.append(request.path)
        return web.json_response({"ApiVersion": "1.44"})

    runner, client = await _engine(
        {"/version": moved, "/v1.24/events": moved, "/v1.44/elsewhere": elsewhere}
    )
    try:
        with pytest.raises(DockerUnavailable) as info:
            await client.negotiate()
        assert f"HTTP {status}" in str(info.value) and "/v1.44/elsewhere" in str(info.value)
        with pytest.raises(DockerUnavailable, match=f"/events with HTTP {status}"):
            async for _ in client.events():
                pass
    finally:
        await client.close()
        await runner.cleanup()
    assert followed == []


async def test_an_engine_answer_longer_than_its_limit_is_an_error_not_read_whole() -> None:
    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        try:
            for _ in range(2048):
                await response.write(b" " * 65536)  # 128 MiB of valid JSON whitespace
        except (ConnectionError, RuntimeError):
            pass
        return response

    runner, client = await _engine({"/version": huge, "/v1.24/containers/json": huge})
    try:
        with pytest.raises(DockerUnavailable, match="longer than the 1048576 bytes"):
            await client.negotiate()
        with pytest.raises(DockerUnavailable, match=r"longer than the 67108864 bytes"):
            await client.list_containers()
    finally:
        await client.close()
        await runner.cleanup()


async def test_containers_whose_id_is_not_64_hex_digits_are_skipped_and_counted() -> None:
    hostile = 'x"}}\n{"index":{}}'

    async def listed(request: web.Request) -> web.Response:
        return web.json_response(
            [{"Id": GOOD_ID}, {"Id": hostile}, {"Id": "AB" * 32}, {"Id": 5}, "junk"]
        )

    async def inspected(request: web.Request) -> web.Response:
        return web.json_response({"Id": hostile if "ab" in request.path else GOOD_ID})

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for container_id in (hostile, "../../version", GOOD_ID):
            event = {"Type": "container", "Action": "start", "Actor": {"ID": container_id}}
            await response.write(json.dumps(event).encode() + b"\n")
        return response

    runner, client = await _engine(
        {
            "/v1.24/containers/json": listed,
            "/v1.24/containers/{id}/json": inspected,
            "/v1.24/events": events,
        }
    )
    try:
        assert [c["Id"] for c in await client.list_containers()] == [GOOD_ID]
        assert client.invalid_ids == 4
        with pytest.raises(RemoteProtocolError, match="expected the same 64 hex digits"):
            await client.inspect(GOOD_ID)  # answered for another ID
        assert client.invalid_ids == 5
        seen = [event["Actor"]["ID"] async for event in client.events()]
        assert seen == [GOOD_ID]
        assert client.events_errors == 2
    finally:
        await client.close()
        await runner.cleanup()
