"""Records -> Elasticsearch/OpenSearch ``_bulk`` request bodies; ``_bulk`` answers -> what
happened to each record. No I/O.

A request body is NDJSON: per record an action line and a source line, each ending in ``\\n``
(the last one too)::

    {"create":{"_index":"logs-docker.container_logs-default","_id":"5f9a6638b6420000-2026-11-27T05:24:33.719017066Z-0"}}
    {"@timestamp":"2026-11-27T05:24:33.719017066Z","message":"hello","log":{"iostream":"stdout"},
     "stream":"stdout","host":{"name":"vm","ip":"10.0.0.1"},"container":{"id":"…","name":"web-1",
     "runtime":"docker","image":{"name":"nginx","tag":"1.25"},"labels":{"com_example_team":"payments"}},
     "data_stream":{"type":"logs","dataset":"docker.container_logs","namespace":"default"},
     "event":{"dataset":"docker.container_logs"},"ecs":{"version":"8.0.0"},
     "agent":{"type":"logship","version":"0.1.0","id":"4f0c1e9a-…"}}

With no index and no data stream given, a container's records go to the data stream Elastic
Agent's integrations write its logs to: ``logs-kubernetes.container_logs-default`` for a pod's
container, ``logs-docker.container_logs-default`` for any other (:func:`default_data_stream`).

The action is always ``create`` (the only one a data stream takes) with an ``_id`` made of the
container ID, Docker's timestamp and the record's sequence number, so a record sent twice (a
retry after a timeout whose request did arrive) is answered 409 the second time, which means it
is there already.

The source follows Elastic Common Schema names and carries what Filebeat's documents do: the
data stream's own fields, ``event.dataset``, ``ecs.version``, ``agent.*`` and the ``stream``
field next to ``log.iostream`` (OpenTelemetry's name). Label keys have their dots replaced by
``_`` (as Filebeat does, :func:`logship.protocol.json.dedot`).

Everything that depends on the container alone is serialised once per container (kept in
``meta.cache``); the action line's start once per container and day (or hour, for an hourly
index). Per line the encoder formats the timestamp, sequence number and message.

The answer is ``{"took":…,"errors":bool,"items":[{"create":{"status":201,…}},…]}``, one item
per action in request order; :func:`parse_bulk_response` sorts them into delivered, to retry
(429, 5xx) and refused for good (400 mapping errors and the like).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from logship.errors import RemoteProtocolError
from logship.protocol.json import (
    FieldNames,
    container_document,
    fields_body,
    level_member,
    record_document,
)
from logship.record import AgentIdentity, ContainerMeta, Parsed, Record

# answers carry only what the sink reads: the flag, and each item's status and error
BULK_QUERY = "filter_path=errors,items.*.status,items.*.error"
CONTENT_TYPE = "application/x-ndjson"

_encoder_ids = itertools.count()  # meta.cache keys; id(self) can be reused once an encoder dies
_DIRECTIVES = re.compile(r"%(.)")
_DATE_DIRECTIVES = frozenset("YymdjGV")
_HOUR_DIRECTIVES = frozenset("H")
_FORBIDDEN = set('\\/*?"<>| ,#:')
_SAMPLE_CHARS = 300


# -- index names --------------------------------------------------------------------------------


def check_index_name(name: str) -> str:
    """``name`` if Elasticsearch takes it as an index or data stream name, else ValueError."""
    problem = None
    bad = sorted(_FORBIDDEN.intersection(name))
    if not name:
        problem = "must not be empty"
    elif name != name.lower():
        problem = "must be lowercase"
    elif bad:
        problem = "must not contain " + " ".join(repr(c) for c in bad)
    elif name[0] in "-_+":
        problem = "must not start with '-', '_' or '+'"
    elif name in (".", ".."):
        problem = "must not be '.' or '..'"
    elif len(name.encode()) > 255:
        problem = "must be at most 255 bytes long"
    if problem:
        raise ValueError(f"index name {name!r} {problem}")
    return name


class IndexPattern:
    """An index name with strftime date placeholders, filled from a record's own UTC time.

    ``%Y %y %m %d %j %G %V`` (per day) and ``%H`` (per hour) are understood; the name must
    otherwise be one Elasticsearch accepts. :attr:`key_chars` is how much of a canonical
    timestamp decides the name (``2026-11-27`` or ``2026-11-27T05``; none for a fixed name).
    """

    def __init__(self, pattern: str) -> None:
        used = set(_DIRECTIVES.findall(pattern))
        unknown = used - _DATE_DIRECTIVES - _HOUR_DIRECTIVES
        if unknown or pattern.count("%") != len(_DIRECTIVES.findall(pattern)):
            shown = ", ".join(sorted(f"%{c}" for c in unknown)) or "a lone '%'"
            raise ValueError(
                f"index pattern {pattern!r} has {shown}; expected only the date placeholders "
                "%Y %y %m %d %j %G %V %H around a valid index name"
            )
        self.pattern = pattern
        self.key_chars = 13 if used & _HOUR_DIRECTIVES else 10 if used else 0
        try:
            check_index_name(self.name_for("2026-11-27T05:24:33.000000000Z"))
        except ValueError as exc:
            raise ValueError(f"index pattern {pattern!r}: {exc}") from None

    def name_for(self, timestamp: str) -> str:
        """The index for a record stamped ``timestamp`` (canonical, UTC)."""
        if not self.key_chars:
            return self.pattern
        y, m, d = int(timestamp[0:4]), int(timestamp[5:7]), int(timestamp[8:10])
        hour = int(timestamp[11:13]) if self.key_chars == 13 else 0
        return datetime(y, m, d, hour, tzinfo=UTC).strftime(self.pattern)

    def __repr__(self) -> str:
        return f"IndexPattern({self.pattern!r})"


# -- documents ----------------------------------------------------------------------------------

DOCKER_DATA_STREAM = "logs-docker.container_logs-default"
KUBERNETES_DATA_STREAM = "logs-kubernetes.container_logs-default"
DEFAULT_DATA_STREAMS = (DOCKER_DATA_STREAM, KUBERNETES_DATA_STREAM)
ECS_VERSION = "8.0.0"  # what Filebeat 8 and Elastic Agent's container logs say they follow
# top-level names an Elasticsearch document has beyond the console's (RESERVED): a line's own
# field of one of these names is renamed, a container's own field (logship.field.*) left out
ADDED = frozenset({"data_stream", "ecs", "agent", "event", "stream"})


def default_data_stream(meta: ContainerMeta) -> str:
    """Where a container's lines go when no index or data stream is given: Elastic Agent's
    Kubernetes container logs for a pod's container, its Docker container logs otherwise."""
    return KUBERNETES_DATA_STREAM if meta.kubernetes is not None else DOCKER_DATA_STREAM


def data_stream_fields(name: str) -> dict[str, Any]:
    """``data_stream.type/dataset/namespace`` and ``event.dataset`` of a data stream named
    ``<type>-<dataset>-<namespace>``, as Elastic's templates expect them to match the name;
    none for a name of another shape."""
    kind, _, rest = name.partition("-")
    dataset, _, namespace = rest.rpartition("-")
    if not (kind and dataset and namespace):
        return {}
    return {
        "data_stream": {"type": kind, "dataset": dataset, "namespace": namespace},
        "event": {"dataset": dataset},
    }


def container_source(
    meta: ContainerMeta, agent: AgentIdentity, data_stream: str | None = None
) -> dict[str, Any]:
    """The part of every document that depends on the container alone: logship's ECS
    document (:func:`logship.protocol.json.container_document`) with ``container.runtime``,
    then what Filebeat's documents carry too: the data stream's fields (when writing to one),
    ``ecs.version`` and the ``agent``."""
    doc = {k: v for k, v in container_document(meta).items() if k.split(".")[0] not in ADDED}
    container = doc["container"]
    doc["container"] = {
        "id": container["id"],
        "name": container["name"],
        **({"runtime": meta.runtime} if meta.runtime else {}),  # not known: left out
        "image": container["image"],
        "labels": container["labels"],
    }
    if data_stream is not None:
        doc.update(data_stream_fields(data_stream))
    doc["ecs"] = {"version": ECS_VERSION}
    doc["agent"] = {"type": agent.type, "version": agent.version, "id": agent.id}
    return doc


def record_source(
    record: Record, agent: AgentIdentity, data_stream: str | None = None
) -> dict[str, Any]:
    """A record's whole document, as a dict (for tests and slow paths)."""
    doc = record_document(record, lambda meta: container_source(meta, agent, data_stream))
    doc["stream"] = record.stream
    return doc


def document_id(record: Record) -> str:
    """``<container id, 16 hex>-<Docker's timestamp>-<seq>``: the same line, the same ``_id``."""
    return f"{record.meta.id[:16]}-{record.timestamp}-{record.seq}"


@dataclass(slots=True)
class _ContainerParts:
    container_id: str
    index: IndexPattern  # where its records go
    tails: dict[str, bytes]  # per stream: the source after the message, with the newline
    parsed_tails: dict[str, bytes]  # per stream: the stream and the container's part
    names: FieldNames  # what a parsed record's fields may be called
    heads: dict[str, bytes] = field(default_factory=dict)  # per day: the action line's start
    # per (stream, level): a parsed record's source after its fields, to the end (_after_fields)
    after_fields: dict[tuple[str, str | None], bytes] = field(default_factory=dict)


class BulkEncoder:
    """One ``bytes`` per record: its action line and source line, both newline-terminated.

    Give ``index`` (an :class:`IndexPattern`) or ``data_stream`` (a name), or neither: each
    container's records then go to its :func:`default_data_stream`.
    """

    def __init__(
        self,
        *,
        index: IndexPattern | None = None,
        data_stream: str | None = None,
        fields_key: str | None = None,
        agent: AgentIdentity | None = None,
    ):
        """``fields_key``: the fields of a line read as JSON go under this key (None: at the
        top level, renamed where logship's own fields have the name). ``agent``: who ships
        (``agent.*``; None: a new identity)."""
        self.fields_key = fields_key
        self.agent = agent or AgentIdentity.new()
        self.data_stream = data_stream
        self.index: IndexPattern | None = index
        if data_stream is not None:
            self.index = IndexPattern(check_index_name(data_stream))
        self._streams: dict[str, IndexPattern] = {}  # default data streams, by name
        self._key = ("bulk", next(_encoder_ids))

    def _parts(self, meta: ContainerMeta) -> _ContainerParts:
        data_stream = self.data_stream
        index = self.index
        if index is None:
            data_stream = default_data_stream(meta)
            index = self._streams.get(data_stream) or self._streams.setdefault(
                data_stream, IndexPattern(data_stream)
            )
        static = orjson.dumps(container_source(meta, self.agent, data_stream))[1:] + b"\n"
        tails = {}
        parsed_tails = {}
        for stream in ("stdout", "stderr"):
            name = stream.encode()
            parsed_tails[stream] = b'"stream":"' + name + b'",' + static
            tails[stream] = b',"log":{"iostream":"' + name + b'"},' + parsed_tails[stream]
        parts = _ContainerParts(meta.id[:16], index, tails, parsed_tails, FieldNames(meta, ADDED))
        meta.cache[self._key] = parts
        return parts

    def _head(self, parts: _ContainerParts, timestamp: str) -> bytes:
        heads = parts.heads
        if len(heads) > 8:  # a long-lived container: forget past days
            heads.clear()
        index = orjson.dumps(parts.index.name_for(timestamp))
        # the ID escaped like any string (sources let only 64 hex digits through); the
        # timestamps after it are the decoders', which take only Docker's strict form
        # (logship.record.is_canonical)
        container_id = orjson.dumps(parts.container_id)[1:-1]
        head = b'{"create":{"_index":%s,"_id":"%s-' % (index, container_id)
        heads[timestamp[: parts.index.key_chars]] = head
        return head

    @staticmethod
    def _after_fields(parts: _ContainerParts, stream: str, level: str | None) -> bytes:
        """What follows a parsed record's own fields in its source: ``"log"`` with the stream
        and level, then the stream and the container's part. Kept for the first 64 (stream,
        level) pairs seen."""
        after = b',"log":{"iostream":"%s"%s},%s' % (
            stream.encode(),
            level_member(level),
            parts.parsed_tails[stream],
        )
        if len(parts.after_fields) < 64:
            parts.after_fields[(stream, level)] = after
        return after

    def encode(self, records: Iterable[Record]) -> list[bytes]:
        dumps = orjson.dumps
        key = self._key
        fields_key = self.fields_key
        key_chars = 0
        out: list[bytes] = []
        append = out.append
        last_meta: ContainerMeta | None = None
        parts: _ContainerParts | None = None
        last_day: str | None = None
        head = b""
        for r in records:
            meta = r.meta
            if meta is not last_meta:
                last_meta = meta
                parts = meta.cache.get(key) or self._parts(meta)
                key_chars = parts.index.key_chars
                last_day = None
            assert parts is not None
            ts = r.timestamp
            parsed = r if type(r) is Parsed else None
            when = (parsed.time or ts) if parsed else ts  # a parsed line's own time, if asked
            day = when[:key_chars]
            if day != last_day:
                last_day = day
                head = parts.heads.get(day) or self._head(parts, when)
            t = ts.encode()
            if parsed:
                after = parts.after_fields.get((r.stream, parsed.level)) or self._after_fields(
                    parts, r.stream, parsed.level
                )
                append(
                    b'%s%s-%d"}}\n{"@timestamp":"%s","message":%s%s%s'
                    % (
                        head,
                        t,
                        r.seq,
                        parsed.time.encode() if parsed.time else t,
                        dumps(parsed.text),
                        fields_body(parsed.fields, parts.names, fields_key),
                        after,
                    )
                )
                continue
            append(
                b'%s%s-%d"}}\n{"@timestamp":"%s","message":%s%s'
                % (head, t, r.seq, t, dumps(r.message), parts.tails[r.stream])
            )
        return out


def max_answer_bytes(actions: int) -> int:
    """How long the answer to a ``_bulk`` request of ``actions`` may be: 1 MiB, and 4 KiB per
    action (each item's status, and for a refused one its error and reason). A longer one is
    no answer Elasticsearch gives, and is not read."""
    return 1024 * 1024 + 4096 * actions


def split_requests(entries: Sequence[bytes], max_bytes: int) -> list[tuple[int, int]]:
    """``(start, end)`` ranges of ``entries`` whose bodies stay within ``max_bytes``.

    An entry larger than ``max_bytes`` on its own goes alone (the server may still take it).
    """
    if sum(map(len, entries)) <= max_bytes:
        return [(0, len(entries))] if entries else []
    ranges = []
    start = size = 0
    for i, entry in enumerate(entries):
        n = len(entry)
        if size and size + n > max_bytes:
            ranges.append((start, i))
            start, size = i, 0
        size += n
    ranges.append((start, len(entries)))
    return ranges


# -- answers ------------------------------------------------------------------------------------

RequestVerdict = Literal["answered", "retry", "split", "credentials", "reject"]


def request_verdict(status: int) -> RequestVerdict:
    """What a whole ``_bulk`` request's HTTP status means for the records in it.

    200: look at each item. 413: too big, send it in halves. 401/403: the credentials were
    refused (retried: they may be fixed or the key re-granted). 408, 429, 5xx and 404 (no
    ``_bulk`` here, as a proxy in front says while it reloads or when ``path`` is wrong):
    retry it all later. Any other status: the request itself is wrong, retrying cannot help.
    """
    if status == 200:
        return "answered"
    if status == 413:
        return "split"
    if status in (401, 403):
        return "credentials"
    if status in (404, 408, 429) or status >= 500:
        return "retry"
    return "reject"


@dataclass(frozen=True)
class BulkResult:
    """The items of one ``_bulk`` answer, by position in the request."""

    retry: list[int] = field(default_factory=list)  # refused for now (429, 5xx)
    rejected: list[int] = field(default_factory=list)  # refused for good
    existing: int = 0  # ``create`` answered 409: the document is there already
    retry_reason: str = ""  # one item's error, to say why
    rejected_reason: str = ""


def describe_error(error: object) -> str:
    """An Elasticsearch error object in one line: ``type: reason (caused by type: reason)``."""
    if isinstance(error, Mapping):
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}".rstrip(": ")
        cause = error.get("caused_by")
        if isinstance(cause, Mapping):
            text += f" (caused by {describe_error(cause)})"
    else:
        text = str(error)
    text = " ".join(text.split())
    return text if len(text) <= _SAMPLE_CHARS else text[: _SAMPLE_CHARS - 1] + "…"


def describe_error_body(status: int, body: bytes) -> str:
    """A whole-request error answer in one line, whatever sent it (Elasticsearch or a proxy)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, Mapping) and "error" in doc:
        return f"HTTP {status}: {describe_error(doc['error'])}"
    text = " ".join(body[:_SAMPLE_CHARS].decode("utf-8", "replace").split())
    return f"HTTP {status}: {text}" if text else f"HTTP {status}"


def parse_bulk_response(body: bytes, sent: int) -> BulkResult:
    """Sort the items of a ``200`` ``_bulk`` answer to ``sent`` actions.

    Raises :class:`RemoteProtocolError` for an answer that is not a ``_bulk`` answer (a proxy's
    page, a cut body, a different number of items): nothing can be said about any record then.
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RemoteProtocolError(
            f'_bulk answer is not JSON: {body[:200]!r}; expected {{"errors": …, "items": […]}}'
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("errors"), bool):
        raise RemoteProtocolError(
            f"_bulk answer has no 'errors' flag: {body[:200]!r}; "
            'expected {"errors": true|false, "items": […]}'
        )
    items = doc.get("items")
    if items is None and not doc["errors"]:
        return BulkResult()
    if not isinstance(items, list) or len(items) != sent:
        got = len(items) if isinstance(items, list) else repr(items)[:100]
        raise RemoteProtocolError(f"_bulk answered {got} items to a request of {sent} actions")
    if not doc["errors"]:
        return BulkResult()
    retry: list[int] = []
    rejected: list[int] = []
    existing = 0
    retry_reason = rejected_reason = ""
    for position, item in enumerate(items):
        if not isinstance(item, dict) or len(item) != 1:
            raise RemoteProtocolError(f"_bulk item {position} is not {{action: result}}: {item!r}")
        ((action, result),) = item.items()
        status = result.get("status") if isinstance(result, dict) else None
        if not isinstance(status, int):
            raise RemoteProtocolError(f"_bulk item {position} has no status: {item!r}")
        if 200 <= status < 300:
            continue
        if status == 409 and action == "create":
            existing += 1
        elif status == 429 or status >= 500:
            retry.append(position)
            retry_reason = retry_reason or f"{status} {describe_error(result.get('error'))}"
        else:
            rejected.append(position)
            rejected_reason = rejected_reason or f"{status} {describe_error(result.get('error'))}"
    return BulkResult(retry, rejected, existing, retry_reason, rejected_reason)
