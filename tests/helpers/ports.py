"""Ports on 127.0.0.1 that nobody listens on."""

from __future__ import annotations

import socket


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port bound a moment ago and released (UDP by default; ``socket.SOCK_STREAM`` for TCP)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
