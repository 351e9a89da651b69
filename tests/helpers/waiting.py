"""Waiting for something to become true, blocking (threads, processes) or awaiting (asyncio)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    check: Callable[[], T], *, timeout: float = 20.0, interval: float = 0.1, what: str = ""
) -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        time.sleep(interval)


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
