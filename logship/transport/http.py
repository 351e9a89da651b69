"""HTTP(S) requests to one destination (GELF HTTP, Elasticsearch), through one aiohttp session.

Failures to talk at all (refused, reset, TLS, timeout) become retriable
:class:`DeliveryError`s; an HTTP answer, whatever its status, is returned for the sink to judge.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from logship import __version__
from logship.errors import DeliveryError
from logship.transport.base import Transport


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    headers: Mapping[str, str]


def credentials_refused(status: int) -> bool:
    """Whether an HTTP status refuses who we are (401, 403, 407), not what we asked."""
    return status in (401, 403, 407)


class HttpTransport(Transport):
    def __init__(
        self,
        base_url: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        headers: Mapping[str, str] | None = None,
        auth: aiohttp.BasicAuth | None = None,
        timeout_secs: float = 30.0,
        connect_timeout_secs: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname  # name to check in the certificate, and SNI
        self.headers = {"User-Agent": f"logship/{__version__}", **(headers or {})}
        self.auth = auth
        self.timeout = aiohttp.ClientTimeout(total=timeout_secs, sock_connect=connect_timeout_secs)
        self._session: aiohttp.ClientSession | None = None

    @property
    def address(self) -> str:
        return self.base_url

    async def connect(self) -> None:
        """Nothing to do ahead: each request connects (or reuses a connection) itself."""

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                ssl=self.ssl_context if self.ssl_context is not None else True,
                ttl_dns_cache=10,  # a moved destination is found again within seconds
                limit=4,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, headers=self.headers, auth=self.auth, timeout=self.timeout
            )
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        url = self.base_url + path
        try:
            async with self.session.request(
                method, url, data=data, headers=headers, server_hostname=self.server_hostname
            ) as resp:
                body = await resp.read()
                return HttpResponse(resp.status, body, dict(resp.headers))
        except aiohttp.ClientConnectorCertificateError as exc:
            raise DeliveryError(
                f"TLS with {self.base_url} failed: {exc.certificate_error}"
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            reason = exc.os_error.strerror or str(exc.os_error)
            raise DeliveryError(f"cannot connect to {self.base_url}: {reason}") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            # str(), not repr(): some aiohttp errors' reprs carry the request headers, and
            # with them the Authorization header
            reason = str(exc) or type(exc).__name__
            raise DeliveryError(f"{method} {url} failed: {reason}") from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def certificate_note(self) -> str:
        """How the server's certificate was taken, to end a ``logship check`` line:
        ``", server certificate verified"``, ``", certificate NOT verified"``, or ``""`` over
        plain HTTP."""
        if not self.base_url.startswith("https"):
            return ""
        if self.ssl_context is not None and self.ssl_context.verify_mode == ssl.CERT_NONE:
            return ", certificate NOT verified"
        return ", server certificate verified"
