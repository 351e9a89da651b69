"""Secrets named by options (passwords, keys): read once, when the configuration is; and
masked wherever a configuration or an error about it is shown."""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import SecretStr


def read_secret_file(path: Path, what: str) -> SecretStr:
    """The file's content without its final newline; ValueError if unreadable or empty."""
    try:
        text = path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValueError(f"cannot read {what} {str(path)!r}: {reason}") from None
    if not text:
        raise ValueError(f"{what} {str(path)!r} is empty; expected the secret on its first line")
    return SecretStr(text)


def read_secret_env(name: str, what: str) -> SecretStr:
    """The variable's value; ValueError naming it if it is not set or empty."""
    value = os.environ.get(name, "")
    if not value:
        raise ValueError(
            f"{what} names the environment variable {name!r}, which is "
            + ("empty" if name in os.environ else "not set")
        )
    return SecretStr(value)


SECRET_KEY = r"(?:password|api_key|shared_key|secret|token)"
"""Option names whose values are secrets, as a regular expression."""

_REDACTIONS = (
    (re.compile(r"(://[^:/@\s'\"]+:)[^@/\s'\"]+@"), r"\1***@"),  # user:password@host
    (re.compile(rf"({SECRET_KEY}=)[^&\s'\"]+"), r"\1***"),  # ?password=... in a URI
    (re.compile(rf"('{SECRET_KEY}': )'[^']*'"), r"\1'***'"),  # {'password': '...'}
    # syslog structured data: receivers such as Loggly take the customer token as the SD-ID's
    # name (TOKEN@41058 tag="web"); the enterprise number and the parameters stay readable
    (
        re.compile(
            r"""((?:structured_data|STRUCTURED_DATA)(?:=|: |': '|=')\[?)[^@%\s'"&\]]+(@|%40)"""
        ),
        r"\1***\2",
    ),
)


def redact(text: str) -> str:
    """Mask passwords and keys written inline, so an error message can be shown and logged."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text
