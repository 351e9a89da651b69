"""Real servers and processes for the integration tests: rsyslogd, the agent, containers."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tests.tls import TlsFiles

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
IMAGE = os.environ.get("LOGSHIP_TEST_IMAGE", "logship-test/busybox:1.35")


def wait_until(
    check: Callable[[], T], *, timeout: float = 20.0, interval: float = 0.1, what: str = ""
) -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        time.sleep(interval)


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# -- rsyslogd ---------------------------------------------------------------------------------

_RSYSLOG_FIELDS = {
    "raw": "rawmsg",
    "facility": "syslogfacility",
    "severity": "syslogseverity",
    "hostname": "hostname",
    "app": "app-name",
    "procid": "procid",
    "msgid": "msgid",
    "sd": "structured-data",
    "msg": "msg",
    "version": "protocol-version",
}


class Rsyslog:
    """A real rsyslogd in the foreground, receiving on 127.0.0.1, writing one JSON object per
    message with the fields its RFC 5424/3164 parsers found.

    It always listens on UDP; with ``tcp=True`` also on plain TCP (``tcp_port``), and with
    ``tls`` (the test CA's files) on TLS (``tls_port``, rsyslog-gnutls), where ``client_auth``
    makes it refuse clients without a certificate signed by the test CA. Control characters
    are kept as received (not rsyslog's ``#012``), so a test sees a message's newlines.
    :meth:`kill` and :meth:`start` again restart it on the same ports.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        udp_port: int | None = None,
        tcp: bool = False,
        tls: TlsFiles | None = None,
        client_auth: bool = False,
    ) -> None:
        self.workdir = workdir
        self.udp_port = udp_port or free_port()
        self.tcp_port = free_port(socket.SOCK_STREAM) if tcp else None
        self.tls = tls
        self.tls_port = free_port(socket.SOCK_STREAM) if tls is not None else None
        self.client_auth = client_auth
        self.output = workdir / "messages.json"
        self.errors = workdir / "rsyslog.err"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def config(self) -> str:
        props = "\n".join(
            f'  property(outname="{out}" name="{name}" format="jsonf")'
            for out, name in _RSYSLOG_FIELDS.items()
        )
        tls_files = ""
        if self.tls is not None:
            tls_files = (
                f'\n       DefaultNetstreamDriverCAFile="{self.tls.ca_file}"'
                f'\n       DefaultNetstreamDriverCertFile="{self.tls.server_cert}"'
                f'\n       DefaultNetstreamDriverKeyFile="{self.tls.server_key}"'
            )
        inputs = [f'input(type="imudp" address="127.0.0.1" port="{self.udp_port}" ruleset="in")']
        if self.tcp_port is not None or self.tls_port is not None:
            inputs.append('module(load="imtcp")')
        if self.tcp_port is not None:
            inputs.append(
                f'input(type="imtcp" address="127.0.0.1" port="{self.tcp_port}" ruleset="in")'
            )
        if self.tls_port is not None:
            auth = "x509/certvalid" if self.client_auth else "anon"
            inputs.append(
                f'input(type="imtcp" address="127.0.0.1" port="{self.tls_port}" ruleset="in"\n'
                f'      StreamDriver.Name="gtls" StreamDriver.Mode="1" '
                f'StreamDriver.AuthMode="{auth}")'
            )
        listeners = "\n".join(inputs)
        return f"""
global(workDirectory="{self.workdir}" maxMessageSize="256k"
       parser.escapeControlCharactersOnReceive="off"{tls_files})
module(load="imudp")
{listeners}
template(name="json" type="list" option.jsonf="on") {{
{props}
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
}}
ruleset(name="in") {{
  action(type="omfile" file="{self.output}" template="json" flushOnTXEnd="on"
         asyncWriting="off")
}}
"""

    def start(self) -> Rsyslog:
        """Start (or start again, on the same ports); return once every listener delivers."""
        conf = self.workdir / "rsyslog.conf"
        conf.write_text(self.config())
        self.output.touch()
        pidfile = self.workdir / "rsyslog.pid"
        pidfile.unlink(missing_ok=True)  # left behind by kill()
        self.starts += 1
        with open(self.errors, "ab") as err:
            self.process = subprocess.Popen(
                ["rsyslogd", "-n", "-f", str(conf), "-i", str(pidfile)],
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        # ready when a probe sent to each listener comes out the other side
        probes = {"udp": self._probe_udp, "tcp": self._probe_tcp, "tls": self._probe_tls}
        pending = {kind for kind in probes if kind == "udp" or self.port(kind) is not None}

        def probed() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"rsyslogd exited: {self.errors.read_text()}")
            seen = {m.get("msg", "") for m in self.messages(include_probe=True)}
            for kind in list(pending):
                text = f"ready-{kind}-{os.getpid()}-{self.starts}"
                if text in seen:
                    pending.discard(kind)
                    continue
                wire = f"<14>1 - - probe - - - {text}".encode()
                try:
                    probes[kind](wire)
                except OSError:  # not listening yet
                    pass
            return not pending

        wait_until(probed, timeout=30, interval=0.2, what="rsyslogd to receive on every listener")
        return self

    def port(self, kind: str) -> int | None:
        return {"udp": self.udp_port, "tcp": self.tcp_port, "tls": self.tls_port}[kind]

    def _probe_udp(self, wire: bytes) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(wire, ("127.0.0.1", self.udp_port))

    def _probe_tcp(self, wire: bytes) -> None:
        assert self.tcp_port is not None
        with socket.create_connection(("127.0.0.1", self.tcp_port), timeout=5) as s:
            s.sendall(b"%d %b" % (len(wire), wire))

    def _probe_tls(self, wire: bytes) -> None:
        assert self.tls is not None and self.tls_port is not None
        context = ssl.create_default_context(cafile=str(self.tls.ca_file))
        if self.client_auth:
            context.load_cert_chain(str(self.tls.client_cert), str(self.tls.client_key))
        with (
            socket.create_connection(("127.0.0.1", self.tls_port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as s,
        ):
            s.sendall(b"%d %b" % (len(wire), wire))
            s.unwrap()  # close_notify, so rsyslogd has no error to report about the probe

    def messages(self, *, include_probe: bool = False) -> list[dict[str, Any]]:
        out = []
        # not splitlines(): a message may hold U+2028 or U+0085, which rsyslogd leaves as they are
        lines = self.output.read_text(errors="replace").split("\n")
        # the last piece is "" after a complete line, or a line rsyslogd is still writing
        for line in lines[:-1]:
            if line.strip():
                message = json.loads(line)
                if include_probe or message.get("app") != "probe":
                    out.append(message)
        return out

    @property
    def error_log(self) -> str:
        """What rsyslogd said on stderr, over every start (TLS sessions it refused, ...)."""
        return self.errors.read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash would: connections are cut, nothing is flushed."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()


_SD_ELEMENT = re.compile(r'\[([^\s\]=]+)((?:\s+[^\s=\]"]+="(?:[^"\\]|\\.)*")*)\]')
_SD_PARAM = re.compile(r'([^\s=\]"]+)="((?:[^"\\]|\\.)*)"')


def parse_structured_data(sd: str) -> dict[str, dict[str, str]]:
    """``[id k="v"][id2 ...]`` -> ``{"id": {"k": "v"}, ...}``, escapes undone."""
    out: dict[str, dict[str, str]] = {}
    for element in _SD_ELEMENT.finditer(sd):
        out[element.group(1)] = {
            k: re.sub(r"\\(.)", r"\1", v) for k, v in _SD_PARAM.findall(element.group(2))
        }
    return out


# -- the agent --------------------------------------------------------------------------------


class Agent:
    """``logship`` as a user runs it: the real CLI in its own process."""

    def __init__(self, workdir: Path, args: list[str], *, env: dict[str, str] | None = None):
        self.workdir = workdir
        self.args = args
        self.env = {**os.environ, "NO_COLOR": "1", **(env or {})}
        self.stdout_path = workdir / f"agent-{id(self)}.out"
        self.stderr_path = workdir / f"agent-{id(self)}.err"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, ready: str | None = "following ") -> Agent:
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "logship", *self.args],
                stdout=out,
                stderr=err,
                env=self.env,
                cwd=ROOT,
            )
        if ready:
            wait_until(
                lambda: self._alive() and re.search(r"following \d+ containers", self.stderr),
                timeout=30,
                what=f"the agent to start (stderr so far: {self.stderr!r})",
            )
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


def docker_cli(host: str, *args: str, input: bytes | None = None, timeout: float = 120) -> str:
    """The docker CLI against the engine at ``host``; its standard output. A failure says what
    the CLI said, so a test failing on a private engine can be understood from its report."""
    done = subprocess.run(
        ["docker", "-H", host, *args], input=input, capture_output=True, timeout=timeout
    )
    if done.returncode != 0:
        raise AssertionError(
            f"docker {' '.join(args)} failed ({done.returncode}): "
            f"{done.stderr.decode(errors='replace').strip()}"
        )
    return done.stdout.decode()


def run_cli(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "logship", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


# -- a TCP front for the engine's unix socket ---------------------------------------------------


class EngineProxy:
    """``tcp://127.0.0.1:PORT`` in front of the engine's unix socket, whose connections a test
    can cut (as a daemon restart or a network blip would) or freeze (from then on they deliver
    nothing and stay open, as a follow stream does when Docker 20.10 misses a log rotation;
    connections opened later work)."""

    def __init__(self, socket_path: str = "/var/run/docker.sock") -> None:
        import threading

        self.socket_path = socket_path
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port: int = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.accepted = 0
        self.generation = 0  # connections of a generation <= frozen deliver nothing
        self.frozen = -1
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        import threading

        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.socket_path)
            with self._lock:
                self.accepted += 1
                self.connections += [client, upstream]
            generation = self.generation
            for a, b, freezes in ((client, upstream, False), (upstream, client, True)):
                threading.Thread(
                    target=self._pipe, args=(a, b, generation if freezes else None), daemon=True
                ).start()

    def freeze(self) -> None:
        """From now on, the connections open now deliver nothing from the engine."""
        self.frozen = self.generation
        self.generation += 1

    def _pipe(self, source: socket.socket, target: socket.socket, generation: int | None) -> None:
        try:
            while data := source.recv(65536):
                while generation is not None and generation <= self.frozen and not self._closed:
                    time.sleep(0.05)  # frozen: hold on to it, say nothing, keep it open
                target.sendall(data)
        except OSError:
            pass
        for s in (source, target):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def cut_all(self) -> None:
        """Break every open connection, as if the engine went away for a moment."""
        with self._lock:
            connections, self.connections = self.connections, []
        for s in connections:  # the pipe threads see the end and close them
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self._closed = True
        self.listener.close()
        self.cut_all()
