"""``/logs``: the live records, as text lines (default) or NDJSON, with destination filters.

``curl -N 'http://127.0.0.1:9880/logs?filter.name=web*&filter.sources=stderr'``

It also answers as logspout's ``/logs`` does: ``/logs/name:GLOB`` and ``/logs/id:PREFIX`` (404
when no container followed has such an ID), ``sources=stdout,stderr``, JSON when the request
says ``Accept: application/json``, and, for a request written the logspout way (a
``/logs/PREDICATE:VALUE`` path, or ``colors=``), logspout's text layout: ``NAME|MESSAGE`` in a
colour per container (``colors=off``: none), the message alone for ``id:``.

Each reader gets a :class:`~logship.pipeline.router.Route` of its own, with the filter from the
query (the same ``filter.*`` keys and matching as destinations) and a small drop-oldest buffer,
fed by a tap on the router. The router's call costs a filter pass and a put that never waits; a
reader slower than the logs only loses the oldest records of its own buffer (the text format
says how many), never slows the agent. With no reader there is no tap at all.

Readers are bounded (:class:`ReaderLimits`): so many at once (503 beyond), so many from one
client address (429 beyond, so that one client cannot take every place), and a reader that
takes none of what is written to it for ``timeout_secs`` is disconnected.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from logship.config.filters import DestinationFilter
from logship.pipeline.buffer import DropOldestBuffer
from logship.pipeline.router import Route, Router
from logship.protocol.json import JsonEncoder, TextEncoder
from logship.protocol.logspout import LogspoutText
from logship.record import Record
from logship.sources.base import Source

log = logging.getLogger("logship.http")

READER_MAX_RECORDS = 10_000
READER_MAX_BYTES = 4 * 1024 * 1024
WRITE_MAX_RECORDS = 1_000  # records written at once
NDJSON = "application/x-ndjson"
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
_FORMATS = {"text": TEXT, "json": NDJSON}
PREDICATES = {"name": "name", "id": "id"}  # logspout's /logs/PREDICATE:VALUE -> filter field
_USAGE = (
    "expected format=text|json, filter.name=GLOB, filter.id=PREFIX, "
    "filter.sources=stdout,stderr, filter.labels=KEY:VALUE,... or logspout's sources=, "
    "colors=off"
)


@dataclass(frozen=True)
class LogsQuery:
    """What one /logs request asks for."""

    format: str  # text, json, or logspout (its text layout)
    content_type: str
    filter: DestinationFilter | None
    colors: bool = True
    id_prefix: str | None = None  # /logs/id:PREFIX


@dataclass(frozen=True)
class ReaderLimits:
    max_readers: int = 16
    max_per_client: int = 4
    timeout_secs: float = 30.0


class Subscriber:
    def __init__(self, filter: DestinationFilter | None, who: str, client: str) -> None:
        self.buffer = DropOldestBuffer(
            max_records=READER_MAX_RECORDS, max_bytes=READER_MAX_BYTES, name=who
        )
        self.route = Route(self.buffer, filter)
        self.client = client


class LiveHub:
    """The /logs readers, and the one router tap that feeds them while there are any."""

    def __init__(self, router: Router, source: Source, limits: ReaderLimits | None = None) -> None:
        self.router = router
        self.source = source
        self.limits = limits or ReaderLimits()
        self.subscribers: list[Subscriber] = []
        self.per_client: Counter[str] = Counter()
        self.skipped = 0  # records readers gone since missed
        self.refused: Counter[str] = Counter()  # readers turned away: "busy", "client_busy"
        self.stalled = 0  # readers disconnected for taking nothing for timeout_secs
        self.text = TextEncoder()
        self.json = JsonEncoder()
        self.closed = False

    def _tap(self, records: list[Record]) -> None:
        for subscriber in self.subscribers:
            subscriber.route.put(records)

    def subscribe(
        self, filter: DestinationFilter | None, who: str = "/logs reader", client: str = ""
    ) -> Subscriber:
        subscriber = Subscriber(filter, who, client)
        if not self.subscribers:
            self.router.add_tap(self._tap)
        self.subscribers.append(subscriber)
        self.per_client[client] += 1
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.remove(subscriber)
        self.per_client[subscriber.client] -= 1
        if not self.per_client[subscriber.client]:
            del self.per_client[subscriber.client]
        self.skipped += subscriber.buffer.dropped
        if not self.subscribers:
            self.router.remove_tap(self._tap)
        if subscriber.route.filter is not None:
            subscriber.route.release(c.meta for c in self.source.containers().values())

    def skipped_total(self) -> int:
        return self.skipped + sum(s.buffer.dropped for s in self.subscribers)

    def close(self) -> None:
        """The agent stops: every reader gets what it holds, then its response ends."""
        self.closed = True
        for subscriber in self.subscribers:
            subscriber.buffer.close()

    # -- the handler ---------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            query = parse_query(request)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        if self.closed:
            return web.json_response({"error": "logship is shutting down"}, status=503)
        prefix = query.id_prefix
        if prefix is not None and not any(
            c.meta.id.startswith(prefix) and c.skip_reason is None
            for c in self.source.containers().values()
        ):
            return web.json_response(
                {"error": f"no container followed has an ID starting with {prefix!r}"},
                status=404,
            )
        client = request.remote or ""
        refusal = self._refusal(client)
        if refusal is not None:
            return refusal
        response = web.StreamResponse(
            headers={
                "Content-Type": query.content_type,
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",  # a proxy in front must not hold the stream back
            }
        )
        subscriber = self.subscribe(query.filter, f"/logs reader at {client}", client)
        try:
            await response.prepare(request)
            await self._pump(subscriber, response, self._encoder(query), query.format == "text")
        except TimeoutError:  # before OSError, of which it is one
            self.stalled += 1
            log.info(
                "disconnected the /logs reader at %s: it took nothing for %g s",
                client,
                self.limits.timeout_secs,
            )
            if request.transport is not None:
                request.transport.abort()  # what is queued for it goes too
        except (ConnectionError, OSError):
            pass  # the reader went away
        finally:
            self.unsubscribe(subscriber)
        return response

    def _refusal(self, client: str) -> web.Response | None:
        """503 when every place is taken, 429 when this client holds its share of them."""
        limits = self.limits
        if len(self.subscribers) >= limits.max_readers:
            reason, status = "busy", 503
            error = f"{limits.max_readers} readers of /logs already (http.max_log_readers)"
        elif self.per_client[client] >= limits.max_per_client:
            reason, status = "client_busy", 429
            error = (
                f"{limits.max_per_client} readers of /logs from {client} already "
                "(http.max_log_readers_per_client)"
            )
        else:
            return None
        self.refused[reason] += 1
        return web.json_response(
            {"error": f"{error}; try again later"}, status=status, headers={"Retry-After": "10"}
        )

    def _encoder(self, query: LogsQuery) -> Callable[[list[Record]], list[bytes]]:
        if query.format == "json":
            return self.json.encode
        if query.format == "logspout":  # one per reader: it keeps widths and colours
            one = query.id_prefix is not None
            return LogspoutText(colors=query.colors, one_container=one).encode
        return self.text.encode

    async def _pump(
        self,
        subscriber: Subscriber,
        response: web.StreamResponse,
        encode: Callable[[list[Record]], list[bytes]],
        say_skipped: bool,
    ) -> None:
        """Write what the reader's buffer gets; TimeoutError when a write waits for the reader
        to take what was written before for longer than the limit."""
        buffer = subscriber.buffer
        reported = 0
        while True:
            await buffer.wait()
            batch = buffer.take(WRITE_MAX_RECORDS)
            if not batch:  # closed and drained
                return
            parts = encode(batch)
            if buffer.dropped != reported and say_skipped:
                parts.insert(
                    0,
                    f"-- logship: skipped {buffer.dropped - reported} records, this reader "
                    "is slower than the logs --\n".encode(),
                )
            reported = buffer.dropped
            async with asyncio.timeout(self.limits.timeout_secs):
                await response.write(b"".join(parts))


def parse_query(request: web.Request) -> LogsQuery:
    """What a /logs request asks for (format, filter, logspout's forms); ValueError if bad."""
    accept = request.headers.get("Accept", "")
    format, content_type = "text", TEXT
    if NDJSON in accept:
        format, content_type = "json", NDJSON
    elif JSON in accept:  # logspout's way of asking for JSON
        format, content_type = "json", JSON
    fields: dict[str, str] = {}
    logspout = False
    id_prefix = None
    spec = request.match_info.get("spec")
    if spec is not None:
        predicate, sep, value = spec.partition(":")
        if not sep or predicate not in PREDICATES or not value:
            raise ValueError(
                f"/logs/{spec}: expected /logs/name:GLOB or /logs/id:PREFIX, as logspout takes"
            )
        fields[PREDICATES[predicate]] = value
        id_prefix = value if predicate == "id" else None
        logspout = True
    colors = True
    for key, value in request.query.items():
        if key == "format":
            if value not in _FORMATS:
                raise ValueError(f"format={value!r}: expected text or json")
            format, content_type = value, _FORMATS[value]
        elif key.startswith("filter.") or key in ("sources", "source"):
            field = key.removeprefix("filter.")
            field = "sources" if field == "source" else field
            if field in fields:
                raise ValueError(f"{key}: the request already says which {field} it wants")
            fields[field] = value
        elif key == "colors":
            if value not in ("on", "off"):
                raise ValueError(f"colors={value!r}: expected off (or on)")
            colors, logspout = value != "off", True
        else:
            raise ValueError(f"unknown parameter {key!r}; {_USAGE}")
    try:
        filter = DestinationFilter.model_validate(fields)
    except ValidationError as exc:
        raise ValueError("; ".join(_problem(e) for e in exc.errors())) from None
    if logspout and format == "text":
        format = "logspout"
    return LogsQuery(format, content_type, filter or None, colors, id_prefix)


def _problem(error: Any) -> str:
    key = f"filter.{error['loc'][0]}"
    if error["type"] == "extra_forbidden":
        return (
            f"unknown filter {key!r}; expected filter.name, filter.id, filter.sources or "
            "filter.labels"
        )
    return f"{key}: {error['msg'].removeprefix('Value error, ')} (got {error['input']!r})"
