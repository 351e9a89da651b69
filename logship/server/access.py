"""Who may read what the operator's window serves.

- ``/healthz``, ``/readyz`` and ``/metrics`` answer anyone who reaches the server: probes and
  Prometheus need them.
- ``/logs`` and ``/containers`` hold every container's lines and labels. With
  ``http.token_file`` they need ``Authorization: Bearer TOKEN`` (401 without it); with none
  they are served only when the server listens on a loopback address, and answer 403 saying
  how to turn them on anywhere else.
- ``/``, the page, holds no data: it asks for the token and sends it itself as that header, so
  with a token it is served as the open endpoints are; without one, as ``/logs`` is.
- On a loopback address a request must name the server as ``localhost``, a loopback address or
  one of ``http.allowed_hosts`` in its ``Host`` (421 otherwise): a web page whose own name was
  made to resolve to 127.0.0.1 (DNS rebinding) still carries that name.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from enum import Enum

from aiohttp import web

from logship.config.address import format_address
from logship.config.http import HttpSettings, is_loopback

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

OPEN = frozenset({"/healthz", "/readyz", "/metrics"})
PAGE = "/"
REALM = 'Bearer realm="logship"'


class Verdict(Enum):
    SERVE = "serve"
    WRONG_HOST = "wrong_host"  # 421
    NEEDS_TOKEN = "needs_token"  # 401, no credentials
    BAD_TOKEN = "bad_token"  # 401, wrong credentials
    OFF = "off"  # 403: no token file, not the loopback


def host_name(header: str) -> str:
    """``Host`` without its port, in lower case, without a final dot; ``[::1]:80`` -> ``::1``."""
    text = header.strip().lower()
    if text.startswith("["):
        return text[1:].partition("]")[0]
    try:
        return str(ipaddress.ip_address(text))  # a bare IPv6 address: no port to take off
    except ValueError:
        pass
    name, _, port = text.rpartition(":")
    if not name or not port.isdigit():
        name = text
    return name.rstrip(".")


class Access:
    """The rules above for one server, from its settings; :meth:`verdict` is pure."""

    def __init__(self, settings: HttpSettings) -> None:
        token = settings.token
        self.token = token.get_secret_value().encode() if token is not None else None
        self.loopback = settings.loopback
        self.allowed_hosts = frozenset(settings.allowed_hosts)
        self.where = format_address(settings.host, settings.port)

    def host_allowed(self, header: str | None) -> bool:
        if not self.loopback or header is None:  # no Host at all: not a browser's request
            return True
        name = host_name(header)
        return is_loopback(name) or name in self.allowed_hosts

    def verdict(self, path: str, host: str | None, authorization: str | None) -> Verdict:
        if not self.host_allowed(host):
            return Verdict.WRONG_HOST
        if path in OPEN:
            return Verdict.SERVE
        if self.token is None:
            return Verdict.SERVE if self.loopback else Verdict.OFF
        if path == PAGE:
            return Verdict.SERVE
        if authorization is None:
            return Verdict.NEEDS_TOKEN
        scheme, _, given = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            return Verdict.NEEDS_TOKEN
        # constant time: how much of a guess was right must not show in how long it took
        if hmac.compare_digest(given.strip().encode(errors="surrogateescape"), self.token):
            return Verdict.SERVE
        return Verdict.BAD_TOKEN

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        verdict = self.verdict(
            request.path, request.headers.get("Host"), request.headers.get("Authorization")
        )
        if verdict is Verdict.SERVE:
            return await handler(request)
        return self.refusal(verdict, request.headers.get("Host", ""))

    def refusal(self, verdict: Verdict, host: str) -> web.Response:
        if verdict is Verdict.WRONG_HOST:
            return _error(
                421,
                f"this server listens on {self.where} and answers only requests for localhost "
                f"or a loopback address, not Host {host[:100]!r}; http.allowed_hosts adds "
                "names",
            )
        if verdict is Verdict.OFF:
            return _error(
                403,
                f"/logs, /containers and the page are off on {self.where}, which is not a "
                "loopback address, because no token is set: start logship with "
                "--http-token-file FILE (LOGSHIP_HTTP__TOKEN_FILE, http.token_file) and send "
                "'Authorization: Bearer TOKEN', or listen on 127.0.0.1",
            )
        challenge = REALM + (', error="invalid_token"' if verdict is Verdict.BAD_TOKEN else "")
        return _error(
            401,
            "the token is wrong"
            if verdict is Verdict.BAD_TOKEN
            else "send the token of --http-token-file as 'Authorization: Bearer TOKEN'",
            {"WWW-Authenticate": challenge},
        )


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)
