"""Which source ``source: auto`` means on this machine."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from logship.errors import LogshipError
from logship.sources.docker.client import DockerClient

ENGINE_PROBE_SECS = 3.0  # how long auto waits for the engine to answer


async def choose_source(
    source: str, client: DockerClient, pods_dir: Path, docker_root: Path
) -> tuple[str, str]:
    """The source to read from, and why: ``source`` as given, or what ``auto`` finds: cri
    when no engine answers through ``client`` and ``pods_dir`` exists; files when the engine
    answers on a unix socket of its own (a local engine, not one over ssh) and
    ``<docker_root>/containers`` can be read; otherwise docker. ``client`` is closed again."""
    if source != "auto":
        return source, "as configured"
    try:
        async with asyncio.timeout(ENGINE_PROBE_SECS):
            await client.negotiate()
    except (LogshipError, OSError, TimeoutError) as exc:
        why = str(exc) or "no answer"
        if await asyncio.to_thread(pods_dir.is_dir):
            return "cri", f"no engine answers at {client.endpoint} ({why}) and {pods_dir} exists"
        return "docker", f"no engine answers at {client.endpoint} yet ({why}) and no {pods_dir}"
    finally:
        await client.close()
    if not client.endpoint.local:
        return "docker", f"the engine at {client.endpoint} is remote: its log files are not here"
    containers = docker_root / "containers"
    if await asyncio.to_thread(os.access, containers, os.R_OK | os.X_OK):
        return "files", f"the engine answers at {client.endpoint} and {containers} can be read"
    return "docker", f"the engine answers at {client.endpoint}; {containers} cannot be read here"
