"""Secrets holding every character that means something in a URI, and the ways a user writes
them into a destination, for tests that sweep them through every message logship shows."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

# RFC 3986's delimiters, '%', a space, a tab, and what is unsafe in URIs or quoting
SPECIALS = ":/?#[]@!$&'()*+,;=% \t\"<>\\^`{|}~"


@dataclass(frozen=True)
class Secret:
    """``Pw<n>xQ<c>zZ<n>kR``: a secret holding ``char``, whose two halves are each long and
    odd enough that finding either in a message means the secret leaked."""

    n: int
    char: str

    @property
    def value(self) -> str:
        return f"Pw{self.n}xQ{self.char}zZ{self.n}kR"

    @property
    def pieces(self) -> tuple[str, str]:
        return f"Pw{self.n}xQ", f"zZ{self.n}kR"

    @property
    def encoded(self) -> str:
        return quote(self.value, safe="")

    @property
    def user(self) -> str:
        return f"writer{self.n}"

    def leaked_in(self, text: str) -> bool:
        return any(piece in text for piece in self.pieces)


SECRETS = [Secret(n, char) for n, char in enumerate(SPECIALS)]


def leaks(text: str) -> list[str]:
    """The secrets of :data:`SECRETS` ``text`` shows any part of."""
    return [s.value for s in SECRETS if s.leaked_in(text)]


def es_uris(secret: Secret, host: str, port: int, *, encoded: bool) -> list[str]:
    """An Elasticsearch destination with ``secret`` as the password in the URI's user info
    and as ``password=`` in its query (an option after it), raw or percent-encoded."""
    password = secret.encoded if encoded else secret.value
    base = f"elasticsearch+http://{host}:{port}"
    return [
        f"elasticsearch+http://{secret.user}:{password}@{host}:{port}",
        f"{base}?user={secret.user}&password={password}&request_timeout_secs=5",
    ]


def other_uris(secret: Secret, host: str, port: int, *, encoded: bool) -> list[str]:
    """Secrets given where no such option exists: an API key and a shared key inline,
    user:password@ to GELF HTTP, which takes no credentials."""
    value = secret.encoded if encoded else secret.value
    return [
        f"elasticsearch+http://{host}:{port}?api_key={value}",
        f"forward://{host}:{port}?shared_key={value}",
        f"gelf+http://{secret.user}:{value}@{host}:{port}/gelf",
    ]
