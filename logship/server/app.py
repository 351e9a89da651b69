"""The operator's HTTP server, embedded in the agent's own event loop (``AppRunner`` +
``TCPSite``): started before the source reads anything, stopped after the last destination
drained, so its counts cover the whole run and probes see the drain."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from prometheus_client.exposition import choose_encoder

from logship.config.address import format_address
from logship.config.http import HttpSettings
from logship.errors import ListenError
from logship.pipeline.router import Router
from logship.pipeline.running import Destinations, Reloads
from logship.server.access import Access
from logship.server.containers import Checkpoints, Containers
from logship.server.health import Health, LoopMonitor
from logship.server.live import LiveHub, ReaderLimits
from logship.server.metrics import build_registry
from logship.server.page import Page
from logship.server.reads import ReadCounter
from logship.sources.base import Source

log = logging.getLogger("logship.http")


class _NotTheClientsFaults(logging.Filter):
    """aiohttp logs each malformed request as an ERROR with its traceback: anyone who reaches
    the port could fill logship's log so. What a client got wrong (answered 400) is left out;
    an error of logship's own handlers is not."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, HttpProcessingError)


server_log = logging.getLogger("logship.http.server")  # aiohttp's own, for this server
server_log.addFilter(_NotTheClientsFaults())

SHUTDOWN_TIMEOUT_SECS = 2.0  # what a request still running gets when logship stops


class OperatorServer:
    """Serves what the agent's parts say of themselves: the ``source``, the ``router`` (a tap
    counts what is read, another feeds /logs), the ``destinations`` (their sends are timed
    from construction on) and, with ``checkpoints``, the positions last saved;
    ``per_container_metrics`` adds the series per container to /metrics."""

    def __init__(
        self,
        settings: HttpSettings,
        *,
        source: Source,
        router: Router,
        destinations: Destinations,
        checkpoints: Checkpoints | None = None,
        per_container_metrics: bool = False,
        reloads: Reloads | None = None,
    ) -> None:
        self.host, self.port = settings.host, settings.port
        # a connection with no complete request this long is closed (aiohttp's default is an
        # hour: enough half-sent requests would take every file descriptor)
        self.idle_secs = settings.log_reader_timeout_secs
        self.router = router
        self.reads = ReadCounter(source)
        self.hub = LiveHub(
            router,
            source,
            ReaderLimits(
                max_readers=settings.max_log_readers,
                max_per_client=settings.max_log_readers_per_client,
                timeout_secs=settings.log_reader_timeout_secs,
            ),
        )
        self.monitor = LoopMonitor()
        self.health = Health(source, destinations, self.monitor)
        self.registry = build_registry(
            source,
            destinations,
            self.reads,
            self.hub,
            per_container=per_container_metrics,
            ready=lambda: self.health.readiness()[0],
            reloads=reloads,
        )
        containers = Containers(source, destinations, self.reads, checkpoints)
        self.access = Access(settings)
        app = web.Application(middlewares=[self.access.middleware])
        app.router.add_get("/", Page().handle)
        app.router.add_get("/healthz", self.health.healthz)
        app.router.add_get("/readyz", self.health.readyz)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/logs", self.hub.handle)
        app.router.add_get("/logs/{spec}", self.hub.handle)  # logspout's /logs/name:GLOB
        app.router.add_get("/containers", containers.handle)
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
            logger=server_log,
            keepalive_timeout=self.idle_secs,
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
        self.router.add_tap(self.reads)
        self._monitor = asyncio.create_task(self.monitor.run(), name="http-loop-monitor")
        log.info(
            "operator's window on %s (/healthz /readyz /metrics /logs /containers /)",
            ", ".join(f"http://{a}/" for a in self.addresses),
        )
        if self.access.token is None and not self.access.loopback:
            log.warning(
                "/logs, /containers and the page answer 403 on %s: it is not a loopback "
                "address and no token is set (--http-token-file)",
                self.access.where,
            )

    def draining(self) -> None:
        """The agent is shutting down: /readyz says so while what is buffered drains."""
        self.health.draining()

    async def stop(self) -> None:
        self.hub.close()
        self.router.remove_tap(self.reads)
        if self._monitor is not None:
            self._monitor.cancel()
            await asyncio.gather(self._monitor, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
