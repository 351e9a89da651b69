"""``/logs`` as logspout serves it: /logs/name:GLOB, /logs/id:PREFIX, sources=, colors=off,
JSON for Accept: application/json; served on the loopback by aiohttp itself."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web

from logship.pipeline.router import Router
from logship.protocol.logspout import LogspoutText
from logship.server.live import LiveHub, ReaderLimits
from tests.helpers.http import serving
from tests.helpers.records import make_meta, make_record
from tests.helpers.waiting import until

WEB = make_meta(id="aa11" + "0" * 60, name="web-1")
DB = make_meta(id="bb22" + "0" * 60, name="a-rather-long-database-name")


class Served:
    def __init__(self, hub: LiveHub, router: Router, base: str) -> None:
        self.hub, self.router, self.base = hub, router, base

    async def feed_until(self, readers: int) -> None:
        async def ready() -> bool:
            return len(self.hub.subscribers) == readers

        await until(ready, what=f"{readers} readers")
        self.router.emit(
            [
                make_record("web says hi", meta=WEB),
                make_record("db \x1b[2J oops", "stderr", meta=DB),
                make_record("web again", "stderr", meta=WEB),
            ]
        )


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    router = Router([])
    views = {m.id: SimpleNamespace(meta=m, skip_reason=None) for m in (WEB, DB)}
    source = SimpleNamespace(containers=lambda: views)
    hub = LiveHub(router, source, ReaderLimits(8, 8, 5))  # type: ignore[arg-type]
    app = web.Application()
    app.router.add_get("/logs", hub.handle)
    app.router.add_get("/logs/{spec}", hub.handle)
    async with serving(app) as base:
        yield Served(hub, router, base)
        hub.close()


async def lines(response: aiohttp.ClientResponse, count: int) -> list[str]:
    out = []
    for _ in range(count):
        line = await asyncio.wait_for(response.content.readline(), 10)
        out.append(line.decode())
    return out


async def test_name_glob_path_and_colors_off_give_logspouts_name_column(served: Served) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{served.base}/logs/name:*-1?colors=off") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
            await served.feed_until(1)
            assert await lines(resp, 2) == [
                "           web-1|web says hi\n",
                "           web-1|web again\n",
            ]


async def test_with_colours_each_name_has_its_own_and_the_column_grows(served: Served) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{served.base}/logs?colors=on") as resp:
            await served.feed_until(1)
            web1, db, web2 = await lines(resp, 3)
    width = len(DB.name)
    assert web1 == "\x1b[36m           web-1|web says hi\x1b[0m\n"
    # escape sequences a container writes are shown, never sent to the terminal
    assert db == f"\x1b[35m{DB.name}|db \\x1b[2J oops\x1b[0m\n"
    assert web2 == f"\x1b[36m{'web-1':>{width}}|web again\x1b[0m\n"


async def test_id_prefix_path_gives_the_bare_messages_of_that_container(served: Served) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{served.base}/logs/id:aa11") as resp:
            await served.feed_until(1)
            assert await lines(resp, 2) == ["web says hi\n", "web again\n"]


async def test_an_id_no_container_followed_has_is_404(served: Served) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{served.base}/logs/id:ffff") as resp:
        assert resp.status == 404
        assert (
            "no container followed has an ID starting with 'ffff'" in (await resp.json())["error"]
        )


@pytest.mark.parametrize("key", ["sources", "source"])
async def test_sources_keeps_only_the_streams_named(served: Served, key: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{served.base}/logs/name:web*?{key}=stderr&colors=off") as resp:
            await served.feed_until(1)
            assert await lines(resp, 1) == ["           web-1|web again\n"]


async def test_accept_application_json_gives_one_json_document_per_line(served: Served) -> None:
    headers = {"Accept": "application/json"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{served.base}/logs/name:web-1", headers=headers) as resp:
            assert resp.headers["Content-Type"] == "application/json"
            await served.feed_until(1)
            documents = [json.loads(line) for line in await lines(resp, 2)]
    assert [(d["message"], d["container"]["name"]) for d in documents] == [
        ("web says hi", "web-1"),
        ("web again", "web-1"),
    ]


async def test_a_plain_logs_request_keeps_logships_own_text_format(served: Served) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{served.base}/logs") as resp:
        await served.feed_until(1)
        (first,) = await lines(resp, 1)
    assert first.endswith(" web-1 (logship-test/busybox:1.35) stdout: web says hi\n")


@pytest.mark.parametrize(
    ("path", "complaint"),
    [
        ("/logs/image:nginx", "expected /logs/name:GLOB or /logs/id:PREFIX"),
        ("/logs/name:", "expected /logs/name:GLOB or /logs/id:PREFIX"),
        ("/logs?colors=maybe", "colors='maybe': expected off"),
        ("/logs/name:web?filter.name=db", "already says which name it wants"),
        ("/logs?sources=stdin", "filter.sources"),
    ],
)
async def test_a_request_logship_cannot_read_is_400_saying_why(
    served: Served, path: str, complaint: str
) -> None:
    async with aiohttp.ClientSession() as http, http.get(served.base + path) as resp:
        assert resp.status == 400
        assert complaint in (await resp.json())["error"]


def test_the_name_column_is_16_wide_at_least_as_logspouts() -> None:
    text = LogspoutText(colors=False)
    assert text.encode([make_record("x", meta=make_meta(name="a"))]) == [b" " * 15 + b"a|x\n"]
