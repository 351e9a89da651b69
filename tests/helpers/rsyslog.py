"""A real rsyslogd for the integration tests, and what it received."""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import subprocess
from pathlib import Path
from typing import Any

from tests.helpers.ports import free_port
from tests.helpers.tls import TlsFiles
from tests.helpers.waiting import wait_until

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


def syslog_messages(rsyslog: Rsyslog, app: str | None = None) -> list[str]:
    """The MSG of every message rsyslogd received (of APP-NAME ``app`` only, when given)."""
    return [m["msg"] for m in rsyslog.messages() if app is None or m.get("app") == app]


def by_container(rsyslog: Rsyslog, name: str) -> list[dict[str, Any]]:
    """The messages whose APP-NAME is ``name`` (logship's default tag is the container name)."""
    return [m for m in rsyslog.messages() if m["app"] == name]


def assert_every_enrichment_field(out: dict[str, Any], err: dict[str, Any], c: Any) -> None:
    """What rsyslogd parsed from a stdout and a stderr line of container ``c``, run with
    labels app=web and com.example.team=pay]ments by an agent with --hostname
    node-1.example.com --host-ip 10.1.2.3."""
    assert (out["facility"], out["severity"]) == ("3", "6")  # daemon.info
    assert (err["facility"], err["severity"]) == ("3", "3")  # daemon.err
    for m in (out, err):
        assert m["version"] == "1"
        assert m["hostname"] == "node-1.example.com"
        assert m["app"] == c.name and m["msgid"] == c.name
        # Docker's timestamp, cut to microseconds, in UTC
        assert m["raw"].split(" ")[1].endswith("Z") and len(m["raw"].split(" ")[1]) == 27
    c.reload()
    sd = parse_structured_data(out["sd"])
    assert sd["logship@32473"] == {
        "container_id": c.id,
        "container_name": c.name,
        "image_name": "logship-test/busybox",
        "image_tag": "1.35",
        "image_id": c.image.id,
        "stream": "stdout",
        "host_ip": "10.1.2.3",
    }
    assert parse_structured_data(err["sd"])["logship@32473"]["stream"] == "stderr"
    assert sd["labels@32473"]["app"] == "web"
    assert sd["labels@32473"]["com.example.team"] == "pay]ments"
