"""The agent under test as a child process: start, wait until it follows, measure, stop, read
what it logged."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from procfs import cpu_secs, peak_rss_mib, rss_mib

_FOLLOWING_N = r"following \d+ containers"
_FOLLOWING = re.compile(r"following (\S+) \(")
_SOURCE = re.compile(r"reading container logs through source (\w+)")
_THROUGH_API = re.compile(r"following \S+ through the Engine API")
_LEFT = re.compile(r"(\d+) records left unsent, (\d+) dropped while the buffer was full")
_NOTABLE = re.compile(r" (WARNING|ERROR|CRITICAL) |Traceback")
RSS_SAMPLE_SECS = 1.0


class RssSampler:
    """The agent's VmRSS once a second from go until :meth:`stop`, read by a thread.

    ``samples`` is a list of ``[seconds since go, MiB]``: one at go, one per whole second after
    it, and a last one when the pass ends.
    """

    def __init__(self, pid: int, go_ns: int, interval_secs: float = RSS_SAMPLE_SECS) -> None:
        self.pid = pid
        self.go_ns = go_ns
        self.interval_secs = interval_secs
        self.samples: list[list[float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._sample()
        self._thread.start()

    def _sample(self) -> None:
        mib = rss_mib(self.pid)
        if mib is not None:
            secs = (time.time_ns() - self.go_ns) / 1e9
            self.samples.append([round(secs, 3), round(mib, 2)])

    def _run(self) -> None:
        start = time.monotonic()
        k = 1
        while not self._stop.wait(max(0.0, start + k * self.interval_secs - time.monotonic())):
            self._sample()
            k += 1

    def stop(self) -> list[list[float]]:
        """Stop sampling, take the end-of-pass sample, and return all samples. Idempotent."""
        if self._stop.is_set():
            return self.samples
        self._stop.set()
        self._thread.join(5)
        self._sample()
        return self.samples


class AgentProcess:
    """``argv`` run with its stderr in ``stderr_path``, on the CPUs ``cpus`` if given (set
    right after the start, before the agent has any thread but its first)."""

    def __init__(
        self,
        argv: list[str],
        stderr_path: Path,
        cpus: set[int] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """``env``: variables set for the agent on top of the benchmark's own."""
        self.argv = argv
        self.stderr_path = stderr_path
        stderr_path.parent.mkdir(parents=True, exist_ok=True)
        with open(stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env={**os.environ, **(env or {})},
                start_new_session=True,  # Ctrl-C reaches the benchmark, which stops the agent
            )
        if cpus:
            os.sched_setaffinity(self.proc.pid, cpus)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_for_log(self, check: Any, what: str, timeout_secs: float) -> None:
        """Poll the agent's stderr until ``check(text)`` is true."""
        deadline = time.monotonic() + timeout_secs
        while time.monotonic() < deadline:
            if check(self.log_text()):
                return
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the agent exited ({self.proc.returncode}) before {what}; "
                    f"see {self.stderr_path}"
                )
            time.sleep(0.05)
        raise RuntimeError(f"the agent did not log {what} within {timeout_secs:.0f}s")

    def wait_started(self, pattern: str = _FOLLOWING_N, timeout_secs: float = 30) -> None:
        """Until the agent logs ``pattern``: it follows what was there when it started."""
        started = re.compile(pattern)
        self.wait_for_log(lambda t: started.search(t) is not None, repr(pattern), timeout_secs)

    def wait_following(self, names: list[str], timeout_secs: float = 60) -> None:
        wanted = set(names)
        self.wait_for_log(
            lambda t: wanted <= set(_FOLLOWING.findall(t)),
            f"following all {len(names)} producers",
            timeout_secs,
        )

    def cpu_secs(self) -> float:
        return cpu_secs(self.pid)

    def peak_rss_mib(self) -> float | None:
        return peak_rss_mib(self.pid)

    def sample_rss(self, go_ns: int) -> RssSampler:
        """Start sampling VmRSS once a second; call ``.stop()`` on the result at the end."""
        return RssSampler(self.pid, go_ns)

    def stop(self, timeout_secs: float = 15) -> int | None:
        """SIGTERM (the agent drains what it holds), then SIGKILL if it takes too long."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_secs)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def report(self) -> dict[str, Any]:
        """What the agent said about itself: the source it read through, containers it followed
        through the Engine API instead of their files, buffer drops at shutdown, warnings and
        errors."""
        text = self.log_text()
        source = _SOURCE.search(text)
        left = dropped = 0
        for m in _LEFT.finditer(text):
            left += int(m.group(1))
            dropped += int(m.group(2))
        notable = [line for line in text.splitlines() if _NOTABLE.search(line)]
        return {
            "source": source.group(1) if source else None,
            "through_api": len(_THROUGH_API.findall(text)),
            "exit_code": self.proc.returncode,
            "left_unsent": left,
            "buffer_dropped": dropped,
            "warnings": len(notable),
            "notable_lines": notable[:50],
            "stderr_file": str(self.stderr_path),
        }


class FloorProcess(AgentProcess):
    """bench/floorship.c in the agent's place: the least a shipper of the producers' json-file
    logs can do, to measure the agent against in the same flood. It needs the files' paths, so
    it starts once the producers exist (:meth:`wait_following`), before they are let go."""

    def __init__(
        self, argv: list[str], *rest: Any, log_path: Callable[[str], str], **options: Any
    ) -> None:
        """As :class:`AgentProcess`, ``argv`` without the files; ``log_path``: a producer's
        name -> its json-file log."""
        self._start = (argv, rest, options)
        self._log_path = log_path

    def wait_started(self, pattern: str = _FOLLOWING_N, timeout_secs: float = 30) -> None:
        pass  # it starts in wait_following

    def wait_following(self, names: list[str], timeout_secs: float = 60) -> None:
        argv, rest, options = self._start
        super().__init__([*argv, *map(self._log_path, names)], *rest, **options)
