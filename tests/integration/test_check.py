"""`logship check` as an operator runs it: against live receivers (a real rsyslogd over UDP,
TCP and TLS, the Elasticsearch stand-in, the forward receiver), dead and misconfigured ones,
an unreachable engine, and an invalid configuration."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.agent_process import run_cli
from tests.helpers.http import base_url
from tests.helpers.paths import ROOT
from tests.helpers.ports import free_port
from tests.helpers.receivers.elasticsearch import ElasticsearchStandIn
from tests.helpers.receivers.forward import ForwardReceiver
from tests.helpers.receivers.gelf import GelfReceiver
from tests.helpers.rsyslog import Rsyslog
from tests.helpers.tls import TlsFiles, server_context

SECRET = "s3cret-Pa55"


@pytest.fixture
def es_https(
    start_elasticsearch: Callable[..., ElasticsearchStandIn], test_ca: TlsFiles
) -> ElasticsearchStandIn:
    """The Elasticsearch stand-in over HTTPS (the test CA's certificate), asking for a password."""
    return start_elasticsearch(users={"writer": SECRET}, ssl_context=server_context(test_ca))


def check_lines(stdout: str) -> dict[str, str]:
    """``{"destination 1 syslog+tcp://...": "OK   ..."}`` from the checks section."""
    lines = stdout.split("\nchecks:\n", 1)[1].splitlines()
    out = {}
    for line in lines:
        match = re.match(r"  (OK  |FAIL) ((?:engine|http|destination \d+) .+?): ", line)
        if match:
            out[match.group(2)] = line.strip()
    return out


def closed_port() -> int:
    return free_port(socket.SOCK_STREAM)  # bound a moment ago, listened on by nobody


def test_every_live_destination_passes_and_nothing_is_delivered(
    start_forward: Callable[..., ForwardReceiver],
    rsyslog_tls: Rsyslog,
    es_https: ElasticsearchStandIn,
    test_ca: TlsFiles,
    tmp_path: Path,
) -> None:
    key_file = tmp_path / "shared.key"
    key_file.write_text("forward-key\n")
    forward = start_forward(shared_key=b"forward-key")
    uris = [
        f"syslog+udp://127.0.0.1:{rsyslog_tls.udp_port}",
        f"syslog+tcp://127.0.0.1:{rsyslog_tls.tcp_port}",
        f"syslog+tls://127.0.0.1:{rsyslog_tls.tls_port}?tls.ca_file={test_ca.ca_file}",
        f"elasticsearch+https://writer:{SECRET}@localhost:{es_https.port}"
        f"?tls.ca_file={test_ca.ca_file}",
        f"forward://127.0.0.1:{forward.port}?shared_key_file={key_file}",
    ]
    result = run_cli(["check", *uris])
    assert result.returncode == 0, result.stdout + result.stderr
    lines = check_lines(result.stdout)
    assert len(lines) == 1 + len(uris)
    assert all(line.startswith("OK") for line in lines.values()), lines
    assert (
        "UDP cannot confirm"
        in lines[f"destination 0 syslog+udp://127.0.0.1:{rsyslog_tls.udp_port}"]
    )
    assert (
        "server certificate verified"
        in lines[f"destination 2 syslog+tls://127.0.0.1:{rsyslog_tls.tls_port}"]
    )
    # which framing each stream uses, since a receiver expecting the other records nothing
    tcp_line = lines[f"destination 1 syslog+tcp://127.0.0.1:{rsyslog_tls.tcp_port}"]
    tls_line = lines[f"destination 2 syslog+tls://127.0.0.1:{rsyslog_tls.tls_port}"]
    assert tcp_line.endswith("non-transparent framing (each message ends with LF)"), tcp_line
    assert tls_line.endswith("octet-counting framing (each message preceded by its length)")
    assert "framing" not in lines[f"destination 0 syslog+udp://127.0.0.1:{rsyslog_tls.udp_port}"]
    assert (
        "Elasticsearch 8.13.4"
        in lines[f"destination 3 elasticsearch+https://localhost:{es_https.port}"]
    )
    assert "shared-key handshake done" in lines[f"destination 4 forward://127.0.0.1:{forward.port}"]
    assert forward.handshakes == 1 and forward.requests == []
    # the settings are shown, the password masked
    assert "effective settings (secrets masked):" in result.stdout
    assert "user: writer" in result.stdout and "password: '**********'" in result.stdout
    assert SECRET not in result.stdout + result.stderr
    # and nothing reached the receivers: no syslog message, no document
    assert rsyslog_tls.messages() == []
    assert es_https.documents() == []


def test_check_says_whether_the_index_template_is_there(es: ElasticsearchStandIn) -> None:
    uri = f"elasticsearch+http://127.0.0.1:{es.port}?install_template=true"
    name = f"destination 0 elasticsearch+http://127.0.0.1:{es.port}"
    before = run_cli(["check", uri])
    assert before.returncode == 0, before.stdout + before.stderr
    said = check_lines(before.stdout)[name]
    assert said.endswith("index template 'logship' not there yet (installed at start)"), said
    es.put_template("logship", {"index_patterns": ["logs-docker.container_logs-default"]})
    after = check_lines(run_cli(["check", uri]).stdout)[name]
    assert after.endswith(
        "index template 'logship' there, for "
        "['logs-docker.container_logs-default'] (replaced at start)"
    ), after
    assert es.documents() == [] and es.template("logship") == {
        "index_patterns": ["logs-docker.container_logs-default"]
    }  # check installs nothing


def test_a_dead_destination_fails_with_connection_refused_and_exit_1() -> None:
    port = closed_port()
    result = run_cli(["check", f"syslog+tcp://127.0.0.1:{port}", "console://"])
    assert result.returncode == 1
    lines = check_lines(result.stdout)
    assert lines[f"destination 0 syslog+tcp://127.0.0.1:{port}"].endswith(": connection refused")
    assert lines["destination 1 console (text)"].startswith("OK")
    assert lines["engine unix:///var/run/docker.sock"].startswith("OK")
    assert "2 passed, 1 failed" in result.stdout


def test_tls_with_a_ca_that_did_not_sign_the_server_says_why(
    rsyslog_tls: Rsyslog, test_ca: TlsFiles
) -> None:
    uri = f"syslog+tls://127.0.0.1:{rsyslog_tls.tls_port}?tls.ca_file={test_ca.other_ca_file}"
    result = run_cli(["check", uri])
    assert result.returncode == 1
    line = check_lines(result.stdout)[
        f"destination 0 syslog+tls://127.0.0.1:{rsyslog_tls.tls_port}"
    ]
    assert line.startswith("FAIL")
    assert "certificate verify failed: " in line


def test_wrong_credentials_show_the_http_status(
    es_https: ElasticsearchStandIn, test_ca: TlsFiles
) -> None:
    uri = f"elasticsearch+https://writer:wrong@localhost:{es_https.port}?tls.ca_file={test_ca.ca_file}"
    result = run_cli(["check", uri])
    assert result.returncode == 1
    line = check_lines(result.stdout)[
        f"destination 0 elasticsearch+https://localhost:{es_https.port}"
    ]
    assert line.startswith("FAIL") and "HTTP 401" in line, line
    assert "wrong" not in result.stdout.replace("'**********'", "")


def test_a_forward_server_with_another_key_fails_the_handshake(
    start_forward: Callable[..., ForwardReceiver], tmp_path: Path
) -> None:
    key_file = tmp_path / "shared.key"
    key_file.write_text("not-the-key\n")
    forward = start_forward(shared_key=b"the-key")
    result = run_cli(["check", f"forward://127.0.0.1:{forward.port}?shared_key_file={key_file}"])
    assert result.returncode == 1
    line = check_lines(result.stdout)[f"destination 0 forward://127.0.0.1:{forward.port}"]
    assert line.startswith("FAIL") and "shared_key mismatch" in line, line


def test_an_unreachable_engine_fails_the_engine_check() -> None:
    result = run_cli(["check", "console://"], env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert result.returncode == 1
    line = check_lines(result.stdout)["engine unix:///nonexistent.sock"]
    assert line.startswith("FAIL") and "no such file or directory" in line, line


def test_an_invalid_config_exits_2_naming_the_field_and_checks_nothing(tmp_path: Path) -> None:
    config = tmp_path / "logship.yaml"
    config.write_text("destinations:\n  - syslog+tcp://127.0.0.1:514\nbuffer:\n  max_records: -5\n")
    result = run_cli(["check", "--config", str(config)])
    assert result.returncode == 2
    assert "buffer.max_records" in result.stderr and "-5" in result.stderr
    assert "checks:" not in result.stdout


def test_the_config_file_is_read_as_run_reads_it(tmp_path: Path) -> None:
    port = closed_port()
    config = tmp_path / "logship.yaml"
    config.write_text(f"destinations:\n  - syslog+tcp://127.0.0.1:{port}\n")
    result = run_cli(["check", "--config", str(config)], env={"LOGSHIP_BUFFER__MAX_RECORDS": "123"})
    assert result.returncode == 1
    assert "max_records: 123" in result.stdout
    assert f"destination 0 syslog+tcp://127.0.0.1:{port}: connection refused" in result.stdout


def test_an_http_address_in_use_fails_its_check() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(["check", "--http", str(port), "console://"])
    assert result.returncode == 1
    line = check_lines(result.stdout)[f"http 127.0.0.1:{port}"]
    assert line == f"FAIL http 127.0.0.1:{port}: address already in use"


def test_an_http_address_held_by_the_logship_running_there_passes(start_agent: Any) -> None:
    # `docker exec <agent> logship check`: the image's LOGSHIP_HTTP is the agent's own address
    port = base_url(start_agent("run", "--http", "0")).rsplit(":", 1)[1]
    result = run_cli(["check", "--http", port, "console://"])
    assert result.returncode == 0, result.stdout + result.stderr
    line = check_lines(result.stdout)[f"http 127.0.0.1:{port}"]
    assert line == (
        f"OK   http 127.0.0.1:{port}: in use by the logship running there (its /healthz "
        "answers); /logs and /containers answer this machine only (loopback, no token)"
    )


def test_check_shows_who_may_read_the_logs_and_never_the_token(tmp_path: Path) -> None:
    token = "check-token-" + "9" * 20
    (tmp_path / "token").write_text(token + "\n")
    port = free_port(socket.SOCK_STREAM)
    result = run_cli(
        ["check", "--http", str(port), "--http-token-file", str(tmp_path / "token"), "console://"],
        env={"LOGSHIP_HONOR_IGNORE": "false"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    line = check_lines(result.stdout)[f"http 127.0.0.1:{port}"]
    assert line == (
        f"OK   http 127.0.0.1:{port}: the address can be bound; /logs and /containers need "
        "the token of http.token_file"
    )
    assert "honor_ignore: false" in result.stdout
    assert f"token_file: {tmp_path / 'token'}" in result.stdout
    assert token not in result.stdout + result.stderr


def test_gelf_over_tcp_and_http_pass_and_receive_no_message(
    start_gelf: Callable[..., GelfReceiver],
) -> None:
    gelf = start_gelf()
    tcp = f"gelf+tcp://127.0.0.1:{gelf.tcp_port}"
    http = f"gelf+http://127.0.0.1:{gelf.http_port}"
    result = run_cli(["check", tcp, http])
    assert result.returncode == 0, result.stdout + result.stderr
    lines = check_lines(result.stdout)
    assert lines[f"destination 0 {tcp}"].endswith(f"connected to 127.0.0.1:{gelf.tcp_port}")
    assert "HTTP server reached (HEAD /gelf answered" in lines[f"destination 1 {http}/gelf"]
    assert gelf.messages() == []


def test_a_tls_destination_on_a_plain_port_says_it_does_not_speak_tls() -> None:
    with socket.socket() as plain:
        plain.bind(("127.0.0.1", 0))
        plain.listen()
        port = plain.getsockname()[1]

        def answer_in_plain_text() -> None:
            with contextlib.suppress(OSError):
                while True:
                    conn, _ = plain.accept()
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                    conn.close()

        threading.Thread(target=answer_in_plain_text, daemon=True).start()
        result = run_cli(["check", f"syslog+tls://127.0.0.1:{port}"])
    assert result.returncode == 1
    line = check_lines(result.stdout)[f"destination 0 syslog+tls://127.0.0.1:{port}"]
    assert line.endswith(
        "TLS handshake failed: WRONG_VERSION_NUMBER (the server does not speak TLS there)"
    )


def test_a_key_for_a_forward_server_without_security_names_the_handshake(
    start_forward: Callable[..., ForwardReceiver], tmp_path: Path
) -> None:
    key_file = tmp_path / "shared.key"
    key_file.write_text("a-key\n")
    forward = start_forward()  # no <security>: it never says HELO
    uri = f"forward://127.0.0.1:{forward.port}?shared_key_file={key_file}"
    result = run_cli(["check", "--timeout-secs", "1", uri])
    assert result.returncode == 1
    line = check_lines(result.stdout)[f"destination 0 forward://127.0.0.1:{forward.port}"]
    assert "did not complete the shared-key handshake within 1.0s" in line, line


def test_a_reader_that_goes_away_ends_check_quietly() -> None:
    # `logship check | head -n 3`: head has its lines and closes the pipe
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "logship", "check", "console://"],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
    finally:
        os.close(write)
    assert result.stderr == ""
    assert result.returncode == 1
