"""A Docker engine of the test's own, which it may stop, kill and start again.

The shared engine (``/var/run/docker.sock``) must never be stopped: other tests use it. This
one has its own socket, data root, exec root (and so its own containerd), pid file and
containerd namespace, no network setup (``--iptables=false --bridge=none``, containers use
``--network none``) and the test image imported from the shared engine. ``live_restore`` keeps
its containers running while it is stopped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.helpers.containers import IMAGE
from tests.helpers.docker_cli import docker_cli
from tests.helpers.waiting import wait_until


class PrivateEngine:
    def __init__(self, *, live_restore: bool) -> None:
        # short: a unix socket path must fit in 108 bytes
        self.root = Path(tempfile.mkdtemp(prefix="lse-", dir="/tmp"))
        # containerd takes [A-Za-z0-9] runs joined by one of . _ -: the directory's random
        # name can break that ("lse-_vui6i34"), which made starting a container fail with a 500
        self.namespace = "lse-" + uuid.uuid4().hex[:12]
        self.socket = self.root / "d.sock"
        self.live_restore = live_restore
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.root / "dockerd.log"
        self._clients: list[Any] = []

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def argv(self) -> list[str]:
        argv = [
            "dockerd",
            "-H",
            self.url,
            "--data-root",
            str(self.root / "data"),
            "--exec-root",
            str(self.root / "exec"),
            "--pidfile",
            str(self.root / "d.pid"),
            "--containerd-namespace",
            self.namespace,
            "--containerd-plugins-namespace",
            f"{self.namespace}-plugins",
            "--iptables=false",
            "--ip-masq=false",
            "--bridge=none",
            "--storage-driver=vfs",
            "--shutdown-timeout=1",  # stopping it kills its containers at once, mid-write
        ]
        return [*argv, "--live-restore"] if self.live_restore else argv

    def docker(self, *args: str, input: bytes | None = None) -> str:
        return docker_cli(self.url, *args, input=input, timeout=60)

    def up(self) -> bool:
        return (
            subprocess.run(
                ["docker", "-H", self.url, "version", "--format", "{{.Server.Version}}"],
                capture_output=True,
                timeout=10,
                check=False,
            ).returncode
            == 0
        )

    def start(self) -> PrivateEngine:
        """Start (or start again, on the same socket and data); return once it answers."""
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.argv(), stdout=log, stderr=log, start_new_session=True
            )
        wait_until(self._alive_and_up, timeout=60, interval=0.3, what="the private dockerd")
        return self

    def _alive_and_up(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"private dockerd exited: {self.log.read_text()[-2000:]}")
        return self.up()

    def load_test_image(self) -> None:
        """The test image, copied from the shared engine (only read there)."""
        image = subprocess.run(
            ["docker", "save", IMAGE], capture_output=True, timeout=120, check=True
        ).stdout
        self.docker("load", input=image)

    def stop(self) -> None:
        """SIGTERM, as ``systemctl stop docker`` does; returns once it has exited."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def client(self) -> Any:
        """A Docker SDK client for this engine (closed with it)."""
        import docker

        client = docker.DockerClient(base_url=self.url, timeout=60)
        self._clients.append(client)
        return client

    def close(self) -> None:
        """Remove every container, stop the engine and its containerd, delete its files."""
        for client in self._clients:
            with contextlib.suppress(Exception):
                client.close()
        try:
            if self.process is None or self.process.poll() is not None:
                self.start()  # stopped by the test: its containers may still run
            ids = self.docker("ps", "-aq").split()
            if ids:
                self.docker("rm", "-f", *ids)
        except Exception:  # noqa: BLE001 - best effort: the engine is stopped below anyway
            pass
        if self.process is not None and self.process.poll() is None:
            self.stop()
        # with live restore the engine leaves its containerd running: stop the one it started
        pidfile = self.root / "exec" / "containerd" / "containerd.pid"
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
        for pid in _shims_of(self.root):  # shims of containers that outlived it, if any
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        # dockerd mounts its data root on itself and may leave mounts behind
        for mount in ("exec", "data"):
            subprocess.run(
                ["umount", "-R", str(self.root / mount)], capture_output=True, check=False
            )
        for _ in range(50):  # containerd and its shims leave a moment later
            try:
                shutil.rmtree(self.root)
                break
            except OSError:
                time.sleep(0.2)


def _shims_of(root: Path) -> list[int]:
    """Processes of containerd shims started for this engine (their command line names it)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "containerd-shim" in cmdline and str(root) in cmdline:
            pids.append(int(proc.name))
    return pids
