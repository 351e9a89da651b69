"""A Docker engine of the tests' own, listening on TCP with ``--tlsverify`` like a remote host's,
next to the shared one and never touching it: its own unix socket, data root, exec root (and
so its own containerd), pidfile and containerd namespace."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support import IMAGE, free_port, wait_until
from tests.tls import TlsFiles


class PrivateEngine:
    def __init__(self, tls: TlsFiles) -> None:
        self.tls = tls
        # short: containerd's sockets live under the exec root (unix paths max 108 bytes)
        self.root = Path(tempfile.mkdtemp(prefix="lsd-", dir="/tmp"))
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

    def client_cert_dir(self, ca_file: Path | None = None) -> Path:
        """A DOCKER_CERT_PATH as the docker CLI expects: ca.pem, cert.pem, key.pem."""
        directory = Path(tempfile.mkdtemp(prefix="certs-", dir=self.root))
        shutil.copy(ca_file or self.tls.ca_file, directory / "ca.pem")
        shutil.copy(self.tls.client_cert, directory / "cert.pem")
        shutil.copy(self.tls.client_key, directory / "key.pem")
        return directory

    def docker(self, *args: str, input: bytes | None = None) -> str:
        """The docker CLI against this engine (over its unix socket)."""
        result = subprocess.run(
            ["docker", "-H", self.unix_url, *args],
            input=input,
            capture_output=True,
            check=True,
            timeout=120,
        )
        return result.stdout.decode().strip()

    def start(self) -> PrivateEngine:
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [
                    "dockerd",
                    "-H",
                    self.unix_url,
                    "-H",
                    self.tcp_url,
                    "--tlsverify",
                    "--tlscacert",
                    str(self.tls.ca_file),
                    "--tlscert",
                    str(self.tls.server_cert),
                    "--tlskey",
                    str(self.tls.server_key),
                    "--data-root",
                    str(self.root / "data"),
                    "--exec-root",
                    str(self.root / "exec"),
                    "--pidfile",
                    str(self.root / "docker.pid"),
                    "--containerd-namespace",
                    f"lsd-{self.port}",
                    "--containerd-plugins-namespace",
                    f"lsd-{self.port}-plugins",
                    "--iptables=false",
                    "--ip-masq=false",
                    "--bridge=none",
                    "--storage-driver=vfs",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._answers, timeout=60, interval=0.3, what="the private dockerd")
        # the test image, copied from the shared engine (read-only there)
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

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:  # containers first, so that the engine stops quickly
                ids = self.docker("ps", "-aq").split()
                if ids:
                    self.docker("rm", "-f", *ids)
            except subprocess.SubprocessError:
                pass
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for _ in range(50):  # its containerd leaves a moment after it
            try:
                shutil.rmtree(self.root)
                break
            except OSError:
                time.sleep(0.2)
