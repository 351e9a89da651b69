"""``[ADDR:]PORT`` -> where the HTTP server binds. No I/O."""

from __future__ import annotations

DEFAULT_HOST = "127.0.0.1"


def parse_listen_address(value: str) -> tuple[str, int]:
    """``9880`` and ``:9880``: 127.0.0.1; ``0.0.0.0:9880``, ``[::1]:9880``, ``host:9880`` as given.

    Port 0 asks the kernel for a free port (the agent logs the one it got).
    """
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "", text
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{value!r}: write an IPv6 address in brackets, e.g. [::1]:9880")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(
            f"{value!r}: expected [ADDR:]PORT with PORT 0-65535, e.g. 9880 or 0.0.0.0:9880"
        )
    return host or DEFAULT_HOST, int(port_text)


def format_address(host: str, port: int) -> str:
    """``127.0.0.1:9880``, ``[::1]:9880``: what a URL or a log line shows."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
