"""Which source ``source: auto`` means on this machine."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from logship.errors import LogshipError

if TYPE_CHECKING:
    from logship.sources.docker.client import DockerClient

ENGINE_PROBE_SECS = 3.0  # how long auto waits for the engine to answer


async def choose_source(
    source: str,
    docker_host: str,
    connect: Callable[[], DockerClient],
    pods_dir: Path,
    docker_root: Path,
) -> tuple[str, str]:
    """The source to read from, and why: ``source`` as given, or what ``auto`` finds: cri
    when no engine answers at ``docker_host`` and ``pods_dir`` exists; files when the engine
    answers on a unix socket of its own (a local engine, not one over ssh) and
    ``<docker_root>/containers`` can be read; otherwise docker.

    The engine is asked through the client ``connect`` makes (and closed again), unless
    ``docker_host`` is a unix socket that is not there: then none can answer, and no client
    is made (on a Kubernetes node without Docker, the agent never loads the engine's client).
    """
    if source != "auto":
        return source, "as configured"
    socket = urlsplit(docker_host).path if docker_host.startswith("unix://") else None
    if socket and not await asyncio.to_thread(os.path.exists, socket):
        return await _no_engine(docker_host, f"no socket at {socket}", pods_dir)
    client = connect()
    try:
        async with asyncio.timeout(ENGINE_PROBE_SECS):
            await client.negotiate()
    except (LogshipError, OSError, TimeoutError) as exc:
        return await _no_engine(str(client.endpoint), str(exc) or "no answer", pods_dir)
    finally:
        await client.close()
    if not client.endpoint.local:
        return "docker", f"the engine at {client.endpoint} is remote: its log files are not here"
    containers = docker_root / "containers"
    if await asyncio.to_thread(os.access, containers, os.R_OK | os.X_OK):
        return "files", f"the engine answers at {client.endpoint} and {containers} can be read"
    return "docker", f"the engine answers at {client.endpoint}; {containers} cannot be read here"


async def _no_engine(where: str, why: str, pods_dir: Path) -> tuple[str, str]:
    if await asyncio.to_thread(pods_dir.is_dir):
        return "cri", f"no engine answers at {where} ({why}) and {pods_dir} exists"
    return "docker", f"no engine answers at {where} yet ({why}) and no {pods_dir}"
