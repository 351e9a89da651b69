"""``logship check``: the configuration as ``run`` would read it, shown with its secrets masked,
then the engine and every destination tried once, one line each with OK or the precise reason.

Each destination is tried by its own sink's health check (:meth:`CheckedSink.healthcheck`),
through the code ``run`` sends with (connect, handshakes and, for forward, the shared-key
exchange), so what passes here is what ``run`` does. Nothing is sent that a receiver would
store: UDP destinations are resolved and a socket connected (UDP cannot tell whether anybody
listens), HTTP destinations are asked for something harmless.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import socket
import ssl
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import aiohttp
import yaml

from logship.config.address import format_address
from logship.config.destination import NetworkDestinationConfig
from logship.config.http import HttpSettings
from logship.config.secrets import redact
from logship.errors import (
    CheckFailed,
    DeliveryError,
    DockerAPIError,
    DockerUnavailable,
    LogshipError,
)
from logship.settings import Destination, Settings
from logship.sinks.base import CheckedSink
from logship.sinks.registry import build_sink, by_name
from logship.sources.choice import choose_source
from logship.sources.docker.client import DockerClient

EXIT_OK = 0
EXIT_FAILED = 1

_GRACE_SECS = 1.0  # beyond --timeout-secs, for a destination's own timeout to say what it was

HEALTHZ_WAIT_SECS = 1.0  # for /healthz of a logship holding the --http address
HEALTHZ_MAX_BYTES = 64 * 1024  # its answer is a few hundred bytes


@dataclass(frozen=True)
class Result:
    what: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'OK  ' if self.ok else 'FAIL'} {self.what}: {self.detail}"


# -- what the configuration is ----------------------------------------------------------------


def effective_settings(settings: Settings) -> str:
    """Every setting, defaults included, as YAML; secrets masked (``**********``)."""
    data = settings.model_dump(mode="json")
    return redact(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


# -- why something failed ---------------------------------------------------------------------


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def reason(exc: BaseException) -> str:
    """The most precise reason in ``exc`` and its causes: the TLS verification error, the
    name-resolution error, the socket error (``connection refused``), else the message."""
    for cause in _causes(exc):
        if isinstance(cause, aiohttp.ClientConnectorCertificateError):
            cause = cause.certificate_error
        elif isinstance(cause, aiohttp.ClientConnectorError):  # its SSL variant too
            cause = cause.os_error
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"certificate verify failed: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            why = getattr(cause, "reason", None) or str(cause)
            hint = " (the server does not speak TLS there)" if why == "WRONG_VERSION_NUMBER" else ""
            return f"TLS handshake failed: {why}{hint}"
        if isinstance(cause, socket.gaierror):
            return f"cannot resolve the host name: {cause.strerror}"
        if isinstance(cause, OSError) and cause.errno:
            return os.strerror(cause.errno).lower()
    return str(exc)


async def _attempt(what: str, timeout_secs: float, probe: Awaitable[str]) -> Result:
    try:
        async with asyncio.timeout(timeout_secs + _GRACE_SECS):
            detail = await probe
    except TimeoutError:
        return Result(what, False, f"no answer within {timeout_secs:g}s")
    except (LogshipError, OSError, ssl.SSLError, aiohttp.ClientError) as exc:
        return Result(what, False, reason(exc))
    except Exception as exc:  # noqa: BLE001 - a check reports what went wrong, never crashes
        return Result(what, False, f"unexpected error: {exc!r}")
    return Result(what, True, detail)


# -- the engine -------------------------------------------------------------------------------


async def check_engine(client: DockerClient, timeout_secs: float) -> Result:
    what = f"engine {client.endpoint}" + (" (TLS)" if client.ssl_context is not None else "")

    async def probe() -> str:
        try:
            info = await client.negotiate()
            running = await client.list_containers()
        except DockerAPIError as exc:
            raise CheckFailed(f"HTTP {exc.status}: {exc.message}") from exc
        except DockerUnavailable as exc:
            raise CheckFailed(reason(exc) if exc.__cause__ else str(exc)) from exc
        return (
            f"Docker {info.get('Version', '?')}, API {client.api_version}, "
            f"{len(running)} containers running"
        )

    try:
        return await _attempt(what, timeout_secs, probe())
    finally:
        await client.close()


async def check_pod_logs(pods_dir: Path, timeout_secs: float) -> Result:
    """Whether the pod logs can be read (source cri): how many container log files there are."""
    what = f"pod logs {pods_dir}"

    def count() -> str:
        if not pods_dir.is_dir():
            raise CheckFailed(f"{pods_dir} is not a directory (is /var/log/pods mounted?)")
        os.listdir(pods_dir)  # PermissionError when it cannot be read
        files = sum(1 for _ in pods_dir.glob("*/*/*.log"))
        with open(next(pods_dir.glob("*/*/*.log"), os.devnull), "rb") as f:
            f.read(1)  # one of them can be read, not only listed
        return f"{files} container log files"

    return await _attempt(what, timeout_secs, asyncio.to_thread(count))


# -- the operator's HTTP server ------------------------------------------------------------------


async def check_http(settings: HttpSettings, timeout_secs: float) -> Result:
    """Whether ``--http`` can bind its address (in use, or not this host's, is a common slip),
    and who may read /logs and /containers there."""
    host, port = settings.host, settings.port
    what = f"http {format_address(host, port)}"

    async def probe() -> str:
        try:
            server = await asyncio.start_server(lambda r, w: w.close(), host, port)
        except OSError as exc:
            # `docker exec <agent> logship check`: the image's LOGSHIP_HTTP is the running
            # agent's own address, in use by it
            if exc.errno == errno.EADDRINUSE and await _logship_listens(host, port):
                return f"in use by the logship running there (its /healthz answers); {readers}"
            raise
        server.close()
        await server.wait_closed()
        return f"the address can be bound; {readers}"

    if settings.token is not None:
        readers = "/logs and /containers need the token of http.token_file"
    elif settings.loopback:
        readers = "/logs and /containers answer this machine only (loopback, no token)"
    else:
        readers = "/logs and /containers are off (no http.token_file, not a loopback address)"
    return await _attempt(what, timeout_secs, probe())


async def _logship_listens(host: str, port: int) -> bool:
    """Whether a logship's HTTP server answers /healthz at this address (asked on loopback
    when it is a wildcard)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    url = f"http://{format_address(host, port)}/healthz"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HEALTHZ_WAIT_SECS)) as http,
            http.get(url, allow_redirects=False) as response,
        ):
            raw = b""
            while chunk := await response.content.read(HEALTHZ_MAX_BYTES):
                raw += chunk
                if len(raw) > HEALTHZ_MAX_BYTES:
                    return False  # no /healthz of ours
            body = json.loads(raw)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return False
    return isinstance(body, dict) and "loop_lag_secs" in body


# -- destinations -----------------------------------------------------------------------------


async def check_destination(
    index: int, config: Destination, sink: CheckedSink, timeout_secs: float
) -> Result:
    """The destination's own health check (:meth:`CheckedSink.healthcheck`), then its sink
    closed."""
    what = f"destination {index} {config.describe()}"
    if isinstance(config, NetworkDestinationConfig) and config.name:
        what += f" ({config.model_copy(update={'name': None}).describe()})"
    try:
        return await _attempt(what, timeout_secs, sink.healthcheck())
    finally:
        try:
            async with asyncio.timeout(timeout_secs):
                await sink.close()
        except (TimeoutError, DeliveryError, OSError, ssl.SSLError):
            pass


_TIMEOUTS = ("connect_timeout_secs", "request_timeout_secs", "write_timeout_secs")


def _within(config: Destination, timeout_secs: float) -> Destination:
    """The destination with its own timeouts no longer than the check's, so that its own,
    more precise message (which handshake step did not answer) is what the check reports."""
    fields = type(config).model_fields
    update = {
        name: min(getattr(config, name), timeout_secs) for name in _TIMEOUTS if name in fields
    }
    return config.model_copy(update=update) if update else config


async def run_checks(settings: Settings, *, timeout_secs: float, out: TextIO) -> int:
    """Print the settings and one line per check; EXIT_OK when every check passed."""
    print("effective settings (secrets masked):", file=out)
    for line in effective_settings(settings).splitlines():
        print(f"  {line}", file=out)

    def engine() -> DockerClient:
        return DockerClient.connect_to(settings.docker_host, settings.docker_tls())

    kind, why = await choose_source(
        settings.source, settings.docker_host, engine, settings.pods_dir, settings.docker_root
    )
    # the engine's client built as `run` builds it for the sources that use it: a TLS file
    # that cannot be used is a ConfigError (exit 2)
    client = engine() if kind != "cri" else None
    # no destination: the console, as `run` has it
    destinations = list(settings.destinations) or [by_name("console").config.model_validate({})]
    sinks = [build_sink(_within(config, timeout_secs)) for config in destinations]
    print(f"source: {kind} ({why})", file=out)
    warnings = settings.security_warnings()
    if warnings:
        print("warnings:", file=out)
        for warning in warnings:
            print(f"  WARN {warning}", file=out)
    print("checks:", file=out)
    http = [check_http(settings.http, timeout_secs)] if settings.http is not None else []
    if client is None:  # no engine needed: the pod logs are the source
        source = check_pod_logs(settings.pods_dir, timeout_secs)
    else:
        source = check_engine(client, timeout_secs)
    results = await asyncio.gather(
        source,
        *http,
        *(
            check_destination(i, config, sink, timeout_secs)
            for i, (config, sink) in enumerate(zip(destinations, sinks, strict=True))
        ),
    )
    for result in results:
        print(f"  {result.line()}", file=out)
    failed = sum(not r.ok for r in results)
    print(f"{len(results) - failed} passed, {failed} failed", file=out)
    return EXIT_FAILED if failed else EXIT_OK
