"""A Docker engine of the tests' own that listens on TCP with ``--tlsverify``, like a remote
host's (``DOCKER_HOST=tcp://...``, ``DOCKER_TLS_VERIFY=1``), next to the shared one and never
touching it: its own unix socket, data root, exec root (and so its own containerd), pidfile
and containerd namespace."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from tests.helpers.containers import IMAGE
from tests.helpers.docker_cli import docker_cli
from tests.helpers.ports import free_port
from tests.helpers.tls import TlsFiles
from tests.helpers.waiting import wait_until


class TlsEngine:
    def __init__(self, tls: TlsFiles) -> None:
        self.tls = tls
        # short: containerd's sockets live under the exec root (unix paths max 108 bytes)
        self.root = Path(tempfile.mkdtemp(prefix="lst-", dir="/tmp"))
        # containerd takes [A-Za-z0-9] runs joined by one of . _ -: not the directory's
        # random name, which can hold "-_" (a container start then fails, exit 125)
        self.namespace = "lst-" + uuid.uuid4().hex[:12]
        self.socket = self.root / "docker.sock"
        self.port = free_port(socket.SOCK_STREAM)
        self.log = self.root / "dockerd.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def unix_url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def tcp_url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def cert_dir(self, *, ca_file: Path | None = None, client_cert: bool = True) -> Path:
        """A DOCKER_CERT_PATH as the docker CLI expects: ca.pem, cert.pem, key.pem."""
        directory = Path(tempfile.mkdtemp(prefix="certs-", dir=self.root))
        shutil.copy(ca_file or self.tls.ca_file, directory / "ca.pem")
        if client_cert:
            shutil.copy(self.tls.client_cert, directory / "cert.pem")
            shutil.copy(self.tls.client_key, directory / "key.pem")
        return directory

    def docker(self, *args: str, input: bytes | None = None) -> str:
        """The docker CLI against this engine (over its unix socket); its standard output."""
        return docker_cli(self.unix_url, *args, input=input).strip()

    def start(self) -> TlsEngine:
        tls = self.tls
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [
                    "dockerd",
                    *("-H", self.unix_url, "-H", self.tcp_url),
                    *("--tlsverify", "--tlscacert", str(tls.ca_file)),
                    *("--tlscert", str(tls.server_cert), "--tlskey", str(tls.server_key)),
                    *("--data-root", str(self.root / "data")),
                    *("--exec-root", str(self.root / "exec")),
                    *("--pidfile", str(self.root / "docker.pid")),
                    *("--containerd-namespace", self.namespace),
                    *("--containerd-plugins-namespace", f"{self.namespace}-plugins"),
                    "--iptables=false",
                    "--ip-masq=false",
                    "--bridge=none",
                    "--storage-driver=vfs",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._answers, timeout=60, interval=0.3, what="the private dockerd")
        # the test image, copied from the shared engine (only read there)
        image = subprocess.run(
            ["docker", "save", IMAGE], capture_output=True, check=True, timeout=120
        ).stdout
        self.docker("load", input=image)
        return self

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"private dockerd exited: {self.log.read_text()[-3000:]}")
        result = subprocess.run(
            ["docker", "-H", self.unix_url, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            check=False,
            timeout=30,
        )
        return result.returncode == 0

    def close(self) -> None:
        """Remove its containers, stop it and its containerd, delete its files."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(subprocess.SubprocessError, AssertionError):
                ids = self.docker("ps", "-aq").split()
                if ids:
                    self.docker("rm", "-f", *ids)
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        pidfile = self.root / "exec" / "containerd" / "containerd.pid"
        with contextlib.suppress(OSError, ValueError):  # normally gone with the engine
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
        # dockerd mounts its data root on itself and may leave that mount behind
        subprocess.run(["umount", str(self.root / "data")], capture_output=True, check=False)
        for _ in range(50):  # containerd leaves a moment after the engine
            try:
                shutil.rmtree(self.root)
                break
            except OSError:
                time.sleep(0.2)
