"""A stand-in for Elasticsearch's ``_bulk`` API, for tests (no Elasticsearch can run here).

It follows the documented contract strictly and answers the way Elasticsearch 8 does:

- ``POST|PUT [/<index>]/_bulk``; ``Content-Type`` must be ``application/x-ndjson`` or
  ``application/json`` (else 406); ``Content-Encoding: gzip|deflate`` bodies are inflated;
  a body over ``max_content_length_bytes`` is answered 413; unknown query parameters are 400.
- The body is NDJSON: it must end with a newline; an action/metadata line (exactly one of
  ``index``, ``create``, ``update``, ``delete``, with known metadata keys only) followed, except
  for ``delete``, by a source line. A malformed body is a whole-request 400 shaped like ES's.
- Each item is answered in order with ``status`` and, when it failed, an ``error`` object
  (``type``, ``reason``, ``index``…); ``create`` of an existing ``_id`` is 409
  ``version_conflict_engine_exception``; the top level has ``took``, ``errors`` and ``items``;
  ``filter_path`` is honoured.
- Index names are checked (lowercase, no ``\\ / * ? " < > | , # :`` or space…). A new name is
  made by the composable index template of highest priority matching it; Elasticsearch 8's
  built-in ``logs`` template (``data_stream_patterns``, priority 100) makes data streams:
  ``create`` only (an ``index`` op is the documented 400), ``@timestamp`` required, stored in a
  ``.ds-<name>-<date>-000001`` backing index. ``PUT|GET _index_template/<name>`` as documented
  (known keys only, patterns required, component templates that exist, known field types, no
  two templates matching one name at one priority); ``GET _data_stream/<name>`` names the
  template a stream was made by. A field a template types ``ip`` refuses a value that is not
  an address.
- Dynamic mapping is modelled far enough to refuse a field that is a value in one place and an
  object in another (``document_parsing_exception``), the error dotted label keys cause.
- With ``users`` or ``api_keys``, every request needs ``Authorization: Basic …`` or
  ``ApiKey …`` (else 401 ``security_exception`` with ``WWW-Authenticate``). ``GET /`` answers
  the version document.

Several nodes of one cluster: ``ElasticsearchStandIn(node_of=first)`` listens on a port of its
own and stores into ``first``'s indices (an ``_id`` created through one node is a 409 through
the other, as in a cluster); :meth:`kill` drops a node as a crash does.

Knobs for tests: :meth:`fail_requests` (the next N ``_bulk`` requests get 429 or another status),
:meth:`fail_items` (documents whose message contains a marker get 429 or a 400
``mapper_parsing_exception``), :meth:`set_users`. It runs its own event loop in a background
thread on 127.0.0.1 and can be stopped and started again on the same port, keeping what it
stored; :meth:`documents` and :attr:`calls` show what arrived.
"""

from __future__ import annotations

import asyncio
import base64
import fnmatch
import ipaddress
import socket
import ssl
import threading
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

ACTIONS = ("create", "delete", "index", "update")
METADATA = {
    "_index",
    "_id",
    "routing",
    "pipeline",
    "version",
    "version_type",
    "if_seq_no",
    "if_primary_term",
    "require_alias",
    "require_data_stream",
    "dynamic_templates",
    "retry_on_conflict",
    "_source",
    "list_executed_pipelines",
}
BULK_PARAMETERS = {
    "filter_path",
    "refresh",
    "pipeline",
    "routing",
    "timeout",
    "wait_for_active_shards",
    "require_alias",
    "require_data_stream",
    "list_executed_pipelines",
    "include_source_on_error",
    "_source",
    "_source_excludes",
    "_source_includes",
    "pretty",
    "human",
    "error_trace",
}
CONTENT_TYPES = ("application/x-ndjson", "application/json")
TEMPLATE_KEYS = {
    "index_patterns",
    "template",
    "composed_of",
    "priority",
    "version",
    "_meta",
    "data_stream",
    "allow_auto_create",
    "ignore_missing_component_templates",
    "deprecated",
}
TEMPLATE_PARAMETERS = {"create", "cause", "master_timeout", "pretty", "human", "error_trace"}
BUILT_IN_COMPONENTS = ("logs@mappings", "logs@settings", "ecs@mappings")
FIELD_TYPES = {
    "keyword",
    "constant_keyword",
    "wildcard",
    "text",
    "match_only_text",
    "ip",
    "date",
    "date_nanos",
    "long",
    "integer",
    "short",
    "byte",
    "double",
    "float",
    "boolean",
    "object",
    "flattened",
    "nested",
}
_FORBIDDEN_IN_INDEX = '\\/*?"<>| ,#:'


class _RequestError(Exception):
    """A whole-request error: status, ES error type and reason."""

    def __init__(self, status: int, type_: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.type, self.reason = status, type_, reason


class _ItemError(Exception):
    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(error.get("reason", ""))
        self.status, self.error = status, error


@dataclass
class BulkCall:
    """One ``_bulk`` request as it arrived."""

    path: str
    query: dict[str, str]
    content_type: str
    content_encoding: str
    authorization: str  # the scheme only: "Basic", "ApiKey" or ""
    wire_bytes: int  # as sent (compressed, if it was)
    body_bytes: int  # after inflating
    actions: list[str] = field(default_factory=list)
    status: int = 0


@dataclass
class _ItemFailure:
    marker: str
    status: int
    error_type: str
    times: int | None  # per document; None: always
    seen: Counter[str] = field(default_factory=Counter)


def _error_body(status: int, type_: str, reason: str, **extra: Any) -> dict[str, Any]:
    cause = {"type": type_, "reason": reason, **extra}
    return {"error": {"root_cause": [cause], **cause}, "status": status}


def _filter(value: Any, patterns: list[list[str]]) -> Any:
    """Elasticsearch's ``filter_path``: keep only what the dotted patterns (``*`` ok) match."""
    if isinstance(value, list):
        kept = [_filter(v, patterns) for v in value]
        return [v for v in kept if v not in (None, {}, [])]
    if not isinstance(value, dict):
        return None
    out: dict[str, Any] = {}
    for key, item in value.items():
        rest = [p[1:] for p in patterns if fnmatch.fnmatchcase(key, p[0])]
        if any(not r for r in rest):
            out[key] = item
        elif rest:
            kept = _filter(item, rest)
            if kept not in (None, {}, []):
                out[key] = kept
    return out


def _open(transport: asyncio.Transport) -> bool:
    try:
        sock = transport.get_extra_info("socket")
    except AttributeError:  # a TLS transport whose connection is gone has no protocol left
        return False
    return sock is not None and sock.fileno() != -1


def _inflate(wire: bytes, encoding: str) -> bytes:
    try:
        if encoding == "gzip":
            return zlib.decompress(wire, wbits=31)
        if encoding == "deflate":
            return zlib.decompress(wire)
    except zlib.error as exc:
        raise _RequestError(400, "illegal_argument_exception", f"bad {encoding}: {exc}") from None
    if encoding in ("", "identity"):
        return wire
    raise _RequestError(400, "illegal_argument_exception", f"unsupported encoding [{encoding}]")


def index_name_problem(name: str) -> str | None:
    if name != name.lower():
        return "must be lowercase"
    for c in _FORBIDDEN_IN_INDEX:
        if c in name:
            return f"must not contain the following characters [{c}]"
    if name[:1] in ("-", "_", "+"):
        return "must not start with '_', '-', or '+'"
    if name in ("", ".", ".."):
        return "must not be '.' or '..'"
    if len(name.encode()) > 255:
        return "index name is too long"
    return None


def _field_kinds(doc: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """``(path, "object"|"value")`` for every field, dotted names expanded as ES does."""
    for key, value in doc.items():
        if not key.strip(".") or ".." in key or key.startswith(".") or key.endswith("."):
            raise ValueError(f"field name [{key}] cannot be empty or contain only dots")
        parts = key.split(".")
        for j in range(1, len(parts)):
            yield prefix + ".".join(parts[:j]), "object"
        path = prefix + key
        elements = value if isinstance(value, list) else [value]
        for element in elements:
            if isinstance(element, dict):
                yield path, "object"
                yield from _field_kinds(element, path + ".")
            elif element is not None and not isinstance(element, list):
                yield path, "value"


def _conflict(path: str, known: str) -> str:
    if known == "object":
        leaf = path.rsplit(".", 1)[-1]
        return (
            f"object mapping for [{path}] tried to parse field [{leaf}] as object, "
            "but found a concrete value"
        )
    return (
        f"Could not dynamically add mapping for field [{path}]. Existing mapping for "
        f"[{path}] must be of type object but found [keyword]."
    )


def _overlap(a: str, b: str) -> bool:
    """Whether two index patterns can match one name (close enough: either matches the other,
    or both are wildcards with a common prefix)."""
    if fnmatch.fnmatchcase(a, b) or fnmatch.fnmatchcase(b, a):
        return True
    head_a, head_b = a.split("*")[0], b.split("*")[0]
    return "*" in a and "*" in b and (head_a.startswith(head_b) or head_b.startswith(head_a))


def _typed_paths(template: dict[str, Any]) -> dict[str, str]:
    """``{"host.ip": "ip", ...}``: the leaf types of a template's own mappings."""
    out: dict[str, str] = {}

    def walk(properties: dict[str, Any], prefix: str) -> None:
        for field_name, spec in properties.items():
            if "properties" in spec:
                walk(spec["properties"], f"{prefix}{field_name}.")
            else:
                out[prefix + field_name] = spec.get("type", "object")

    walk(template.get("template", {}).get("mappings", {}).get("properties", {}), "")
    return out


def _value_at(doc: dict[str, Any], path: str) -> Any:
    """The value at a dotted path of objects (None where there is none)."""
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _is_ip(value: Any) -> bool:
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        return False
    return True


class ElasticsearchStandIn:
    def __init__(
        self,
        *,
        users: dict[str, str] | None = None,
        api_keys: Iterable[str] = (),
        ssl_context: ssl.SSLContext | None = None,
        prefix: str = "",
        data_stream_patterns: Iterable[str] = ("logs-*-*",),
        max_content_length_bytes: int = 100 * 1024 * 1024,
        version: str = "8.13.4",
        node_of: ElasticsearchStandIn | None = None,
    ) -> None:
        self.users = dict(users or {})
        self.api_keys = set(api_keys)  # "id:key"
        self.ssl_context = ssl_context
        self.prefix = prefix.rstrip("/")
        # composable index templates, by name: Elasticsearch 8's built-in logs template
        self._templates: dict[str, dict[str, Any]] = {
            "logs": {
                "index_patterns": list(data_stream_patterns),
                "composed_of": [*BUILT_IN_COMPONENTS, "logs@custom"],
                "priority": 100,
                "data_stream": {"hidden": False, "allow_custom_routing": False},
                "allow_auto_create": True,
                "ignore_missing_component_templates": ["logs@custom"],
                "_meta": {"description": "default logs template installed by x-pack"},
            }
        }
        self._stream_templates: dict[str, str] = {}  # data stream -> the template it was made by
        self._field_types: dict[str, dict[str, str]] = {}  # index -> typed paths, from templates
        self.max_content_length_bytes = max_content_length_bytes
        self.version = version
        self.port = 0
        self.calls: list[BulkCall] = []
        self.item_errors: list[dict[str, Any]] = []  # every item answered with an error
        self._lock = threading.Lock()
        self._indices: dict[str, dict[str, dict[str, Any]]] = {}
        self._mappings: dict[str, dict[str, str]] = {}
        self._data_streams: dict[str, str] = {}  # name -> backing index
        if node_of is not None:  # another node of its cluster: one store, one lock
            self._lock = node_of._lock
            self._indices = node_of._indices
            self._mappings = node_of._mappings
            self._data_streams = node_of._data_streams
        self._seq_no = 0
        self._failing_requests: list[int] = []
        self._nonsense_answers = 0
        self._item_failures: list[_ItemFailure] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._runner: web.AppRunner | None = None
        self._transports: set[asyncio.Transport] = set()

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}{self.prefix}"

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def start(self) -> ElasticsearchStandIn:
        self._call(self._start())
        return self

    async def _start(self) -> None:
        app = web.Application(client_max_size=self.max_content_length_bytes * 2)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, auto_decompress=False, shutdown_timeout=1.0)
        await runner.setup()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))  # the same port again after a stop
        self.port = listener.getsockname()[1]
        site = web.SockSite(runner, listener, ssl_context=self.ssl_context)
        await site.start()
        self._runner = runner

    def stop(self) -> None:
        """Stop listening and drop every connection; what was stored stays."""
        if self._runner is not None:
            self._call(self._stop(self._runner))
            self._runner = None

    async def _stop(self, runner: web.AppRunner) -> None:
        await runner.cleanup()
        # A TLS connection closes only once the peer answered close_notify: wait for that (or
        # cut it) so that no socket outlives the loop and warns when collected.
        for _ in range(100):  # 2 s at most
            if not any(_open(t) for t in self._transports):
                break
            await asyncio.sleep(0.02)
        for transport in self._transports:
            if _open(transport):
                transport.abort()
        self._transports.clear()
        await asyncio.sleep(0)

    def kill(self) -> None:
        """As a node that crashes: every connection cut at once (an answer being written
        included), then no more listening; what was stored stays."""
        self._call(self._kill())
        self.stop()

    async def _kill(self) -> None:
        for transport in self._transports:
            transport.abort()
        self._transports.clear()
        await asyncio.sleep(0)

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> ElasticsearchStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- knobs ------------------------------------------------------------------------------

    def fail_requests(self, count: int, status: int = 429) -> None:
        """Answer the next ``count`` ``_bulk`` requests with ``status`` (nothing is stored)."""
        with self._lock:
            self._failing_requests += [status] * count

    def answer_nonsense(self, count: int) -> None:
        """Answer the next ``count`` ``_bulk`` requests ``200`` with a body that is no ``_bulk``
        answer, as a misconfigured proxy would (nothing is stored)."""
        with self._lock:
            self._nonsense_answers += count

    def fail_items(
        self,
        marker: str,
        *,
        status: int = 429,
        error_type: str | None = None,
        times: int | None = None,
    ) -> None:
        """Documents whose message contains ``marker`` fail with ``status`` (429: rejected
        execution, 400: ``mapper_parsing_exception``), ``times`` times each or always."""
        default = "es_rejected_execution_exception" if status == 429 else "mapper_parsing_exception"
        with self._lock:
            self._item_failures.append(_ItemFailure(marker, status, error_type or default, times))

    def set_users(self, users: dict[str, str]) -> None:
        with self._lock:
            self.users = dict(users)

    # -- what arrived -----------------------------------------------------------------------

    def documents(self, index: str | None = None) -> list[dict[str, Any]]:
        """Stored sources: of one index or data stream, or of all, in arrival order."""
        with self._lock:
            if index is None:
                return [doc for docs in self._indices.values() for doc in docs.values()]
            index = self._data_streams.get(index, index)
            return list(self._indices.get(index, {}).values())

    def ids(self, index: str) -> list[str]:
        with self._lock:
            return list(self._indices.get(self._data_streams.get(index, index), {}))

    def index_names(self) -> list[str]:
        with self._lock:
            return sorted(self._indices)

    def backing_index(self, data_stream: str) -> str | None:
        with self._lock:
            return self._data_streams.get(data_stream)

    def field_type(self, name: str, path: str) -> str | None:
        """The type an index template gave ``path`` in an index or data stream (None: not
        typed by a template, mapped dynamically)."""
        with self._lock:
            index = self._data_streams.get(name, name)
            return (self._field_types.get(index) or {}).get(path)

    def data_stream_template(self, data_stream: str) -> str | None:
        """The template a data stream was made by (``GET _data_stream/<name>``'s ``template``)."""
        with self._lock:
            return self._stream_templates.get(data_stream)

    def template(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self._templates.get(name)

    def put_template(self, name: str, template: dict[str, Any]) -> None:
        """Install an index template as an operator would have (no checks)."""
        with self._lock:
            self._templates[name] = template

    # -- HTTP -------------------------------------------------------------------------------

    def _json(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(
            status=status,
            body=orjson.dumps(doc),
            content_type="application/json",
            headers={"X-elastic-product": "Elasticsearch", **(headers or {})},
        )

    def _request_error(self, exc: _RequestError) -> web.Response:
        return self._json(exc.status, _error_body(exc.status, exc.type, exc.reason))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            self._transports.add(request.transport)
        path = request.path
        if self.prefix:
            if path != self.prefix and not path.startswith(self.prefix + "/"):
                return web.Response(status=404, text="<html>no such path</html>")
            path = path[len(self.prefix) :] or "/"
        denied = self._authenticate(request, path)
        if denied is not None:
            return denied
        parts = [p for p in path.split("/") if p]
        if not parts and request.method in ("GET", "HEAD"):
            return self._json(200, self._info())
        if parts and parts[-1] == "_bulk" and len(parts) <= 2 and request.method in ("POST", "PUT"):
            return await self._bulk(request, parts[0] if len(parts) == 2 else None)
        if len(parts) == 2 and parts[0] == "_index_template" and request.method in ("PUT", "POST"):
            return await self._put_template(request, parts[1])
        if len(parts) == 2 and parts[0] == "_index_template" and request.method == "GET":
            return self._get_template(parts[1])
        if len(parts) == 2 and parts[0] == "_data_stream" and request.method == "GET":
            return self._get_data_stream(parts[1])
        return self._json(
            400 if request.method != "GET" else 404,
            {"error": f"no handler found for uri [{path}] and method [{request.method}]"},
        )

    # -- index templates and data streams ---------------------------------------------------

    async def _put_template(self, request: web.Request, name: str) -> web.Response:
        """``PUT _index_template/<name>``, as documented: the body's known keys only, index
        patterns required, the component templates named must exist (unless listed as
        ignorable), the field types must be known, and no other template matching the same
        names at the same priority."""
        try:
            await self._store_template(request, name)
        except _RequestError as exc:
            return self._request_error(exc)
        return self._json(200, {"acknowledged": True})

    async def _store_template(self, request: web.Request, name: str) -> None:
        for key in request.query:
            if key not in TEMPLATE_PARAMETERS:
                raise _RequestError(
                    400,
                    "illegal_argument_exception",
                    f"request [{request.path}] contains unrecognized parameter: [{key}]",
                )
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            raise _RequestError(400, "x_content_parse_exception", str(exc)) from None
        if not isinstance(body, dict):
            raise _RequestError(400, "x_content_parse_exception", "expected an object")
        for key in body:
            if key not in TEMPLATE_KEYS:
                raise _RequestError(
                    400, "x_content_parse_exception", f"[index_template] unknown field [{key}]"
                )
        patterns = body.get("index_patterns")
        if not patterns:
            raise _RequestError(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: index patterns are missing;",
            )
        with self._lock:
            if request.query.get("create") == "true" and name in self._templates:
                raise _RequestError(
                    400, "illegal_argument_exception", f"index template [{name}] already exists"
                )
            ignorable = set(body.get("ignore_missing_component_templates") or [])
            missing = [
                c
                for c in body.get("composed_of") or []
                if c not in BUILT_IN_COMPONENTS and c not in ignorable
            ]
            if missing:
                raise _RequestError(
                    400,
                    "invalid_index_template_exception",
                    f"index_template [{name}] invalid, cause [index template [{name}] "
                    f"specifies component templates {missing} that do not exist]",
                )
            self._check_types(body.get("template", {}).get("mappings", {}), "")
            priority = body.get("priority", 0)
            for other, template in self._templates.items():
                theirs = template["index_patterns"]
                if other == name or template.get("priority", 0) != priority:
                    continue
                if any(_overlap(a, b) for a in patterns for b in theirs):
                    raise _RequestError(
                        400,
                        "illegal_argument_exception",
                        f"index template [{name}] has index patterns {patterns} matching "
                        f"patterns from existing templates [{other}] with patterns "
                        f"({other} => {theirs}) that have the same priority [{priority}], "
                        "multiple index templates may not match during index creation, "
                        "please use a different priority",
                    )
            self._templates[name] = body

    def _check_types(self, mapping: dict[str, Any], prefix: str) -> None:
        for field_name, spec in (mapping.get("properties") or {}).items():
            kind = spec.get("type", "object")
            if kind not in FIELD_TYPES:
                raise _RequestError(
                    400,
                    "mapper_parsing_exception",
                    f"No handler for type [{kind}] declared on field [{prefix}{field_name}]",
                )
            self._check_types(spec, f"{prefix}{field_name}.")

    def _get_template(self, name: str) -> web.Response:
        with self._lock:
            found = [
                {"name": n, "index_template": t}
                for n, t in sorted(self._templates.items())
                if fnmatch.fnmatchcase(n, name)
            ]
        if not found:
            reason = f"index template matching [{name}] not found"
            return self._json(404, _error_body(404, "resource_not_found_exception", reason))
        return self._json(200, {"index_templates": found})

    def _get_data_stream(self, name: str) -> web.Response:
        with self._lock:
            backing = self._data_streams.get(name)
            template = self._stream_templates.get(name)
        if backing is None:
            return self._json(
                404,
                _error_body(
                    404,
                    "index_not_found_exception",
                    f"no such index [{name}]",
                    index=name,
                    **{"resource.type": "index_or_alias", "resource.id": name},
                ),
            )
        stream = {
            "name": name,
            "timestamp_field": {"name": "@timestamp"},
            "indices": [{"index_name": backing, "index_uuid": "aAsFqTI0Tc2W0LCWgPNrOA"}],
            "generation": 1,
            "status": "GREEN",
            "template": template,
            "hidden": False,
            "system": False,
            "allow_custom_routing": False,
            "replicated": False,
        }
        return self._json(200, {"data_streams": [stream]})

    def _template_for(self, index: str) -> tuple[str, dict[str, Any]] | None:
        """The template a new index or data stream of this name is made by: the matching one
        of highest priority."""
        matching = [
            (t.get("priority", 0), n, t)
            for n, t in self._templates.items()
            if any(fnmatch.fnmatchcase(index, p) for p in t["index_patterns"])
        ]
        if not matching:
            return None
        _, name, template = max(matching, key=lambda m: m[0])
        return name, template

    def _info(self) -> dict[str, Any]:
        return {
            "name": "standin-0",
            "cluster_name": "logship-test",
            "cluster_uuid": "x8GdoQ7pQbCX1W0w4GMGgA",
            "version": {
                "number": self.version,
                "build_flavor": "default",
                "build_type": "docker",
                "build_hash": "0000000000000000000000000000000000000000",
                "build_date": "2024-05-06T22:04:45.107454559Z",
                "build_snapshot": False,
                "lucene_version": "9.10.0",
                "minimum_wire_compatibility_version": "7.17.0",
                "minimum_index_compatibility_version": "7.0.0",
            },
            "tagline": "You Know, for Search",
        }

    def _authenticate(self, request: web.Request, path: str) -> web.Response | None:
        with self._lock:
            users, api_keys = dict(self.users), set(self.api_keys)
        if not users and not api_keys:
            return None
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except ValueError:
            decoded = ""
        if scheme.lower() == "basic" and decoded:
            user, _, password = decoded.partition(":")
            if user in users and users[user] == password:
                return None
            reason = f"unable to authenticate user [{user}] for REST request [{path}]"
        elif scheme.lower() == "apikey" and decoded:
            if decoded in api_keys:
                return None
            reason = "unable to authenticate with provided credentials and anonymous access is "
            reason += "not allowed for this request"
        else:
            reason = f"missing authentication credentials for REST request [{path}]"
        challenge = ['Basic realm="security", charset="UTF-8"', "ApiKey"]
        body = _error_body(
            401, "security_exception", reason, header={"WWW-Authenticate": challenge}
        )
        return self._json(401, body, {"WWW-Authenticate": ", ".join(challenge)})

    async def _bulk(self, request: web.Request, url_index: str | None) -> web.Response:
        """Every ``_bulk`` request is recorded in :attr:`calls` once answered, with its status."""
        call = BulkCall(
            path=request.path,
            query=dict(request.query),
            content_type=request.headers.get("Content-Type", ""),
            content_encoding=request.headers.get("Content-Encoding", "").strip().lower(),
            authorization=request.headers.get("Authorization", "").partition(" ")[0],
            wire_bytes=request.content_length or 0,
            body_bytes=0,
        )
        try:
            response = await self._answer_bulk(request, call, url_index)
        except _RequestError as exc:
            response = self._request_error(exc)
        if not call.status:  # answered without storing anything
            call.status = response.status
            with self._lock:
                self.calls.append(call)
        return response

    async def _answer_bulk(
        self, request: web.Request, call: BulkCall, url_index: str | None
    ) -> web.Response:
        started = time.monotonic()
        for key in request.query:
            if key not in BULK_PARAMETERS:
                raise _RequestError(
                    400,
                    "illegal_argument_exception",
                    f"request [{request.path}] contains unrecognized parameter: [{key}]",
                )
        if call.content_type.split(";")[0].strip().lower() not in CONTENT_TYPES:
            error = f"Content-Type header [{call.content_type}] is not supported"
            return self._json(406, {"error": error, "status": 406})
        if call.wire_bytes > self.max_content_length_bytes:
            return web.Response(status=413)
        wire = await request.read()
        call.wire_bytes = len(wire)
        body = _inflate(wire, call.content_encoding)
        call.body_bytes = len(body)
        if len(body) > self.max_content_length_bytes:
            return web.Response(status=413)
        with self._lock:
            failing = self._failing_requests.pop(0) if self._failing_requests else None
            nonsense = self._nonsense_answers > 0
            self._nonsense_answers -= nonsense
        if nonsense:
            return web.Response(status=200, text="<html><body>It works!</body></html>")
        if failing is not None:
            kind = "es_rejected_execution_exception" if failing == 429 else "unavailable_shards"
            raise _RequestError(failing, kind, "rejected by the test (fail_requests)")
        operations = self._parse(body, url_index)
        call.actions = [op for op, *_ in operations]
        with self._lock:  # what it stored and the call that did it, seen together
            items = [self._item(*operation) for operation in operations]
            call.status = 200
            self.calls.append(call)
        errors = any("error" in next(iter(item.values())) for item in items)
        answer: Any = {
            "errors": errors,
            "took": int((time.monotonic() - started) * 1000),
            "items": items,
        }
        filter_path = request.query.get("filter_path")
        if filter_path:
            answer = _filter(answer, [p.split(".") for p in filter_path.split(",") if p])
        return self._json(200, answer)

    def _parse(
        self, body: bytes, url_index: str | None
    ) -> list[tuple[str, str, str | None, bytes | None]]:
        """The body's operations: (action, index, _id, source line), or a _RequestError."""
        if not body.endswith(b"\n"):
            raise _RequestError(
                400,
                "illegal_argument_exception",
                "The bulk request must be terminated by a newline [\\n]",
            )
        lines = body.split(b"\n")[:-1]
        operations = []
        i = 0
        while i < len(lines):
            number = i + 1
            line = lines[i].removesuffix(b"\r")
            try:
                action = orjson.loads(line)
            except orjson.JSONDecodeError:
                action = None
            if not isinstance(action, dict) or len(action) != 1:
                raise _RequestError(
                    400,
                    "illegal_argument_exception",
                    f"Malformed action/metadata line [{number}], expected START_OBJECT or "
                    f"a single action but found [{line[:50].decode(errors='replace')}]",
                )
            ((op, meta),) = action.items()
            if op not in ACTIONS:
                raise _RequestError(
                    400,
                    "illegal_argument_exception",
                    f"Malformed action/metadata line [{number}], expected field [create], "
                    f"[delete], [index] or [update] but found [{op}]",
                )
            if not isinstance(meta, dict):
                raise _RequestError(
                    400,
                    "illegal_argument_exception",
                    f"Malformed action/metadata line [{number}], expected START_OBJECT",
                )
            for key in meta:
                if key not in METADATA:
                    raise _RequestError(
                        400,
                        "illegal_argument_exception",
                        f"Action/metadata line [{number}] contains an unknown parameter [{key}]",
                    )
            index = meta.get("_index", url_index)
            if not isinstance(index, str):
                raise _RequestError(
                    400,
                    "action_request_validation_exception",
                    "Validation Failed: 1: index is missing;",
                )
            source = None
            if op != "delete":
                if i + 1 >= len(lines):
                    raise _RequestError(
                        400,
                        "illegal_argument_exception",
                        f"action/metadata line [{number}] has no source line after it",
                    )
                source = lines[i + 1].removesuffix(b"\r")
                i += 1
            i += 1
            doc_id = meta.get("_id")
            operations.append((op, index, None if doc_id is None else str(doc_id), source))
        if not operations:
            raise _RequestError(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: no requests added;",
            )
        return operations

    # -- items (called with the lock held) --------------------------------------------------

    def _item(
        self, op: str, index: str, doc_id: str | None, source: bytes | None
    ) -> dict[str, Any]:
        doc_id = doc_id or base64.urlsafe_b64encode(uuid.uuid4().bytes[:15]).decode()
        target = index
        try:
            self._check_index_name(index)
            doc = self._source(source, doc_id) if source is not None else None
            target = self._target(op, index, doc)
            return self._apply(op, target, doc_id, doc)
        except _ItemError as exc:
            error = {**exc.error, "index": target} if "index" not in exc.error else exc.error
            self.item_errors.append({"status": exc.status, **error})
            return {op: {"_index": target, "_id": doc_id, "status": exc.status, "error": error}}

    @staticmethod
    def _check_index_name(index: str) -> None:
        problem = index_name_problem(index)
        if problem:
            raise _ItemError(
                400,
                {
                    "type": "invalid_index_name_exception",
                    "reason": f"Invalid index name [{index}], {problem}",
                    "index_uuid": "_na_",
                    "index": index,
                },
            )

    def _source(self, source: bytes, doc_id: str) -> dict[str, Any]:
        try:
            doc = orjson.loads(source)
        except orjson.JSONDecodeError as exc:
            doc = exc
        if not isinstance(doc, dict):
            raise _ItemError(
                400,
                {
                    "type": "document_parsing_exception",
                    "reason": f"failed to parse: source is not a JSON object: {source[:80]!r}",
                },
            )
        message = str(doc.get("message", ""))
        for failure in self._item_failures:
            if failure.marker not in message:
                continue
            failure.seen[doc_id] += 1
            if failure.times is not None and failure.seen[doc_id] > failure.times:
                continue
            error: dict[str, Any]
            if failure.status == 429:
                error = {
                    "type": failure.error_type,
                    "reason": "rejected execution of primary operation [coordinating_and_"
                    "primary_bytes=0, replica_bytes=0, all_bytes=0, primary_operation_bytes="
                    "0, max_coordinating_and_primary_bytes=0]",
                }
            else:
                error = {
                    "type": failure.error_type,
                    "reason": f"failed to parse field [message] of type [long] in document "
                    f"with id '{doc_id}'. Preview of field's value: '{message[:40]}'",
                    "caused_by": {
                        "type": "illegal_argument_exception",
                        "reason": f'For input string: "{message[:40]}"',
                    },
                }
            raise _ItemError(failure.status, error)
        return doc

    def _target(self, op: str, index: str, doc: dict[str, Any] | None) -> str:
        """The index a write goes to: the index itself, or a data stream's backing index."""
        chosen = None if index in self._data_streams else self._template_for(index)
        is_stream = index in self._data_streams or (
            chosen is not None and "data_stream" in chosen[1]
        )
        if not is_stream:
            if chosen is not None and index not in self._indices:  # a new index, templated
                self._field_types[index] = _typed_paths(chosen[1])
            return index
        if op != "create":
            raise _ItemError(
                400,
                {
                    "type": "illegal_argument_exception",
                    "reason": "only write ops with an op_type of create are allowed in data "
                    "streams",
                },
            )
        if doc is not None and "@timestamp" not in doc:
            raise _ItemError(
                400,
                {
                    "type": "document_parsing_exception",
                    "reason": "data stream timestamp field [@timestamp] is missing",
                },
            )
        backing = self._data_streams.get(index)
        if backing is None:
            assert chosen is not None
            day = datetime.now(UTC).strftime("%Y.%m.%d")
            backing = self._data_streams[index] = f".ds-{index}-{day}-000001"
            self._stream_templates[index] = chosen[0]
            self._field_types[backing] = _typed_paths(chosen[1])
        return backing

    def _check_mapping(self, index: str, doc: dict[str, Any]) -> None:
        for path, kind in (self._field_types.get(index) or {}).items():
            value = _value_at(doc, path)
            if kind == "ip" and value is not None and not _is_ip(value):
                raise _ItemError(
                    400,
                    {
                        "type": "document_parsing_exception",
                        "reason": f"failed to parse field [{path}] of type [ip] in document. "
                        f"Preview of field's value: '{value}'",
                        "caused_by": {
                            "type": "illegal_argument_exception",
                            "reason": f"'{value}' is not an IP string literal.",
                        },
                    },
                )
        mapping = self._mappings.setdefault(index, {})
        new: dict[str, str] = {}
        try:
            reason = None
            for path, kind in _field_kinds(doc):
                known = new.get(path) or mapping.get(path)
                if known is None:
                    new[path] = kind
                elif known != kind:
                    reason = _conflict(path, known)
                    break
        except ValueError as exc:
            reason = str(exc)
        if reason is not None:
            raise _ItemError(400, {"type": "document_parsing_exception", "reason": reason})
        mapping.update(new)

    def _apply(
        self, op: str, index: str, doc_id: str, doc: dict[str, Any] | None
    ) -> dict[str, Any]:
        docs = self._indices.get(index, {})
        exists = doc_id in docs
        conflict = {"index_uuid": "aAsFqTI0Tc2W0LCWgPNrOA", "shard": "0", "index": index}
        if op == "create" and exists:
            raise _ItemError(
                409,
                {
                    "type": "version_conflict_engine_exception",
                    "reason": f"[{doc_id}]: version conflict, document already exists "
                    "(current version [1])",
                    **conflict,
                },
            )
        if op in ("update", "delete") and not exists:
            if op == "delete":
                return {op: self._result(index, doc_id, "not_found", 404)}
            raise _ItemError(
                404,
                {
                    "type": "document_missing_exception",
                    "reason": f"[{doc_id}]: document missing",
                    **conflict,
                },
            )
        if op == "delete":
            del docs[doc_id]
            return {op: self._result(index, doc_id, "deleted", 200)}
        assert doc is not None
        if op == "update":
            partial = doc.get("doc")
            if not isinstance(partial, dict):
                raise _ItemError(
                    400,
                    {
                        "type": "action_request_validation_exception",
                        "reason": "script or doc is missing",
                    },
                )
            doc = {**docs[doc_id], **partial}
        self._check_mapping(index, doc)
        self._indices.setdefault(index, {})[doc_id] = doc
        if exists:
            return {op: self._result(index, doc_id, "updated", 200)}
        return {op: self._result(index, doc_id, "created", 201)}

    def _result(self, index: str, doc_id: str, result: str, status: int) -> dict[str, Any]:
        self._seq_no += 1
        return {
            "_index": index,
            "_id": doc_id,
            "_version": 1,
            "result": result,
            "_shards": {"total": 2, "successful": 1, "failed": 0},
            "_seq_no": self._seq_no,
            "_primary_term": 1,
            "status": status,
        }
