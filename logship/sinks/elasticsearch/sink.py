"""Elasticsearch / OpenSearch destination: the sans-IO ``_bulk`` encoder plus an HTTP transport.

A batch becomes one or more ``_bulk`` requests of at most ``max_request_bytes``. What the
server refuses for now (429, 5xx, no answer) goes back to the runner as
``DeliveryError.remaining`` and is retried there with backoff, and only that; what it refuses
for good (a mapping error) is counted and logged with one example, never retried.

With several hosts (``hosts``), each request goes to the next host in turn
(:class:`~logship.pipeline.hosts.HostPool`). A host that does not answer, or answers 502, 503
or 504 (a node that cannot serve, or the proxy in front of one saying so), is set aside for a
backoff and the same request goes to the next host at once; nothing goes back to the runner
while one host takes it. A 429 is the cluster pushing back, not a dead node: it goes back to
the runner, which waits, as it does with one host. Requests sent twice (a host that took one
but whose answer was lost) are recognised by their ``_id``, as any retry is.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
import zlib
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson

from logship.errors import CheckFailed, DeliveryError, LogshipError, RemoteProtocolError
from logship.pipeline.hosts import Host, HostPool, HostState
from logship.protocol.bulk import (
    BULK_QUERY,
    CONTENT_TYPE,
    DEFAULT_DATA_STREAMS,
    BulkEncoder,
    BulkResult,
    RequestVerdict,
    describe_error_body,
    max_answer_bytes,
    parse_bulk_response,
    request_verdict,
    split_requests,
)
from logship.protocol.index_template import index_template, template_patterns
from logship.record import Record
from logship.sinks.base import SinkContext
from logship.sinks.elasticsearch.config import ElasticsearchConfig
from logship.sinks.elasticsearch.template import Request, TemplateInstaller
from logship.transport.http import HttpResponse, HttpTransport, credentials_refused
from logship.transport.tls import client_context

log = logging.getLogger("logship.sink")

_COMPRESS_IN_THREAD_BYTES = 256 * 1024  # above this, gzip off the event loop
_REJECTION_LOG_SECS = 10.0  # refused records are logged at most this often (with counts)
_FIRST_SET_ASIDE_SECS = 1.0  # a failed host's first backoff, at most (then 2, 4... s)
# answers that say this node cannot serve now, where another may: the next host takes the
# request (what Elastic's clients retry on another node, 429 aside)
_HOST_FAILED_STATUSES = frozenset({502, 503, 504})


def authorization(config: ElasticsearchConfig) -> str | None:
    """The ``Authorization`` header for the configured credentials, if any."""
    api_key = config.secret_api_key
    if api_key is not None:
        key = api_key.get_secret_value()
        if ":" in key:  # id:api_key, not yet encoded
            key = base64.b64encode(key.encode()).decode()
        return f"ApiKey {key}"
    password = config.secret_password
    if config.user is not None and password is not None:
        pair = f"{config.user}:{password.get_secret_value()}".encode()
        return "Basic " + base64.b64encode(pair).decode()
    return None


def _server(body: bytes) -> tuple[str, object] | None:
    """``("Elasticsearch 8.13.4", cluster name)`` from the answer to ``GET /``; None when it
    is not the answer of Elasticsearch or OpenSearch."""
    try:
        info = orjson.loads(body)
        version = info["version"]
        product = "OpenSearch" if version.get("distribution") == "opensearch" else "Elasticsearch"
        return f"{product} {version.get('number', '?')}", info.get("cluster_name", "?")
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return None


def _template(
    config: ElasticsearchConfig, request: Request, sink_name: str
) -> TemplateInstaller | None:
    """The installer of the index template, when ``install_template`` asks for one."""
    if not config.install_template:
        return None
    if config.index is not None:
        patterns = template_patterns(index=config.index)
    else:
        streams = [config.data_stream] if config.data_stream else list(DEFAULT_DATA_STREAMS)
        patterns = template_patterns(data_streams=streams)
    body = index_template(
        patterns, data_stream=config.index is None, priority=config.template_priority
    )
    return TemplateInstaller(
        config.template_name, body, request, path=config.path, sink_name=sink_name
    )


@dataclass(frozen=True, slots=True)
class _Answer:
    verdict: RequestVerdict
    why: str  # for a log line or a DeliveryError
    result: BulkResult | None = None
    host_failed: bool = False  # no answer, or one saying this host cannot serve: try the next


class ElasticsearchSink:
    def __init__(self, config: ElasticsearchConfig, *, context: SinkContext | None = None) -> None:
        self.name = config.describe()
        self.encoder = BulkEncoder(
            index=config.index_pattern,
            data_stream=config.data_stream,
            fields_key=config.parsed_fields_key,
            agent=context.agent if context is not None else None,
        )
        self.max_request_bytes = config.max_request_bytes
        self.gzip = config.compression == "gzip"
        self.bulk_path = f"{config.path}/_bulk?{BULK_QUERY}"
        self.root_path = config.path + "/"
        self.bulk_headers = {"Content-Type": CONTENT_TYPE}
        if self.gzip:
            self.bulk_headers["Content-Encoding"] = "gzip"
        headers = {"Accept": "application/json"}
        auth = authorization(config)
        self._credential = ""  # the header's secret part, never to appear in a message
        if auth is not None:
            headers["Authorization"] = auth
            self._credential = auth.partition(" ")[2]
        if config.password is not None:
            log.warning(
                "%s: the password is written in the configuration or URI; prefer "
                "password_file or password_env",
                self.name,
            )
        https = config.scheme == "https"
        ssl_context = client_context(config.tls) if https else None
        self.pool = HostPool(
            [
                (
                    origin,
                    HttpTransport(
                        origin,
                        ssl_context=ssl_context,
                        server_hostname=config.tls.server_name if https else None,
                        headers=headers,
                        timeout_secs=config.request_timeout_secs,
                        connect_timeout_secs=config.connect_timeout_secs,
                    ),
                )
                for origin in config.origins
            ],
            owner=self.name,
            initial_secs=_FIRST_SET_ASIDE_SECS,
            maximum_secs=config.reconnect_max_secs,
        )
        self._several = len(self.pool.hosts) > 1
        self.template = _template(config, self._request_any, self.name)
        self.rejected_total = 0  # records refused for good
        self.existing_total = 0  # records answered 409: sent before and already there
        self.unreadable_answers = 0  # 200 answers that were no _bulk answer (retried)
        self._unlogged_rejections = 0
        self._next_rejection_log = 0.0

    @property
    def transport(self) -> HttpTransport:
        """The first host's transport (with one host, the only one)."""
        return self.pool.hosts[0].target

    @property
    def bytes_sent(self) -> int:
        return sum(host.target.bytes_sent for host in self.pool.hosts)

    def host_states(self) -> list[HostState]:
        """How each host is doing (metrics, /readyz)."""
        return self.pool.states()

    async def open(self) -> None:
        """Say which server each host is (GET /), when it answers; sending does not depend on
        it. A host that does not answer at all is set aside, so the first requests go to the
        others. Install the index template, if asked (or leave it to the first send)."""
        if self.template is not None:
            with contextlib.suppress(DeliveryError):  # said again by the send that waits
                await self.template.ensure()
        await asyncio.gather(*(self._open_host(host) for host in self.pool.hosts))

    async def _open_host(self, host: Host[HttpTransport]) -> None:
        name = f"{self.name}: {host.name}" if self._several else self.name
        try:
            response = await host.target.request("GET", self.root_path)
        except DeliveryError as exc:
            why = self._redact(str(exc))
            log.info("%s: not answering yet (%s); records wait in the buffer", name, why)
            if self._several:
                self.pool.failed(host, why)
            return
        if response.status != 200:
            log.info(
                "%s: GET / answered %s", name, describe_error_body(response.status, response.body)
            )
            return
        found = _server(response.body)
        if found is None:
            log.info("%s: GET / did not answer like Elasticsearch: %r", name, response.body[:200])
        else:
            log.info("%s: %s, cluster %r", name, *found)

    async def send(self, batch: list[Record]) -> None:
        if self.template is not None:
            await self.template.ensure()  # before any record: the stream is created with it
        entries = self.encoder.encode(batch)
        pending = deque(split_requests(entries, self.max_request_bytes))
        retry: list[Record] = []
        rejected = too_large = 0
        why = ""
        while pending:
            start, end = pending.popleft()
            answer = await self._post(entries, start, end)
            if answer.verdict in ("retry", "credentials"):
                # down, overloaded or locked out: the rest of the batch waits too
                retry += batch[start:end]
                for rest_start, rest_end in pending:
                    retry += batch[rest_start:rest_end]
                why = answer.why
                break
            if answer.verdict == "split" and end - start > 1:
                middle = (start + end) // 2
                pending.extendleft([(middle, end), (start, middle)])
            elif answer.verdict in ("split", "reject"):
                rejected += end - start
                if answer.verdict == "split":  # one document, more than the cluster takes
                    too_large += 1
                self._rejected(end - start, answer.why, batch[start])
            elif answer.result is not None:
                result = answer.result
                self.existing_total += result.existing
                if result.rejected:
                    rejected += len(result.rejected)
                    example = batch[start + result.rejected[0]]
                    self._rejected(len(result.rejected), result.rejected_reason, example)
                if result.retry:
                    retry += [batch[start + i] for i in result.retry]
                    why = (
                        f"refused {len(result.retry)} of {end - start} records for now: "
                        + result.retry_reason
                    )
        if retry or rejected:
            raise DeliveryError(
                why or f"refused {rejected} records for good",
                retriable=True,
                remaining=retry,
                rejected=rejected,
                too_large=too_large,
            )

    async def _post(self, entries: list[bytes], start: int, end: int) -> _Answer:
        """Send ``entries[start:end]`` as one ``_bulk`` request, to the next host in turn and
        on to the others while a host fails, and judge the answer."""
        body = b"".join(entries[start:end])
        if self.gzip:
            if len(body) > _COMPRESS_IN_THREAD_BYTES:
                body = await asyncio.to_thread(zlib.compress, body, 1, 31)
            else:
                body = zlib.compress(body, 1, 31)
        failures: list[str] = []
        for host in self.pool.attempt_order():
            answer = await self._post_to(host, body, entries, start, end)
            if not answer.host_failed:
                self.pool.worked(host)
                return answer
            self.pool.failed(host, answer.why)
            failures.append(answer.why)
        if len(failures) == 1:
            return _Answer("retry", failures[0])
        return _Answer("retry", f"no host took the request: {'; '.join(failures)}")

    async def _post_to(
        self, host: Host[HttpTransport], body: bytes, entries: list[bytes], start: int, end: int
    ) -> _Answer:
        try:
            response = await host.target.request(
                "POST",
                self.bulk_path,
                data=body,
                headers=self.bulk_headers,
                max_answer_bytes=max_answer_bytes(end - start),
            )
        except DeliveryError as exc:  # no answer at all, a redirect, an answer far too long
            return _Answer("retry", self._redact(str(exc)), host_failed=True)
        status = response.status
        verdict = request_verdict(status)
        if verdict == "answered":
            try:
                return _Answer(verdict, "", parse_bulk_response(response.body, end - start))
            except RemoteProtocolError as exc:
                self.unreadable_answers += 1
                return _Answer("retry", f"unreadable answer: {exc}")
        error = describe_error_body(status, response.body)
        if verdict == "credentials":
            return _Answer(
                verdict,
                f"credentials refused ({error}); check user and "
                "password_file/password_env, or api_key_file/api_key_env",
            )
        if verdict == "split":  # judged by send(): halved, or refused if it is one document
            size = sum(map(len, entries[start:end]))
            return _Answer(verdict, f"{error}: a document of {size} bytes is more than it takes")
        if verdict == "reject":
            return _Answer(verdict, error)
        where = f"{host.name} " if self._several else ""
        failed = status in _HOST_FAILED_STATUSES
        return _Answer(verdict, f"{where}answered {error}", host_failed=failed)

    async def _request_any(self, method: str, path: str, **options: Any) -> HttpResponse:
        """One request about the cluster (an index template), to the hosts in turn until one
        answers."""
        failures = []
        for host in self.pool.attempt_order():
            try:
                return await host.target.request(method, path, **options)
            except DeliveryError as exc:
                failures.append(self._redact(str(exc)))
        raise DeliveryError("; ".join(failures))

    def _redact(self, text: str) -> str:
        """``text`` without the credential (aiohttp's reprs of some errors show the headers)."""
        return text.replace(self._credential, "<redacted>") if self._credential else text

    def _rejected(self, count: int, reason: str, example: Record) -> None:
        """Count records refused for good; log one line, with one example, now and then."""
        self.rejected_total += count
        self._unlogged_rejections += count
        now = time.monotonic()
        if now < self._next_rejection_log:
            return
        self._next_rejection_log = now + _REJECTION_LOG_SECS
        log.warning(
            "%s: refused %d records for good (%d in all), e.g. container %s at %s: %s",
            self.name,
            self._unlogged_rejections,
            self.rejected_total,
            example.meta.name,
            example.timestamp,
            reason,
        )
        self._unlogged_rejections = 0

    async def healthcheck(self) -> str:
        """Each host checked (:meth:`_check_host`), all at once; with several, what each
        said, and a failure when any of them fails."""
        if not self._several:
            return await self._check_host(self.transport)
        hosts = self.pool.hosts
        results = await asyncio.gather(
            *(self._check_host(host.target) for host in hosts), return_exceptions=True
        )
        failed = 0
        said: list[str] = []
        for host, result in zip(hosts, results, strict=True):
            if isinstance(result, str):
                said.append(f"{host.name} OK {result}")
            elif isinstance(result, LogshipError | OSError):  # what check reports of one host
                failed += 1
                said.append(f"{host.name} FAIL {self._redact(str(result))}")
            else:
                raise result
        summary = "; ".join(said)
        if failed:
            raise CheckFailed(f"{failed} of {len(hosts)} hosts failing: {summary}")
        return f"{len(hosts)} hosts: {summary}"

    async def _check_host(self, transport: HttpTransport) -> str:
        """Which server answers GET /, then an empty ``_bulk`` request, which adds nothing:
        Elasticsearch checks the credentials first (401), then refuses the empty body (400
        "request body is required"/"no requests added")."""
        response = await transport.request("GET", self.root_path)
        if response.status != 200:
            problem = describe_error_body(response.status, response.body)
            hint = ": check the credentials" if credentials_refused(response.status) else ""
            raise CheckFailed(f"GET / answered {problem}{hint}")
        found = _server(response.body)
        if found is None:
            raise CheckFailed(f"GET / did not answer like Elasticsearch: {response.body[:200]!r}")
        server = found[0]
        bulk = await transport.request(
            "POST", self.bulk_path, data=b"", headers={"Content-Type": CONTENT_TYPE}
        )
        if bulk.status in (200, 400):
            note = transport.certificate_note()
            if self.template is not None:
                note += ", " + await self.template.check()
            return f"{server}, _bulk reachable, credentials accepted{note}"
        problem = describe_error_body(bulk.status, bulk.body)
        if credentials_refused(bulk.status):
            raise CheckFailed(f"POST _bulk answered {problem}: check the credentials")
        raise CheckFailed(f"POST _bulk answered {problem}")

    async def close(self) -> None:
        for host in self.pool.hosts:
            await host.target.aclose()
