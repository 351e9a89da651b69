"""CPU per million lines with JSON parsing off and on, in one process: Docker's log frames
decoded, routed (the parse stage first) and encoded for Elasticsearch and GELF. No engine, no
sockets: the part of the agent's work that parsing adds to. The agent's whole CPU per line
(reading the engine's stream, sending) is larger, so the ratio here is the upper bound.

    .venv/bin/python bench/parse_cost.py [--lines 200000]
"""

from __future__ import annotations

import argparse
import struct
import time

from logship.config.parse import ParseConfig
from logship.pipeline.buffer import DropOldestBuffer
from logship.pipeline.router import Route, Router
from logship.protocol.bulk import BulkEncoder
from logship.protocol.docker import LogDecoder
from logship.protocol.gelf import GelfEncoder
from logship.record import ContainerMeta, HostMeta
from logship.transform.parse import ParseStage

LINE = (
    '{"time":"2026-12-05T16:00:00.123Z","level":"info","msg":"request handled",'
    '"method":"GET","path":"/api/v1/orders/12345","status":200,"duration_ms":12.5,'
    '"request_id":"9f1c2a7e-4b1d-4e8a-9c3e-0d7f5a6b8c9d"}'
)


def frames(count: int) -> list[bytes]:
    """Docker's multiplexed stream: one frame per line, stamped, in chunks of 64 KiB or so."""
    out, chunk = [], bytearray()
    for n in range(count):
        payload = f"2026-12-05T16:00:{n % 60:02d}.{n:09d}Z {LINE}\n".encode()
        chunk += struct.pack(">BxxxL", 1, len(payload)) + payload
        if len(chunk) > 65536:
            out.append(bytes(chunk))
            chunk = bytearray()
    out.append(bytes(chunk))
    return out


def run(chunks: list[bytes], parse: bool, encoder: object) -> float:
    meta = ContainerMeta(
        "c0ffee" * 10 + "0123", "web-1", "app:1", "sha256:x", HostMeta("vm", "10.0.0.1")
    )
    buffer = DropOldestBuffer(max_records=1 << 30, max_bytes=1 << 40)
    router = Router(
        [Route(buffer)], parse=ParseStage(ParseConfig(format="json" if parse else None))
    )
    decoder = LogDecoder(meta)
    encode = encoder.encode  # type: ignore[attr-defined]
    start = time.process_time()
    for chunk in chunks:
        router.emit(decoder.feed([chunk]))
        encode(buffer.take(10_000))
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    chunks = frames(args.lines)
    per_million = 1_000_000 / args.lines
    for name, make in (("elasticsearch", BulkEncoder), ("gelf", GelfEncoder)):
        best = {}
        for parse in (False, True):
            best[parse] = min(run(chunks, parse, make()) for _ in range(args.runs)) * per_million
        print(
            f"{name:14s} off {best[False]:6.2f} s, on {best[True]:6.2f} s per million lines: "
            f"{best[True] / best[False]:.2f}x"
        )


if __name__ == "__main__":
    main()
