"""Why log streams bypass aiohttp: the CPU cost of reading one container's log, per entry.

The engine sends every log entry as its own HTTP chunk. This reads the same finished log
(N lines, 100 bytes) through the engine's socket three ways, doing nothing with the bytes:
aiohttp's response stream (``readany``), an asyncio protocol feeding httptools (llhttp), and
that protocol plus logship's whole decoder (records made), and both again pausing 1 ms after
each small read as logship does; then logship's own stream (``log_stream``, paced), for that
log and for the same log of a TTY container (whole HTTP chunks to the decoder). It prints CPU
microseconds per entry.

    .venv/bin/python bench/chunk_parsing.py [--lines 300000]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import time
import uuid

import aiohttp
import httptools
import uvloop

from logship.protocol.docker import LogDecoder
from logship.record import ContainerMeta, HostMeta, Record
from logship.sources.docker.logstream import log_stream

SOCKET = "/var/run/docker.sock"
IMAGE = "logship-test/busybox:1.35"


async def with_aiohttp(path: str) -> int:
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=SOCKET)) as session:
        async with session.get("http://docker" + path) as resp:
            n = 0
            while chunk := await resp.content.readany():
                n += len(chunk)
            return n


class _Reader(asyncio.Protocol):
    def __init__(self, request: bytes, decoder: LogDecoder | None, pause: float) -> None:
        self.request = request
        self.pause = pause
        self.reads = 0
        self.decoder = decoder
        self.chunks: list[bytes] = []
        self.on_body = self.chunks.append
        self.parser = httptools.HttpResponseParser(self)
        self.done = asyncio.get_running_loop().create_future()
        self.bytes = 0
        self.records = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.reads += 1
        if self.pause and len(data) < 32 * 1024:  # what logship's log stream does
            self.transport.pause_reading()  # type: ignore[attr-defined]
            asyncio.get_running_loop().call_later(
                self.pause,
                self.transport.resume_reading,  # type: ignore[attr-defined]
            )
        self.parser.feed_data(data)
        self.bytes += sum(map(len, self.chunks))
        if self.decoder is not None:
            self.records += len(self.decoder.feed(self.chunks))
        self.chunks.clear()

    def on_message_complete(self) -> None:
        self.done.set_result(None)


async def with_httptools(path: str, decoder: LogDecoder | None = None, pause: float = 0) -> int:
    request = f"GET {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n".encode()
    reader = _Reader(request, decoder, pause)
    transport, _ = await asyncio.get_running_loop().create_unix_connection(lambda: reader, SOCKET)
    await reader.done
    transport.close()
    return reader.records or reader.bytes


async def with_logstream(path: str, decoder: LogDecoder) -> int:
    """logship's own stream (``log_stream``, paced as in the agent), records counted."""
    request = f"GET {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n".encode()
    count = 0

    def emit(records: list[Record]) -> None:
        nonlocal count
        count += len(records)

    stream = log_stream(request, decoder, emit)
    transport, _ = await asyncio.get_running_loop().create_unix_connection(lambda: stream, SOCKET)
    await stream.done
    transport.close()
    return count + len(decoder.flush())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    name = f"logship-bench-chunks-{uuid.uuid4().hex[:6]}"
    script = f"yes $(printf %099d 0) | head -n {args.lines}"
    for container, flags in ((name, []), (f"{name}-tty", ["-t"])):
        command = ["docker", "run", *flags, "--network", "none", "--label", "logship.test"]
        subprocess.run(
            [*command, "--name", container, IMAGE, "sh", "-c", script],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    try:
        path = f"/v1.41/containers/{name}/logs?stdout=1&stderr=1&timestamps=1&follow=1"
        tty_path = path.replace(name, f"{name}-tty")
        meta = ContainerMeta(
            id="0" * 64, name=name, image=IMAGE, image_id="", host=HostMeta("h", "ip")
        )
        ways = {
            "aiohttp readany": lambda: with_aiohttp(path),
            "httptools protocol": lambda: with_httptools(path),
            "httptools + LogDecoder": lambda: with_httptools(path, LogDecoder(meta)),
            "  ... + 1 ms pause": lambda: with_httptools(path, LogDecoder(meta), 0.001),
            "httptools, 1 ms pause": lambda: with_httptools(path, None, 0.001),
            "logship LogStream": lambda: with_logstream(path, LogDecoder(meta)),
            "  ... TTY container": lambda: with_logstream(tty_path, LogDecoder(meta, tty=True)),
        }
        print(f"{args.lines} entries of 100 bytes, CPU us per entry (min of {args.runs} runs):")
        for label, way in ways.items():
            best = float("inf")
            for _ in range(args.runs):
                start = time.process_time()
                uvloop.run(way())
                best = min(best, time.process_time() - start)
            print(f"  {label:24s} {best / args.lines * 1e6:6.2f}")
    finally:
        subprocess.run(
            ["docker", "rm", "-f", name, f"{name}-tty"], check=False, stdout=subprocess.DEVNULL
        )


if __name__ == "__main__":
    main()
