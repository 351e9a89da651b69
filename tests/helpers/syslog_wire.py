"""Syslog as a receiver reads it, written from the RFCs and not from logship's code: an RFC 5424
parser (from the ABNF of section 6), an RFC 3164 one, and the RFC 6587 frame readers; and the
structured data logship gives the :func:`~tests.helpers.records.make_meta` container."""

from __future__ import annotations

import re
from typing import Any

from tests.helpers.records import CONTAINER_ID, IMAGE_ID

# -- RFC 5424 and RFC 3164 ----------------------------------------------------------------------

SD_NAME = r"[!#-<>-\\^-~]{1,32}"  # PRINTUSASCII except '=', SP, ']' and '"'
PARAM_VALUE = r'(?:[^"\\\]]|\\.)*'  # '"', '\' and ']' only escaped
SD_ELEMENT = rf'\[{SD_NAME}(?: {SD_NAME}="{PARAM_VALUE}")*\]'
TIMESTAMP = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})"


def rfc5424_pattern(max_msgid: int) -> re.Pattern[str]:
    return re.compile(
        rf"<(?P<pri>\d{{1,3}})>(?P<version>[1-9]\d{{0,2}}) (?P<timestamp>-|{TIMESTAMP}) "
        r"(?P<hostname>[!-~]{1,255}) (?P<app_name>[!-~]{1,48}) (?P<procid>[!-~]{1,128}) "
        rf"(?P<msgid>[!-~]{{1,{max_msgid}}}) (?P<sd>-|(?:{SD_ELEMENT})+)(?: (?P<msg>.*))?",
        re.DOTALL,
    )


RFC5424 = rfc5424_pattern(32)


def parse_rfc5424(data: bytes, pattern: re.Pattern[str] = RFC5424) -> dict[str, Any]:
    m = pattern.fullmatch(data.decode("utf-8"))  # strict: a message is valid UTF-8
    if m is None:
        raise ValueError(f"not an RFC 5424 message: {data!r}")
    assert int(m["pri"]) <= 191
    fields: dict[str, Any] = m.groupdict()
    fields["pri"], fields["version"] = int(m["pri"]), int(m["version"])
    fields["sd"] = [] if m["sd"] == "-" else parse_structured_data(m["sd"])
    return fields


def parse_structured_data(text: str) -> list[tuple[str, list[tuple[str, str]]]]:
    elements = []
    for element in re.finditer(rf'\[({SD_NAME})((?: {SD_NAME}="{PARAM_VALUE}")*)\]', text):
        params = [
            (p[1], re.sub(r'\\(["\\\]])', r"\1", p[2]))
            for p in re.finditer(rf' ({SD_NAME})="({PARAM_VALUE})"', element[2])
        ]
        elements.append((element[1], params))
    return elements


RFC3164 = re.compile(
    r"<(?P<pri>\d{1,3})>(?P<timestamp>[A-Z][a-z]{2} [ 123]\d \d{2}:\d{2}:\d{2}) "
    r"(?P<hostname>[!-~]+) (?P<tag>[!-~]{1,32}?)(?:\[(?P<pid>\d+)\])?: (?P<msg>.*)",
    re.DOTALL,
)


def parse_rfc3164(data: bytes) -> dict[str, Any]:
    m = RFC3164.fullmatch(data.decode("utf-8"))
    if m is None:
        raise ValueError(f"not an RFC 3164 message: {data!r}")
    return m.groupdict() | {"pri": int(m["pri"])}


def enrichment(stream: str = "stdout", sd_id: str = "logship@32473", **more: str) -> Any:
    """The logship SD-ELEMENT of the default :func:`make_meta` container (on the default
    host), as :func:`parse_rfc5424` gives it back."""
    params = [
        ("container_id", CONTAINER_ID),
        ("container_name", "web-2"),
        ("image_name", "logship-test/busybox"),
        ("image_tag", "1.35"),
        ("image_id", IMAGE_ID),
        ("stream", stream),
        ("host_ip", "10.0.0.1"),
    ]
    return (sd_id, params + list(more.items()))


# -- RFC 6587 framing --------------------------------------------------------------------------

MSG_LEN = re.compile(rb"[1-9][0-9]* ")  # MSG-LEN = NONZERO-DIGIT *DIGIT, then SP


def read_octet_counted(data: bytes) -> list[bytes]:
    """``MSG-LEN SP SYSLOG-MSG``, repeated (section 3.4.1); anything else is an error."""
    messages = []
    pos = 0
    while pos < len(data):
        m = MSG_LEN.match(data, pos)
        if m is None:
            raise ValueError(f"no MSG-LEN at byte {pos}: {data[pos : pos + 20]!r}")
        length = int(m.group()[:-1])
        start = m.end()
        if start + length > len(data):
            raise ValueError(f"frame of {length} bytes at byte {pos} runs past the end")
        messages.append(data[start : start + length])
        pos = start + length
    return messages


def read_non_transparent(data: bytes) -> list[bytes]:
    """Messages each ending with the TRAILER LF (section 3.4.2)."""
    if data and not data.endswith(b"\n"):
        raise ValueError(f"the last message has no trailer: {data[-20:]!r}")
    return data.split(b"\n")[:-1]
