"""Builds and runs the C syslog receiver (bench/udprecv.c) and follows its progress."""

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

SOURCE = Path(__file__).with_name("udprecv.c")
BUILD_DIR = Path("/tmp/logship-bench")


def build() -> Path:
    """Compile udprecv.c once per source version; returns the binary's path."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    binary = BUILD_DIR / f"udprecv-{digest}"
    if binary.exists():
        return binary
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise RuntimeError("the receiver needs a C compiler (gcc or cc) on PATH")
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    tmp = binary.with_suffix(".tmp")
    subprocess.run(
        [compiler, "-O2", "-Wall", "-Wextra", "-o", str(tmp), str(SOURCE)],
        check=True,
    )
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
    """``udprecv`` as a child process: its port, live progress, and its final totals."""

    def __init__(self, binary: Path, producers: int, lines: int, *, delays: bool) -> None:
        argv = [str(binary), str(producers), str(lines)] + (["--delays"] if delays else [])
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, text=True, bufsize=1, start_new_session=True
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline().split()
        if len(first) != 3 or first[0] != "PORT":
            self.kill()
            raise RuntimeError(f"udprecv did not start: it said {first!r}, expected PORT n n")
        self.port = int(first[1])
        self.rcvbuf_bytes = int(first[2])
        self.progress = Progress()
        self.final: dict[str, Any] | None = None
        self._thread = threading.Thread(target=self._read, name="udprecv", daemon=True)
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
            raise RuntimeError(f"udprecv exited ({self.proc.returncode}) without its totals")
        return self.final

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
