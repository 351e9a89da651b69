"""``logship`` as a user runs it: the real CLI in a process of its own."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.helpers.paths import ROOT
from tests.helpers.waiting import wait_until

# Until the agent says it follows the containers: it takes 1-2 s alone, but the machine is
# shared by whole test runs (never asserted as a timing)
START_SECS = 60


class AgentProcess:
    """``logship`` as a user runs it: the real CLI in its own process (not
    :class:`logship.agent.Agent`, which is what runs inside it)."""

    def __init__(
        self,
        workdir: Path,
        args: list[str],
        *,
        env: dict[str, str] | None = None,
        launcher: Sequence[str] = (),
    ):
        """``launcher``: a command the agent is run by (``unshare --net ...``), which must
        ``exec`` it, so that :attr:`process` is the agent itself."""
        self.workdir = workdir
        self.args = args
        self.launcher = list(launcher)
        self.env = {**os.environ, "NO_COLOR": "1", **(env or {})}
        self.stdout_path = workdir / f"agent-{id(self)}.out"
        self.stderr_path = workdir / f"agent-{id(self)}.err"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, ready: str | None = "following ") -> AgentProcess:
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                [*self.launcher, sys.executable, "-m", "logship", *self.args],
                stdout=out,
                stderr=err,
                env=self.env,
                cwd=ROOT,
            )
        if ready:
            try:
                wait_until(
                    lambda: self._alive() and re.search(r"following \d+ containers", self.stderr),
                    timeout=START_SECS,
                    what="the agent to start",
                )
            except AssertionError as exc:  # say what it wrote by then; leave nothing running
                if self.process.poll() is None:
                    self.process.kill()
                    self.process.wait()
                raise AssertionError(f"{exc} (its stderr: {self.stderr[-3000:]!r})") from None
        return self

    def _alive(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"agent exited with {self.process.returncode}: {self.stderr[-3000:]}"
            )
        return True

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stdout_json(self) -> list[dict[str, Any]]:
        # the last piece is "" after a complete line, or one the agent is still writing
        lines = self.stdout.split("\n")[:-1]
        return [json.loads(line) for line in lines if line.strip()]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"agent ignored {sig} for {timeout}s") from None
        return self.process.returncode


def run_cli(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[str]:
    """One ``logship`` command run to its end: its exit status and what it wrote."""
    return subprocess.run(
        [sys.executable, "-m", "logship", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


def lines_of(agent: AgentProcess, name: str) -> list[dict[str, Any]]:
    """The records of container ``name`` on the JSON console of ``agent``."""
    return [r for r in agent.stdout_json() if r["container"]["name"] == name]
