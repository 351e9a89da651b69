"""Destination URIs (``scheme://user:password@host:port/path?option=value``) -> the options a
YAML block would give, with errors that never show a secret.

A URI is read as RFC 3986 has it: percent-encoded characters are decoded in the user, the
password and every query key and value (``%2F`` is ``/``), and ``+`` is a plus, not a space.
What a password or key holds of ``/ ? # @ [ ] %`` must be percent-encoded in a URI (and of
``&`` in a query value), since each of them ends or changes a part of it; anything that shows
such a character was left raw is refused, naming the part, never quoting it.

An error quotes the URI only when it can hold no credentials (no ``@``, no ``password=`` and
the like); otherwise it shows the scheme alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from logship.config.secrets import SECRET_KEY

ENCODE_HINT = (
    "percent-encode what a password or key holds of / ? # @ [ ] % & + and spaces "
    "(%2F %3F %23 %40 %5B %5D %25 %26 %2B %20)"
)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_MAY_HOLD_SECRET = re.compile(rf"@|{SECRET_KEY}", re.IGNORECASE)
_SECRET_OPTION = re.compile(SECRET_KEY, re.IGNORECASE)
_PLAIN_HOST = r"(?:\[[0-9A-Fa-f:.]*\]|[^:,\[\]]*)(?::-?[0-9]*)?"
_PLAIN_AUTHORITY = re.compile(rf"{_PLAIN_HOST}(?:,{_PLAIN_HOST})*")

Schemes = Mapping[str, tuple[str, Mapping[str, Any]]]
"""URI scheme -> (destination type, the options the scheme implies)."""


def shown(uri: str) -> str:
    """How an error shows ``uri``: quoted whole when it cannot hold credentials (no ``@``, no
    ``password=`` or the like, HOST[:PORT] with digits after the colon), else its scheme
    alone; nothing of a text that has no scheme (a piece of a URI cut at a space)."""
    text = uri.strip()
    match = _SCHEME.match(text)
    if match is None:
        return "text not shown: it may hold credentials"
    authority = re.split(r"[/?#]", text[match.end() :], maxsplit=1)[0]
    if not _MAY_HOLD_SECRET.search(text) and _PLAIN_AUTHORITY.fullmatch(authority):
        return repr(text)
    return f"'{match.group(1)}://…' (the rest not shown: it may hold credentials)"


def parse_destination_uri(
    uri: str, known: Schemes, options_of: Callable[[str], Collection[str]]
) -> dict[str, Any]:
    """``syslog+udp://host:514?format=rfc3164`` -> ``{"type": "syslog", "transport": "udp",
    ...}``: query keys are option names, a dotted key (``tls.verify``) a nested option.

    ``known``: the schemes; ``options_of(type)``: the option names of a destination type (to
    tell a secret that runs on past a raw ``&`` from the next option). ValueError saying what
    is wrong, never quoting a secret.
    """
    text = uri.strip()
    match = _SCHEME.match(text)
    if match is None:
        raise ValueError(
            f"a destination is no URI: expected SCHEME://HOST[:PORT][?OPTIONS], e.g. "
            f"syslog+udp://logs.example.com:514 ({shown(text)})"
        )
    scheme = match.group(1).lower()
    if scheme not in known:
        raise ValueError(
            f"unknown destination scheme {scheme!r} in {shown(text)}; expected one of "
            + ", ".join(f"{s}://" for s in known)
        )
    where = f"destination {shown(text)}"
    if "#" in text:
        raise ValueError(
            f"{where}: '#' starts a URI's fragment, which a destination has none of; {ENCODE_HINT}"
        )
    if any(c in text for c in "\t\r\n"):
        raise ValueError(f"{where}: holds a tab or a line break; {ENCODE_HINT}")
    hint = f"; {ENCODE_HINT}" if _MAY_HOLD_SECRET.search(text) else ""
    kind, implied = known[scheme]
    text, hosts = _host_list(text, match.end(), where, kind, options_of)
    try:
        url = urlsplit(text)
        hostname = url.hostname
    except ValueError:  # a stray [ or ]
        raise ValueError(
            f"{where}: what follows :// is no [USER:PASSWORD@]HOST[:PORT] (brackets go only "
            f"around an IPv6 address){hint}"
        ) from None
    try:
        port = url.port
    except ValueError:  # what follows the last ':' of the authority is no port
        raise ValueError(
            f"invalid port in {where}: expected a number from 0 to 65535 after the host{hint}"
        ) from None
    if "@" in url.path:
        raise ValueError(
            f"{where}: an '@' after the host, in the path (a password holding '/'?); " + ENCODE_HINT
        )
    options: dict[str, Any] = {"type": kind, **implied}
    if hosts:
        options["hosts"] = hosts
    elif hostname:
        options["host"] = hostname
    if url.username:  # only destinations with these options accept them; others say so
        options["user"] = unquote(url.username)
    if url.password:
        options["password"] = unquote(url.password)
    if url.path not in ("", "/"):
        options["path"] = url.path
    if port is not None and not hosts:
        options["port"] = port
    names = options_of(kind)
    after_secret: str | None = None  # the secret option just read, if the last one was
    for pair in url.query.split("&") if url.query else ():
        raw_key, _, raw_value = pair.partition("=")
        key, value = unquote(raw_key), unquote(raw_value)
        if "@" in key:
            raise ValueError(
                f"{where}: an option's name holds an '@' (a password holding '?'?); " + ENCODE_HINT
            )
        if after_secret is not None and key.split(".")[0] not in names:
            raise ValueError(
                f"{where}: the value of {after_secret}= seems to go on past a raw '&' (what "
                f"follows it is no option of {kind}); {ENCODE_HINT}"
            )
        after_secret = key if _SECRET_OPTION.fullmatch(key) else None
        target = options
        *parents, leaf = key.split(".")
        for parent in parents:
            given = target.setdefault(parent, {})
            if isinstance(given, str):  # multiline=java&multiline.max_lines=9
                raise ValueError(  # noqa: TRY004 - pydantic reports ValueErrors
                    f"{where}: {parent}= and {key}= cannot both be given: write the first as "
                    f"{parent}.<option>= (multiline=java as multiline.preset=java)"
                )
            target = given
        if isinstance(target.get(leaf), dict):
            raise ValueError(  # noqa: TRY004 - as above
                f"{where}: {leaf}= cannot follow {leaf}.<option>=: write it as "
                f"{leaf}.<option>= too (multiline=java as multiline.preset=java)"
            )
        target[leaf] = value
    return options


def _host_list(
    text: str, start: int, where: str, kind: str, options_of: Callable[[str], Collection[str]]
) -> tuple[str, list[str]]:
    """Several hosts in the host part (``es1:9200,es2:9200``): the URI with the first of them
    alone, for the rest of the parsing, and each ``HOST[:PORT]`` as written (checked by the
    destination's ``hosts`` option). One host: the URI as it is, and no list."""
    end = len(text)
    for stop in "/?#":
        found = text.find(stop, start)
        if found != -1:
            end = min(end, found)
    at = text.rfind("@", start, end)
    first = at + 1 if at != -1 else start
    if "," not in text[first:end]:
        return text, []
    if text.startswith("//", end):
        raise ValueError(
            f"{where}: write several hosts without their scheme, which the URI's gives them "
            "all: elasticsearch+https://es1:9200,es2:9200/"
        )
    if "hosts" not in options_of(kind):
        raise ValueError(
            f"{where}: a ',' in the host part names several hosts, which a {kind} "
            "destination cannot send to (elasticsearch can); give one host"
        )
    hosts = [host.strip() for host in text[first:end].split(",")]
    return text[:first] + hosts[0] + text[end:], hosts
