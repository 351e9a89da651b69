"""The Docker Engine API client: aiohttp for requests and the events stream, over the unix
socket or TCP (with TLS, as ``DOCKER_TLS_VERIFY`` asks), or over ssh through a private unix
socket (:class:`~logship.transport.stdio_tunnel.StdioTunnel`). Log streams, the hot path, go through
:mod:`logship.sources.docker.logstream`."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from logship import __version__
from logship.config.engine import DockerTlsFiles, SshTarget
from logship.config.secrets import redact
from logship.errors import ConfigError, DockerAPIError, DockerUnavailable, RemoteProtocolError
from logship.transport.http import is_redirect, read_capped, redirect_refused
from logship.transport.stdio_tunnel import StdioTunnel

log = logging.getLogger("logship.docker")

MIN_API_VERSION = (1, 24)
_MAX_EVENT_BYTES = 1024 * 1024
# the longest answers read from the engine (log streams are framed, and read apart): a list
# of containers (a few KiB each), an inspect (its environment and labels included), the rest
MAX_LIST_BYTES = 64 * 1024 * 1024
MAX_INSPECT_BYTES = 8 * 1024 * 1024
MAX_ANSWER_BYTES = 1024 * 1024
MAX_API_VERSION = (1, 51)
USER_AGENT = f"logship/{__version__}"
_CONTAINER_ID = re.compile("[0-9a-f]{64}").fullmatch


def is_container_id(value: object) -> bool:
    """Whether ``value`` is a container ID as the engine gives them: 64 lowercase hex digits.
    Only those are followed: an ID goes into request paths, and into what encoders write as
    it is."""
    return isinstance(value, str) and _CONTAINER_ID(value) is not None


@dataclass(frozen=True)
class Endpoint:
    """Where the engine listens, from ``DOCKER_HOST``."""

    unix_path: str | None = None
    host: str | None = None
    port: int | None = None
    via: str | None = None  # how it is reached when not directly: ssh://user@host:port

    @classmethod
    def parse(cls, docker_host: str, *, tls: bool = False) -> Endpoint:
        """``tls``: the engine's TLS port (2376) is the default, as for the docker CLI."""
        try:
            url = urlsplit(docker_host)
            port = url.port  # ValueError for a port that is no number or out of range
        except ValueError as exc:  # a ConfigError (exit 2), not a traceback
            raise ConfigError(
                f"docker_host {docker_host!r}: {exc}; expected tcp://HOST:PORT"
            ) from None
        if url.scheme == "unix":
            if not url.path:
                raise ConfigError(f"docker_host {docker_host!r}: expected unix:///path/to/socket")
            return cls(unix_path=url.path)
        if url.scheme in ("tcp", "http"):
            if not url.hostname:
                raise ConfigError(f"docker_host {docker_host!r}: expected tcp://HOST:PORT")
            return cls(host=url.hostname, port=port or (2376 if tls else 2375))
        if url.scheme == "ssh":
            raise ConfigError(
                f"docker_host {redact(docker_host)!r}: an ssh:// engine is reached through "
                "DockerClient.connect_to"
            )
        raise ConfigError(
            f"docker_host {docker_host!r}: unsupported scheme {url.scheme!r}; "
            "expected unix://, tcp:// or ssh://"
        )

    @property
    def local(self) -> bool:
        """Whether the engine runs on this machine (its own unix socket): its files are here."""
        return self.unix_path is not None and self.via is None

    @property
    def authority(self) -> str:
        """``host:port`` as a URL or a Host header has it (``[fd00::5]:2376`` for IPv6)."""
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        if self.via is not None:
            return self.via
        return f"unix://{self.unix_path}" if self.unix_path else f"tcp://{self.authority}"


def _version_tuple(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


def tls_context(files: DockerTlsFiles) -> ssl.SSLContext:
    """What ``docker --tlsverify`` does: the engine's certificate checked against ``ca.pem``
    (or the system's CAs) and its name, and ``cert.pem``/``key.pem`` presented when there."""
    try:
        context = ssl.create_default_context(
            cafile=str(files.ca_file) if files.ca_file is not None else None
        )
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if files.cert_file is not None and files.key_file is not None:
            context.load_cert_chain(str(files.cert_file), str(files.key_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"docker_cert_path: cannot set up TLS to the engine: {exc}") from exc
    return context


class DockerClient:
    def __init__(
        self,
        endpoint: Endpoint,
        *,
        ssl_context: ssl.SSLContext | None = None,
        tunnel: StdioTunnel | None = None,
    ) -> None:
        """``tunnel``: serves ``endpoint.unix_path`` while the client is open (an ssh://
        engine), stopped by :meth:`close`."""
        self.endpoint = endpoint
        self.ssl_context = ssl_context if endpoint.host is not None else None
        self.tunnel = tunnel
        self.api_version = "{}.{}".format(*MIN_API_VERSION)
        self._session: aiohttp.ClientSession | None = None
        self.events_errors = 0  # events-stream lines that were no container event, skipped
        self.invalid_ids = 0  # containers listed or inspected with an ID that is none, skipped

    @classmethod
    def connect_to(cls, docker_host: str, tls: DockerTlsFiles | None = None) -> DockerClient:
        """The client for ``docker_host`` (``DOCKER_HOST``'s form), with TLS from ``tls``
        (what ``DOCKER_TLS_VERIFY`` and ``DOCKER_CERT_PATH`` ask for) if given. An ssh://
        engine is reached as the docker CLI reaches it: ``ssh ... HOST -- docker system
        dial-stdio`` for each connection (no TLS: ssh is the encryption)."""
        if urlsplit(docker_host).scheme == "ssh":
            try:
                target = SshTarget.parse(docker_host)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
            tunnel = StdioTunnel(
                target.argv(),
                name=f"the Docker engine at {target}",
                install_hint=": install the OpenSSH client (openssh-client)",
            )
            return cls(Endpoint(unix_path=tunnel.path, via=str(target)), tunnel=tunnel)
        endpoint = Endpoint.parse(docker_host, tls=tls is not None)
        return cls(endpoint, ssl_context=tls_context(tls) if tls is not None else None)

    # -- connection ----------------------------------------------------------------------------

    def _connector(self) -> aiohttp.BaseConnector:
        if self.tunnel is not None:
            self.tunnel.serve()
        if self.endpoint.unix_path:
            return aiohttp.UnixConnector(path=self.endpoint.unix_path, limit=0)
        return aiohttp.TCPConnector(limit=0, ssl=self.ssl_context or False)

    @property
    def _base(self) -> str:
        if self.endpoint.unix_path:
            return "http://docker"
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.endpoint.authority}"

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=self._connector(),
                headers={"User-Agent": USER_AGENT},
                timeout=aiohttp.ClientTimeout(total=None, connect=10, sock_read=None),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self.tunnel is not None:
            await self.tunnel.stop()

    async def open_connection(
        self, protocol_factory: Any
    ) -> tuple[asyncio.BaseTransport, asyncio.BaseProtocol]:
        """A raw connection to the engine, for the log streams' own HTTP handling."""
        loop = asyncio.get_running_loop()
        try:
            if self.endpoint.unix_path:
                if self.tunnel is not None:
                    self.tunnel.serve()
                return await loop.create_unix_connection(protocol_factory, self.endpoint.unix_path)
            assert self.endpoint.host is not None and self.endpoint.port is not None
            return await loop.create_connection(
                protocol_factory,
                self.endpoint.host,
                self.endpoint.port,
                ssl=self.ssl_context,
                server_hostname=self.endpoint.host if self.ssl_context is not None else None,
            )
        except ssl.SSLCertVerificationError as exc:
            raise DockerUnavailable(
                f"TLS with the Docker engine at {self.endpoint} failed: "
                f"certificate verify failed: {exc.verify_message}"
            ) from exc
        except (OSError, ssl.SSLError) as exc:
            raise DockerUnavailable(
                f"cannot connect to the Docker engine at {self.endpoint}: {exc}"
            ) from exc

    # -- requests ------------------------------------------------------------------------------

    def path(self, path: str) -> str:
        return f"/v{self.api_version}{path}"

    async def get_json(
        self,
        path: str,
        params: dict[str, str] | None = None,
        *,
        versioned: bool = True,
        max_bytes: int = MAX_ANSWER_BYTES,
    ) -> Any:
        """The engine's JSON answer; :class:`DockerUnavailable` for no answer, a redirect
        (never followed) or a body longer than ``max_bytes``, :class:`DockerAPIError` for an
        error status."""
        url = self._base + (self.path(path) if versioned else path)
        try:
            async with self.session.get(url, params=params, allow_redirects=False) as resp:
                if is_redirect(resp.status):
                    raise DockerUnavailable(
                        f"the Docker engine at {self.endpoint} answered {path} with "
                        + redirect_refused(resp.status, resp.headers)
                    )
                try:
                    body = await read_capped(resp, max_bytes)
                except RemoteProtocolError as exc:
                    raise DockerUnavailable(
                        f"the Docker engine at {self.endpoint} answered {path} with "
                        f"HTTP {resp.status}: {exc}"
                    ) from exc
                if resp.status >= 400:
                    raise DockerAPIError(resp.status, error_message(body), path=path)
        except aiohttp.ClientConnectorCertificateError as exc:
            error = exc.certificate_error
            reason = str(error)
            if isinstance(error, ssl.SSLCertVerificationError):
                reason = f"certificate verify failed: {error.verify_message}"
            raise DockerUnavailable(
                f"TLS with the Docker engine at {self.endpoint} failed: {reason}"
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            reason = exc.os_error.strerror or str(exc.os_error)
            raise DockerUnavailable(
                f"cannot reach the Docker engine at {self.endpoint}: {reason}"
            ) from exc
        except aiohttp.ClientError as exc:
            raise DockerUnavailable(
                f"cannot reach the Docker engine at {self.endpoint}: {exc}"
            ) from exc
        try:
            return json.loads(body)
        except ValueError as exc:  # a web server, not an engine (DOCKER_HOST's port is wrong)
            raise DockerUnavailable(
                f"{self.endpoint} is not a Docker engine: {path} answered {body[:100]!r}"
            ) from exc

    async def negotiate(self) -> dict[str, Any]:
        """Ask the engine for its version and use the newest API version both sides speak."""
        info: dict[str, Any] = await self.get_json("/version", versioned=False)
        server = _version_tuple(str(info.get("ApiVersion", "1.24")))
        if server < MIN_API_VERSION:
            raise DockerUnavailable(
                f"the Docker engine at {self.endpoint} speaks API {info.get('ApiVersion')}; "
                "logship needs 1.24 or newer"
            )
        self.api_version = "{}.{}".format(*min(server, MAX_API_VERSION))
        return info

    async def list_containers(self, *, stopped: bool = False) -> list[dict[str, Any]]:
        """The containers, each with a valid ``Id`` (others are counted, logged, skipped)."""
        params = {"all": "1"} if stopped else None
        result = await self.get_json("/containers/json", params, max_bytes=MAX_LIST_BYTES)
        if not isinstance(result, list):
            raise DockerUnavailable(
                f"the engine answered the list of containers with {type(result).__name__}; "
                "expected a JSON array"
            )
        listed = []
        for summary in result:
            found = summary.get("Id") if isinstance(summary, dict) else summary
            if is_container_id(found):
                listed.append(summary)
            else:
                self._invalid_id(f"listed a container with the ID {found!r:.80}")
        return listed

    async def inspect(self, container_id: str) -> dict[str, Any]:
        """The container's details; :class:`RemoteProtocolError` if the answer is about another
        ID or a malformed one (counted)."""
        result = await self.get_json(
            f"/containers/{quote(container_id, safe='')}/json", max_bytes=MAX_INSPECT_BYTES
        )
        found = result.get("Id") if isinstance(result, dict) else None
        if not isinstance(result, dict) or found != container_id or not is_container_id(found):
            self._invalid_id(f"answered the inspect of {container_id[:80]!r} with ID {found!r:.80}")
            raise RemoteProtocolError(
                f"the engine answered the inspect of container {container_id[:12]!r} with the "
                f"ID {found!r:.80}; expected the same 64 hex digits"
            )
        return result

    def _invalid_id(self, what: str) -> None:
        self.invalid_ids += 1
        if self.invalid_ids == 1:
            log.warning(
                "the engine %s; expected 64 lowercase hex digits: skipped (further ones are "
                "only counted)",
                what,
            )

    async def events(self, since: str | None = None) -> AsyncIterator[dict[str, Any]]:
        """Container lifecycle events, as they happen, until the stream breaks."""
        filters = json.dumps(
            {"type": ["container"], "event": ["start", "die", "destroy", "rename"]}
        )
        params = {"filters": filters}
        if since:
            params["since"] = since
        url = self._base + self.path("/events")
        try:
            async with self.session.get(url, params=params, allow_redirects=False) as resp:
                if is_redirect(resp.status):
                    raise DockerUnavailable(
                        f"the Docker engine at {self.endpoint} answered /events with "
                        + redirect_refused(resp.status, resp.headers)
                    )
                if resp.status >= 400:
                    body = await resp.content.read(MAX_ANSWER_BYTES)
                    raise DockerAPIError(resp.status, error_message(body), path="/events")
                buf = b""
                async for chunk in resp.content.iter_any():
                    buf += chunk
                    *complete, buf = buf.split(b"\n")
                    if len(buf) > _MAX_EVENT_BYTES:  # no event is that long: garbage
                        complete.append(buf)
                        buf = b""
                    for line in complete:
                        if line.strip():
                            event = self._parse_event(line)
                            if event is not None:
                                yield event
        except aiohttp.ClientError as exc:
            raise DockerUnavailable(f"the Docker events stream broke: {exc}") from exc

    def _parse_event(self, line: bytes) -> dict[str, Any] | None:
        """A container event, or None (counted, logged the first time) for anything else."""
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if isinstance(event, dict):
            actor = event.get("Actor") or {}
            action = event.get("Action") or event.get("status")
            if isinstance(actor, dict):
                container_id = actor.get("ID") or event.get("id")
                if is_container_id(container_id) and isinstance(action, str):
                    return event
        self.events_errors += 1
        if self.events_errors == 1:
            log.warning(
                "ignoring an events-stream line that is not a container event: %.200r "
                "(further ones are only counted)",
                line,
            )
        return None


def error_message(body: bytes) -> str:
    """The ``message`` of an engine's JSON error answer, else the answer's text, shortened."""
    try:
        return str(json.loads(body)["message"])
    except (ValueError, KeyError, TypeError):
        return body.decode("utf-8", "replace").strip()[:500]
