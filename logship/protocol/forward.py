"""Fluentd's forward protocol (v1), client side: records -> PackedForward messages, and the
server's answers (HELO, PONG, ack) -> events. No I/O.

A batch becomes one ``[tag, <event stream>, option]`` message per tag (the tag is Docker's tag
template, so usually one per container), split further when it would pass
``max_message_bytes``. Each event is ``[EventTime, record]``: EventTime is msgpack ext type 0,
seconds and nanoseconds as two big-endian uint32. The record has the fields of Docker's fluentd
driver, in its order, then logship's enrichment::

    {"container_id": "<64 hex>", "container_name": "/web-1", "source": "stdout",
     "log": "GET / 200", <labels= and env= as top-level keys>,
     "host": "node-1", "host_ip": "10.0.0.12", "image_name": "nginx", "image_tag": "1.25",
     "image_id": "sha256:…", "kubernetes": {"namespace": …, "pod_name": …, "pod_uid": …,
     "container_name": …} (only for containers the kubelet started)}

A line read as JSON fields (:class:`~logship.record.Parsed`) keeps ``log`` (the line as
written), and its record has the line's message as ``message``, its level as ``level`` and its
other fields as keys of their own, as Fluentd's parser filter (``reserve_data``) makes them; a
field named like a key the record has already gets ``_`` appended.

Everything but the time and the message is packed once per container and stream and kept in
``meta.cache``; per line the encoder adds six byte strings to a list that is joined once per
message.

With ``ack`` each message carries a ``chunk`` id (16 random bytes, base64) that the server
answers with ``{"ack": id}``. The shared-key handshake: the server sends
``["HELO", {"nonce", "auth", "keepalive"}]``, the client ``["PING", hostname, salt,
sha512_hex(salt + hostname + nonce + key), "", ""]``, the server ``["PONG", ok, reason,
server_hostname, sha512_hex(salt + server_hostname + nonce + key)]``, which proves that the
server knows the key too. The salt is 32 hex digits packed as a msgpack string, as Fluentd's
own client sends it (Fluent Bit refuses a PING whose salt is binary). ``auth`` in the HELO is
the salt for a user name and password: Fluentd sends it empty unless users are configured,
Fluent Bit always sends 16 bytes; logship has no user name to give, so it answers with empty
credentials either way, as Fluentd's client does, and a server that requires users says so
in its PONG.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import itertools
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import msgpack  # type: ignore[import-untyped]

from logship.config.labels import container_options
from logship.errors import RemoteProtocolError
from logship.protocol.template import TagTemplate
from logship.record import ContainerMeta, Parsed, Record, timestamp_ns

Compression = Literal["none", "gzip"]

DOCKER_FIELDS = ("container_id", "container_name", "source", "log")
ENRICHMENT_FIELDS = ("host", "host_ip", "image_name", "image_tag", "image_id", "kubernetes")
MAX_RESPONSE_BYTES = 1 << 20  # a HELO, PONG or ack is tens of bytes

_encoder_ids = itertools.count()  # meta.cache keys; id(self) can be reused once an encoder dies
# msgpack str headers by length below 256: fixstr, then str8
_STR_HEADERS = tuple(bytes((0xA0 | n,)) if n < 32 else bytes((0xD9, n)) for n in range(256))


def new_chunk_id() -> str:
    """A ``chunk`` option value: 128 random bits in base64, as the spec asks."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def _map_header(n: int) -> bytes:
    if n < 16:
        return bytes((0x80 | n,))
    if n < 1 << 16:
        return b"\xde" + n.to_bytes(2, "big")
    return b"\xdf" + n.to_bytes(4, "big")


def _bin_header(n: int) -> bytes:
    if n < 1 << 8:
        return b"\xc4" + n.to_bytes(1, "big")
    if n < 1 << 16:
        return b"\xc5" + n.to_bytes(2, "big")
    return b"\xc6" + n.to_bytes(4, "big")


def env_values(env: Iterable[str]) -> dict[str, str]:
    """``("A=1", "B=x=y")`` -> ``{"A": "1", "B": "x=y"}``; entries without ``=`` are ignored."""
    out = {}
    for item in env:
        key, sep, value = item.partition("=")
        if sep:
            out[key] = value
    return out


def record_fields(
    meta: ContainerMeta, stream: str, labels: tuple[str, ...] = (), env: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The record of one line of this container, without ``log`` (for tests and slow paths).

    Docker's four fields always win; a label or env variable named in the options wins over
    an enrichment field of the same name (the user asked for it by name); env wins over a
    label of the same name, as in Docker.
    """
    extra: dict[str, Any] = {}
    extra.update((k, meta.labels[k]) for k in labels if k in meta.labels)
    if env:
        values = env_values(meta.env)
        extra.update((k, values[k]) for k in env if k in values)
    enrichment: dict[str, Any] = {
        "host": meta.host.name,
        "host_ip": meta.host.ip,
        "image_name": meta.image_name,
        "image_tag": meta.image_tag,
        "image_id": meta.image_id,
    }
    k8s = meta.kubernetes
    if k8s is not None:
        enrichment["kubernetes"] = {
            "namespace": k8s.namespace,
            "pod_name": k8s.pod_name,
            "pod_uid": k8s.pod_uid,
            "container_name": k8s.container_name,
        }
        if k8s.restart_count is not None:
            enrichment["kubernetes"]["restart_count"] = k8s.restart_count
    fields = {
        "container_id": meta.id,
        "container_name": "/" + meta.name,  # Docker's own form of the name
        "source": stream,
    }
    enrichment = {k: v for k, v in enrichment.items() if k not in extra}
    own = {
        k: v
        for k, v in container_options(meta).fields.items()  # logship.field.<name>
        if k not in extra and k not in enrichment and k not in DOCKER_FIELDS
    }
    return fields | {k: v for k, v in extra.items() if k not in DOCKER_FIELDS} | enrichment | own


@dataclass(slots=True)
class Chunk:
    """One PackedForward message, ready to write, and the records it carries."""

    tag: str
    data: bytes
    records: list[Record]
    chunk_id: str | None  # what the server's ack must say; None without ack


class _Group:
    """One message being built: the pieces of its event stream, joined once at the end."""

    __slots__ = ("parts", "records", "size")

    def __init__(self) -> None:
        self.parts: list[bytes] = [b""]  # [0]: the message's header, once the size is known
        self.records: list[Record] = []
        self.size = 0


class ForwardEncoder:
    """Turns a batch of records into PackedForward (or CompressedPackedForward) messages."""

    def __init__(
        self,
        *,
        tag: TagTemplate | None = None,
        labels: Iterable[str] = (),
        env: Iterable[str] = (),
        ack: bool = False,
        compress: Compression = "none",
        time_as_integer: bool = False,
        max_message_bytes: int = 4 * 1024 * 1024,
        chunk_ids: Callable[[], str] = new_chunk_id,
    ) -> None:
        self.tag = tag or TagTemplate("{{.ID}}")
        self.labels = tuple(labels)
        self.env = tuple(env)
        self.ack = ack
        self.compress = compress
        self.time_as_integer = time_as_integer
        self.max_message_bytes = max_message_bytes
        self.chunk_ids = chunk_ids
        self._key = ("forward", next(_encoder_ids))
        self._packer = msgpack.Packer()

    def _pieces(self, meta: ContainerMeta) -> tuple[str, dict[str, tuple[bytes, bytes, int]]]:
        """The tag, and per stream the record's bytes before and after the message, and the
        size of an entry without its message."""
        pack = self._packer.pack
        time_size = 6 if self.time_as_integer else 11  # fixarray(2), then uint32 or EventTime
        pieces = {}
        for stream in ("stdout", "stderr"):
            fields = record_fields(meta, stream, self.labels, self.env)
            head = [_map_header(len(fields) + 1)]
            head += [pack(k) + pack(fields.pop(k)) for k in DOCKER_FIELDS[:3]]
            head.append(pack("log"))
            tail = b"".join(pack(k) + pack(v) for k, v in fields.items())
            joined = b"".join(head)
            pieces[stream] = (joined, tail, time_size + len(joined) + len(tail))
        cached = (self.tag.render(meta), pieces)
        meta.cache[self._key] = cached
        return cached

    def _parsed(self, meta: ContainerMeta) -> dict[str, tuple[bytes, int, frozenset[str]]]:
        """Per stream, for a parsed line: the record's start after its map header, how many
        keys it has without the line's own, and those keys' names."""
        pack = self._packer.pack
        out = {}
        for stream in ("stdout", "stderr"):
            fields = record_fields(meta, stream, self.labels, self.env)
            head = b"".join(pack(k) + pack(fields.pop(k)) for k in DOCKER_FIELDS[:3])
            out[stream] = (
                head + pack("log"),
                len(fields) + 4,
                frozenset((*DOCKER_FIELDS, *fields)),
            )
        meta.cache[(self._key, "parsed")] = out
        return out

    def _parsed_entry(self, r: Parsed, tail: bytes) -> bytes:
        """A parsed line's record, from its map header to its last key."""
        start, count, taken = (r.meta.cache.get((self._key, "parsed")) or self._parsed(r.meta))[
            r.stream
        ]
        own: dict[str, Any] = {}
        named = [("message", r.text)]
        if r.level is not None:
            named.append(("level", r.level))
        for name, value in (*named, *r.fields.items()):
            while name in taken or name in own:
                name += "_"
            own[name] = value
        pack = self._packer.pack
        return b"".join((_map_header(count + len(own)), start, pack(r.message), tail)) + b"".join(
            pack(k) + pack(v) for k, v in own.items()
        )

    def encode(self, records: Iterable[Record]) -> list[Chunk]:
        key = self._key
        limit = self.max_message_bytes
        event_time = not self.time_as_integer
        headers = _STR_HEADERS
        groups: dict[str, _Group] = {}
        done: list[tuple[str, _Group]] = []
        last_meta: ContainerMeta | None = None
        last_second = ""
        time = b""  # an Entry's start up to the nanoseconds: fixarray(2), the seconds
        tag = ""
        pieces: dict[str, tuple[bytes, bytes, int]] = {}
        group = _Group()
        for r in records:
            meta = r.meta
            if meta is not last_meta:
                last_meta = meta
                tag, pieces = meta.cache.get(key) or self._pieces(meta)
                group = groups.get(tag) or groups.setdefault(tag, _Group())
            ts = r.timestamp
            if type(r) is Parsed and r.time is not None:
                ts = r.time  # the line's own time, asked for with use_time
            if ts[:19] != last_second:
                last_second = ts[:19]
                seconds = (timestamp_ns(ts) // 1_000_000_000).to_bytes(4, "big")
                time = (b"\x92\xd7\x00" if event_time else b"\x92\xce") + seconds
            head, tail, size = pieces[r.stream]
            if type(r) is Parsed:
                entry: tuple[bytes, ...] = (self._parsed_entry(r, tail),)
                size += len(entry[0]) - len(head) - len(tail)
            else:
                message = r.message.encode()
                n = len(message)
                if n < 256:
                    header = headers[n]
                else:
                    header = (
                        b"\xda" + n.to_bytes(2, "big")
                        if n < 65536
                        else b"\xdb" + n.to_bytes(4, "big")
                    )
                size += n + len(header)
                entry = (head, header, message, tail)
            if group.size + size > limit and group.records:
                done.append((tag, group))
                group = groups[tag] = _Group()
            nanos = int(ts[20:29]).to_bytes(4, "big") if event_time else b""
            group.parts += (time, nanos, *entry)
            group.records.append(r)
            group.size += size
        done += groups.items()
        return [self._message(tag, group) for tag, group in done]

    def _message(self, tag: str, group: _Group) -> Chunk:
        parts = group.parts
        size = group.size
        option: dict[str, Any] = {"size": len(group.records)}
        if self.compress == "gzip":
            parts = [b"", gzip.compress(b"".join(parts), compresslevel=6, mtime=0)]
            size = len(parts[1])
            option["compressed"] = "gzip"
        chunk_id = None
        if self.ack:
            chunk_id = option["chunk"] = self.chunk_ids()
        pack = self._packer.pack
        parts[0] = b"\x93" + pack(tag) + _bin_header(size)  # [tag, bin entries, option]
        parts.append(pack(option))
        return Chunk(tag, b"".join(parts), group.records, chunk_id)


# -- what the server says ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Helo:
    """The server wants the shared-key handshake. ``auth``: salt for a user name and password
    (Fluentd leaves it empty when it has no users; Fluent Bit always sends one)."""

    nonce: bytes
    auth: bytes = b""
    keepalive: bool = True


@dataclass(frozen=True, slots=True)
class Pong:
    auth_result: bool
    reason: str
    server_hostname: bytes
    shared_key_hexdigest: str


@dataclass(frozen=True, slots=True)
class Ack:
    chunk: str


Response = Helo | Pong | Ack


class HandshakeRefused(RemoteProtocolError):
    """The server did not accept us (wrong shared key), or could not prove it knows the key."""


def _binary(value: object, what: str, message: object) -> bytes:
    if not isinstance(value, bytes):
        raise RemoteProtocolError(f"{what} must be a string, got {value!r} in {message!r}")
    return value


def parse_response(message: object) -> Response:
    """One decoded msgpack object from the server (strings as bytes) -> its event."""
    if isinstance(message, dict):
        if set(message) == {b"ack"}:
            return Ack(_binary(message[b"ack"], "ack", message).decode("utf-8", "replace"))
    elif isinstance(message, list) and message:
        kind = message[0]
        if kind == b"HELO" and len(message) == 2 and isinstance(message[1], dict):
            options = message[1]
            keepalive = options.get(b"keepalive", True)
            if b"nonce" not in options or not isinstance(keepalive, bool):
                raise RemoteProtocolError(
                    f"HELO must carry a nonce and may carry keepalive true|false; got {message!r}"
                )
            return Helo(
                nonce=_binary(options[b"nonce"], "HELO nonce", message),
                auth=_binary(options.get(b"auth", b""), "HELO auth", message),
                keepalive=keepalive,
            )
        if kind == b"PONG" and len(message) == 5 and isinstance(message[1], bool):
            _, ok, reason, hostname, digest = message
            return Pong(
                auth_result=ok,
                reason=_binary(reason, "PONG reason", message).decode("utf-8", "replace"),
                server_hostname=_binary(hostname, "PONG server_hostname", message),
                shared_key_hexdigest=_binary(digest, "PONG digest", message).decode(
                    "ascii", "replace"
                ),
            )
    raise RemoteProtocolError(
        "expected an ack {'ack': chunk}, ['HELO', {...}] or ['PONG', ok, reason, hostname, "
        f"digest] from the forward server, got {message!r}"
    )


class ResponseDecoder:
    """Bytes from the server, in any pieces -> :class:`Helo`, :class:`Pong`, :class:`Ack`."""

    def __init__(self) -> None:
        self._unpacker = msgpack.Unpacker(raw=True, max_buffer_size=MAX_RESPONSE_BYTES)

    def feed(self, data: bytes) -> list[Response]:
        try:
            self._unpacker.feed(data)
            return [parse_response(message) for message in self._unpacker]
        except msgpack.BufferFull:
            raise RemoteProtocolError(
                f"the forward server sent more than {MAX_RESPONSE_BYTES} bytes of answers "
                "without completing one"
            ) from None
        except (ValueError, msgpack.UnpackException) as exc:
            # FormatError and StackError are ValueErrors
            raise RemoteProtocolError(f"the forward server sent invalid msgpack: {exc}") from None


# -- the shared-key handshake -----------------------------------------------------------------


def shared_key_hexdigest(salt: bytes, hostname: bytes, nonce: bytes, shared_key: bytes) -> str:
    return hashlib.sha512(salt + hostname + nonce + shared_key).hexdigest()


def new_salt() -> str:
    """A ``shared_key_salt``: 128 random bits as 32 hex digits (a string, as Fluentd sends it)."""
    return os.urandom(16).hex()


def ping(helo: Helo, *, client_hostname: str, shared_key: bytes, salt: str) -> bytes:
    """The PING that answers ``helo``: the salt packed as a string, and empty credentials (no
    user name and password, whether or not the HELO carries an ``auth`` salt)."""
    hostname = client_hostname.encode()
    digest = shared_key_hexdigest(salt.encode(), hostname, helo.nonce, shared_key)
    data: bytes = msgpack.packb(["PING", client_hostname, salt, digest, "", ""])
    return data


def check_pong(pong: Pong, *, helo: Helo, shared_key: bytes, salt: str) -> None:
    """Raises :class:`HandshakeRefused` unless the server accepted us and proved it has the key."""
    if not pong.auth_result:
        hint = (
            " (this server may also require a user name and password, which logship does not send)"
            if helo.auth
            else ""
        )
        raise HandshakeRefused(
            f"the server refused the shared key: {pong.reason or '(no reason)'}{hint}"
        )
    expected = shared_key_hexdigest(salt.encode(), pong.server_hostname, helo.nonce, shared_key)
    if not hmac.compare_digest(expected.encode(), pong.shared_key_hexdigest.encode()):
        raise HandshakeRefused(
            f"the server {pong.server_hostname.decode('utf-8', 'replace')!r} answered with a "
            f"PONG digest {pong.shared_key_hexdigest[:16]!r}… that does not match the shared key "
            f"(expected {expected[:16]!r}…): it does not know our key"
        )
