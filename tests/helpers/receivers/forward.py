"""A strict Fluentd forward protocol (v1) server for tests, written from the specification
(https://github.com/fluent/fluentd/wiki/Forward-Protocol-Specification-v1), independently of
logship's client.

It takes all four carrier modes (Message, Forward, PackedForward, CompressedPackedForward),
integer times and EventTime (ext type 0), answers ``chunk`` with ``ack``, runs the shared-key
handshake (HELO, checks the PING digest, PONG) when given a key, and speaks TLS when given a
certificate.

The handshake behaves as one of the two servers people run (``server=``):

- ``"fluentd"`` (Fluentd's in_forward with a ``<security>`` section and no users): HELO's
  ``auth`` is empty; the PING's salt may be a string or binary; a wrong key gets
  ``["PONG", false, "shared_key mismatch", "", ""]``.
- ``"fluent-bit"`` (Fluent Bit 5's forward input with ``shared_key`` and no users): HELO's
  ``auth`` is always a 16-byte salt; a PING whose salt is not a string is refused ("Invalid
  shared_key_salt type message") and a wrong key is answered by closing the connection, both
  without a PONG. Anything a client sends that the specification does not allow is recorded in
:attr:`ForwardReceiver.errors` and ends the connection. Knobs make it drop the connection
before acknowledging, or keep quiet, to test a client's at-least-once delivery.

It listens on 127.0.0.1 on a free port, one thread per connection.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgpack


class ProtocolViolation(Exception):
    """The client sent something the forward protocol does not allow."""


@dataclass(frozen=True)
class EventTime:
    seconds: int
    nanoseconds: int

    @property
    def ns(self) -> int:
        return self.seconds * 1_000_000_000 + self.nanoseconds


@dataclass(frozen=True)
class Event:
    tag: str
    time: int | EventTime
    record: dict[str, Any]


@dataclass
class Request:
    """One message of events as it arrived."""

    mode: str  # Message, Forward, PackedForward, CompressedPackedForward
    tag: str
    events: list[Event]
    option: dict[str, Any]
    entries_format: str = ""  # bin or str, for the packed modes
    connection: int = 0

    @property
    def chunk(self) -> str | None:
        chunk = self.option.get("chunk")
        return chunk if isinstance(chunk, str) else None


def new_unpacker() -> Any:
    # strings stay strings, bin stays bytes; str that is not UTF-8 survives as surrogates
    return msgpack.Unpacker(raw=False, unicode_errors="surrogateescape", timestamp=0)


def decode_time(value: Any) -> int | EventTime:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, msgpack.ExtType) and value.code == 0:
        if len(value.data) != 8:
            raise ProtocolViolation(f"EventTime must hold 8 bytes, got {value.data!r}")
        return EventTime(int.from_bytes(value.data[:4]), int.from_bytes(value.data[4:]))
    raise ProtocolViolation(f"time must be an integer or EventTime (ext type 0), got {value!r}")


def decode_record(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ProtocolViolation(f"a record must be a map with string keys, got {value!r}")
    return value


def decode_entry(tag: str, value: Any) -> Event:
    if not isinstance(value, list) or len(value) != 2:
        raise ProtocolViolation(f"an Entry must be [time, record], got {value!r}")
    return Event(tag, decode_time(value[0]), decode_record(value[1]))


def decode_event_stream(tag: str, data: bytes) -> list[Event]:
    entries, end = _complete_objects(data)
    if end != len(data):
        raise ProtocolViolation(
            f"the event stream ends inside an entry (entries end at {end} of {len(data)} bytes)"
        )
    return [decode_entry(tag, entry) for entry in entries]


def _complete_objects(data: bytes) -> tuple[list[Any], int]:
    """The whole msgpack objects in ``data``, and where the last one ends."""
    unpacker = new_unpacker()
    unpacker.feed(data)
    objects, end = [], 0
    try:
        for obj in unpacker:
            objects.append(obj)
            end = unpacker.tell()
    except (ValueError, msgpack.UnpackException) as exc:
        raise ProtocolViolation(f"invalid msgpack: {exc}") from None
    return objects, end


def decode_request(message: Any) -> Request:
    """One msgpack object a client sent -> the events in it, whatever the carrier mode."""
    if not isinstance(message, list) or len(message) not in (2, 3, 4):
        raise ProtocolViolation(f"a request must be an array of 2 to 4 items, got {message!r}")
    tag, second = message[0], message[1]
    if not isinstance(tag, str):
        raise ProtocolViolation(f"the tag must be a string, got {tag!r}")
    if isinstance(second, (int, msgpack.ExtType)):
        if len(message) < 3:
            raise ProtocolViolation(f"Message mode needs [tag, time, record], got {message!r}")
        option = message[3] if len(message) == 4 else {}
        request = Request("Message", tag, [decode_entry(tag, message[1:3])], option)
    else:
        if len(message) == 4:
            raise ProtocolViolation(f"Forward modes take [tag, entries, option?], got {message!r}")
        option = message[2] if len(message) == 3 else {}
        if not isinstance(option, dict):
            raise ProtocolViolation(f"option must be a map, got {option!r}")
        if isinstance(second, list):
            request = Request("Forward", tag, [decode_entry(tag, e) for e in second], option)
        elif isinstance(second, (bytes, str)):
            kind = "bin" if isinstance(second, bytes) else "str"
            data = (
                second if isinstance(second, bytes) else second.encode("utf-8", "surrogateescape")
            )
            mode = "PackedForward"
            if option.get("compressed") == "gzip":
                if kind != "bin":
                    raise ProtocolViolation("CompressedPackedForward entries must be bin")
                mode = "CompressedPackedForward"
                try:
                    data = gzip.decompress(data)
                except (OSError, EOFError) as exc:
                    raise ProtocolViolation(f"entries are not gzip: {exc}") from None
            request = Request(mode, tag, decode_event_stream(tag, data), option, kind)
        else:
            raise ProtocolViolation(f"cannot tell the carrier mode from {second!r}")
    if not isinstance(request.option, dict):
        raise ProtocolViolation(f"option must be a map, got {request.option!r}")
    size = request.option.get("size")
    if size is not None and size != len(request.events):
        raise ProtocolViolation(f"option size {size!r} but {len(request.events)} events came")
    if "chunk" in request.option and request.chunk is None:
        raise ProtocolViolation(f"option chunk must be a string, got {request.option!r}")
    return request


def decode_requests(data: bytes) -> list[Request]:
    """Every request in a byte stream (for tests of what a client writes)."""
    messages, end = _complete_objects(data)
    if end != len(data):
        raise ProtocolViolation(f"the stream ends inside a request (at {end} of {len(data)} bytes)")
    return [decode_request(m) for m in messages]


def hexdigest(*parts: bytes) -> str:
    return hashlib.sha512(b"".join(parts)).hexdigest()


@dataclass
class _Knobs:
    drop: int = 0  # connections to drop, each at its next request with a chunk
    drop_after: int = 0  # requests with a chunk to acknowledge before the first drop
    keep_dropped: bool = True  # store the events of a dropped request (then a resend duplicates)
    ack: bool = True  # False: take requests, answer nothing, keep the connection
    wrong_pong_key: bytes | None = None  # answer PONG as a server with this key would
    nonsense: int = 0  # requests with a chunk to answer with bytes that are no msgpack


@dataclass
class ForwardReceiver:
    shared_key: bytes | None = None
    hostname: str = "receiver.test"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    keepalive: bool = True
    server: Literal["fluentd", "fluent-bit"] = "fluentd"
    knobs: _Knobs = field(default_factory=_Knobs)

    def __post_init__(self) -> None:
        self.requests: list[Request] = []
        self.errors: list[str] = []
        self.dropped: list[Request] = []  # requests whose connection was dropped before the ack
        self.heartbeats = 0
        self.connections = 0
        self.handshakes = 0
        self.refused: list[str] = []  # client host names whose PING digest was wrong
        self.acks = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []
        self._context: ssl.SSLContext | None = None
        if self.tls_cert is not None:
            self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._context.load_cert_chain(str(self.tls_cert), str(self.tls_key))
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]

    # -- test-facing -----------------------------------------------------------------------------

    def start(self) -> ForwardReceiver:
        self._spawn(self._accept)
        return self

    def __enter__(self) -> ForwardReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def drop_before_ack(self, connections: int = 1, *, keep: bool = True, after: int = 0) -> None:
        """Close the connection at the next request with a chunk (after acknowledging ``after``
        more), without acknowledging it; ``keep``: its events count as received (a resend
        then duplicates them), else they are lost with the connection."""
        with self._lock:
            self.knobs.drop, self.knobs.keep_dropped = connections, keep
            self.knobs.drop_after = after

    def answer_nonsense(self, requests: int = 1) -> None:
        """Answer the next ``requests`` requests with a chunk with bytes that are not msgpack
        (their events are not kept: the client must send them again)."""
        with self._lock:
            self.knobs.nonsense += requests

    def hold_acks(self, hold: bool = True) -> None:
        """Take requests but answer nothing (and keep the connection), until told otherwise."""
        with self._lock:
            self.knobs.ack = not hold

    def events(self) -> list[Event]:
        with self._lock:
            return [e for r in self.requests for e in r.events]

    def modes(self) -> set[str]:
        with self._lock:
            return {r.mode for r in self.requests}

    def close(self) -> None:
        self._closing.set()
        for thread in list(self._threads):
            thread.join(10)
        self._listener.close()

    # -- server ----------------------------------------------------------------------------------

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                self.errors.append(f"accept: {exc}")
                return
            with self._lock:
                self.connections += 1
                number = self.connections
            self._spawn(self._serve, conn, number)

    def _serve(self, raw: socket.socket, number: int) -> None:
        conn: socket.socket = raw
        try:
            raw.settimeout(30)
            if self._context is not None:
                conn = self._context.wrap_socket(raw, server_side=True)
            conn.settimeout(0.1)
            self._session(conn, number)
        except ProtocolViolation as exc:
            with self._lock:
                self.errors.append(f"connection {number}: {exc}")
        except (OSError, ssl.SSLError):
            pass  # the client went away, or failed its TLS handshake: not the server's concern
        except Exception as exc:  # noqa: BLE001 - a bug here must show in the test, not vanish
            with self._lock:
                self.errors.append(f"connection {number}: receiver bug: {exc!r}")
        finally:
            conn.close()
            if conn is not raw:
                raw.close()

    def _messages(self, conn: socket.socket) -> Any:
        """Each msgpack object the client sends, until it closes or the receiver does."""
        unpacker = new_unpacker()
        while not self._closing.is_set():
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            if not data:
                return
            unpacker.feed(data)
            try:
                yield from unpacker
            except (ValueError, msgpack.UnpackException) as exc:
                raise ProtocolViolation(f"invalid msgpack: {exc}") from None

    def _session(self, conn: socket.socket, number: int) -> None:
        messages = self._messages(conn)
        if self.shared_key is not None and not self._handshake(conn, messages):
            return
        for message in messages:
            if message is None:
                with self._lock:
                    self.heartbeats += 1
                continue
            request = decode_request(message)
            request.connection = number
            with self._lock:
                nonsense = request.chunk is not None and self.knobs.nonsense > 0
                self.knobs.nonsense -= nonsense
            if nonsense:
                conn.sendall(b"\xc1 this is not msgpack")
                continue
            with self._lock:
                drop = request.chunk is not None and self.knobs.drop > 0
                if drop and self.knobs.drop_after > 0:
                    self.knobs.drop_after -= 1
                    drop = False
                elif drop:
                    self.knobs.drop -= 1
                    self.dropped.append(request)
                if not drop or self.knobs.keep_dropped:
                    self.requests.append(request)
                answer = request.chunk is not None and self.knobs.ack and not drop
                if answer:
                    self.acks += 1
            if drop:
                return
            if answer:
                conn.sendall(msgpack.packb({"ack": request.chunk}))

    def _handshake(self, conn: socket.socket, messages: Any) -> bool:
        assert self.shared_key is not None
        fluent_bit = self.server == "fluent-bit"
        nonce = os.urandom(16)
        auth = os.urandom(16) if fluent_bit else b""
        helo = {"nonce": nonce, "auth": auth, "keepalive": self.keepalive}
        conn.sendall(msgpack.packb(["HELO", helo]))
        message = next(messages, None)
        if message is None:
            return False
        if not (isinstance(message, list) and len(message) == 6 and message[0] == "PING"):
            raise ProtocolViolation(f"expected PING after HELO, got {message!r}")
        _, hostname, salt, digest, username, password = message
        if fluent_bit and not isinstance(salt, str):
            raise ProtocolViolation(f"Invalid shared_key_salt type message: {message!r}")
        if not isinstance(hostname, str) or not isinstance(salt, (bytes, str)):
            raise ProtocolViolation(f"PING hostname must be str and salt str|bin: {message!r}")
        if (username, password) != ("", ""):
            raise ProtocolViolation(f"user name and password given but not asked for: {message!r}")
        salt_bytes = salt if isinstance(salt, bytes) else salt.encode("utf-8", "surrogateescape")
        if digest != hexdigest(salt_bytes, hostname.encode(), nonce, self.shared_key):
            with self._lock:
                self.refused.append(hostname)
            if not fluent_bit:  # Fluent Bit just closes the connection
                conn.sendall(msgpack.packb(["PONG", False, "shared_key mismatch", "", ""]))
            return False
        key = self.knobs.wrong_pong_key or self.shared_key
        ours = hexdigest(salt_bytes, self.hostname.encode(), nonce, key)
        conn.sendall(msgpack.packb(["PONG", True, "", self.hostname, ours]))
        with self._lock:
            self.handshakes += 1
        return True
