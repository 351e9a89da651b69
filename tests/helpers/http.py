"""The agent's HTTP server as a client sees it: its address, a Prometheus scrape, JSON answers."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.agent_process import AgentProcess
from tests.helpers.waiting import wait_until

_WINDOW = re.compile(r"operator's window on (http://\S+?)/[ ,]")


def base_url(agent: AgentProcess) -> str:
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
        self.families = list(text_string_to_metric_families(text))
        self.samples = [sample for family in self.families for sample in family.samples]

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


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """``app`` served by aiohttp on the loopback, on a free port: its ``http://127.0.0.1:PORT``
    (a /logs reader that hangs up ends its handler, as in the agent)."""
    runner = web.AppRunner(app, handle_signals=False, access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
