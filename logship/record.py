"""The one record type that flows through the whole agent, and the metadata it shares.

A :class:`Record` is one log line. Everything constant for a container lives once in a
:class:`ContainerMeta` that all of that container's records point to, so a record costs one small
slotted object. Timestamps stay in Docker's own form (RFC 3339, UTC, nine fractional digits),
which sinks slice instead of parsing; :func:`timestamp_ns` converts when a number is needed.
"""

from __future__ import annotations

import calendar
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from mypy_extensions import mypyc_attr

from logship import __version__

STDOUT: Final = "stdout"
STDERR: Final = "stderr"

ResumePosition = tuple[Any, ...]
"""Where a source resumes reading after a record. Only the source that made it looks into it;
everyone else (checkpoints) compares positions of one container (older < newer) and keeps them.
The Engine API's is ``(timestamp, entries consumed)``, a log file's ``(order, offset, file)``."""

_K8S_RESTARTS = "annotation.io.kubernetes.container.restartCount"
_K8S_LABELS = {
    "io.kubernetes.pod.namespace": "namespace",
    "io.kubernetes.pod.name": "pod_name",
    "io.kubernetes.pod.uid": "pod_uid",
    "io.kubernetes.container.name": "container_name",
}


@dataclass(frozen=True, slots=True)
class HostMeta:
    """The host the agent runs on, as records report it."""

    name: str
    ip: str


@dataclass(frozen=True, slots=True)
class AgentIdentity:
    """The agent that ships the records, as Elasticsearch documents name it (``agent.*``, as
    Filebeat writes them): its version, and an ID that stays the same across restarts when
    there is a state directory to keep it in (:mod:`logship.state.identity`)."""

    id: str
    version: str
    type: str = "logship"

    @classmethod
    def new(cls) -> AgentIdentity:
        """A new identity, for one run only."""
        return cls(id=str(uuid.uuid4()), version=__version__)


@dataclass(frozen=True, slots=True)
class KubernetesMeta:
    """Pod identity taken from the ``io.kubernetes.*`` labels the kubelet puts on containers."""

    namespace: str
    pod_name: str
    pod_uid: str
    container_name: str
    # how many times the kubelet restarted the container (known from its CRI log file's name,
    # or the dockershim's annotation label); None: not known
    restart_count: int | None = None

    @classmethod
    def from_labels(cls, labels: dict[str, str]) -> KubernetesMeta | None:
        if "io.kubernetes.pod.name" not in labels:
            return None
        values = {attr: labels.get(label, "") for label, attr in _K8S_LABELS.items()}
        restarts = labels.get(_K8S_RESTARTS, "")
        return cls(**values, restart_count=int(restarts) if restarts.isdigit() else None)


def split_image(reference: str) -> tuple[str, str]:
    """Split an image reference into name and tag (``reg:5000/app:1.2``: ``reg:5000/app``, ``1.2``).

    A digest reference keeps its digest as the tag; a reference with neither is ``latest``.
    """
    if not reference:
        return "", ""  # no image known (a pod log read from its file)
    if "@" in reference:
        name, _, digest = reference.partition("@")
        return name, digest
    slash = reference.rfind("/")
    colon = reference.rfind(":")
    if colon > slash:
        return reference[:colon], reference[colon + 1 :]
    return reference, "latest"


@dataclass(slots=True, eq=False)
class ContainerMeta:
    """Everything logship knows about one container, looked up once, shared by its records.

    ``runtime``: what runs the container, as Elastic Common Schema's ``container.runtime``
    says it ("docker"); "" when it is not known: a pod's log read from its file, which
    containerd and CRI-O write alike.

    ``cache`` belongs to sinks: an encoder keeps what it precomputes for this container there
    (header bytes, static fields), so the work is done once per container, not once per line.
    It goes away with the container's metadata.
    """

    id: str
    name: str
    image: str
    image_id: str
    host: HostMeta
    labels: dict[str, str] = field(default_factory=dict)
    env: tuple[str, ...] = ()
    command: str = ""
    created: str = ""
    tty: bool = False
    kubernetes: KubernetesMeta | None = None
    image_name: str = ""
    image_tag: str = ""
    runtime: str = "docker"
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.image_name:
            self.image_name, self.image_tag = split_image(self.image)
        if self.kubernetes is None:
            self.kubernetes = KubernetesMeta.from_labels(self.labels)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def short_image_id(self) -> str:
        return self.image_id.removeprefix("sha256:")[:12]


@mypyc_attr(allow_interpreted_subclasses=True)  # compiled (pyproject.toml), subclassed elsewhere
class Record:
    """One log line of one container.

    ``timestamp`` is Docker's own time of the line, ``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`` in UTC.
    ``seq`` tells apart lines that share a timestamp (0 for the first, 1 for the next, ...).
    """

    __slots__ = ("message", "meta", "seq", "stream", "timestamp")

    def __init__(
        self, message: str, stream: str, timestamp: str, meta: ContainerMeta, seq: int = 0
    ) -> None:
        self.message = message
        self.stream = stream
        self.timestamp = timestamp
        self.meta = meta
        self.seq = seq

    def __repr__(self) -> str:
        return (
            f"Record({self.message!r}, {self.stream!r}, {self.timestamp!r}, "
            f"container={self.meta.name!r}, seq={self.seq})"
        )


class Parsed(Record):
    """A line that was a JSON object, read as fields (:mod:`logship.transform.parse`).

    ``message`` stays the line as the container wrote it (what encoders that know no fields
    ship); ``text`` is its message field (the whole line when it has none), ``fields`` the
    rest of the object, ``level`` its level as written and ``severity`` the syslog severity
    that level means (None: none known). ``time``: the line's own time (canonical) when it is
    to replace Docker's, else None; ``timestamp`` stays Docker's either way (checkpoints and
    document IDs are made of it). ``end``: as :class:`~logship.transform.multiline.Joined`'s.
    """

    __slots__ = ("end", "fields", "level", "severity", "text", "time")
    end: ResumePosition | None

    def __init__(
        self,
        record: Record,
        text: str,
        fields: dict[str, Any],
        level: str | None = None,
        severity: int | None = None,
        time: str | None = None,
    ) -> None:
        self.message = record.message
        self.stream = record.stream
        self.timestamp = record.timestamp
        self.meta = record.meta
        self.seq = record.seq
        self.text = text
        self.fields = fields
        self.level = level
        self.severity = severity
        self.time = time

    def copy(self) -> Parsed:
        """The same record, without an ``end`` (another may be set on the copy)."""
        return Parsed(self, self.text, self.fields, self.level, self.severity, self.time)

    def with_text(self, text: str) -> Parsed:
        """The same record with another message (``text``), without an ``end``."""
        return Parsed(self, text, self.fields, self.level, self.severity, self.time)

    def with_fields(self, fields: dict[str, Any]) -> Parsed:
        """The same record with other fields, without an ``end``."""
        return Parsed(self, self.text, fields, self.level, self.severity, self.time)


# -- timestamps -------------------------------------------------------------------------------

_RFC3339: Final = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})\Z",
    re.ASCII,
)
_epoch_cache: Final[dict[str, int]] = {}


def _epoch_seconds(date_time: str) -> int:
    """Seconds since the epoch for ``YYYY-MM-DDTHH:MM:SS`` (UTC), memoised per second."""
    seconds = _epoch_cache.get(date_time)
    if seconds is None:
        if len(_epoch_cache) > 4096:
            _epoch_cache.clear()
        y, mo, d = int(date_time[0:4]), int(date_time[5:7]), int(date_time[8:10])
        h, mi, s = int(date_time[11:13]), int(date_time[14:16]), int(date_time[17:19])
        datetime(y, mo, d, h, mi, s, tzinfo=UTC)  # ValueError for 2026-02-30 or 25:00
        seconds = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
        _epoch_cache[date_time] = seconds
    return seconds


# Docker's own form, strictly (ASCII digits, each field in its range): what records carry and
# what encoders write into their output as it is, unescaped
_CANONICAL: Final = re.compile(
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{9}Z"
).fullmatch
_real_days: Final[set[str]] = set()  # dates checked to exist (2026-02-30 does not)
_checked_second = "-" * 20  # "YYYY-MM-DDTHH:MM:SS." last found canonical (none, at first)


def is_canonical(ts: str) -> bool:
    """True for the form Docker itself writes and records carry, and nothing else:
    ``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`` with ASCII digits, a date that exists and a time of day.
    Encoders write such a timestamp as it is (no escaping), so whatever a decoder takes from
    the engine, a file or a container's own output passes here first. Checked in full once
    per second of time seen: a flood's lines share it."""
    global _checked_second
    if (
        ts[:20] == _checked_second
        and len(ts) == 30
        and ts[29] == "Z"
        and ts.isascii()  # O(1); isdecimal() alone takes other scripts' digits
        and ts[20:29].isdecimal()
    ):
        return True
    if _CANONICAL(ts) is None:
        return False
    day = ts[:10]
    if day not in _real_days:
        try:
            datetime(int(ts[0:4]), int(ts[5:7]), int(ts[8:10]), tzinfo=UTC)
        except ValueError:
            return False
        if len(_real_days) > 4096:
            _real_days.clear()
        _real_days.add(day)
    _checked_second = ts[:20]
    return True


def normalize_timestamp(ts: str) -> str:
    """Any RFC 3339 time -> canonical UTC with nine fractional digits. Raises ValueError."""
    if is_canonical(ts):
        return ts
    n = len(ts)
    if 20 <= n < 30 and ts[-1] == "Z" and ts[10] == "T":
        # Go's RFC3339Nano in UTC (Docker's json-file, containerd's CRI logs): the fraction's
        # trailing zeros trimmed, or no fraction at all
        frac = ts[20:-1] if ts[19] == "." else "" if n == 20 else "x"
        if (frac.isdigit() or n == 20) and ts[4] == "-" and ts[13] == ":":
            canonical = f"{ts[:19]}.{frac.ljust(9, '0')}Z"
            if is_canonical(canonical):
                return canonical
    m = _RFC3339.match(ts)
    if m is None:
        raise ValueError(f"not an RFC 3339 timestamp: {ts!r}")
    date, clock, frac, zone = m.groups("")  # "": no fraction
    try:
        seconds = _epoch_seconds(f"{date}T{clock}")
    except ValueError:
        raise ValueError(f"not an RFC 3339 timestamp (no such date or time): {ts!r}") from None
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return format_timestamp_ns(seconds * 1_000_000_000 + int(frac.ljust(9, "0")))


def timestamp_ns(ts: str) -> int:
    """Nanoseconds since the epoch of a canonical timestamp."""
    return _epoch_seconds(ts[:19]) * 1_000_000_000 + int(ts[20:29])


def format_timestamp_ns(ns: int) -> str:
    """Canonical timestamp for nanoseconds since the epoch."""
    import time

    seconds, nanos = divmod(ns, 1_000_000_000)
    # not strftime: glibc's %Y writes year 1 as "1", not "0001"
    y, mo, d, h, mi, s = time.gmtime(seconds)[:6]
    return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}.{nanos:09d}Z"


def since_parameter(ts: str) -> str:
    """The Engine API's ``since`` form (``seconds.nanoseconds``) of a canonical timestamp."""
    return f"{_epoch_seconds(ts[:19])}.{ts[20:29]}"


def truncation_marker(dropped_bytes: int) -> str:
    """What replaces the end of a line that was cut to fit a limit."""
    return f" [truncated {dropped_bytes} bytes]"


# Ends a record that is the first part of a line still being written: the line was shipped in
# parts because the lines being gathered held too much memory (``max_partial_bytes``).
CONTINUED_MARKER: Final = " [line continued in the next record]"


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")
_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
}


def parse_since(text: str, now_ns: int) -> str:
    """``--since`` as the docker CLI takes it: a duration ago (``10m``, ``1h30m``), an RFC 3339
    time, a date (``2026-11-27``, UTC) or Unix seconds. Returns a canonical timestamp."""
    value = text.strip()
    parts = list(_DURATION.finditer(value))
    if parts and "".join(m.group(0) for m in parts) == value:
        ago = sum(float(m.group(1)) * _UNIT_NS[m.group(2)] for m in parts)
        return format_timestamp_ns(now_ns - int(ago))
    if re.fullmatch(r"\d+(\.\d{1,9})?", value):
        seconds, _, frac = value.partition(".")
        return format_timestamp_ns(int(seconds) * 1_000_000_000 + int(frac.ljust(9, "0") or 0))
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        value += "T00:00:00Z"
    try:
        return normalize_timestamp(value)
    except ValueError:
        raise ValueError(
            f"cannot read {text!r} as a time: expected a duration like 10m or 1h30m, "
            "an RFC 3339 time like 2026-11-27T05:00:00Z, a date, or Unix seconds"
        ) from None


def resume_position(record: Record) -> ResumePosition | None:
    """Where reading resumes to get the lines after ``record`` and nothing before it (None:
    from the start of the container's log). A record that knows better carries ``end``."""
    if type(record) is Record:
        return (record.timestamp, record.seq + 1)
    end: ResumePosition | None = getattr(record, "end", (record.timestamp, record.seq + 1))
    return end
