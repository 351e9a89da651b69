"""The CRI scenarios' producers: a pods directory laid out as the kubelet lays it out, and the
C writer (bench/criwriter.c) writing every container's log in the CRI format, as containerd
writes it, once let go.

The layout, under a fresh directory per pass::

    pods/<namespace>_<pod>_<pod uid>/<container>/0.log
    containers/<pod>_<namespace>_<container>-<64 hex container id>.log -> the 0.log above

Each file is one "producer" (IDX = its number), whose lines carry the same ``~IDX:SEQ:`` marks
as the Docker producers' lines, so the same receivers count them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from producers import Workload

NAMESPACE = "bench"
CONTAINER = "writer"


@dataclass(frozen=True)
class CriOptions:
    """How the writer writes beyond the workload: every Nth line split into a P and an F piece
    (0: never); rotation as the kubelet does it once a file reaches ``rotate_bytes`` (0: never),
    looked at every ``rotate_check_ms``."""

    partial_every: int = 0
    rotate_bytes: int = 0
    rotate_check_ms: int = 1000


class CriPods:
    """One pass's pod log files and their writer: laid out, started (waiting), released
    together, removed."""

    def __init__(
        self, writer: Path, workload: Workload, pass_id: str, options: CriOptions, root: Path
    ) -> None:
        self.writer = writer
        self.workload = workload
        self.pass_id = pass_id
        self.options = options
        root.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix=f"cri-{pass_id}-", dir=root))
        self.pods_dir = self.root / "pods"
        self.links_dir = self.root / "containers"
        self.files: list[Path] = []
        self.names: list[str] = []  # what the agent calls each container: <pod>/<container>
        self.proc: subprocess.Popen[str] | None = None
        self.result: dict[str, Any] | None = None

    def pod(self, index: int) -> str:
        return f"lsb-{self.pass_id}-{index:03d}"

    def lay_out(self) -> None:
        """The pods and links directories, empty (the agent starts on them)."""
        self.pods_dir.mkdir()
        self.links_dir.mkdir()

    def start(self) -> None:
        """Each pod's directory, its empty ``0.log`` and the kubelet's link to it; then the
        writer, which opens them all and waits for :meth:`release`."""
        for index in range(self.workload.containers):
            pod = self.pod(index)
            uid = str(uuid.UUID(bytes=hashlib.md5(pod.encode()).digest()))
            log_dir = self.pods_dir / f"{NAMESPACE}_{pod}_{uid}" / CONTAINER
            log_dir.mkdir(parents=True)
            path = log_dir / "0.log"
            path.touch()
            container_id = hashlib.sha256(f"{pod}/{CONTAINER}".encode()).hexdigest()
            link = self.links_dir / f"{pod}_{NAMESPACE}_{CONTAINER}-{container_id}.log"
            link.symlink_to(path)
            self.files.append(path)
            self.names.append(f"{pod}/{CONTAINER}")
        w = self.workload
        argv = [str(self.writer), "--lines", str(w.lines), "--line-bytes", str(w.line_bytes)]
        argv += ["--idx-width", str(w.idx_width), "--seq-width", str(w.seq_width)]
        if w.rate_per_sec:
            argv += ["--rate", f"{w.rate_per_sec:g}"]
        if self.options.partial_every:
            argv += ["--partial-every", str(self.options.partial_every)]
        if self.options.rotate_bytes:
            argv += ["--rotate-bytes", str(self.options.rotate_bytes)]
            argv += ["--rotate-check-ms", str(self.options.rotate_check_ms)]
        self.proc = subprocess.Popen(
            [*argv, *map(str, self.files)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline().strip()
        if ready != "READY":
            raise RuntimeError(f"the CRI writer did not start: it said {ready!r}")

    def release(self) -> None:
        """Let the writer write."""
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write("g")
        self.proc.stdin.close()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def finish(self, timeout_secs: float) -> dict[str, Any] | None:
        """The writer's own report (lines, bytes, rotations, its CPU, start and end), once it
        exited; None if it is still writing after ``timeout_secs``."""
        if self.result is not None or self.proc is None:
            return self.result
        try:
            self.proc.wait(timeout_secs)
        except subprocess.TimeoutExpired:
            return None
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()  # one line: it wrote nothing else after READY
        last = out.strip().splitlines()[-1:]
        self.result = json.loads(last[0]) if last else {"exit_code": self.proc.returncode}
        self.result["exit_code"] = self.proc.returncode
        return self.result

    def remove(self) -> None:
        if self.proc is not None and self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()  # never let go: it exits without writing
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        shutil.rmtree(self.root, ignore_errors=True)
