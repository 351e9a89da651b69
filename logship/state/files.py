"""Small files of the state directory, replaced atomically."""

from __future__ import annotations

import os
from pathlib import Path


def replace_atomically(path: Path, body: bytes) -> None:
    """Write ``body`` to a temporary file next to ``path``, fsync it, rename it over ``path``
    and fsync the directory, so a crash at any moment leaves the old file or the new one.
    OSError on failure."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
