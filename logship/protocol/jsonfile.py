"""Docker's json-file logs (``<id>-json.log`` under the engine's data root), lines in, records
out. No I/O; the line machinery is :mod:`logship.protocol.filelog`.

Each line is one entry: ``{"log":"<text>","stream":"stdout|stderr","time":"<RFC 3339>"}``, the
time in UTC with the fraction's trailing zeros trimmed (Go's RFC3339Nano), sometimes an
``attrs`` object too (``--log-opt labels=...``), which the container's metadata already has. A
complete line's text ends with ``\\n``; a piece of a line longer than 16 KiB does not, and the
pieces are joined. A TTY container's lines end with ``\\r\\n``: the ``\\r`` goes, as it does
through the Engine API.
"""

from __future__ import annotations

from typing import Final

import orjson

from logship.protocol.filelog import FileLogDecoder, LogFile, Parsed
from logship.record import STDERR, STDOUT, ContainerMeta, normalize_timestamp

_STREAMS: Final = {STDOUT: STDOUT, STDERR: STDERR}


class JsonFileDecoder(FileLogDecoder):
    kind = "a json-file entry"

    def __init__(
        self,
        meta: ContainerMeta,
        file: LogFile | None = None,
        *,
        offset: int = 0,
        max_line_bytes: int = 1024 * 1024,
    ) -> None:
        super().__init__(meta, file, offset=offset, max_line_bytes=max_line_bytes)
        self.tty = meta.tty
        self._raw_ts = ""  # the last time as written, and as canonical
        self._ts = ""

    def parse(self, line: bytes) -> Parsed | None:
        try:
            entry = orjson.loads(line)
            text = entry["log"]
            stream = _STREAMS[entry["stream"]]
            raw = entry["time"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return None
        if not isinstance(text, str):
            return None
        if raw == self._raw_ts:
            ts = self._ts
        else:
            try:
                ts = normalize_timestamp(raw)
            except (ValueError, TypeError, IndexError):
                ts = self.bad_timestamp(raw)
            else:
                self._raw_ts, self._ts = raw, ts
        # a complete line ends with LF; a piece of a longer one does not
        if text[-1:] != "\n":
            return (ts, stream, True, text)
        if self.tty and text[-2:] == "\r\n" and stream not in self._pending:
            return (ts, stream, False, text[:-2])
        return (ts, stream, False, text[:-1])  # a TTY's CR of a line in pieces: see joined

    def joined(self, text: str) -> str:
        """The last entry of a TTY's line long enough to come in pieces kept its CR (it may
        even have been the end of the piece before): the line's CR LF ends it here."""
        return text[:-1] if self.tty and text[-1:] == "\r" else text
