"""HTTP(S) requests to one destination (GELF HTTP, Elasticsearch), through one aiohttp session.

Failures to talk at all (refused, reset, TLS, timeout) become retriable
:class:`DeliveryError`s; an HTTP answer, whatever its status, is returned for the sink to judge,
but for two: a redirect (3xx) is never followed (credentials and records go only where they
were configured to) and is an error naming the status and where it pointed; an answer whose
body is longer than the request allows (``max_answer_bytes``) is an error, read no further.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from logship import __version__
from logship.config.secrets import redact
from logship.errors import DeliveryError, RemoteProtocolError
from logship.transport.base import Transport

DEFAULT_MAX_ANSWER_BYTES = 1024 * 1024
"""How long an answer's body may be unless a request says otherwise (an acknowledgement, a
server's description, an error page)."""
_READ_BYTES = 64 * 1024


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    headers: Mapping[str, str]


def is_redirect(status: int) -> bool:
    """Whether ``status`` asks the client to go elsewhere (301, 302, 303, 307, 308...)."""
    return 300 <= status < 400 and status != 304


def redirect_refused(status: int, headers: Mapping[str, str]) -> str:
    """Why a redirect is an error: ``HTTP 301 to 'https://...'``, and what to do."""
    location = redact(headers.get("Location", ""))[:200] or "nowhere (no Location)"
    return (
        f"HTTP {status}, a redirect to {location!r}: logship does not follow redirects; "
        "configure the address it points to"
    )


async def read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The body of ``response`` (decompressed), or :class:`RemoteProtocolError` as soon as it
    is known to be longer than ``max_bytes``: never more than that is held."""
    length = response.content_length
    if length is not None and length > max_bytes and not response.headers.get("Content-Encoding"):
        raise RemoteProtocolError(
            f"the answer's body is {length} bytes, more than the {max_bytes} it may be"
        )
    body = bytearray()
    async for chunk in response.content.iter_chunked(_READ_BYTES):
        body += chunk
        if len(body) > max_bytes:
            raise RemoteProtocolError(
                f"the answer's body is longer than the {max_bytes} bytes it may be; "
                "not read further"
            )
    return bytes(body)


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
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname  # name to check in the certificate, and SNI
        self.headers = {"User-Agent": f"logship/{__version__}", **(headers or {})}
        self.auth = auth
        self.timeout = aiohttp.ClientTimeout(total=timeout_secs, sock_connect=connect_timeout_secs)
        self.max_answer_bytes = max_answer_bytes
        self._session: aiohttp.ClientSession | None = None
        self.bytes_sent = 0  # request bodies that were answered (metrics)

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
        max_answer_bytes: int | None = None,
    ) -> HttpResponse:
        """The answer; :class:`DeliveryError` for no answer, a redirect, or a body longer
        than ``max_answer_bytes`` (default: the transport's)."""
        url = self.base_url + path
        try:
            async with self.session.request(
                method,
                url,
                data=data,
                headers=headers,
                server_hostname=self.server_hostname,
                allow_redirects=False,
            ) as resp:
                self.bytes_sent += len(data) if data else 0
                if is_redirect(resp.status):
                    raise DeliveryError(
                        f"{method} {url} answered {redirect_refused(resp.status, resp.headers)}"
                    )
                try:
                    body = await read_capped(resp, max_answer_bytes or self.max_answer_bytes)
                except RemoteProtocolError as exc:
                    raise DeliveryError(
                        f"{method} {url} answered HTTP {resp.status}: {exc}"
                    ) from exc
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
