"""``<state_dir>/checkpoints.json``: per container, the position its log was shipped up to.

The file is small (one entry per followed container) and written whole, atomically: to a
temporary file in the same directory, fsync'd, renamed over the old one, and the directory
fsync'd, so a crash or power cut at any moment leaves either the old file or the new one.

Format (``version`` 1, while every position is one of the Engine API's)::

    {"version": 1, "written_at": "2026-11-27T09:00:00.000000000Z",
     "containers": {"<full id>": {"name": "web-1", "timestamp": "2026-...Z", "skip": 3}}}

``timestamp`` + ``skip``: ask the logs API with ``since=timestamp`` and pass over the first
``skip`` entries carrying exactly that timestamp (they were shipped). ``timestamp`` null: the
container's whole log is still to be shipped.

With log files read (``version`` 2), an entry may instead be in a file::

    {"name": "web-1", "file": {"path": "/var/log/pods/.../0.log", "dev": 2049,
     "ino": 131, "fingerprint": "<hex of the first bytes>", "offset": 52917}}

(an agent of version 1 refuses such a file rather than take a file position for none).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeGuard

from logship.errors import ConfigError
from logship.protocol.filelog import LogFile, SavedFile
from logship.record import ResumePosition, format_timestamp_ns, is_canonical
from logship.state.files import replace_atomically

log = logging.getLogger("logship.state")

VERSION = 2
VERSIONS = (1, 2)
FILE_NAME = "checkpoints.json"
LOCK_NAME = "lock"


@dataclass
class Checkpoints:
    """What a previous run left: positions by container id, and when it last wrote them."""

    positions: dict[str, ResumePosition | None] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    written_at: str | None = None  # canonical timestamp; None: no (readable) file


def _parse(data: Any) -> Checkpoints:
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    if data.get("version") not in VERSIONS:
        raise ValueError(f"unknown version {data.get('version')!r}, expected 1 or {VERSION}")
    written_at = data.get("written_at")
    if not isinstance(written_at, str) or not is_canonical(written_at):
        raise ValueError(f"written_at {written_at!r} is not a canonical timestamp")
    containers = data.get("containers")
    if not isinstance(containers, dict):
        raise TypeError("containers is not an object")
    out = Checkpoints(written_at=written_at)
    for container_id, entry in containers.items():
        if not isinstance(entry, dict):
            raise TypeError(f"entry of {container_id!r} is not an object")
        ts, skip = entry.get("timestamp"), entry.get("skip", 0)
        if "file" in entry:
            out.positions[container_id] = _saved_file(container_id, entry["file"])
        elif ts is None:
            out.positions[container_id] = None
        elif isinstance(ts, str) and is_canonical(ts) and isinstance(skip, int) and skip >= 0:
            out.positions[container_id] = (ts, skip)
        else:
            raise ValueError(f"entry of {container_id!r} has a bad position: {entry!r}")
        out.names[container_id] = str(entry.get("name", ""))
    return out


def _saved_file(container_id: str, data: Any) -> SavedFile:
    """A ``file`` entry exactly as :func:`position_json` writes it; ValueError otherwise (a
    number in a string, a float, a boolean, a fingerprint that is not hex: not ours)."""
    if isinstance(data, dict):
        path, fingerprint = data.get("path"), data.get("fingerprint")
        dev, ino, offset = data.get("dev"), data.get("ino"), data.get("offset")
        if (
            isinstance(path, str)
            and path
            and isinstance(fingerprint, str)
            and _is_hex(fingerprint)
            and _count(dev)
            and _count(ino)
            and _count(offset)
        ):
            return SavedFile(path, dev, ino, fingerprint, offset)
    raise ValueError(f"entry of {container_id!r} has a bad file position: {data!r}")


def _count(value: object) -> TypeGuard[int]:
    """A non-negative int, and not a bool."""
    return type(value) is int and value >= 0


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return text == text.lower()


def position_json(position: ResumePosition | None) -> dict[str, Any]:
    """A position as the file (and /containers) shows it."""
    if position is None:
        return {"timestamp": None}
    if isinstance(position, SavedFile):
        return {"file": position._asdict()}
    if len(position) == 3 and isinstance(position[2], LogFile):
        return {"file": SavedFile.of(position)._asdict()}
    timestamp, skip = position
    return {"timestamp": timestamp, "skip": skip}


class CheckpointStore:
    """Reads and writes the checkpoint file of one state directory, which it holds locked
    (two agents sharing a state directory would overwrite each other's positions)."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.path = state_dir / FILE_NAME
        self._lock: TextIO | None = None
        self.writes = 0
        self._failing = False

    def open(self) -> None:
        """Create the directory if needed and lock it; ConfigError if that cannot be done."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            lock = open(self.dir / LOCK_NAME, "a")  # held until close()
        except OSError as exc:
            raise ConfigError(
                f"state_dir: cannot use {str(self.dir)!r}: {exc.strerror or exc}"
            ) from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            raise ConfigError(
                f"state_dir: {str(self.dir)!r} is in use by another logship (locked); "
                "each agent needs its own state directory"
            ) from None
        self._lock = lock

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()  # releases the lock
            self._lock = None

    def load(self) -> Checkpoints:
        """The file's checkpoints; empty if there is none, or if it cannot be read (said once:
        the unreadable file is kept next to it as ``checkpoints.json.bad``)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return Checkpoints()
        except OSError as exc:
            log.error(  # noqa: TRY400 - the reason is in the message
                "cannot read %s (%s); starting without checkpoints", self.path, exc
            )
            return Checkpoints()
        try:
            return _parse(json.loads(raw))
        except (ValueError, TypeError) as exc:  # JSONDecodeError, UnicodeDecodeError too
            bad = self.path.with_name(FILE_NAME + ".bad")
            with contextlib.suppress(OSError):
                os.replace(self.path, bad)
            log.error(  # noqa: TRY400 - the reason is in the message; no traceback
                "checkpoint file %s is unreadable (%s); starting without checkpoints "
                "(the file was kept as %s)",
                self.path,
                exc,
                bad.name,
            )
            return Checkpoints()

    def write(self, positions: dict[str, ResumePosition | None], names: dict[str, str]) -> bool:
        """Replace the file atomically. False (logged once per failing streak) on error."""
        containers = {}
        files = False
        for container_id, position in positions.items():
            entry: dict[str, Any] = {"name": names.get(container_id, "")}
            entry.update(position_json(position))
            files = files or "file" in entry
            containers[container_id] = entry
        data = {
            "version": VERSION if files else 1,
            "written_at": format_timestamp_ns(time.time_ns()),
            "containers": containers,
        }
        body = json.dumps(data, indent=1, sort_keys=True).encode() + b"\n"
        try:
            replace_atomically(self.path, body)
        except OSError as exc:
            if not self._failing:
                self._failing = True
                log.error(  # noqa: TRY400 - the reason is in the message
                    "cannot write checkpoints to %s: %s (will keep trying)", self.path, exc
                )
            return False
        if self._failing:
            self._failing = False
            log.warning("checkpoints written to %s again", self.path)
        self.writes += 1
        return True
