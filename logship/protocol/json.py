"""Records -> logship's own JSON document (one object per line) and plain text. No I/O.

The JSON shape follows Elastic Common Schema names where one exists, so a line can be read by
people and by tools that know ECS::

    {"@timestamp": "2026-11-27T05:24:33.719017066Z", "message": "hello",
     "log": {"iostream": "stdout"}, "host": {"name": "vm", "ip": "10.0.0.1"},
     "container": {"id": "…", "name": "web-1",
                   "image": {"name": "…", "tag": "1.35"}, "labels": {"com_example_team": "…"}},
     "kubernetes": {"namespace": "…", "pod": {"name": "…", "uid": "…"}, "container": {"name": "…"}}}

Only ECS names, as Filebeat writes them: no image ID (ECS has no field for it), and label keys
with their dots replaced by ``_`` (:func:`dedot`): Elasticsearch and other ECS readers take a
dot in a name for an object path, and Docker's own ``com.docker.compose.project`` next to
``com.docker.compose.project.working_dir`` would make one field both a value and an object.

The container part is serialised once per container; per line only the time, stream and message are.
A container's own fields (labels ``logship.field.<name>``) come at the top level, never in place
of ``@timestamp``, ``message``, ``log``, ``host``, ``container`` or ``kubernetes``.

A line read as fields (:class:`~logship.record.Parsed`) has its message field as ``message``,
its level as ``log.level``, and its other fields at the top level (or under one key); a field
whose name is taken (``host``, a container's own field...) gets ``_`` appended, never replacing
what logship sets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from logship.config.labels import container_options
from logship.record import ContainerMeta, Parsed, Record

RESERVED = frozenset({"@timestamp", "message", "log", "host", "container", "kubernetes"})


def dedot(labels: Mapping[str, str]) -> dict[str, str]:
    """Label keys with ``.`` replaced by ``_``, as Filebeat writes them (``labels.dedot``)."""
    return {key.replace(".", "_"): value for key, value in labels.items()}


def container_document(meta: ContainerMeta) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "host": {"name": meta.host.name, "ip": meta.host.ip},
        "container": {
            "id": meta.id,
            "name": meta.name,
            "image": {"name": meta.image_name, "tag": meta.image_tag},
            "labels": dedot(meta.labels),
        },
    }
    k8s = meta.kubernetes
    if k8s is not None:
        doc["kubernetes"] = {
            "namespace": k8s.namespace,
            "pod": {"name": k8s.pod_name, "uid": k8s.pod_uid},
            "container": {"name": k8s.container_name},
        }
        if k8s.restart_count is not None:
            doc["kubernetes"]["container"]["restart_count"] = k8s.restart_count
    own = container_options(meta).fields  # logship.field.<name>
    doc.update({k: v for k, v in own.items() if k.split(".")[0] not in RESERVED})
    return doc


def record_document(
    record: Record,
    container_part: Callable[[ContainerMeta], dict[str, Any]] = container_document,
) -> dict[str, Any]:
    """The same document as a dict (for tests and slow paths)."""
    return {
        "@timestamp": record.timestamp,
        "message": record.message,
        "log": {"iostream": record.stream},
        **container_part(record.meta),
    }


def taken_names(meta: ContainerMeta) -> frozenset[str]:
    """The top-level names a container's documents use already: a line's own field of one of
    these names is renamed."""
    own = container_options(meta).fields
    return RESERVED.union(k.split(".")[0] for k in own)


class FieldNames:
    """What a container's parsed lines may call their fields in its documents: ``taken``
    (:func:`taken_names`), and the names seen already that need no renaming (no dot, not
    taken), so the usual line's names are checked with one set operation."""

    __slots__ = ("ok", "taken")
    LIMIT = 4096  # names remembered per container (a line with ever new names: checked each time)

    def __init__(self, meta: ContainerMeta, also: frozenset[str] = frozenset()) -> None:
        """``also``: names the encoder's documents use besides :func:`taken_names`."""
        self.taken = taken_names(meta) | also
        self.ok: set[str] = set()

    def clean(self, fields: dict[str, Any]) -> bool:
        """Whether every name of ``fields`` can be written as it is."""
        if self.ok.issuperset(fields):
            return True
        taken = self.taken
        if not taken.isdisjoint(fields) or "." in "".join(fields):
            return False
        if len(self.ok) < self.LIMIT:
            self.ok.update(fields)
        return True


def _renamed(fields: dict[str, Any], taken: frozenset[str]) -> dict[str, Any]:
    """``fields`` with ``_`` appended to each name that logship's own document uses."""
    renamed: dict[str, Any] = {}
    for name, value in fields.items():
        new = name
        while new.split(".")[0] in taken or new in renamed or (new != name and new in fields):
            new += "_"
        renamed[new] = value
    return renamed


_STREAMS = {"stdout": b"stdout", "stderr": b"stderr"}
_levels: dict[str, bytes] = {}  # level names seen -> ',"level":"NAME"'


def fields_body(fields: dict[str, Any], names: FieldNames, key: str | None = None) -> bytes:
    """A parsed record's fields as they follow its message in a document: ``,"a":1,"b":2``
    (renamed where logship's own names are taken; ``key``: all of them under it); b"" for
    none."""
    if not fields:
        return b""
    if key is not None:
        return b"," + orjson.dumps({key: fields})[1:-1]
    if names.ok.issuperset(fields) or names.clean(fields):
        return b"," + orjson.dumps(fields)[1:-1]  # the usual line: no name of logship's own
    return b"," + orjson.dumps(_renamed(fields, names.taken))[1:-1]


def level_member(level: str | None) -> bytes:
    """``,"level":"NAME"`` for inside ``log`` (b"" for no level); kept for 256 names."""
    if level is None:
        return b""
    written = _levels.get(level)
    if written is None:
        written = b',"level":' + orjson.dumps(level)
        if len(_levels) < 256:
            _levels[level] = written
    return written


def parsed_head(record: Parsed, names: FieldNames, key: str | None = None) -> bytes:
    """A parsed record's document up to where the static part follows: ``{"@timestamp":…,
    "message":…,<fields>,"log":{"iostream":…,"level":…},`` (``key``: its fields under it)."""
    # the timestamps are canonical and the stream stdout or stderr: written as they are
    return b'{"@timestamp":"%s","message":%s%s,"log":{"iostream":"%s"%s},' % (
        (record.time or record.timestamp).encode(),
        orjson.dumps(record.text),
        fields_body(record.fields, names, key),
        _STREAMS[record.stream],
        level_member(record.level),
    )


class JsonEncoder:
    """One JSON object per record, newline-terminated, ready to write."""

    def __init__(self) -> None:
        self._key = ("json", id(self))

    def _tail(self, meta: ContainerMeta) -> dict[str, bytes]:
        static = orjson.dumps(container_document(meta))  # b'{"host":...}'
        tails = {
            stream: b',"log":{"iostream":"' + stream.encode() + b'"},' + static[1:] + b"\n"
            for stream in ("stdout", "stderr")
        }
        tails[""] = static[1:] + b"\n"  # after a parsed record's own head
        meta.cache[self._key] = tails
        return tails

    def encode(self, records: Iterable[Record]) -> list[bytes]:
        dumps = orjson.dumps
        key = self._key
        out: list[bytes] = []
        append = out.append
        last_meta: ContainerMeta | None = None
        tails: dict[str, bytes] = {}
        for r in records:
            if r.meta is not last_meta:
                last_meta = r.meta
                tails = last_meta.cache.get(key) or self._tail(last_meta)
            if type(r) is Parsed:
                meta = r.meta
                names = meta.cache.get((key, "names"))
                if names is None:
                    names = meta.cache[(key, "names")] = FieldNames(meta)
                append(parsed_head(r, names) + tails[""])
                continue
            append(
                b'{"@timestamp":"'
                + r.timestamp.encode()
                + b'","message":'
                + dumps(r.message)
                + tails[r.stream]
            )
        return out


# C0 controls but tab, DEL and the C1 controls: what a terminal may act on rather than show
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or f"\\x{ord(char):02x}"


def escape_controls(text: str) -> str:
    """``text`` with every control character but tab written out (``\\x1b``, ``\\r``,
    ``\\n``), so what a container logs is shown, never acted on by the terminal that shows it
    (an escape sequence moving the cursor, clearing the screen, retitling the window). For
    every text output: the console's, ``logship tail``'s and ``/logs``'."""
    if text.isprintable():  # the common case, checked in C: nothing to do
        return text
    return _CONTROLS.sub(_escaped, text)


class TextEncoder:
    """``TIMESTAMP HOST NAME (IMAGE) STREAM: MESSAGE`` per record, for people at a terminal;
    control characters but tab escaped (:func:`escape_controls`)."""

    def __init__(self) -> None:
        self._key = ("text", id(self))

    def encode(self, records: Iterable[Record]) -> list[bytes]:
        key = self._key
        out: list[bytes] = []
        append = out.append
        last_meta: ContainerMeta | None = None
        middle: dict[str, str] = {}
        for r in records:
            if r.meta is not last_meta:
                last_meta = r.meta
                middle = last_meta.cache.get(key) or {}
                if not middle:
                    m = last_meta
                    middle = {
                        s: escape_controls(f" {m.host.name} {m.name} ({m.image}) {s}: ")
                        for s in ("stdout", "stderr")
                    }
                    m.cache[key] = middle
            append(f"{r.timestamp}{middle[r.stream]}{escape_controls(r.message)}\n".encode())
        return out
