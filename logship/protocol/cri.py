"""The CRI log format the kubelet has the runtime (containerd, CRI-O) write under
``/var/log/pods``, lines in, records out. No I/O; the line machinery is
:mod:`logship.protocol.filelog`.

Each line is ``<RFC 3339 time> <stdout|stderr> <tags> <text>``: the time with nanoseconds
(trailing zeros trimmed; CRI-O may give an offset instead of ``Z``), and tags separated by
``:`` of which the first is ``P`` (a piece of a line longer than the runtime's limit, 16 KiB by
default) or ``F`` (the line's last piece, or the whole line). Pieces are joined until the ``F``.
"""

from __future__ import annotations

from typing import Final

from logship.protocol.filelog import FileLogDecoder, Parsed
from logship.record import STDERR, STDOUT, normalize_timestamp

_STREAMS: Final = {b"stdout": STDOUT, b"stderr": STDERR}


class CriDecoder(FileLogDecoder):
    kind = "a CRI log line (TIME STREAM P|F TEXT)"

    _raw_ts = b""
    _ts = ""

    def parse(self, line: bytes) -> Parsed | None:
        parts = line.split(b" ", 3)
        if len(parts) < 3:
            return None
        raw, stream_name, tags = parts[0], parts[1], parts[2]
        stream = _STREAMS.get(stream_name)
        if stream is None:
            return None
        tag = tags.split(b":", 1)[0]
        if tag == b"F":
            partial = False
        elif tag == b"P":
            partial = True
        else:
            return None
        body = parts[3] if len(parts) == 4 else b""
        if body.isascii():
            text = body.decode("ascii")
        elif partial or stream in self._pending:
            # the runtime cuts long lines at a byte count, through a character maybe: the
            # pieces' bytes are read together once joined
            text = body.decode("utf-8", "surrogateescape")
        else:
            text = body.decode("utf-8", "replace")
        if raw == self._raw_ts:
            ts = self._ts
        else:
            try:
                ts = normalize_timestamp(raw.decode("ascii"))
            except (ValueError, UnicodeDecodeError):
                if not raw[:1].isdigit():
                    return None  # no time where the format always has one: not this format
                return (self.bad_timestamp(raw), stream, partial, text)
            self._raw_ts, self._ts = raw, ts
        return (ts, stream, partial, text)
