"""A real OpenSSH server of the test's own, in the foreground on 127.0.0.1 and a free port,
with its own host key and one authorized client key; and the client's side as a user has it
(a key, known_hosts, a config). ssh reads ``~/.ssh`` from the passwd entry, not ``$HOME``,
and the machine's own must stay untouched: the client's config is given by an ``ssh`` first on
``PATH`` that runs the real one with ``-F`` (what ``~/.ssh/config`` does for a user)."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

from tests.helpers.ports import free_port
from tests.helpers.waiting import wait_until

SSHD = "/usr/sbin/sshd"


class SshServer:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port(socket.SOCK_STREAM)
        self.process: subprocess.Popen[bytes] | None = None
        self.bin_dir = directory / "bin"  # holds the ssh that uses this client config

    @property
    def url(self) -> str:
        return f"ssh://root@127.0.0.1:{self.port}"

    def start(self) -> SshServer:
        d = self.directory
        d.mkdir(mode=0o700, exist_ok=True)
        for key in ("host_key", "client_key"):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / key)], check=True
            )
        shutil.copy(d / "client_key.pub", d / "authorized_keys")
        host_key = (d / "host_key.pub").read_text().split()
        (d / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {host_key[0]} {host_key[1]}\n")
        (d / "sshd_config").write_text(
            f"ListenAddress 127.0.0.1\nPort {self.port}\nHostKey {d / 'host_key'}\n"
            f"AuthorizedKeysFile {d / 'authorized_keys'}\nPidFile {d / 'sshd.pid'}\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        )
        (d / "ssh_config").write_text(
            f"Host 127.0.0.1\n  IdentityFile {d / 'client_key'}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {d / 'known_hosts'}\n  StrictHostKeyChecking yes\n"
        )
        self.bin_dir.mkdir(exist_ok=True)
        wrapper = self.bin_dir / "ssh"
        real = shutil.which("ssh")
        wrapper.write_text(f'#!/bin/sh\nexec {real} -F {d / "ssh_config"} "$@"\n')
        wrapper.chmod(0o755)
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
        with (d / "sshd.log").open("wb") as log:
            self.process = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(d / "sshd_config")],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        wait_until(self._answers, what=f"sshd on 127.0.0.1:{self.port}")
        return self

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"sshd exited: {(self.directory / 'sshd.log').read_text()}")
        return "Server listening" in (self.directory / "sshd.log").read_text()

    def env(self, path: str) -> dict[str, str]:
        """PATH with this client config's ssh first."""
        return {"PATH": f"{self.bin_dir}:{path}"}

    def close(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
