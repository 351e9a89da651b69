"""A TTY container's log read from the real engine, with the socket's reads made small.

Without a TTY every entry has a frame header; with one, only the HTTP chunk says where an entry
(Docker's time, a space, up to 16 KiB) starts. The engine's own writes already cut 16 KiB
entries across reads (at 4 KiB); smaller reads cut the chunks anywhere, in the time too. The
lines must come out the same however the bytes were cut.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from logship.protocol.docker import LogDecoder
from logship.record import Record, is_canonical
from logship.sources.docker.client import DockerClient, Endpoint
from logship.sources.docker.logstream import read_logs
from tests.helpers.containers import Containers
from tests.helpers.records import make_meta

APP_TIME = "2026-01-01T00:00:00.000000000Z"
SCRIPT = (
    "echo one; "
    f"echo '{APP_TIME} the application writes its own time'; "
    "head -c 40000 /dev/zero | tr '\\0' a; echo; "  # three entries: 16 KiB, 16 KiB, the rest
    f"head -c 4059 /dev/zero | tr '\\0' b; echo '{APP_TIME} at a 4 KiB cut'; "
    "printf 'prompt$ '"
)
EXPECTED = [
    "one",
    f"{APP_TIME} the application writes its own time",
    "a" * 40000,
    "b" * 4059 + f"{APP_TIME} at a 4 KiB cut",
    "prompt$ ",
]


class SmallReads(asyncio.Protocol):
    """Hands the engine's bytes on in pieces of ``size``, as a slow socket would."""

    def __init__(self, inner: asyncio.Protocol, size: int) -> None:
        self.inner = inner
        self.size = size

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        for i in range(0, len(data), self.size):
            self.inner.data_received(data[i : i + self.size])

    def connection_lost(self, exc: Exception | None) -> None:
        self.inner.connection_lost(exc)


class SmallReadsClient(DockerClient):
    def __init__(self, size: int) -> None:
        super().__init__(Endpoint(unix_path="/var/run/docker.sock"))
        self.size = size

    async def open_connection(self, protocol_factory: Any) -> Any:
        if not self.size:
            return await super().open_connection(protocol_factory)
        return await super().open_connection(lambda: SmallReads(protocol_factory(), self.size))


@pytest.fixture(scope="module")
def tty_container(docker_client: Any, request: pytest.FixtureRequest) -> Any:
    containers = Containers(docker_client, request.module.__name__)
    try:
        c = containers.run(SCRIPT, tty=True)
        c.wait(timeout=60)
        yield c
    finally:
        containers.cleanup()


@pytest.mark.parametrize("read_bytes", [0, 1000, 29, 5])
async def test_a_tty_containers_lines_come_out_whole_however_the_reads_cut_them(
    tty_container: Any, read_bytes: int
) -> None:
    meta = make_meta(id=tty_container.id, name=tty_container.name)
    client = SmallReadsClient(read_bytes)
    decoder = LogDecoder(meta, tty=True)
    got: list[Record] = []
    await read_logs(client, tty_container.id, decoder, got.extend, follow=False)
    got += decoder.flush()
    assert [r.message for r in got] == EXPECTED
    times = [r.timestamp for r in got]
    assert all(is_canonical(t) and not t.startswith("2026-01-01") for t in times)
    assert times == sorted(times)
    assert decoder.bad_timestamps == 0
