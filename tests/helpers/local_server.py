"""A local aiohttp server answering what a test says: the peer that misbehaves (redirects, huge
answers, hostile IDs) where no real server can be made to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def local_server(routes: Mapping[str, Handler]) -> tuple[web.AppRunner, str]:
    """A server on 127.0.0.1 answering each path of ``routes`` (any method) with its handler;
    its runner (``await runner.cleanup()`` stops it) and ``http://127.0.0.1:PORT``."""
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_route("*", path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"
