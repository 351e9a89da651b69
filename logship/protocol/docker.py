"""Docker's log stream, bytes in, records out. No I/O.

The logs endpoint (``/containers/{id}/logs?timestamps=1``) sends, per log entry, Docker's
timestamp, a space and the entry. Without a TTY each entry sits in a frame with an 8-byte header
(stream: 1 stdout / 2 stderr, three zero bytes, big-endian payload size). With a TTY there is no
header: the HTTP body chunks are the entries. Docker splits lines longer than 16 KiB into several
entries; all but the last lack the trailing newline, and this decoder joins them back into one line.

The decoder also keeps the *position*: Docker's timestamp of the last entry consumed and how many
entries carried that same timestamp. Asking the engine again with ``since=<timestamp>`` and
:meth:`LogDecoder.resume` skips exactly what was already consumed, so a stream that ended early
is picked up with no line lost and none repeated.
"""

from __future__ import annotations

from logship.record import (
    STDERR,
    STDOUT,
    ContainerMeta,
    Record,
    is_canonical,
    normalize_timestamp,
    truncation_marker,
)

Position = tuple[str, int]
"""(canonical timestamp, number of entries with that timestamp already consumed)."""

_STREAMS = (STDOUT, STDOUT, STDERR)  # frame stream byte -> name; stdin (0) never carries logs
DEFAULT_MAX_LINE_BYTES = 1024 * 1024


class LogDecoder:
    """Incremental decoder for one container's log stream.

    ``feed(chunks)`` takes the HTTP body chunks as received and returns the complete lines as
    records. ``error`` is set (and decoding stops) when the bytes cannot be a Docker log stream;
    the caller then asks the engine again from :attr:`position` after :meth:`resume`.
    """

    def __init__(
        self,
        meta: ContainerMeta,
        *,
        tty: bool = False,
        position: Position | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> None:
        self.meta = meta
        self.tty = tty
        self.max_line_bytes = max_line_bytes
        self.error: str | None = None
        self.entries = 0  # entries consumed since construction, skipped ones excluded
        self.truncated = 0  # lines cut to max_line_bytes
        self.bad_timestamps = 0
        self._last_ts = ""
        self._last_count = 0
        self.position: Position | None = position
        self._rest = b""
        # pending partial line per stream index (1 stdout, 2 stderr): [timestamp, seq, parts, size]
        self._pending: dict[int, list[object]] = {}
        self._skip: Position | None = None
        self._skipping_entry = False
        self.resume()

    # -- public API ----------------------------------------------------------------------------

    def resume(self) -> None:
        """Prepare for a new request made with ``since=position``: forget half-read state."""
        self._rest = b""
        self._pending.clear()
        self.error = None
        self._skip = self.position
        self._skipping_entry = False
        if self.position is not None:
            self._last_ts, self._last_count = self.position[0], 0
        else:
            self._last_ts, self._last_count = "", 0

    @property
    def seen(self) -> Position | None:
        """Where the decoder is, pending partial entries included."""
        return (self._last_ts, self._last_count) if self._last_ts else self.position

    def feed(self, chunks: list[bytes]) -> list[Record]:
        out: list[Record] = []
        if self.error is None:
            if self.tty:
                for chunk in chunks:
                    self._feed_tty(chunk, out)
            else:
                self._feed_mux(chunks, out)
        return out

    def flush(self) -> list[Record]:
        """The stream is over for good: pending partial lines become lines as they are."""
        out: list[Record] = []
        for index in sorted(self._pending):
            self._finish(index, b"", out)
        self._rest = b""
        if self._last_ts:
            self.position = (self._last_ts, self._last_count)
        return out

    # -- multiplexed frames --------------------------------------------------------------------

    def _feed_mux(self, chunks: list[bytes], out: list[Record]) -> None:
        buf = b"".join(chunks)
        if self._rest:
            buf = self._rest + buf
        n = len(buf)
        pos = 0
        pending = self._pending
        streams = _STREAMS
        append = out.append
        meta = self.meta
        last_ts, count = self._last_ts, self._last_count
        lines = 0
        prev_ts, prev_count = last_ts, count
        while n - pos >= 8:
            kind = buf[pos]
            if kind > 2 or buf[pos + 1] or buf[pos + 2] or buf[pos + 3]:
                self._last_ts, self._last_count = last_ts, count
                self.entries += lines
                if not pending and last_ts:
                    self.position = (last_ts, count)
                self.error = f"not a Docker log frame header at byte {pos}: {buf[pos : pos + 8]!r}"
                self._rest = b""
                return
            end = pos + 8 + int.from_bytes(buf[pos + 4 : pos + 8], "big")
            if end > n:
                break
            start = pos + 8
            pos = end
            if buf[start + 30 : start + 31] == b" " and buf[start + 29] == 90:  # "...Z "
                ts = buf[start : start + 30].decode("ascii", "replace")
                body = start + 31
            else:
                ts, body = self._parse_timestamp(buf, start, end, last_ts)
            if ts == last_ts:
                count += 1
            else:
                prev_ts, prev_count = last_ts, count
                last_ts = ts
                count = 1
            if self._skip is not None:
                if self._skipped(ts, count):
                    continue
            if buf[end - 1] == 10 and not pending:
                append(
                    Record(
                        buf[body : end - 1].decode("utf-8", "replace"),
                        streams[kind],
                        ts,
                        meta,
                        count - 1,
                    )
                )
                lines += 1
                continue
            if not pending and prev_ts:
                # a line starts in this entry: everything before it is complete
                self.position = (ts, count - 1) if count > 1 else (prev_ts, prev_count)
            self._last_ts, self._last_count = last_ts, count
            lines += 1
            if buf[end - 1] == 10:
                self._append_partial(kind or 1, ts, count - 1, buf[body : end - 1])
                self._finish(kind or 1, b"", out)
            else:
                self._append_partial(kind or 1, ts, count - 1, buf[body:end])
        self._last_ts, self._last_count = last_ts, count
        self.entries += lines
        if not pending and last_ts:
            self.position = (last_ts, count)
        self._rest = buf[pos:] if pos < n else b""

    # -- TTY raw stream ------------------------------------------------------------------------

    def _feed_tty(self, chunk: bytes, out: list[Record]) -> None:
        pieces = chunk.split(b"\n")
        last = len(pieces) - 1
        for i, piece in enumerate(pieces):
            complete = i < last
            if not complete and not piece:
                break
            if len(piece) > 30 and piece[30] == 32 and piece[29] == 90 and piece[4] == 45:
                ts = piece[:30].decode("ascii", "replace")
                if not is_canonical(ts):
                    ts, body_start = self._parse_timestamp(piece, 0, len(piece), self._last_ts)
                else:
                    body_start = 31
                if ts == self._last_ts:
                    self._last_count += 1
                else:
                    self._last_ts, self._last_count = ts, 1
                self._skipping_entry = self._skip is not None and self._skipped(
                    ts, self._last_count
                )
                if self._skipping_entry:
                    continue
                self.entries += 1
                body = piece[body_start:]
                self._append_partial(1, ts, self._last_count - 1, body)
            else:
                # the rest of an entry whose start came in an earlier chunk
                if self._skipping_entry:
                    continue
                if 1 not in self._pending:
                    ts = self._last_ts
                    self._append_partial(1, ts, max(self._last_count - 1, 0), piece)
                else:
                    self._append_partial(1, "", 0, piece)
            if complete:
                self._finish(1, b"\r", out)

    # -- shared helpers ------------------------------------------------------------------------

    def _skipped(self, ts: str, count: int) -> bool:
        """True while replaying entries already consumed before :meth:`resume`."""
        skip = self._skip
        assert skip is not None
        if ts < skip[0] or (ts == skip[0] and count <= skip[1]):
            return True
        self._skip = None
        return False

    def _parse_timestamp(self, buf: bytes, start: int, end: int, last_ts: str) -> tuple[str, int]:
        space = buf.find(b" ", start, min(end, start + 64))
        if space > start:
            try:
                return normalize_timestamp(buf[start:space].decode("ascii")), space + 1
            except (UnicodeDecodeError, ValueError):
                pass
        # No timestamp where the engine always puts one: keep the line, reuse the last time.
        self.bad_timestamps += 1
        return (last_ts or "1970-01-01T00:00:00.000000000Z"), start

    def _append_partial(self, index: int, ts: str, seq: int, body: bytes) -> None:
        entry = self._pending.get(index)
        if entry is None:
            self._pending[index] = [ts, seq, [body], len(body)]
            return
        parts: list[bytes] = entry[2]  # type: ignore[assignment]
        size: int = entry[3]  # type: ignore[assignment]
        room = self.max_line_bytes - size
        if room > 0:
            parts.append(body[:room] if len(body) > room else body)
        entry[3] = size + len(body)

    def _finish(self, index: int, strip: bytes, out: list[Record]) -> None:
        entry = self._pending.pop(index, None)
        if entry is None:
            return
        ts, seq, parts, size = entry
        raw = b"".join(parts)  # type: ignore[arg-type]
        if strip and raw.endswith(strip):
            raw = raw[: -len(strip)]
            size -= len(strip)  # type: ignore[operator]
        message = raw.decode("utf-8", "replace")
        if size > self.max_line_bytes:  # type: ignore[operator]
            self.truncated += 1
            # cut on a character boundary: drop a replacement char made by the cut itself
            message = message.removesuffix("\ufffd") + truncation_marker(
                size - len(raw)  # type: ignore[operator]
            )
        out.append(Record(message, _STREAMS[index], ts, self.meta, seq))  # type: ignore[arg-type]
        if not self._pending:
            self.position = (self._last_ts, self._last_count)
