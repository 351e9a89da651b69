"""What every transport is, whatever it carries: one lifecycle, one way to name the peer.

:class:`~logship.transport.udp.UdpTransport` (datagrams),
:class:`~logship.transport.tcp.StreamTransport` (TCP, TLS) and
:class:`~logship.transport.http.HttpTransport` (HTTP, HTTPS) each follow :class:`Transport`;
what they move (``send_many``, ``write``, ``request``) is their own. Callers outside
``logship/transport/`` open and close them through these names only.
"""

from __future__ import annotations

from typing import Protocol


class Transport(Protocol):
    """The lifecycle every transport has."""

    @property
    def address(self) -> str:
        """Where it goes, for messages: ``host:port``, or the base URL over HTTP."""
        ...

    bytes_sent: int
    """Bytes handed to the peer so far: datagrams sent, bytes written to the stream (the
    kernel took them), HTTP request bodies that were answered. Retries count again."""

    async def connect(self) -> None:
        """Be ready to send: resolve the name and connect (the TLS handshake included).
        Raises a retriable :class:`~logship.errors.DeliveryError` saying why it cannot."""
        ...

    async def aclose(self) -> None:
        """Let go of the connection (what is queued still goes out, within a short time).
        Sending again connects again."""
        ...


class Connection(Transport, Protocol):
    """A transport with a connection of its own to show (UDP, TCP, TLS; not HTTP, whose
    connections come and go per request): ``logship check`` asks it what it found."""

    async def check(self) -> str:
        """Connect as sending would and say what was found (the text of ``logship check``);
        raise a :class:`~logship.errors.LogshipError` saying why it does not work."""
        ...
