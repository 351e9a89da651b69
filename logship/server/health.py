"""``/healthz`` (the process and its event loop work) and ``/readyz`` (logship can do its job).

Liveness is the event loop's responsiveness: a small task asks to be woken every
``interval_secs`` and notes how late it was (the loop's lag). A loop that was blocked for more
than ``max_lag_secs`` within the last ``window_secs`` answers 503 with how long; a loop blocked
right now cannot answer at all, which a probe's timeout reports.

Readiness: connected to the Docker engine with the events stream working, and every
destination up or down for less than its retry window (``reconnect_max_secs``, the longest wait
between two attempts): a receiver restarting is not a reason to be taken out of service, one
that stays away is.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from aiohttp import web

from logship.pipeline.running import Destinations
from logship.sources.base import Source

MAX_LAG_SECS = 5.0
WINDOW_SECS = 10.0


class LoopMonitor:
    """How late the event loop runs a timer, now and at worst over the last window."""

    def __init__(
        self,
        *,
        interval_secs: float = 0.5,
        max_lag_secs: float = MAX_LAG_SECS,
        window_secs: float = WINDOW_SECS,
    ) -> None:
        self.interval_secs = interval_secs
        self.max_lag_secs = max_lag_secs
        self.window_secs = window_secs
        self.lag_secs = 0.0  # of the last wake-up
        self._last_tick = time.monotonic()
        self._lags: deque[tuple[float, float]] = deque(maxlen=int(window_secs / interval_secs) + 1)

    async def run(self) -> None:
        interval = self.interval_secs
        while True:
            before = time.monotonic()
            self._last_tick = before
            await asyncio.sleep(interval)
            now = time.monotonic()
            self.lag_secs = max(0.0, now - before - interval)
            self._lags.append((now, self.lag_secs))

    def worst_lag_secs(self) -> float:
        """The longest the loop was late in the window, a wake-up overdue right now included."""
        now = time.monotonic()
        overdue = now - self._last_tick - self.interval_secs
        recent = [lag for when, lag in self._lags if now - when <= self.window_secs]
        return max([overdue, *recent, 0.0])


def _json(body: dict[str, Any], ok: bool) -> web.Response:
    return web.json_response(body, status=200 if ok else 503)


class Health:
    """The two probes' handlers. :meth:`draining` says the agent is shutting down."""

    def __init__(
        self,
        source: Source,
        destinations: Destinations,
        monitor: LoopMonitor,
    ) -> None:
        self.source = source
        self.destinations = destinations  # named as in metrics
        self.monitor = monitor
        self.stopping = False

    def draining(self) -> None:
        self.stopping = True

    async def healthz(self, request: web.Request) -> web.Response:
        monitor = self.monitor
        worst = monitor.worst_lag_secs()
        body: dict[str, Any] = {
            "status": "ok",
            "loop_lag_secs": round(monitor.lag_secs, 6),
            "worst_loop_lag_secs": round(worst, 6),
        }
        ok = worst <= monitor.max_lag_secs
        if not ok:
            body["status"] = "unhealthy"
            body["reason"] = (
                f"the event loop was blocked for {worst:.1f}s within the last "
                f"{monitor.window_secs:g}s (limit {monitor.max_lag_secs:g}s)"
            )
        return _json(body, ok)

    async def readyz(self, request: web.Request) -> web.Response:
        ok, body = self.readiness()
        return _json(body, ok)

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Whether the agent can do its job, and what it knows about each part."""
        reasons: list[str] = []
        if self.stopping:
            reasons.append("shutting down: sending what is buffered")
        status = self.source.status()
        engine: dict[str, Any] = {"endpoint": status.endpoint, "connected": status.connected}
        if status.connected:
            engine["api_version"] = status.api_version
        else:
            engine["error"] = status.error
            if status.error == "not connected yet":
                reasons.append(f"Docker engine at {status.endpoint}: not connected yet")
            else:
                reasons.append(f"Docker engine: {status.error}")
        destinations = []
        now = time.monotonic()
        for name, destination in self.destinations.named():
            d = destination.stats(now)
            state: dict[str, Any] = {"name": name, "up": d.up}
            if len(d.hosts) > 1:
                state["hosts"] = [
                    {"host": h.name, "up": True}
                    if h.up
                    else {
                        "host": h.name,
                        "up": False,
                        "down_secs": round(h.down_secs, 3),
                        "error": h.error,
                    }
                    for h in d.hosts
                ]
            if not d.up:
                window = d.retry_window_secs
                state.update(down_secs=round(d.down_secs, 3), error=d.last_error)
                if d.down_secs > window:
                    reasons.append(
                        f"destination {name}: down for {d.down_secs:.0f}s, longer than its "
                        f"retry window ({window:g}s): {d.last_error}"
                    )
            destinations.append(state)
        body: dict[str, Any] = {"status": "not ready" if reasons else "ready"}
        if reasons:
            body["reasons"] = reasons
        body["engine"] = engine
        body["destinations"] = destinations
        return not reasons, body
