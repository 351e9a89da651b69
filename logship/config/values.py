"""Small value parsers for options given as text (URI query values, environment variables)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic_settings import NoDecode


def comma_list(value: object) -> object:
    """``"a,b"`` -> ``["a", "b"]`` (URI query values and environment variables are strings)."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CommaList = Annotated[list[str], NoDecode]
"""A list option an environment variable gives as ``a,b`` (split by :func:`comma_list`)."""


def readable_file(value: Path | None, what: str) -> Path | None:
    """``value`` if it is None or a file this process can read; ValueError naming it if not."""
    if value is not None and not os.access(value, os.R_OK):
        raise ValueError(f"{what} {str(value)!r} does not exist or cannot be read")
    return value
