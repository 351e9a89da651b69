"""Forward destination: the sans-IO protocol, a stream transport, and the server's answers.

Per connection: connect (TLS if asked), the shared-key handshake if a key is configured, then a
reader task that feeds whatever the server sends into the response decoder: acks, or the end
of the connection, which makes the next batch reconnect. With ``ack`` a batch is delivered when
every message of it was acknowledged; otherwise the connection is dropped and the
unacknowledged records go back to the shared retry loop (``DeliveryError.remaining``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from typing import TypeVar

from logship.errors import CheckFailed, DeliveryError, RemoteProtocolError
from logship.protocol.forward import (
    Ack,
    Chunk,
    ForwardEncoder,
    Helo,
    Pong,
    Response,
    ResponseDecoder,
    check_pong,
    new_salt,
    ping,
)
from logship.protocol.template import TagTemplate
from logship.record import Record
from logship.sinks.base import SinkContext
from logship.sinks.forward.config import ForwardConfig
from logship.transport.tcp import HANGUP_WAIT_SECS, StreamTransport
from logship.transport.tls import client_context

R = TypeVar("R", Helo, Pong)
_HELO_WITHOUT_KEY = (
    "the server asks for the shared-key handshake (HELO): set shared_key_file or shared_key_env"
)


class ForwardSink:
    def __init__(self, config: ForwardConfig, *, context: SinkContext | None = None) -> None:
        self.name = config.describe()
        self.config = config
        self.encoder = ForwardEncoder(
            tag=TagTemplate(config.tag),
            labels=config.labels,
            env=config.env,
            ack=config.ack,
            compress=config.compress,
            time_as_integer=config.time_as_integer,
            max_message_bytes=config.max_message_bytes,
        )
        self.transport = StreamTransport(
            config.host,
            config.port,
            ssl_context=client_context(config.tls) if config.transport == "tls" else None,
            server_hostname=config.tls.server_name,
            connect_timeout_secs=config.connect_timeout_secs,
            reads=True,
        )
        self.shared_key = config.shared_key
        self.self_hostname = config.self_hostname or socket.gethostname()
        self.handshakes = 0  # completed shared-key handshakes, for tests and metrics
        self.bad_answers = 0  # connections dropped because the server sent no forward answer
        self._decoder = ResponseDecoder()
        self._reader: asyncio.Task[None] | None = None
        self._acked: set[str] = set()
        self._answered = asyncio.Event()  # an ack came, or the connection ended
        self._lost: str | None = None  # why the current connection ended
        self._problem: str | None = None  # what the server did wrong, to report once
        self._wants_key = False  # a server sent HELO though we have no key
        self._keepalive = True

    # -- connection ------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._lost is None and self._reader is not None and self.transport.connected

    @property
    def bytes_sent(self) -> int:
        return self.transport.bytes_sent

    async def open(self) -> None:
        await self._connect()

    async def _connect(self) -> None:
        self._stop_reading()
        await self.transport.connect()  # closes the last connection, if any
        reader = self.transport.reader
        assert reader is not None
        self._decoder = ResponseDecoder()
        self._lost = self._problem = None
        self._keepalive = True
        try:
            if self.shared_key is not None:
                async with asyncio.timeout(self.config.connect_timeout_secs):
                    await self._handshake(reader, self.shared_key)
            elif self._wants_key:
                await self._check_no_helo(reader)
        except TimeoutError:
            self._disconnect()
            raise DeliveryError(
                f"{self.transport.address} did not complete the shared-key handshake within "
                f"{self.config.connect_timeout_secs}s (does its in_forward have a <security> "
                "section with a shared_key?)"
            ) from None
        except (DeliveryError, RemoteProtocolError, OSError, ssl.SSLError) as exc:
            self._disconnect()
            raise DeliveryError(f"handshake with {self.transport.address}: {exc}") from exc
        self._reader = asyncio.create_task(self._read(reader), name=f"{self.name}-answers")

    async def _handshake(self, reader: asyncio.StreamReader, shared_key: bytes) -> None:
        helo = await self._expect(reader, Helo, "HELO")
        salt = new_salt()
        await self.transport.write(
            ping(helo, client_hostname=self.self_hostname, shared_key=shared_key, salt=salt)
        )
        # Fluent Bit answers a wrong key by closing the connection, with no PONG and no reason
        pong = await self._expect(
            reader,
            Pong,
            "PONG",
            closed="the server closed the connection during the handshake: check the shared key "
            "(Fluent Bit closes it without a reason when the key is wrong)",
        )
        check_pong(pong, helo=helo, shared_key=shared_key, salt=salt)
        self._keepalive = helo.keepalive
        self.handshakes += 1

    async def _check_no_helo(self, reader: asyncio.StreamReader) -> None:
        """After a server asked for a key we do not have: write nothing into a connection it
        will drop until it stops asking (it says HELO right after accepting)."""
        try:
            async with asyncio.timeout(self.config.connect_timeout_secs):
                await self._expect(reader, Helo, "HELO")
        except TimeoutError:
            self._wants_key = False
            return
        raise RemoteProtocolError(_HELO_WITHOUT_KEY)

    async def _expect(
        self, reader: asyncio.StreamReader, kind: type[R], what: str, closed: str = ""
    ) -> R:
        while True:
            data = await reader.read(4096)
            if not data:
                raise DeliveryError(
                    closed or f"the server closed the connection while we waited for {what}"
                )
            events = self._decoder.feed(data)
            if events:
                event = events[0]
                if len(events) > 1 or not isinstance(event, kind):
                    raise RemoteProtocolError(f"expected {what}, got {events!r}")
                return event

    async def _read(self, reader: asyncio.StreamReader) -> None:
        """Takes the server's answers for as long as the connection lasts."""
        try:
            while data := await reader.read(65536):
                for event in self._decoder.feed(data):
                    self._take(event)
                self._answered.set()
            self._lost = f"{self.transport.address} closed the connection"
        except RemoteProtocolError as exc:
            self.bad_answers += 1
            self._lost = self._problem = f"{self.transport.address}: {exc}"
        except (OSError, ssl.SSLError) as exc:
            self._lost = f"reading from {self.transport.address} failed: {exc}"
        self.transport.abort()  # it ended: nothing queued can still arrive
        self._answered.set()

    def _take(self, event: Response) -> None:
        if isinstance(event, Ack):
            self._acked.add(event.chunk)
        elif isinstance(event, Helo):
            self._wants_key = True
            raise RemoteProtocolError(_HELO_WITHOUT_KEY)
        else:
            raise RemoteProtocolError(f"unexpected {event!r} after the handshake")

    def _stop_reading(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None

    def _disconnect(self) -> None:
        """Drop the connection now, with whatever is still queued in it: the connection or its
        handshake failed, or the records not acknowledged go again on the next one."""
        self._stop_reading()
        self.transport.abort()

    async def _write(self, data: bytes) -> None:
        if not self.ready:  # never let the transport reconnect on its own, without handshake
            raise DeliveryError(self._lost or f"connection to {self.transport.address} lost")
        await self.transport.write(data)

    # -- delivery --------------------------------------------------------------------------------

    async def send(self, batch: list[Record]) -> None:
        if self._problem is not None:  # surfaces in the log even without acks
            problem, self._problem = self._problem, None
            raise DeliveryError(problem)
        chunks = self.encoder.encode(batch)
        if not self.ready:
            await self._connect()
        if not self.config.ack:
            for chunk in chunks:
                await self._write(chunk.data)
        else:
            await self._send_acked(chunks)
        if not self._keepalive:  # the server wants a new connection per batch
            self._stop_reading()
            await self.transport.aclose(timeout_secs=1.0)  # what is queued still goes out

    async def _send_acked(self, chunks: list[Chunk]) -> None:
        acked = self._acked
        acked.clear()
        try:
            async with asyncio.timeout(self.config.ack_timeout_secs):
                for chunk in chunks:
                    await self._write(chunk.data)
                while self._lost is None and not all(c.chunk_id in acked for c in chunks):
                    self._answered.clear()
                    await self._answered.wait()
        except TimeoutError:
            reason = f"no ack from {self.transport.address} within {self.config.ack_timeout_secs}s"
        except DeliveryError as exc:
            reason = str(exc)
        else:
            reason = self._lost or ""
        unacked = [c for c in chunks if c.chunk_id not in acked]
        if unacked:
            self._disconnect()
            self._problem = None  # reported here
            remaining = [r for c in unacked for r in c.records]
            raise DeliveryError(
                f"{reason}; {len(remaining)} records ({len(unacked)} of {len(chunks)} "
                "messages) not acknowledged, sending them again",
                remaining=remaining,
            )

    # -- logship check ---------------------------------------------------------------------------

    async def healthcheck(self) -> str:
        """Connect as sending does (TLS, the shared-key handshake when a key is configured),
        then watch the connection a moment: a server that wants a key says HELO at once."""
        await self.open()
        await asyncio.sleep(HANGUP_WAIT_SECS)
        if not self.ready:
            raise CheckFailed(self._lost or f"{self.transport.address} closed the connection")
        handshake = "shared-key handshake done" if self.handshakes else "no shared key asked"
        return f"{self.transport.describe()}, {handshake}"

    async def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        await self.transport.aclose(timeout_secs=1.0)
