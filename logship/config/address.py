"""``[ADDR:]PORT`` -> where the HTTP server binds; ``HOST[:PORT]`` or a URL -> one of several
hosts a destination sends to. No I/O."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

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


@dataclass(frozen=True, slots=True)
class HostEntry:
    """One of several hosts as written: ``es1``, ``es1:9200``, ``[::1]:9200``, or a URL
    ``https://es1:9200/path``, of which only the host is required."""

    host: str
    port: int | None = None
    scheme: str | None = None
    path: str | None = None  # as written, None when there is none


def parse_host_entry(text: str, schemes: Collection[str]) -> HostEntry:
    """``HOST[:PORT]`` or ``SCHEME://HOST[:PORT][/PATH]`` with one of ``schemes``; ValueError
    saying what is wrong, which quotes ``text`` only when it cannot hold credentials."""
    entry = text.strip()
    shown = repr(entry) if "@" not in entry else "(not shown: it may hold credentials)"
    if not entry:
        raise ValueError("is empty")
    if "@" in entry:
        raise ValueError(
            f"{shown} holds '@': credentials go in user and password_file/password_env or "
            "api_key_file/api_key_env, shared by every host"
        )
    scheme, sep, _ = entry.partition("://")
    if sep:
        if scheme.lower() not in schemes:
            raise ValueError(f"{shown}: scheme {scheme!r} is not one of {', '.join(schemes)}")
        scheme = scheme.lower()
    elif "/" in entry:
        raise ValueError(f"{shown}: expected HOST[:PORT] or SCHEME://HOST[:PORT][/PATH]")
    try:
        url = urlsplit(entry if sep else "//" + entry)
        host, port = url.hostname, url.port
    except ValueError:
        raise ValueError(
            f"{shown}: expected HOST[:PORT] with PORT 1-65535 (an IPv6 address in brackets, "
            "[::1]:9200)"
        ) from None
    if url.query or url.fragment or "?" in entry or "#" in entry:
        raise ValueError(f"{shown}: no '?' or '#' in a host (options apply to every host)")
    if not host:
        raise ValueError(f"{shown}: no host name")
    if any(c.isspace() or c == "," for c in host):
        raise ValueError(f"{shown}: a host name holds no spaces or commas (one host per entry)")
    if port == 0:
        raise ValueError(f"{shown}: port 0 is no port to send to")
    return HostEntry(host, port, scheme if sep else None, url.path if sep and url.path else None)
