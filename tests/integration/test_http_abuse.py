"""The operator's window of a running agent under abuse (`logship run --http --http-token-file`):
no token or a wrong one, a Host that is not this server's (DNS rebinding), malformed requests,
100 /logs clients that never read while containers flood. Afterwards /healthz still answers
and a reader with the token still gets lines."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.helpers.http import base_url, scrape
from tests.helpers.waiting import until

TOKEN = "abuse-test-" + uuid.uuid4().hex
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "http-token"
    path.write_text(TOKEN + "\n")
    return path


def exchange(port: int, request: bytes, *, rcvbuf: int | None = None) -> bytes:
    """Send ``request`` as it is and read the answer until the server closes or 2 s pass."""
    with socket.socket() as sock:
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", port))
        with contextlib.suppress(ConnectionError):
            sock.sendall(request)
        answer = b""
        sock.settimeout(2)
        with contextlib.suppress(TimeoutError, ConnectionError):
            while chunk := sock.recv(65536):
                answer += chunk
        return answer


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1."), answer[:200]
    return int(answer.split(b" ", 2)[1])


@contextlib.contextmanager
def idle_readers(port: int, count: int) -> Iterator[list[socket.socket]]:
    """``count`` clients that ask for /logs with the token and then never read a byte."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", port))
            sock.sendall(
                f"GET /logs HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n"
                "\r\n".encode()
            )
            sockets.append(sock)
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


async def test_abuse_leaves_health_answering_and_a_reader_with_the_token_served(
    start_agent: Any, containers: Any, token_file: Path
) -> None:
    agent = start_agent(
        "run",
        "--http",
        "127.0.0.1:0",
        "--http-token-file",
        str(token_file),
        env={"LOGSHIP_HTTP__LOG_READER_TIMEOUT_SECS": "2"},
    )
    base = base_url(agent)
    port = int(base.rsplit(":", 1)[1])
    async with aiohttp.ClientSession() as http:
        # -- no token, a wrong one: 401 with the challenge; the probes need none
        for path in ("/logs", "/containers"):
            for headers, error in (
                ({}, None),
                ({"Authorization": "Bearer wrong"}, "invalid_token"),
                ({"Authorization": f"Basic {TOKEN}"}, None),
                ({"Authorization": f"Bearer {TOKEN[:-1]}"}, "invalid_token"),
            ):
                async with http.get(f"{base}{path}", headers=headers) as resp:
                    assert resp.status == 401, (path, headers)
                    challenge = resp.headers["WWW-Authenticate"]
                    assert challenge.startswith('Bearer realm="logship"')
                    assert (error in challenge) if error else ("error=" not in challenge)
                    assert TOKEN not in await resp.text()
        async with http.get(f"{base}/containers", headers=BEARER) as resp:
            assert resp.status == 200
        for path in ("/healthz", "/readyz", "/metrics", "/"):
            async with http.get(f"{base}{path}") as resp:
                assert resp.status == 200, path

        # -- a Host that is not this server's (a rebound DNS name): refused, token or not
        for path in ("/logs", "/containers", "/", "/healthz", "/metrics"):
            for host in ("evil.example", "evil.example:80", f"10.1.2.3:{port}"):
                async with http.get(f"{base}{path}", headers={**BEARER, "Host": host}) as resp:
                    assert resp.status == 421, (path, host)
                    assert "not Host" in (await resp.json())["error"]

        # -- malformed and odd requests: each answered (never with a server error) or closed,
        # none harms the others
        for request in (
            b"\x00\xff\xfe garbage \r\n\r\n",
            b"GET /logs HTTP/9.9\r\nHost: localhost\r\n\r\n",
            b"GET /logs HTTP/1.1\r\nHost: localhost\r\nX: " + b"a" * 100_000 + b"\r\n\r\n",
            b"GET " + b"/" * 100_000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n",
            b"GET /logs HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n",
            b"POST /logs HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"GET /logs HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n",
            b"GET /logs?filter.name=%ff%fe&format=%00 HTTP/1.1\r\nHost: localhost\r\n"
            + f"Authorization: Bearer {TOKEN}\r\n\r\n".encode(),
            b"GET /logs HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \xff\xfe\r\n\r\n",
            b"GET /logs HTTP/1.1\r\n",  # never finished
        ):
            answer = await asyncio.to_thread(exchange, port, request)
            if answer:
                assert 400 <= status_of(answer) < 500, (request[:60], answer[:200])
        assert "Error handling request" not in agent.stderr

        # -- connections that never send a whole request are closed, not kept for good
        def closed_by_the_server(request: bytes) -> bytes:
            with socket.socket() as sock:
                sock.connect(("127.0.0.1", port))
                sock.sendall(request)
                sock.settimeout(60)  # far beyond the 2 s the agent gives them
                return sock.recv(100)

        for half in (b"", b"GET /logs HTTP/1.1\r\nHost: local"):
            assert await asyncio.to_thread(closed_by_the_server, half) == b""

        # -- 100 clients ask for /logs and never read, while a container floods
        with idle_readers(port, 100):

            async def settled() -> Any:
                m = await scrape(http, base)
                refused = m.value("logship_http_logs_readers_refused_total", reason="client_busy")
                return m if refused == 96 else None

            m = await until(settled, what="96 of the 100 idle readers to be refused")
            assert m.value("logship_http_logs_clients") == 4  # one client's share
            flood = containers.run(
                "head -c 1000 /dev/zero | tr '\\0' x > /tmp/l; "
                "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); cat /tmp/l; echo; done; sleep 120"
            )

            async def stalled_dropped() -> Any:
                m = await scrape(http, base)
                return m if m.value("logship_http_logs_readers_stalled_total") == 4 else None

            m = await until(
                stalled_dropped, limit_secs=120, what="the 4 idle readers to be disconnected"
            )
            assert m.value("logship_http_logs_clients") == 0
            flood.remove(force=True)

        # -- afterwards: health answers, and a reader with the token gets new lines
        async with http.get(f"{base}/healthz") as resp:
            assert resp.status == 200
            assert (await resp.json())["status"] == "ok"
        async with http.get(f"{base}/logs?format=json", headers=BEARER) as live:
            assert live.status == 200
            after = containers.run("echo after-the-abuse; sleep 60")
            while True:
                line = await asyncio.wait_for(live.content.readline(), 30)
                assert line, "the stream ended"
                record = json.loads(line)
                if record["container"]["name"] == after.name:
                    assert record["message"] == "after-the-abuse"
                    break
    assert agent.process.poll() is None, agent.stderr[-2000:]
    assert TOKEN not in agent.stderr
