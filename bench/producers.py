"""Producer containers: busybox shells that write numbered lines, all starting on one signal.

Every line is ``~IDX:SEQ:000…0`` plus a newline, ``line_bytes`` long in all: IDX is the
producer's number, SEQ the line's, so a receiver can count distinct lines and duplicates. With
``json`` each line is instead a JSON object as a structured logger writes it, the mark and
padding in its ``msg`` (:data:`JSON_LINE`), the same ``line_bytes`` long.
Producers wait (without writing) until the file ``/go/go`` exists in a bind-mounted directory;
the benchmark creates it once every reader is attached, so all producers start together and
container start-up is not part of any measurement. Waiting and pacing use ``read -t`` on a
private FIFO, which sleeps without forking (busybox ``usleep`` forks, and 20,000 forks a second
would eat the machine in the steady scenario).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import docker  # type: ignore[import-untyped]
import docker.errors  # type: ignore[import-untyped]

IMAGE = "logship-test/busybox:1.35"
# not under logship.*: the agent reads those labels as its own per-container settings
LABEL = "logship-bench"  # value: the pass id; the agent follows only these containers
SESSION_LABEL = "logship-bench.session"  # value: this benchmark process, for the final sweep
START_WORKERS = 8
REMOVE_GROUP = 20  # force-remove at most this many containers before waiting for them all

# a JSON line (``json``): a time, level and message as structured loggers write them, and two
# fields of the request; ``%s`` is where the mark and its padding go, in the message
JSON_LINE = (
    '{"time":"2026-12-05T16:00:00.123Z","level":"info","msg":"%s",'
    '"path":"/api/v1/orders","status":200}'
)
_WAIT = "mkfifo /p; exec 3<>/p; until [ -e /go/go ]; do read -t 0.02 -u 3 x; done"


@dataclass(frozen=True)
class Workload:
    """What the producers write. ``rate_per_sec`` is None for a flood (as fast as possible)."""

    kind: Literal["flood", "steady"]
    containers: int
    lines: int  # per container
    line_bytes: int = 100  # including the newline
    rate_per_sec: float | None = None
    json: bool = False  # each line a JSON object (JSON_LINE) instead of the mark alone

    @property
    def total_lines(self) -> int:
        return self.containers * self.lines

    @property
    def idx_width(self) -> int:
        return max(3, len(str(self.containers - 1)))

    @property
    def seq_width(self) -> int:
        return max(8, len(str(self.lines - 1)))

    @property
    def pad(self) -> str:
        mark = 1 + self.idx_width + 1 + self.seq_width + 1  # "~IDX:SEQ:"
        if self.json:
            mark += len(JSON_LINE) - len("%s")
        size = self.line_bytes - 1 - mark
        if size < 0:
            what = "JSON line, mark" if self.json else "mark"
            raise ValueError(
                f"line_bytes={self.line_bytes} is too small: each line needs {mark + 1} bytes "
                f"for its {what} and newline"
            )
        return "0" * size

    def script(self) -> str:
        fmt = f"~%0{self.idx_width}d:%0{self.seq_width}d:%s"
        if self.json:  # inside double quotes for awk and sh alike
            fmt = (JSON_LINE % fmt).replace('"', '\\"')
        fmt += "\\n"
        if self.kind == "flood":
            write = (
                f"exec awk -v n={self.lines} -v id=$IDX "
                f'\'BEGIN{{pad=ENVIRON["PAD"]; for(i=0;i<n;i++) printf "{fmt}", id, i, pad}}\''
            )
        else:
            assert self.rate_per_sec
            interval = f"{1 / self.rate_per_sec:.6f}"
            write = (
                f'i=0; while [ $i -lt {self.lines} ]; do printf "{fmt}" $IDX $i "$PAD"; '
                f"i=$((i+1)); read -t {interval} -u 3 x; done; true"
            )
        return f"{_WAIT}; {write}"


@dataclass
class Producer:
    index: int
    name: str
    id: str


class ProducerSet:
    """One pass's producers: created and started (waiting), released together, removed."""

    def __init__(self, client: docker.DockerClient, workload: Workload, pass_id: str, session: str):
        self.client = client
        self.workload = workload
        self.pass_id = pass_id
        self.session = session
        self.producers: list[Producer] = []
        self.go_dir = Path(tempfile.mkdtemp(prefix=f"logship-bench-{pass_id}-"))
        self.go_dir.chmod(0o755)
        self.go_ns: int | None = None
        self._lock = threading.Lock()

    def name(self, index: int) -> str:
        return f"lsb-{self.pass_id}-{index:03d}"

    def start(self) -> None:
        """Create and start every producer; they wait for :meth:`release`."""
        script = self.workload.script()
        pad = self.workload.pad

        def one(index: int) -> None:
            container = self.client.containers.create(
                IMAGE,
                command=["sh", "-c", script],
                name=self.name(index),
                labels={LABEL: self.pass_id, SESSION_LABEL: self.session},
                environment={"IDX": str(index), "PAD": pad},
                network_mode="none",
                volumes={str(self.go_dir): {"bind": "/go", "mode": "ro"}},
                log_config={"Type": "json-file", "Config": {}},
            )
            with self._lock:
                self.producers.append(Producer(index, self.name(index), container.id))
            container.start()

        with ThreadPoolExecutor(START_WORKERS) as pool:
            for future in [pool.submit(one, i) for i in range(self.workload.containers)]:
                future.result()
        self.producers.sort(key=lambda p: p.index)

    def release(self) -> int:
        """Let every producer write; returns the moment (time.time_ns) they were let go."""
        (self.go_dir / "go").touch()
        self.go_ns = time.time_ns()
        return self.go_ns

    def running(self) -> int:
        """How many producers are still running."""
        found = self.client.api.containers(
            filters={"label": f"{LABEL}={self.pass_id}", "status": "running"}, quiet=True
        )
        return len(found)

    def states(self) -> list[dict[str, Any]]:
        """Exit code and start/finish times (RFC 3339) of every producer."""
        out = []
        for p in self.producers:
            try:
                state = self.client.api.inspect_container(p.id)["State"]
            except docker.errors.NotFound:
                continue
            out.append(
                {
                    "name": p.name,
                    "exit_code": state.get("ExitCode"),
                    "running": state.get("Running"),
                    "started_at": state.get("StartedAt"),
                    "finished_at": state.get("FinishedAt"),
                }
            )
        return out

    def remove(self) -> None:
        remove_labelled(self.client, f"{LABEL}={self.pass_id}")
        shutil.rmtree(self.go_dir, ignore_errors=True)


def remove_labelled(client: docker.DockerClient, label: str) -> int:
    """Force-remove every container carrying ``label`` (``key=value``), in groups of
    :data:`REMOVE_GROUP` (removing hundreds at once has wedged dockerd); returns how many."""
    found = [c["Id"] for c in client.api.containers(all=True, filters={"label": label}, quiet=True)]

    def one(container_id: str) -> None:
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            client.api.remove_container(container_id, force=True)

    with ThreadPoolExecutor(START_WORKERS) as pool:
        for i in range(0, len(found), REMOVE_GROUP):
            list(pool.map(one, found[i : i + REMOVE_GROUP]))
    return len(found)
