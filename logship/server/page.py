"""``/``: one small page that shows the live stream of ``/logs`` with a filter box.

Plain HTML and JavaScript (fetch streaming of NDJSON), no build step, no framework, nothing
loaded from elsewhere; ``/?filter.name=web*`` opens it filtered. It holds no data itself:
when ``/logs`` answers 401 it asks for the token and sends it as ``Authorization: Bearer``.
"""

from __future__ import annotations

from importlib.resources import files

from aiohttp import web


class Page:
    def __init__(self) -> None:
        self.html = files("logship.server").joinpath("index.html").read_bytes()

    async def handle(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.html,
            content_type="text/html",
            charset="utf-8",
            headers={
                "Cache-Control": "no-cache",
                "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; "
                "script-src 'unsafe-inline'",
            },
        )
