"""``<state_dir>/agent.json``: the agent's ID, the same across restarts (Elasticsearch
documents carry it as ``agent.id``, as Filebeat keeps its own in its data directory)::

    {"id": "4f0c1e9a-6a2b-4c8e-9d3f-2b7f1a0c5e11"}

Made on the first start with a state directory; without one, each start has a new ID.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

from logship import __version__
from logship.errors import ConfigError
from logship.record import AgentIdentity
from logship.state.files import replace_atomically

log = logging.getLogger("logship.state")

FILE_NAME = "agent.json"


def _read_id(path: Path) -> str | None:
    """The ID kept in ``path``; None when there is none or it cannot be read (said once)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"state_dir: cannot read {str(path)!r}: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw)
        return str(uuid.UUID(data["id"]))
    except (ValueError, TypeError, KeyError) as exc:
        log.warning(
            "%s is unreadable (%s: %s); the agent takes a new ID (agent.id)",
            path,
            type(exc).__name__,
            exc,
        )
        return None


def agent_identity(state_dir: Path | None) -> AgentIdentity:
    """This agent's identity: its ID kept in ``state_dir`` (made and saved on the first
    start), or a new one for this run only without a state directory. ConfigError when the
    directory cannot be read or written."""
    if state_dir is None:
        return AgentIdentity.new()
    path = state_dir / FILE_NAME
    agent_id = _read_id(path)
    if agent_id is None:
        agent_id = str(uuid.uuid4())
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            replace_atomically(path, json.dumps({"id": agent_id}).encode() + b"\n")
        except OSError as exc:
            raise ConfigError(
                f"state_dir: cannot write {str(path)!r}: {exc.strerror or exc}"
            ) from None
    return AgentIdentity(id=agent_id, version=__version__)
