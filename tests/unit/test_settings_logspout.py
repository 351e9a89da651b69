"""logspout's variables read as logspout reads them: ROUTE_URIS beside our destinations, and
its syslog adapter's SYSLOG_* where our settings say nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from logship.errors import ConfigError
from logship.settings import load_settings
from logship.sinks.syslog.config import SyslogConfig

LOGSPOUT = (
    "ROUTE_URIS",
    "SYSLOG_TAG",
    "SYSLOG_FORMAT",
    "SYSLOG_HOSTNAME",
    "SYSLOG_STRUCTURED_DATA",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.upper().startswith("LOGSHIP_") or name in LOGSPOUT:
            monkeypatch.delenv(name)
    yield


def syslogs(**overrides: object) -> list[SyslogConfig]:
    out = [d for d in load_settings(**overrides).destinations if isinstance(d, SyslogConfig)]
    return out


def test_route_uris_are_split_at_commas_as_logspout_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "ROUTE_URIS", "syslog+tls://logs.example.com:6514,syslog://10.0.0.1:514?filter.name=*_db"
    )
    got = load_settings().destinations
    assert [d.describe() for d in got] == [
        "syslog+tls://logs.example.com:6514",
        "syslog+udp://10.0.0.1:514",
    ]
    assert got[1].filter.name == "*_db"


def test_route_uris_come_beside_the_destinations_given_our_way(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ROUTE_URIS", "syslog+tcp://a:514")
    monkeypatch.setenv("LOGSHIP_DESTINATIONS", "console://?format=json")
    assert [d.describe() for d in load_settings().destinations] == [
        "console (json)",
        "syslog+tcp://a:514",
    ]
    config = tmp_path / "logship.yaml"
    config.write_text("destinations:\n  - syslog+udp://b:514\n")
    monkeypatch.delenv("LOGSHIP_DESTINATIONS")
    got = load_settings(config, destinations=["gelf://c:12201"]).destinations
    assert [d.describe() for d in got] == ["gelf+udp://c:12201", "syslog+tcp://a:514"]


def test_a_bad_route_uri_is_named_as_any_bad_destination_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ROUTE_URIS", "syslog+tcp://a:514,nope://b")
    with pytest.raises(ConfigError, match="unknown destination scheme 'nope'"):
        load_settings()


def test_syslog_variables_fill_what_each_syslog_destination_leaves_unsaid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SYSLOG_TAG", "{{.ContainerName}}/{{.Container.Config.Image}}")
    monkeypatch.setenv("SYSLOG_FORMAT", "rfc3164")
    monkeypatch.setenv("SYSLOG_STRUCTURED_DATA", 'abc123@41058 tag="logspout"')
    monkeypatch.setenv("ROUTE_URIS", "syslog://r:514")
    plain, ours, routed = syslogs(
        destinations=[
            "syslog+udp://a:514",
            {"type": "syslog", "host": "b", "tag": "{{.ID}}", "format": "rfc5424"},
            "console://",
        ]
    )
    assert (plain.tag, plain.format, plain.structured_data) == (
        "{{.Name}}/{{.ImageName}}",
        "rfc3164",
        'abc123@41058 tag="logspout"',
    )
    assert (ours.tag, ours.format) == ("{{.ID}}", "rfc5424")  # ours win where both are given
    assert ours.structured_data == 'abc123@41058 tag="logspout"'
    assert (routed.tag, routed.format) == ("{{.Name}}/{{.ImageName}}", "rfc3164")


def test_a_uri_option_wins_over_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYSLOG_FORMAT", "rfc3164")
    (dest,) = syslogs(destinations=["syslog+udp://a:514?format=rfc5424micro"])
    assert dest.format == "rfc5424micro"


def test_syslog_hostname_is_the_host_name_unless_ours_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SYSLOG_HOSTNAME", "edge-7")
    assert load_settings().hostname == "edge-7"
    assert load_settings(hostname="node-1").hostname == "node-1"
    monkeypatch.setenv("LOGSHIP_HOSTNAME", "node-2")
    assert load_settings().hostname == "node-2"
    monkeypatch.delenv("LOGSHIP_HOSTNAME")
    monkeypatch.setenv("SYSLOG_HOSTNAME", "{{.Hostname}}")  # logspout's host name: our default
    assert load_settings().hostname is None


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("SYSLOG_FORMAT", "rfc9999", "SYSLOG_FORMAT='rfc9999': expected rfc5424 or rfc3164"),
        ("SYSLOG_TAG", "{{.Container.State.Pid}}", "cannot fill {{.Container.State.Pid}}"),
        (
            "SYSLOG_HOSTNAME",
            "{{.Container.Config.Hostname}}",
            "it takes a fixed name or {{.Hostname}} here",
        ),
        ("SYSLOG_STRUCTURED_DATA", "tok en", "SYSLOG_STRUCTURED_DATA: expected the inside of"),
    ],
)
def test_a_variable_logship_cannot_honour_is_named_with_what_it_takes(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, complaint: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings(destinations=["syslog://h"])
    assert complaint in str(info.value)


def test_a_structured_data_variable_is_never_quoted_in_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SYSLOG_STRUCTURED_DATA", "s3cr3t-token@41058 broken")
    with pytest.raises(ConfigError) as info:
        load_settings(destinations=["syslog://h"])
    assert "s3cr3t" not in str(info.value)


def test_without_logspout_variables_nothing_changes() -> None:
    assert [d.describe() for d in load_settings().destinations] == []
    (dest,) = syslogs(destinations=["syslog+udp://a:514"])
    assert (dest.tag, dest.format, dest.structured_data) == ("{{.Name}}", "rfc5424", "")
