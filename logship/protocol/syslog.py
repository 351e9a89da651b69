"""Records -> syslog messages (RFC 5424, RFC 3164), with Docker's syslog driver conventions. No I/O.

Facility ``daemon`` unless told (Docker's ``syslog-facility``: a name or a number, 0 to 23);
severity 6 (informational) for stdout and 3 (error) for stderr, or the level of a line read as
JSON (:class:`~logship.record.Parsed`, whose message stays the line as written); the tag
template fills APP-NAME (and MSGID, as Docker does). The timestamp is Docker's own (or the
line's, when asked), in UTC, cut to microseconds: the finest RFC 5424 allows.

``rfc5424micro`` is the message Docker's driver writes in that format, to the byte: PROCID the
sending process's ID (Docker's daemon's; here logship's, given by the caller), no structured
data (``-``), the message followed by LF (unless the framing adds that LF itself). Only
APP-NAME and MSGID are cut to RFC 5424's 48 and 32 characters, where Docker sends a long tag
whole. ``rfc5424`` carries the enrichment as
structured data:

    [logship@32473 container_id="…" container_name="…" image_name="…" image_tag="…"
     image_id="…" stream="stdout" host_ip="…" (k8s_namespace="…" k8s_pod="…" …)]
    [labels@32473 app="web" …]

Everything that depends only on the container and stream is rendered once per container and
kept in ``meta.cache``; per line the encoder joins four strings.

Over a byte stream (TCP, TLS) messages are framed (RFC 6587) by :func:`frame`: octet counting
(``MSG-LEN SP SYSLOG-MSG``, RFC 5425's only framing), so a message with a newline in it stays
one message; or non-transparent framing, each message ending with LF, which most receivers
expect over plain TCP.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Literal

import orjson

from logship.config.labels import container_options
from logship.errors import LocalProtocolError
from logship.protocol.template import TagTemplate
from logship.record import STDERR, ContainerMeta, Parsed, Record, truncation_marker

Format = Literal["rfc5424", "rfc5424micro", "rfc3164"]
Framing = Literal["octet-counting", "non-transparent"]
LabelSelection = Literal["all", "none"] | tuple[str, ...]

FACILITY_DAEMON = 3
# Docker's syslog-facility names (Go's log/syslog numbering; 12 to 15 have no name there)
FACILITIES = {
    "kern": 0,
    "user": 1,
    "mail": 2,
    "daemon": 3,
    "auth": 4,
    "syslog": 5,
    "lpr": 6,
    "news": 7,
    "uucp": 8,
    "cron": 9,
    "authpriv": 10,
    "ftp": 11,
    **{f"local{n}": 16 + n for n in range(8)},
}
SEVERITY = {"stdout": 6, STDERR: 3}
_encoder_ids = itertools.count()  # meta.cache keys; id(self) can be reused once an encoder dies
_ROOM_FOR_MARKER = 64  # a truncation marker, and a little of the message to go with it
_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _printusascii(value: str, limit: int) -> str:
    """RFC 5424 header fields: 1*limit PRINTUSASCII, ``-`` when empty."""
    clean = "".join(c if "!" <= c <= "~" else "_" for c in value)[:limit]
    return clean or "-"


def _sd_name(value: str) -> str:
    """SD-NAME: 1*32 PRINTUSASCII except ``=``, space, ``]`` and ``"``."""
    clean = "".join(c if "!" <= c <= "~" and c not in '=]"' else "_" for c in value)[:32]
    return clean or "_"


def sd_escape(value: str) -> str:
    """PARAM-VALUE escaping: ``"``, ``\\`` and ``]`` get a backslash (RFC 5424 section 6.3.3)."""
    if '"' in value or "\\" in value or "]" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")
    return value


def structured_data(meta: ContainerMeta, stream: str, sd_id: str, labels: LabelSelection) -> str:
    params: list[tuple[str, str]] = [
        ("container_id", meta.id),
        ("container_name", meta.name),
        ("image_name", meta.image_name),
        ("image_tag", meta.image_tag),
        ("image_id", meta.image_id),
        ("stream", stream),
        ("host_ip", meta.host.ip),
    ]
    k8s = meta.kubernetes
    if k8s is not None:
        params += [
            ("k8s_namespace", k8s.namespace),
            ("k8s_pod_name", k8s.pod_name),
            ("k8s_pod_uid", k8s.pod_uid),
            ("k8s_container_name", k8s.container_name),
        ]
        if k8s.restart_count is not None:
            params.append(("k8s_restart_count", str(k8s.restart_count)))
    out = "[" + sd_id + "".join(f' {k}="{sd_escape(v)}"' for k, v in params) + "]"
    own = container_options(meta).fields  # logship.field.<name>: an element of their own
    if own:
        fields_id = "fields" + sd_id[sd_id.find("@") :] if "@" in sd_id else "fields"
        out += "[" + fields_id + "".join(f' {_sd_name(k)}="{sd_escape(v)}"' for k, v in own.items())
        out += "]"
    if labels == "none" or not meta.labels:
        return out
    chosen = sorted(meta.labels.items())
    if labels != "all":
        chosen = [(k, v) for k, v in chosen if k in labels]
    if chosen:
        labels_id = "labels" + sd_id[sd_id.find("@") :] if "@" in sd_id else "labels"
        out += (
            "[" + labels_id + "".join(f' {_sd_name(k)}="{sd_escape(v)}"' for k, v in chosen) + "]"
        )
    return out


def parsed_element(sd_id: str, fields: dict[str, object]) -> str:
    """A line's own fields (read as JSON) as one structured data element; values other than
    text as JSON text."""
    params = "".join(
        f' {_sd_name(k)}="{sd_escape(v if isinstance(v, str) else orjson.dumps(v).decode())}"'
        for k, v in fields.items()
    )
    return f"[{sd_id}{params}]"


class SyslogEncoder:
    """Turns a batch of records into syslog messages (one ``bytes`` per record, no framing)."""

    def __init__(
        self,
        *,
        format: Format = "rfc5424",
        tag: TagTemplate | None = None,
        facility: int = FACILITY_DAEMON,
        sd_id: str = "logship@32473",
        labels: LabelSelection = "all",
        max_message_bytes: int = 8192,
        procid: str = "-",
        end_with_lf: bool | None = None,
        extra_sd: str = "",
        parsed_fields: bool = False,
    ) -> None:
        """``end_with_lf``: end each message with LF, as Docker's driver does; by default for
        ``rfc5424micro`` only. Say False when the framing ends each message with LF anyway.
        ``extra_sd``: one more structured data element for ``rfc5424``, written as given
        between brackets after logship's own (logspout's ``SYSLOG_STRUCTURED_DATA``; the
        caller checks it is one). ``parsed_fields``: for ``rfc5424``, a line read as JSON
        carries its fields as one more element, ``json@NUMBER``."""
        if not 0 <= facility <= 23:
            raise ValueError(f"a syslog facility is 0 to 23, got {facility}")
        self.format = format
        self.procid = _printusascii(procid, 128)
        self.tag = tag or TagTemplate("{{.Name}}")
        self.facility = facility
        self.sd_id = sd_id
        self.labels = labels
        self.max_message_bytes = max_message_bytes
        self.end_with_lf = format == "rfc5424micro" if end_with_lf is None else end_with_lf
        self.extra_sd = f"[{extra_sd}]" if extra_sd else ""
        self.parsed_sd_id = (
            ("json" + sd_id[sd_id.find("@") :] if "@" in sd_id else "json")
            if parsed_fields and format == "rfc5424"
            else None
        )
        self.truncated = 0
        self._key = ("syslog", next(_encoder_ids))
        self._stamps: dict[str, str] = {}

    def _pieces(
        self, meta: ContainerMeta, labels: LabelSelection | None = None, *, sd: bool = True
    ) -> dict[str, tuple[str, str]]:
        """Per stream: the text before the timestamp and the text between it and the message.
        ``labels`` other than the encoder's own, or ``sd=False`` (no structured data at all):
        for one message whose header would not fit, not kept."""
        tag = self.tag.render(meta)
        pieces = {}
        for stream, severity in SEVERITY.items():
            pri = f"<{self.facility * 8 + severity}>"
            if self.format == "rfc5424micro":
                host = _printusascii(meta.host.name, 255)
                app = _printusascii(tag, 48)
                msgid = _printusascii(tag, 32)
                pieces[stream] = (pri + "1 ", f"Z {host} {app} {self.procid} {msgid} - ")
            elif self.format == "rfc5424":
                sd_text = (
                    structured_data(meta, stream, self.sd_id, labels or self.labels) + self.extra_sd
                    if sd
                    else "-"
                )
                host = _printusascii(meta.host.name, 255)
                app = _printusascii(tag, 48)
                msgid = _printusascii(tag, 32)
                pieces[stream] = (pri + "1 ", f"Z {host} {app} - {msgid} {sd_text} ")
            else:
                host = _printusascii(meta.host.name, 255)
                pieces[stream] = (pri, f" {host} {_printusascii(tag, 32)}: ")
        if labels is None and sd:
            meta.cache[self._key] = pieces
        return pieces

    def _rfc3164_time(self, ts: str) -> str:
        stamp = self._stamps.get(ts[:19])
        if stamp is None:
            if len(self._stamps) > 1024:
                self._stamps.clear()
            day = int(ts[8:10])
            stamp = f"{_MONTHS[int(ts[5:7])]} {day:2d} {ts[11:19]}"
            self._stamps[ts[:19]] = stamp
        return stamp

    def encode(self, records: Iterable[Record]) -> list[bytes]:
        out: list[bytes] = []
        key = self._key
        limit = self.max_message_bytes
        rfc5424 = self.format != "rfc3164"
        with_sd = self.format == "rfc5424"
        ending = self.end_with_lf
        if ending:
            limit -= 1
        last_meta: ContainerMeta | None = None
        pieces: dict[str, tuple[str, str]] = {}
        for r in records:
            meta = r.meta
            if meta is not last_meta:
                last_meta = meta
                pieces = meta.cache.get(key) or self._pieces(meta)
            head, middle = pieces[r.stream]
            ts = r.timestamp
            if type(r) is Parsed:  # the line's own level and time; the message as written
                head = self._parsed_head(r, head)
                ts = r.time or ts
                if self.parsed_sd_id is not None and r.fields:
                    middle = middle[:-1] + parsed_element(self.parsed_sd_id, r.fields) + " "
            if rfc5424:
                data = f"{head}{ts[:26]}{middle}{r.message}".encode()
            else:
                data = f"{head}{self._rfc3164_time(ts)}{middle}{r.message}".encode()
            if len(data) > limit:
                if with_sd:
                    data = self._fit_header(r, data, limit)
                data = self._truncate(data, limit) if len(data) > limit else data
            out.append(data + b"\n" if ending else data)
        return out

    def _parsed_head(self, r: Parsed, head: str) -> str:
        """The PRI (and version) for a line read as fields: its level's severity, if known."""
        if r.severity is None:
            return head
        pri = f"<{self.facility * 8 + r.severity}>"
        return pri + "1 " if head.endswith(" ") else pri

    def _fit_header(self, r: Record, data: bytes, limit: int) -> bytes:
        """A header too long for ``limit`` (many labels, long names and a small limit) loses
        its labels, then a parsed line's own fields (``parsed_fields``), then all its
        structured data (``-``), rather than be cut in the middle. A parsed line keeps its
        severity and time throughout."""
        message = r.message.encode()
        ts = r.timestamp
        fields = ""
        if type(r) is Parsed:
            ts = r.time or ts
            if self.parsed_sd_id is not None and r.fields:
                fields = parsed_element(self.parsed_sd_id, r.fields)
        steps: list[tuple[bool, str]] = [(True, fields), (True, ""), (False, "")]
        for sd, element in steps if fields else steps[1:]:
            if len(data) - len(message) + _ROOM_FOR_MARKER <= limit:
                break
            head, middle = self._pieces(r.meta, "none", sd=sd)[r.stream]
            if type(r) is Parsed:
                head = self._parsed_head(r, head)
            if element:
                middle = middle[:-1] + element + " "
            data = f"{head}{ts[:26]}{middle}".encode() + message
        return data

    def _truncate(self, data: bytes, limit: int) -> bytes:
        self.truncated += 1
        # the marker's own digits and a character cut in two can each cost a few more bytes:
        # repeat until the marker counts exactly the bytes that were dropped
        dropped = len(data) - limit
        while True:
            marker = truncation_marker(dropped).encode()
            keep = max(limit - len(marker), 0)
            head = data[:keep].decode("utf-8", "ignore").encode()  # never cut a character in two
            if len(data) - len(head) == dropped:
                return head + marker
            dropped = len(data) - len(head)


# -- framing over a byte stream (RFC 6587) ----------------------------------------------------


def _empty(index: int) -> LocalProtocolError:
    return LocalProtocolError(f"syslog message {index} is empty: a frame needs at least one byte")


def frame_octet_counting(messages: list[bytes]) -> bytes:
    """``MSG-LEN SP SYSLOG-MSG`` per message (RFC 6587 section 3.4.1, RFC 5425 section 4.3).

    MSG-LEN counts bytes, not characters; the message goes as it is, newlines and all.
    """
    parts: list[bytes] = []
    append = parts.append
    for i, message in enumerate(messages):
        if not message:
            raise _empty(i)
        append(b"%d " % len(message))
        append(message)
    return b"".join(parts)


def frame_non_transparent(messages: list[bytes]) -> bytes:
    """Each message followed by LF (RFC 6587 section 3.4.2), for receivers without octet counting.

    LF is the end of a message here, so an LF inside one becomes a space: the message stays
    one message and keeps its length (UTF-8 never has the byte 0x0A inside a character).
    """
    parts: list[bytes] = []
    append = parts.append
    for i, message in enumerate(messages):
        if not message:
            raise _empty(i)
        append(message.replace(b"\n", b" ") if b"\n" in message else message)
    append(b"")  # the last message's LF
    return b"\n".join(parts)


FRAMERS: dict[Framing, Callable[[list[bytes]], bytes]] = {
    "octet-counting": frame_octet_counting,
    "non-transparent": frame_non_transparent,
}


def frame(messages: list[bytes], framing: Framing = "octet-counting") -> bytes:
    """Encoded messages -> the bytes to write to a TCP or TLS stream, in one piece."""
    return FRAMERS[framing](messages)
