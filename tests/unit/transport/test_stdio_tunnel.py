"""The private unix socket an ssh:// engine is reached through: each connection runs its own
process and is joined to its stdin and stdout; a process that fails has what it said logged;
the socket's directory is only ours, and gone once the tunnel stops."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import sys

import pytest

from logship.transport.stdio_tunnel import StdioTunnel


async def exchange(path: str, data: bytes) -> bytes:
    reader, writer = await asyncio.open_unix_connection(path)
    writer.write(data)
    writer.write_eof()  # the client has said all: the answer still comes back
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answer


async def test_each_connection_is_joined_to_a_process_of_its_own_both_ways() -> None:
    tunnel = StdioTunnel(["cat"], name="an echo")
    tunnel.serve()
    try:
        answers = await asyncio.gather(
            exchange(tunnel.path, b"first\n" * 50_000), exchange(tunnel.path, b"second\n")
        )
        assert answers == [b"first\n" * 50_000, b"second\n"]
    finally:
        await tunnel.stop()


async def test_the_socket_is_private_made_when_served_and_removed_when_stopped() -> None:
    tunnel = StdioTunnel(["cat"], name="an echo")
    assert not tunnel.directory.exists()  # never used: nothing left on disk
    tunnel.serve()
    assert stat.S_IMODE(tunnel.directory.stat().st_mode) == 0o700
    await tunnel.stop()
    assert not tunnel.directory.exists()
    tunnel.serve()  # a client closed and used again
    assert await exchange(tunnel.path, b"again") == b"again"
    await tunnel.stop()


async def test_stopping_ends_open_connections_and_their_processes() -> None:
    tunnel = StdioTunnel(["sh", "-c", "echo $$; exec sleep 600"], name="a sleeper")
    tunnel.serve()
    reader, writer = await asyncio.open_unix_connection(tunnel.path)
    pid = int(await reader.readline())
    await tunnel.stop()
    assert await reader.read() == b""
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    writer.close()


class Said(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str]] = []
        self.logged = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelname, record.getMessage()))
        self.logged.set()


async def test_a_failing_process_has_what_it_said_logged_once_while_it_keeps_failing() -> None:
    command = "import sys; sys.stderr.write('Permission denied (publickey).\\n'); sys.exit(255)"
    tunnel = StdioTunnel([sys.executable, "-c", command], name="the Docker engine at ssh://me@box")
    said, logger = Said(), logging.getLogger("logship.docker")
    logger.addHandler(said)
    level, logger.level = logger.level, logging.DEBUG
    tunnel.serve()
    try:
        for _ in range(2):  # a client trying again
            said.logged.clear()
            assert await exchange(tunnel.path, b"GET /_ping HTTP/1.1\r\n\r\n") == b""
            await said.logged.wait()  # once the process's end is known
    finally:
        logger.removeHandler(said)
        logger.setLevel(level)
        await tunnel.stop()
    [(first_level, first), (again_level, again)] = said.lines
    assert first.startswith("the Docker engine at ssh://me@box: the connection failed (")
    assert "exited with 255): Permission denied (publickey)." in first
    assert (first_level, again_level, again) == ("ERROR", "DEBUG", first)
