"""`logship tail`'s options and status line, and the engine's TLS settings, without an engine."""

from __future__ import annotations

import asyncio
import io
import re
import threading
from pathlib import Path

import pytest

from logship.config.filters import DestinationFilter
from logship.errors import ConfigError
from logship.settings import load_settings
from logship.tail.options import compile_grep, parse_filters, parse_tail_lines
from logship.tail.status import StatusLine, TailStats


def test_filters_are_a_destinations_filter() -> None:
    selection = parse_filters(
        ["name=web-*", "labels=tier:web", "filter.labels=team:pay*,env:prod", "id=5f9a"]
    )
    assert selection == DestinationFilter(
        name="web-*", id="5f9a", labels=["tier:web", "team:pay*", "env:prod"]
    )


def test_stream_becomes_the_sources_filter_and_no_option_no_filter() -> None:
    assert parse_filters([], "stderr") == DestinationFilter(sources=["stderr"])
    assert parse_filters([]) is None
    assert parse_filters(["sources=stdout"], "stdout") == DestinationFilter(sources=["stdout"])


@pytest.mark.parametrize(
    ("items", "stream", "message"),
    [
        (["name"], None, "expected KEY=VALUE"),
        (["image=nginx"], None, "KEY one of name, id, sources, labels"),
        (["labels=tier"], None, "label filter 'tier' must be key:value"),
        (["sources=stdin"], None, "--filter: sources.0"),
        (["name=a", "name=b"], None, "given twice"),
        (["sources=stdout"], "stderr", "disagree"),
    ],
)
def test_bad_filters_say_what_is_wrong(items: list[str], stream: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_filters(items, stream)


def test_tail_lines_are_a_count_or_all() -> None:
    assert parse_tail_lines("20") == 20
    assert parse_tail_lines("0") == 0
    assert parse_tail_lines("all") is None
    assert parse_tail_lines(None) is None
    for bad in ("-1", "ten", "1.5"):
        with pytest.raises(ValueError, match="--tail"):
            parse_tail_lines(bad)


def test_grep_is_a_python_regular_expression() -> None:
    pattern = compile_grep(r"ERROR|WARN\b")
    assert pattern is not None and pattern.search("a WARN here")
    assert compile_grep(None) is None
    with pytest.raises(ValueError, match=r"--grep '\[a-' is not a valid regular expression"):
        compile_grep("[a-")


def test_status_line_measures_lines_per_second_over_its_updates() -> None:
    status = StatusLine(io.StringIO(), interval_secs=0.5)
    status.render(TailStats(2, 0, 0), now=10.0)
    text = status.render(TailStats(2, 300, 7), now=11.0)
    assert text == "following 2 containers, 300 lines/s, 7 dropped"
    assert status.render(TailStats(1, 300, 7), now=12.0).startswith("following 1 container, 150")


def test_status_line_is_erased_around_each_write_and_at_the_end() -> None:
    terminal = io.StringIO()
    status = StatusLine(terminal)
    status.update(TailStats(1, 10, 0))
    status.around(lambda: terminal.write("a line\n"))
    status.close()
    out = terminal.getvalue()
    drawn = "\x1b[7mfollowing 1 container, 0 lines/s, 0 dropped\x1b[0m"
    assert out == f"\r\x1b[K{drawn}\r\x1b[Ka line\n\r\x1b[K{drawn}\r\x1b[K"


async def test_status_line_reads_the_agents_counts_on_the_event_loop_not_in_a_thread() -> None:
    # the counts come from the agent's containers dict, which the event loop changes as
    # containers come and go: read from a worker thread, the status line's task could die of
    # "dictionary changed size during iteration" and the line freeze
    threads: list[threading.Thread] = []
    drawn = asyncio.Event()

    def stats() -> TailStats:
        threads.append(threading.current_thread())
        if len(threads) >= 3:
            drawn.set()
        return TailStats(1, len(threads), 0)

    status = StatusLine(io.StringIO(), interval_secs=0.001)
    task = asyncio.create_task(status.run(stats))
    await asyncio.wait_for(drawn.wait(), 30)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert set(threads) == {threading.current_thread()}
    assert "following 1 container" in status.text


# -- TLS to the engine, as DOCKER_TLS_VERIFY / DOCKER_CERT_PATH say -----------------------------


def test_tls_files_are_found_in_the_cert_path(tmp_path: Path) -> None:
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    settings = load_settings(
        None, docker_host="tcp://node:2376", docker_tls_verify=True, docker_cert_path=tmp_path
    )
    files = settings.docker_tls()
    assert files is not None
    assert (files.ca_file, files.cert_file, files.key_file) == (
        tmp_path / "ca.pem",
        tmp_path / "cert.pem",
        tmp_path / "key.pem",
    )


def test_tls_is_off_unless_asked_and_for_a_unix_socket(tmp_path: Path) -> None:
    assert load_settings(None, docker_host="tcp://node:2375").docker_tls() is None
    unix = load_settings(
        None,
        docker_host="unix:///run/docker.sock",
        docker_tls_verify=True,
        docker_cert_path=tmp_path,
    )
    assert unix.docker_tls() is None


def test_a_missing_cert_path_or_half_a_key_pair_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="docker_cert_path '/nonexistent' is not a directory"):
        load_settings(
            None, docker_host="tcp://n:1", docker_tls_verify=True, docker_cert_path="/nonexistent"
        )
    (tmp_path / "cert.pem").write_text("x")
    with pytest.raises(ConfigError, match=r"has cert\.pem but no key\.pem"):
        load_settings(
            None, docker_host="tcp://n:1", docker_tls_verify=True, docker_cert_path=tmp_path
        )


def test_docker_tls_verify_comes_from_the_docker_cli_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://node:2376")
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path))
    settings = load_settings(None)
    assert settings.docker_tls_verify and settings.docker_cert_path == tmp_path
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "")  # set but empty: off, as for the docker CLI
    assert load_settings(None).docker_tls() is None


@pytest.mark.parametrize("value", ["1", "0", "false", "no", "off", "yes", "anything"])
def test_any_non_empty_docker_tls_verify_turns_verification_on_as_for_the_docker_cli(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the docker CLI checks os.Getenv("DOCKER_TLS_VERIFY") != "": =0 and =false verify too
    monkeypatch.setenv("DOCKER_HOST", "tcp://node:2376")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path))
    monkeypatch.setenv("DOCKER_TLS_VERIFY", value)
    settings = load_settings(None)
    assert settings.docker_tls_verify is True
    assert settings.docker_tls() is not None


def test_logship_docker_tls_verify_is_a_plain_switch_that_beats_docker_tls_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://node:2376")
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("LOGSHIP_DOCKER_TLS_VERIFY", "false")
    assert load_settings(None).docker_tls() is None


def test_a_tls_engine_defaults_to_port_2376_as_for_the_docker_cli(tmp_path: Path) -> None:
    from logship.sources.docker.client import DockerClient, Endpoint

    assert Endpoint.parse("tcp://node", tls=True).port == 2376
    assert Endpoint.parse("tcp://node").port == 2375
    settings = load_settings(
        None, docker_host="tcp://node", docker_tls_verify=True, docker_cert_path=tmp_path
    )
    # no ca.pem there: the system's CAs
    client = DockerClient.connect_to(settings.docker_host, settings.docker_tls())
    assert client.ssl_context is not None
    assert str(client.endpoint) == "tcp://node:2376"
