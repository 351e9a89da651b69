"""The host the agent runs on, as records report it: its fully qualified name and address."""

from __future__ import annotations

import contextlib
import socket

from logship.record import HostMeta


def primary_ip() -> str:
    """The address this host uses to reach the outside (no packet is sent)."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: connect() on UDP only picks a route
        address: str = s.getsockname()[0]
        return address
    with contextlib.suppress(OSError):
        return socket.gethostbyname(socket.gethostname())
    return "127.0.0.1"


def fqdn() -> str:
    """This host's fully qualified name, as ``hostname -f`` finds it.

    Not :func:`socket.getfqdn`, which answers ``localhost`` when the host name maps to
    127.0.0.1 in /etc/hosts, as it does in many containers and VMs.
    """
    name = socket.gethostname()
    with contextlib.suppress(OSError):
        for *_, canonical, _ in socket.getaddrinfo(name, None, flags=socket.AI_CANONNAME):
            if canonical and canonical != "localhost":
                return canonical
    return name


def host_meta(name: str | None = None, ip: str | None = None) -> HostMeta:
    """This host, with the name and address given in the settings where they are."""
    return HostMeta(name=name or fqdn(), ip=ip or primary_ip())
