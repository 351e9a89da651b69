"""Builds and runs the C receivers (bench/udprecv.c for UDP syslog and GELF, bench/streamrecv.c
for syslog over TLS, forward and the Elasticsearch stand-in) and follows their progress. Builds
the CRI scenarios' writer (bench/criwriter.c) and the floor shipper (bench/floorship.c) the same
way."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
COMMON = HERE / "recvcommon.h"
BUILD_DIR = Path("/tmp/logship-bench")
# receiver -> the libraries it links (zlib for GELF and gzip bodies, OpenSSL for TLS)
SOURCES = {
    "udprecv": ("udprecv.c", ["-lz"]),
    "streamrecv": ("streamrecv.c", ["-lssl", "-lcrypto", "-lz", "-lpthread"]),
    "criwriter": ("criwriter.c", []),
    "floorship": ("floorship.c", ["-lpthread"]),
}


def build(name: str = "udprecv") -> Path:
    """Compile a receiver once per source version; returns the binary's path."""
    source, libs = SOURCES[name]
    path = HERE / source
    digest = hashlib.sha256(path.read_bytes() + COMMON.read_bytes()).hexdigest()[:12]
    binary = BUILD_DIR / f"{name}-{digest}"
    if binary.exists():
        return binary
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise RuntimeError("the receivers need a C compiler (gcc or cc) on PATH")
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    tmp = binary.with_suffix(f".tmp{os.getpid()}")
    try:
        subprocess.run(
            [compiler, "-O2", "-Wall", "-Wextra", "-o", str(tmp), str(path), *libs],
            check=True,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(
            f"cannot compile {source} (it needs zlib and OpenSSL headers: Debian's zlib1g-dev "
            f"and libssl-dev):\n{exc.stderr}"
        ) from None
    tmp.rename(binary)
    return binary


@dataclass
class Progress:
    datagrams: int = 0
    distinct: int = 0
    duplicates: int = 0
    unparsed: int = 0
    last_arrival_ns: int = 0


class Receiver:
    """A receiver (``udprecv`` or ``streamrecv``) as a child process: its port, live progress,
    and its final totals. ``options`` are the receiver's own (``--gelf``, ``--proto bulk``)."""

    def __init__(
        self,
        binary: Path,
        producers: int,
        lines: int,
        *,
        delays: bool,
        options: tuple[str, ...] = (),
    ) -> None:
        self.name = binary.name.rsplit("-", 1)[0]
        argv = [str(binary), str(producers), str(lines), *options]
        argv += ["--delays"] if delays else []
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, text=True, bufsize=1, start_new_session=True
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline().split()
        if len(first) != 3 or first[0] != "PORT":
            self.kill()
            raise RuntimeError(f"{self.name} did not start: it said {first!r}, expected PORT n n")
        self.port = int(first[1])
        self.rcvbuf_bytes = int(first[2])
        self.progress = Progress()
        self.final: dict[str, Any] | None = None
        self._thread = threading.Thread(target=self._read, name=self.name, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("S "):
                d, n, dup, bad, last = (int(x) for x in line.split()[1:6])
                self.progress = Progress(d, n, dup, bad, last)
            elif line.startswith("F "):
                self.final = json.loads(line[2:])

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> dict[str, Any]:
        """Ask for the totals and wait for them."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()
        self._thread.join(5)
        if self.final is None:
            raise RuntimeError(f"{self.name} exited ({self.proc.returncode}) without its totals")
        return self.final

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._thread.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
