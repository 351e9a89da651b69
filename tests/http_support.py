"""Helpers for tests of the agent's HTTP server: its address, a Prometheus scrape, polling."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.support import Agent, wait_until

T = TypeVar("T")
_WINDOW = re.compile(r"operator's window on (http://\S+?)/[ ,]")


def base_url(agent: Agent) -> str:
    """``http://127.0.0.1:PORT`` of an agent started with ``--http 0`` (from its log line)."""
    found = wait_until(
        lambda: agent._alive() and _WINDOW.search(agent.stderr),
        timeout=30,
        what=f"the HTTP server to listen (stderr so far: {agent.stderr!r})",
    )
    return found.group(1)


class Scrape:
    """One /metrics answer, parsed by prometheus-client's own parser."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = [
            sample for family in text_string_to_metric_families(text) for sample in family.samples
        ]

    def all(self, name: str, **labels: str) -> list[Any]:
        return [
            s
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]

    def value(self, name: str, **labels: str) -> float | None:
        """The value of the one sample with this name and these labels (None if there is none)."""
        found = self.all(name, **labels)
        assert len(found) <= 1, f"{len(found)} samples {name}{labels}: {found}"
        return found[0].value if found else None


async def scrape(http: aiohttp.ClientSession, base: str) -> Scrape:
    async with http.get(f"{base}/metrics") as resp:
        assert resp.status == 200, await resp.text()
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return Scrape(await resp.text())


async def get_json(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as resp:
        return resp.status, await resp.json()


async def until(check: Callable[[], Awaitable[T]], *, limit_secs: float = 30, what: str = "") -> T:
    """Await ``check`` until it returns something truthy; fail naming ``what`` after a while."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_secs
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {limit_secs}s waiting for {what or check}")
        await asyncio.sleep(0.2)
