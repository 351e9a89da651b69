"""What the least a Python shipper can do per line costs: the floor under issue 12's CPU target.

    .venv/bin/python bench/floor.py [--lines 1000000] [--line-bytes 100] [--runs 3]

It writes one Docker json-file log (``{"log":"…\\n","stream":"stdout","time":"…"}`` per line,
as dockerd writes them) under /tmp/logship-bench, then ships it to the benchmark's C UDP
receiver (bench/udprecv.c) three ways, each a loop with nothing but the work named, in this
process, and prints the CPU seconds (user and system) per million lines of each:

- ``send``: one datagram per line, built beforehand (the same bytes every time): only the
  kernel's ``send()``, which on loopback also runs the receiver's side of the network stack;
- ``read+send``: the file read in 64 KiB blocks, split into lines, and each line's bytes sent
  as they are, behind a constant syslog header;
- ``read+decode+format+send``: each line decoded with orjson, and an RFC 5424 message of the
  agent's layout formatted from its time and text (host, app name, structured data with the
  container's fields) and sent: a shipper with no buffer, no routing, no checkpoints and no
  event loop.

Each way is measured twice: with one ``send()`` a datagram, and with ``sendmmsg()`` (the
agent's own batching, :mod:`logship.transport.udp`), where the C library has it.

The agent does all of that and more (the buffer, routing, positions, the event loop, metrics):
its CPU per line can only be above the last line here. The datagrams are of the agent's size
for the same lines (about 560 bytes for 100-byte lines). Only 127.0.0.1 is sent to.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from receiver import BUILD_DIR, Receiver, build

from logship.protocol.syslog import SyslogEncoder
from logship.record import ContainerMeta, HostMeta, Record
from logship.transport import udp

BLOCK = 64 * 1024
TS = "2026-12-05T16:00:00.123456789Z"


def agent_layout() -> tuple[bytes, bytes]:
    """The agent's RFC 5424 datagram for a benchmark container, cut around its time and
    message: (what comes before the time, what comes between the time and the message). Made
    by logship's own encoder, so the datagrams here are the agent's, byte for byte in size."""
    meta = ContainerMeta(
        "5f9a6638b642" + "c0ffee" * 8 + "0123",
        "lsb-b211911520-flood-1-r1-u-000",
        "logship-test/busybox:1.35",
        "sha256:" + "d" * 64,
        HostMeta("vm", "127.0.0.1"),
        labels={"logship.bench": "1"},
    )
    (datagram,) = SyslogEncoder().encode([Record("\x01", "stdout", TS, meta, 0)])
    written_ts = datagram.split(b" ")[1]  # the encoder's own form of the time
    before, _, after = datagram.partition(written_ts)
    between = after[: after.rindex(b"\x01")]
    return before, between


def write_log(path: Path, lines: int, line_bytes: int) -> None:
    """A json-file log as dockerd writes it: one entry per line, the time in Go's RFC3339Nano."""
    pad = "x" * max(0, line_bytes - 15)
    with path.open("wb") as f:
        for i in range(lines):
            text = f"~000:{i:08d}:{pad}\n"
            ns = 123456789 + i
            entry = {
                "log": text,
                "stream": "stdout",
                "time": f"2026-12-05T16:{i // 60_000_000 % 60:02d}:{i // 1_000_000 % 60:02d}."
                f"{ns % 1_000_000_000:09d}Z".replace("0Z", "Z"),
            }
            f.write(orjson.dumps(entry) + b"\n")


def split_cpu() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def send_each(sock: socket.socket, datagrams: list[bytes]) -> None:
    """One ``send()`` a datagram."""
    send = sock.send
    for d in datagrams:
        while True:
            try:
                send(d)
                break
            except BlockingIOError:  # the socket's buffer is full: wait as the agent does
                time.sleep(0.0005)
            except ConnectionRefusedError:
                pass


_multi = None if udp.SENDMMSG is None else udp._MultiSend(udp.SENDMMSG)


def send_batched(sock: socket.socket, datagrams: list[bytes]) -> None:
    """``sendmmsg()``, up to 1,024 datagrams a call, as the agent's UDP transport sends."""
    assert _multi is not None
    i, n = 0, len(datagrams)
    while i < n:
        try:
            i += _multi.send(sock, datagrams, i)[0]
        except BlockingIOError:
            time.sleep(0.0005)
        except ConnectionRefusedError:
            pass


Send = Callable[[socket.socket, list[bytes]], None]


def only_send(path: Path, sock: socket.socket, lines: int, send_all: Send) -> None:
    before, between = agent_layout()
    with path.open("rb") as f:
        text = orjson.loads(f.readline())["log"][:-1].encode()
    datagram = before + TS[:26].encode() + b"Z" + between + text
    batch = [datagram] * 1000
    for _ in range(lines // 1000):
        send_all(sock, batch)


def read_send(path: Path, sock: socket.socket, lines: int, send_all: Send) -> None:
    before, between = agent_layout()
    head = before + TS[:26].encode() + b"Z" + between
    with path.open("rb", buffering=0) as f:
        rest = b""
        while block := f.read(BLOCK):
            parts = (rest + block).split(b"\n")
            rest = parts.pop()
            send_all(sock, [head + p for p in parts])


def read_decode_send(path: Path, sock: socket.socket, lines: int, send_all: Send) -> None:
    loads = orjson.loads
    before, between = agent_layout()
    fmt = before.decode() + "%s" + between.decode() + "%s"
    with path.open("rb", buffering=0) as f:
        rest = b""
        while block := f.read(BLOCK):
            parts = (rest + block).split(b"\n")
            rest = parts.pop()
            out = []
            for p in parts:
                entry = loads(p)
                # the time as Docker wrote it (the agent checks and rewrites it: more work)
                out.append((fmt % (entry["time"], entry["log"][:-1])).encode())
            send_all(sock, out)


WAYS: dict[str, Callable[[Path, socket.socket, int, Send], None]] = {
    "send": only_send,
    "read+send": read_send,
    "read+decode+format+send": read_decode_send,
}


def one_pass(way: str, path: Path, lines: int, batched: bool) -> tuple[float, float, int]:
    receiver = Receiver(build("udprecv"), 1, lines, delays=False)
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
        sock.connect(("127.0.0.1", receiver.port))
        sock.setblocking(False)
        user0, sys0 = split_cpu()
        WAYS[way](path, sock, lines, send_batched if batched else send_each)
        user1, sys1 = split_cpu()
        sock.close()
        time.sleep(0.3)
    finally:
        final = receiver.stop()
    return user1 - user0, sys1 - sys0, int(final["datagrams"])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--line-bytes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    path = BUILD_DIR / f"floor-{args.lines}-{args.line_bytes}.log"
    if not path.exists():
        write_log(path, args.lines, args.line_bytes)
    per_m = 1e6 / args.lines
    load = os.getloadavg()[0]
    print(f"{args.lines:,} lines of {args.line_bytes} B, {args.runs} runs, load {load:.1f}")
    print(f"{'way':36s} {'CPU-s / M lines':>16s} {'user':>6s} {'sys':>6s} {'received':>9s}")
    calls = [("send()", False)] + ([("sendmmsg()", True)] if _multi is not None else [])
    for way in WAYS:
        for call, batched in calls:
            runs = [one_pass(way, path, args.lines, batched) for _ in range(args.runs)]
            total = statistics.median((u + s) * per_m for u, s, _ in runs)
            user = statistics.median(u * per_m for u, _, _ in runs)
            system = statistics.median(s * per_m for _, s, _ in runs)
            got = min(n for _, _, n in runs)
            name = f"{way}, {call}"
            print(f"{name:36s} {total:16.2f} {user:6.2f} {system:6.2f} {got:9,d}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
