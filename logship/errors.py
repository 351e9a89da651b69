"""The exception hierarchy. Each error says whose fault it was and whether a retry can help."""

from __future__ import annotations

from typing import Any


class LogshipError(Exception):
    """Base of every error logship raises on purpose."""


class ConfigError(LogshipError):
    """The configuration given by the user is invalid; the message names the field and value."""


class ProtocolError(LogshipError):
    """Bytes that do not follow a wire format."""


class LocalProtocolError(ProtocolError):
    """We were asked to produce something the wire format cannot carry."""


class RemoteProtocolError(ProtocolError):
    """The peer (Docker engine, receiver) sent something the wire format forbids."""


class DockerAPIError(LogshipError):
    """The Docker Engine API answered with an error status."""

    def __init__(self, status: int, message: str, *, path: str = "") -> None:
        super().__init__(f"Docker Engine API {path or 'request'} failed: HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.path = path


class DockerUnavailable(LogshipError):
    """The Docker engine could not be reached at all."""


class DeliveryError(LogshipError):
    """A destination did not take a batch. ``retriable`` says whether trying again can help.

    ``remaining``: when the destination took part of the batch (Elasticsearch answers per
    item), the records still to send; the retry sends only those. ``rejected``: how many
    records the destination refused for good along the way (counted, never retried);
    ``too_large``: how many of those were refused for their size (a GELF message over 128
    chunks, a document over Elasticsearch's request limit, an HTTP 413).
    """

    def __init__(
        self,
        message: str,
        *,
        retriable: bool = True,
        remaining: list[Any] | None = None,
        rejected: int = 0,
        too_large: int = 0,
    ) -> None:
        super().__init__(message)
        self.retriable = retriable
        self.remaining = remaining
        self.rejected = rejected
        self.too_large = too_large


class ListenError(LogshipError):
    """The operator's HTTP server cannot listen where it was asked to."""


class CheckFailed(LogshipError):
    """A check (``logship check``, a destination's health check) found a problem; the message
    is the reason, as precise as we know it."""


class OutputClosed(LogshipError):
    """Whoever read our output went away (``logship tail | head``): time to stop, quietly."""
