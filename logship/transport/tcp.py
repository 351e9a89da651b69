"""A byte stream to one destination over TCP, optionally TLS: connect, write, notice loss.

Sinks frame and encode; this only moves bytes. Every :meth:`StreamTransport.connect` resolves
the host name again, so a destination that moved is found on the next reconnection. Errors
become retriable :class:`DeliveryError`s; the sink runner decides when to try again.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

from logship.errors import CheckFailed, DeliveryError
from logship.transport.base import Connection

HANGUP_WAIT_SECS = 0.3
"""How long ``logship check`` watches a new connection: a receiver that turns a client away
after accepting it (no client certificate, sender not allowed) closes it at once."""


class StreamTransport(Connection):
    """One connection at a time to ``host:port``.

    With ``reads=False`` (syslog, GELF: receivers that never answer) a background task reads
    and discards, so a peer that closes is noticed before the next batch is written into a
    dead socket. With ``reads=True`` the sink reads answers itself from :attr:`reader`, and
    notices the end of the connection there.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        connect_timeout_secs: float = 10.0,
        write_timeout_secs: float = 30.0,
        reads: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname
        self.connect_timeout_secs = connect_timeout_secs
        self.write_timeout_secs = write_timeout_secs
        self.reads = reads
        self.hangups_in_a_row = 0  # writes before which the peer had closed the connection
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.connections = 0  # successful connects, for tests and metrics
        self.bytes_sent = 0  # written and taken by the kernel (metrics)
        self._watch: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self.writer is not None and not self.writer.is_closing()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def connect(self) -> None:
        self._close()
        server_hostname = None
        if self.ssl_context is not None:
            server_hostname = self.server_hostname or self.host
        try:
            # not wait_for: on Python 3.11 a cancel that comes as the connection is made is
            # lost (and with it the shutdown that asked for it)
            async with asyncio.timeout(self.connect_timeout_secs):
                reader, writer = await asyncio.open_connection(
                    self.host,
                    self.port,
                    ssl=self.ssl_context,
                    server_hostname=server_hostname,
                )
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(
                f"TLS handshake with {self.address} failed: {exc.verify_message}"
            ) from exc
        except ssl.SSLError as exc:
            raise DeliveryError(f"TLS handshake with {self.address} failed: {exc}") from exc
        except TimeoutError as exc:
            raise DeliveryError(
                f"connecting to {self.address} timed out after {self.connect_timeout_secs}s"
            ) from exc
        except OSError as exc:
            raise DeliveryError(f"cannot connect to {self.address}: {exc.strerror or exc}") from exc
        self.reader, self.writer = reader, writer
        self.connections += 1
        if not self.reads:
            self._watch = asyncio.create_task(self._discard_input(reader, writer))

    @staticmethod
    async def _discard_input(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            while await reader.read(65536):
                pass
        # the peer closed: make the next write reconnect instead of writing into the void
        writer.close()

    async def write(self, data: bytes) -> None:
        """Write and wait until the kernel took it; reconnect first if needed.

        A peer that takes nothing for ``write_timeout_secs`` counts as gone: the connection is
        aborted (a plain close would keep the socket, and what is queued in it, for as long
        as the peer does not read) and the write fails, to be retried on a new connection.
        """
        if self.writer is not None:
            closed = self.writer.is_closing()  # by the peer, since the last write
            self.hangups_in_a_row = self.hangups_in_a_row + 1 if closed else 0
        if not self.connected:
            await self.connect()
        writer = self.writer
        assert writer is not None
        try:
            async with asyncio.timeout(self.write_timeout_secs):
                writer.write(data)
                await writer.drain()
            self.bytes_sent += len(data)
        except TimeoutError:
            self.abort()
            raise DeliveryError(
                f"{self.address} took no more data for {self.write_timeout_secs}s "
                f"({len(data)} bytes to write); connecting again"
            ) from None
        except (OSError, ssl.SSLError, RuntimeError) as exc:
            self._close()
            raise DeliveryError(f"writing to {self.address} failed: {exc}") from exc

    def abort(self) -> None:
        """Close now, dropping whatever is still queued for the peer: for a connection that
        failed, or a peer that hung up or broke the protocol (nothing queued is worth the wait)."""
        if self.writer is not None:
            self.writer.transport.abort()
        self._close()

    async def aclose(self, timeout_secs: float = 5.0) -> None:
        """Close after sending what is queued, waiting at most ``timeout_secs`` for the peer
        (one that stopped reading, or never answers TLS close_notify)."""
        writer = self.writer
        self._close()
        if writer is not None:
            try:
                async with asyncio.timeout(timeout_secs):
                    await writer.wait_closed()
            except TimeoutError:
                writer.transport.abort()
            except (OSError, ssl.SSLError):
                pass

    def _close(self) -> None:
        """Start closing (what is queued still goes out) without waiting for it."""
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    # -- for `logship check` ----------------------------------------------------------------------

    async def check(self) -> str:
        """Connect (the TLS handshake included), then watch the connection for
        :data:`HANGUP_WAIT_SECS`: a receiver that refuses this client after accepting it
        closes it at once. The end of the connection is noticed with ``reads=False`` only;
        a sink that reads (``reads=True``) watches for it itself, then uses :meth:`describe`."""
        await self.connect()
        await asyncio.sleep(HANGUP_WAIT_SECS)
        if not self.connected:
            raise CheckFailed(
                f"{self.address} closed the connection right after accepting it "
                "(does it refuse this client: TLS client certificate, allowed senders?)"
            )
        return self.describe()

    def describe(self) -> str:
        """The open connection: ``connected to HOST:PORT``, and over TLS the version and whether
        the server's certificate was verified."""
        connected = f"connected to {self.address}"
        if self.ssl_context is None:
            return connected
        ssl_object = self.writer.get_extra_info("ssl_object") if self.writer is not None else None
        version = ssl_object.version() if ssl_object is not None else "TLS"
        checked = (
            "server certificate verified"
            if self.ssl_context.verify_mode != ssl.CERT_NONE
            else "certificate NOT verified (verify off)"
        )
        return f"{connected}, {version} handshake done, {checked}"
