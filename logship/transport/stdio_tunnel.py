"""A private unix socket where each connection accepted is joined to a process of its own,
bytes both ways through the process's stdin and stdout: how an ``ssh://`` engine is reached
(``ssh HOST -- docker system dial-stdio``, one process per connection, as the docker CLI
does), while the Engine API client only ever connects to a unix socket.

The socket lives in a directory only this user can enter (0700), made when the tunnel starts
serving and removed when it stops; it can serve again after that (a client closed and used
again)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import Sequence
from pathlib import Path

from logship.config.secrets import redact
from logship.errors import ConfigError, DockerUnavailable

log = logging.getLogger("logship.docker")

_CHUNK = 64 * 1024
STDERR_KEPT_BYTES = 2048  # the end of what a failed process said, for the log
STOP_WAIT_SECS = 5.0


class StdioTunnel:
    """Serves :attr:`path`; each connection runs ``argv`` and pipes bytes until either side
    closes. ``name`` is how the far end is called in the log (no secret in it)."""

    def __init__(self, argv: Sequence[str], *, name: str, install_hint: str = "") -> None:
        program = shutil.which(argv[0])
        if program is None:
            raise ConfigError(
                f"{name}: {argv[0]!r} is not installed (not found on PATH){install_hint}"
            )
        self.argv = [program, *argv[1:]]
        self.name = name
        # chosen now, made when serving begins: nothing is left on disk by a tunnel never used
        self.directory = Path(tempfile.gettempdir()) / f"logship-{secrets.token_hex(8)}"
        self.path = str(self.directory / "engine.sock")
        self._listener: socket.socket | None = None
        self._relays: set[asyncio.Task[None]] = set()
        self._failing: str | None = None  # how the last connection failed, if it did

    def serve(self) -> None:
        """Accept connections on :attr:`path` from now on (in the running loop); does nothing
        when already serving. :class:`DockerUnavailable` when the socket cannot be made."""
        if self._listener is not None:
            return
        loop = asyncio.get_running_loop()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.directory.mkdir(mode=0o700)  # never one that exists: it could be anyone's
            listener.bind(self.path)
            listener.listen(64)
            listener.setblocking(False)
        except OSError as exc:
            listener.close()
            raise DockerUnavailable(
                f"cannot make the socket for {self.name} in {str(self.directory)!r}: {exc}"
            ) from exc
        loop.add_reader(listener.fileno(), self._accept, listener)
        self._listener = listener

    async def stop(self) -> None:
        """Stop accepting, end every connection (and its process), remove the socket."""
        listener, self._listener = self._listener, None
        if listener is not None:
            asyncio.get_running_loop().remove_reader(listener.fileno())
            listener.close()
            shutil.rmtree(self.directory, ignore_errors=True)
        relays, self._relays = self._relays, set()
        for task in relays:
            task.cancel()
        await asyncio.gather(*relays, return_exceptions=True)

    def _accept(self, listener: socket.socket) -> None:
        try:
            conn, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            log.warning("%s: cannot accept a connection: %s", self.name, exc)
            return
        conn.setblocking(False)
        task = asyncio.get_running_loop().create_task(self._relay(conn))
        self._relays.add(task)
        task.add_done_callback(self._relays.discard)
        task.add_done_callback(lambda _: conn.close())  # also when stopped before it began

    async def _relay(self, conn: socket.socket) -> None:
        reader, writer = await asyncio.open_unix_connection(sock=conn)
        try:
            process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # a Ctrl-C in the terminal is logship's to handle
            )
        except OSError as exc:
            log.error("%s: cannot run %s: %s", self.name, self.argv[0], exc)  # noqa: TRY400 - no traceback
            writer.close()
            return
        assert process.stdin and process.stdout and process.stderr
        said = asyncio.create_task(_tail(process.stderr, STDERR_KEPT_BYTES))
        up = asyncio.create_task(_copy(reader, process.stdin))
        down = asyncio.create_task(_copy(process.stdout, writer))
        killed = False
        try:
            done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            if up in done:  # the client has said all (told to the process): it may still answer
                await down
            up.cancel()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), STOP_WAIT_SECS)
        finally:
            for task in (up, down):
                task.cancel()
            writer.close()
            if process.returncode is None:
                killed = True
                process.kill()
                await process.wait()
            stderr = await said
        if process.returncode and not killed:
            self._failed(
                f"the connection failed ({os.path.basename(self.argv[0])} exited with "
                f"{process.returncode}): {redact(stderr) or 'it said nothing'}"
            )
        elif down.done() and not down.cancelled() and down.exception() is None and down.result():
            self._failing = None  # the far end answered: a failure again is news

    def _failed(self, why: str) -> None:
        """Logged once while it keeps failing the same way (each retry is a connection)."""
        if why == self._failing:
            log.debug("%s: %s", self.name, why)
            return
        self._failing = why
        log.error("%s: %s", self.name, why)


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Until ``reader`` ends, then ``writer`` is closed (the other side sees the end); whether
    any byte came."""
    came = False
    try:
        while data := await reader.read(_CHUNK):
            came = True
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()
    return came


async def _tail(reader: asyncio.StreamReader, keep: int) -> str:
    """All of a stream read (so that the process never waits on it), its last bytes kept."""
    kept = b""
    while data := await reader.read(_CHUNK):
        kept = (kept + data)[-keep:]
    return " ".join(kept.decode("utf-8", "replace").split())
