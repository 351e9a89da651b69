"""The disk spool's segment format, without any I/O: records to frames, frames to records.

A segment file is the 8-byte magic ``LSSPOOL1`` followed by frames. A frame is one batch of
records appended at once::

    >III header: payload bytes, records in it, CRC-32 of the payload
    payload:     msgpack [metas, records]

``metas`` defines the containers first seen in this segment by this frame, each once per
segment: ``[index, id, name, image, image_id, image_name, image_tag, host_name, host_ip,
labels, env, command, created, tty]``. ``records`` is flat, five items per record:
``index, message, stream, timestamp, seq``. Of a container's environment only the variables
its destination sends are written (:class:`EnvKept`): the rest, secrets often, never reach
the disk. A record therefore costs its text plus ~45 bytes,
and a reader rebuilds it with its container's full enrichment even when the container is gone.

A crash while a frame is being appended leaves a *torn tail*: a header or payload cut short.
:func:`walk` finds where the good frames end (only headers are read); :func:`decode_frame`
checks the CRC, so damage inside a frame is found when it is read. Either way the good part
before it is kept.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import msgpack  # type: ignore[import-untyped]

from logship.record import ContainerMeta, HostMeta, Record

MAGIC = b"LSSPOOL1"
HEADER = struct.Struct(">III")
# a frame is cut when it holds this many records, or this many bytes of messages
FRAME_MAX_RECORDS = 2048
FRAME_TARGET_BYTES = 256 * 1024
_RECORD_FIELDS = 5


class CorruptFrame(ValueError):
    """A frame whose payload does not match its CRC or is not what a writer writes."""


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """Where a frame is in a segment (from its header alone)."""

    offset: int  # of the header
    size: int  # header + payload
    records: int


@dataclass(frozen=True, slots=True)
class Walk:
    """What a segment's headers say: its good frames, and what follows them that is torn."""

    frames: list[FrameInfo]
    end: int  # where the good frames end
    torn_bytes: int  # bytes after ``end``
    torn_records: int  # records the torn frame's header announced (0 if the header is cut)


@dataclass(frozen=True, slots=True)
class EnvKept:
    """The container environment variables a spool keeps: those its destination sends, named
    (``names``) or whose name ``regex`` finds; by default none."""

    names: frozenset[str] = frozenset()
    regex: re.Pattern[str] | None = None

    def select(self, env: tuple[str, ...]) -> list[str]:
        names, regex = self.names, self.regex
        if not names and regex is None:
            return []
        kept = []
        for item in env:
            key, sep, _ = item.partition("=")
            if sep and (key in names or (regex is not None and regex.search(key))):
                kept.append(item)
        return kept


def _encode_meta(index: int, meta: ContainerMeta, env: EnvKept | None) -> list[Any]:
    return [
        index,
        meta.id,
        meta.name,
        meta.image,
        meta.image_id,
        meta.image_name,
        meta.image_tag,
        meta.host.name,
        meta.host.ip,
        meta.labels,
        list(meta.env) if env is None else env.select(meta.env),
        meta.command,
        meta.created,
        meta.tty,
        meta.runtime,
    ]


def _decode_meta(fields: list[Any], hosts: dict[tuple[str, str], HostMeta]) -> ContainerMeta:
    (_, cid, name, image, image_id, image_name, image_tag, host_name, host_ip) = fields[:9]
    labels, env, command, created, tty = fields[9:14]
    runtime = fields[14] if len(fields) > 14 else "docker"  # spooled before it was kept
    host = hosts.get((host_name, host_ip))
    if host is None:
        host = hosts[host_name, host_ip] = HostMeta(host_name, host_ip)
    return ContainerMeta(
        id=cid,
        name=name,
        image=image,
        image_id=image_id,
        host=host,
        labels=dict(labels),
        env=tuple(env),
        command=command,
        created=created,
        tty=bool(tty),
        image_name=image_name,
        image_tag=image_tag,
        runtime=runtime,
    )


def chunks(records: list[Record]) -> list[list[Record]]:
    """``records`` cut into frame-sized pieces (by count and by message bytes), in order."""
    out = []
    start = 0
    n = len(records)
    while start < n:
        end = start
        size = 0
        while end < n and end - start < FRAME_MAX_RECORDS and size < FRAME_TARGET_BYTES:
            size += len(records[end].message)
            end += 1
        out.append(records[start:end])
        start = end
    return out


class SegmentEncoder:
    """Turns batches of records into the frames of one segment (knows which containers the
    segment has defined already). ``env``: which environment variables it keeps (None: all)."""

    def __init__(self, env: EnvKept | None = None) -> None:
        self._env = env
        self._index: dict[ContainerMeta, int] = {}
        self._packer = msgpack.Packer(use_bin_type=True, unicode_errors="surrogatepass")

    def frame(self, records: list[Record]) -> bytes:
        """One frame holding all of ``records``."""
        index = self._index
        metas: list[list[Any]] = []
        flat: list[Any] = []
        append = flat.extend
        last: ContainerMeta | None = None
        i = 0
        for r in records:
            meta = r.meta
            if meta is not last:
                last = meta
                got = index.get(meta)
                if got is None:
                    got = index[meta] = len(index)
                    metas.append(_encode_meta(got, meta, self._env))
                i = got
            append((i, r.message, r.stream, r.timestamp, r.seq))
        payload: bytes = self._packer.pack([metas, flat])
        return HEADER.pack(len(payload), len(records), zlib.crc32(payload)) + payload


def walk(data: bytes | memoryview, start: int = len(MAGIC)) -> Walk:
    """The frames of a segment from its headers (payloads are not read), from ``start``."""
    frames = []
    pos = start
    total = len(data)
    torn_records = 0
    while pos < total:
        if total - pos < HEADER.size:
            break
        length, count, _ = HEADER.unpack_from(data, pos)
        size = HEADER.size + length
        if pos + size > total:
            torn_records = count
            break
        frames.append(FrameInfo(pos, size, count))
        pos += size
    return Walk(frames, pos, total - pos, torn_records)


def decode_frame(
    data: bytes | memoryview,
    frame: FrameInfo,
    metas: dict[int, ContainerMeta],
    hosts: dict[tuple[str, str], HostMeta],
) -> list[Record]:
    """The records of one frame; the containers it defines are added to ``metas``.
    Raises :class:`CorruptFrame`."""
    length, count, crc = HEADER.unpack_from(data, frame.offset)
    payload = data[frame.offset + HEADER.size : frame.offset + HEADER.size + length]
    if zlib.crc32(payload) != crc:
        raise CorruptFrame(f"frame at byte {frame.offset}: CRC mismatch")
    try:
        new, flat = msgpack.unpackb(payload, raw=False, unicode_errors="surrogatepass")
        for fields in new:
            metas[fields[0]] = _decode_meta(fields, hosts)
        it = iter(flat)
        records = [
            Record(message, stream, timestamp, metas[i], seq)
            for i, message, stream, timestamp, seq in zip(it, it, it, it, it, strict=True)
        ]
    except (ValueError, TypeError, KeyError, IndexError, msgpack.UnpackException) as exc:
        raise CorruptFrame(f"frame at byte {frame.offset}: {exc!r}") from None
    if len(records) != count:
        raise CorruptFrame(f"frame at byte {frame.offset}: {len(records)} records, not {count}")
    return records
