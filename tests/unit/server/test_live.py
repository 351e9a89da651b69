"""``/logs`` readers are bounded: so many at once, so many per client address, and one that
takes nothing for the timeout is disconnected; served on the loopback by aiohttp itself."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web

from logship.pipeline.router import Router
from logship.server.live import LiveHub, ReaderLimits
from tests.helpers.http import serving
from tests.helpers.records import make_meta, make_record
from tests.helpers.waiting import until


class Served:
    def __init__(self, hub: LiveHub, router: Router, base: str) -> None:
        self.hub = hub
        self.router = router
        self.base = base
        self.port = int(base.rsplit(":", 1)[1])


@pytest.fixture
async def served(request: pytest.FixtureRequest) -> AsyncIterator[Served]:
    limits: ReaderLimits = getattr(request, "param", ReaderLimits(3, 2, 0.5))
    router = Router([])
    hub = LiveHub(router, SimpleNamespace(containers=dict), limits)  # type: ignore[arg-type]
    app = web.Application()
    app.router.add_get("/logs", hub.handle)
    async with serving(app) as base:
        yield Served(hub, router, base)
        hub.close()


async def soon(check: Callable[[], bool], what: str) -> None:
    async def ask() -> bool:
        return check()

    await until(ask, what=what)


def session_from(address: str) -> aiohttp.ClientSession:
    """A client whose connections come from ``address`` (another loopback address is another
    client)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0)))


async def test_beyond_the_per_client_share_a_reader_is_told_429_and_another_client_gets_in(
    served: Served,
) -> None:
    async with session_from("127.0.0.1") as one, session_from("127.0.0.2") as other:
        first = [await one.get(f"{served.base}/logs") for _ in range(2)]
        assert [r.status for r in first] == [200, 200]
        async with one.get(f"{served.base}/logs") as third:
            assert third.status == 429
            assert third.headers["Retry-After"]
            assert "http.max_log_readers_per_client" in (await third.json())["error"]
        async with other.get(f"{served.base}/logs") as theirs:
            assert theirs.status == 200
            # every place taken now: the next, from anyone, is told 503
            async with session_from("127.0.0.3") as third_client:
                async with third_client.get(f"{served.base}/logs") as full:
                    assert full.status == 503
                    assert "http.max_log_readers" in (await full.json())["error"]
        assert served.hub.refused == {"client_busy": 1, "busy": 1}
        for response in first:
            response.close()
        await soon(lambda: not served.hub.subscribers, what="the readers to be forgotten")
        async with one.get(f"{served.base}/logs") as again:
            assert again.status == 200  # places come back when readers hang up


async def test_a_reader_that_takes_nothing_is_disconnected_and_its_place_freed(
    served: Served,
) -> None:
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", served.port))
    stalled.sendall(b"GET /logs HTTP/1.1\r\nHost: localhost\r\n\r\n")
    meta = make_meta()
    try:
        async with session_from("127.0.0.2") as http, http.get(f"{served.base}/logs") as live:
            await soon(lambda: len(served.hub.subscribers) == 2, what="both readers")

            async def feed() -> None:
                for n in range(100_000):
                    served.router.emit([make_record(f"{n} " + "x" * 1000, meta=meta)])
                    if n % 100 == 0:
                        await asyncio.sleep(0.001)
                    if served.hub.stalled:
                        return

            feeder = asyncio.create_task(feed())
            seen = 0
            while not feeder.done():  # the live reader reads all along
                line = await asyncio.wait_for(live.content.readline(), 10)
                assert line, "the live reader's stream ended"
                seen += 1
            await feeder
            assert served.hub.stalled == 1
            assert len(served.hub.subscribers) == 1  # the live one is still there
            assert seen > 0
        # the stalled one finds its stream ended when it reads at last (no final chunk: cut)
        stalled.settimeout(10)
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := stalled.recv(1 << 20):
                received = received[-10:] + chunk
        assert not received.endswith(b"0\r\n\r\n")
    finally:
        stalled.close()
