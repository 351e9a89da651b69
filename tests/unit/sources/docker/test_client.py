"""The Engine API client's answers to what is not an engine: a DOCKER_HOST that cannot be one,
an HTTP server that answers something other than Docker's JSON."""

from __future__ import annotations

import pytest
from aiohttp import web

from logship.errors import ConfigError, DockerUnavailable
from logship.sources.docker.client import DockerClient, Endpoint


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
