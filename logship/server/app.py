"""The operator's HTTP server, embedded in the agent's own event loop (``AppRunner`` +
``TCPSite``): started before the source reads anything, stopped after the last destination
drained, so its counts cover the whole run and probes see the drain."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from logship.config.address import format_address, parse_listen_address
from logship.errors import LogshipError
from logship.server.containers import Containers
from logship.server.health import Health, LoopMonitor
from logship.server.live import LiveHub
from logship.server.metrics import ReadCounter, build_registry, unique_names
from logship.server.page import Page

if TYPE_CHECKING:
    from logship.agent import Agent

log = logging.getLogger("logship.http")

SHUTDOWN_TIMEOUT_SECS = 2.0  # what a request still running gets when logship stops


class ListenError(LogshipError):
    """The HTTP server cannot listen where it was asked to."""


class OperatorServer:
    def __init__(self, agent: Agent, listen: str) -> None:
        self.agent = agent
        self.host, self.port = parse_listen_address(listen)
        names = unique_names([d.runner.sink.name for d in agent.destinations])
        source = agent.source
        self.reads = ReadCounter(source.containers)
        self.hub = LiveHub(agent.router, source.containers)
        self.monitor = LoopMonitor()
        self.registry = build_registry(agent, names, self.reads, self.hub)
        health = Health(agent, names, self.monitor)
        app = web.Application()
        app.router.add_get("/", Page().handle)
        app.router.add_get("/healthz", health.healthz)
        app.router.add_get("/readyz", health.readyz)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/logs", self.hub.handle)
        app.router.add_get("/containers", Containers(agent, names, self.reads).handle)
        self.app = app
        self.addresses: list[str] = []  # host:port actually bound
        self._runner: web.AppRunner | None = None
        self._monitor: asyncio.Task[None] | None = None

    async def metrics(self, request: web.Request) -> web.Response:
        # Prometheus' text format 0.0.4, or OpenMetrics when the scraper asks for it
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encode(self.registry), headers={"Content-Type": content_type})

    async def start(self) -> None:
        """Listen; :class:`ListenError` naming the address when that is not possible."""
        runner = web.AppRunner(
            self.app,
            handle_signals=False,
            access_log=None,
            handler_cancellation=True,  # a /logs reader that hangs up ends its handler
            shutdown_timeout=SHUTDOWN_TIMEOUT_SECS,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            where = format_address(self.host, self.port)
            raise ListenError(
                f"cannot serve HTTP on {where} (--http / LOGSHIP_HTTP): {exc.strerror or exc}"
            ) from exc
        self._runner = runner
        self.addresses = [format_address(str(a[0]), int(a[1])) for a in runner.addresses]
        self.agent.router.taps.append(self.reads)
        self._monitor = asyncio.create_task(self.monitor.run(), name="http-loop-monitor")
        log.info(
            "operator's window on %s (/healthz /readyz /metrics /logs /containers /)",
            ", ".join(f"http://{a}/" for a in self.addresses),
        )

    async def stop(self) -> None:
        self.hub.close()
        with contextlib.suppress(ValueError):
            self.agent.router.taps.remove(self.reads)
        for d in self.agent.destinations:
            d.runner.observe_send = None
        if self._monitor is not None:
            self._monitor.cancel()
            await asyncio.gather(self._monitor, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
