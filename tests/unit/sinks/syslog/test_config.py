"""Syslog destinations over TCP and TLS: options from URIs and YAML blocks, the errors bad ones
get, and how the sink is put together from them (no sockets)."""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from logship.config.tls import TlsConfig
from logship.errors import ConfigError
from logship.settings import load_settings
from logship.sinks.syslog.config import SyslogConfig
from logship.sinks.syslog.sink import Datagrams, Stream, SyslogSink
from tests.helpers.records import make_record
from tests.helpers.tls import TlsFiles


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test sees only the variables it sets itself."""
    for name in list(os.environ):
        if name.upper().startswith("LOGSHIP_") or name.upper() == "DOCKER_HOST":
            monkeypatch.delenv(name)
    yield


def destination(value: str | dict[str, Any]) -> SyslogConfig:
    (dest,) = load_settings(destinations=[value]).destinations
    assert isinstance(dest, SyslogConfig)
    return dest


def config_error(value: str | dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(destinations=[value])
    return str(info.value)


# -- options ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "transport", "port"),
    [
        ("syslog://h", "udp", 514),
        ("syslog+udp://h", "udp", 514),
        ("syslog+tcp://h", "tcp", 514),
        ("syslog+tls://h", "tls", 6514),
        ("syslog+tls://h:1514", "tls", 1514),
        ("syslog+tcp://h:6514", "tcp", 6514),
    ],
)
def test_without_a_port_tcp_gets_514_and_tls_gets_6514(uri: str, transport: str, port: int) -> None:
    dest = destination(uri)
    assert (dest.transport, dest.port) == (transport, port)


def test_a_yaml_block_without_a_port_gets_the_transports_default_too() -> None:
    assert destination({"type": "syslog", "transport": "tls", "host": "h"}).port == 6514
    assert SyslogConfig(transport="tls", host="h").port == 6514


@pytest.mark.parametrize(
    ("given", "framing"),
    [
        ("syslog+tcp://h", "non-transparent"),  # as Fluent Bit, Vector and logspout expect
        ({"type": "syslog", "transport": "tcp", "host": "h"}, "non-transparent"),
        ("syslog+tls://h", "octet-counting"),  # the only framing RFC 5425 allows
        ({"type": "syslog", "transport": "tls", "host": "h"}, "octet-counting"),
        ("syslog+tcp://h?framing=octet-counting", "octet-counting"),
        ("syslog+tls://h?framing=non-transparent", "non-transparent"),
    ],
)
def test_tcp_defaults_to_newline_framing_and_tls_to_octet_counting(
    given: str | dict[str, str], framing: str
) -> None:
    assert destination(given).framing == framing


def test_tcp_and_tls_default_to_a_verified_server() -> None:
    for uri in ("syslog+tcp://h", "syslog+tls://h"):
        dest = destination(uri)
        assert dest.tls == TlsConfig(verify=True)
        assert dest.write_timeout_secs == 30.0


def test_a_tls_uri_becomes_the_same_model_as_the_yaml_block(test_ca: TlsFiles) -> None:
    uri = (
        f"syslog+tls://logs.example.com:7514?framing=non-transparent&tls.ca_file={test_ca.ca_file}"
        f"&tls.cert_file={test_ca.client_cert}&tls.key_file={test_ca.client_key}"
        "&tls.server_name=syslog.example.com&reconnect_max_secs=5&write_timeout_secs=2.5"
    )
    block = {
        "type": "syslog",
        "transport": "tls",
        "host": "logs.example.com",
        "port": 7514,
        "framing": "non-transparent",
        "tls": {
            "ca_file": str(test_ca.ca_file),
            "cert_file": str(test_ca.client_cert),
            "key_file": str(test_ca.client_key),
            "server_name": "syslog.example.com",
        },
        "reconnect_max_secs": 5,
        "write_timeout_secs": 2.5,
    }
    dest = destination(uri)
    assert dest == destination(block)
    assert dest.tls.ca_file == test_ca.ca_file
    assert dest.tls.server_name == "syslog.example.com"
    assert (dest.framing, dest.reconnect_max_secs, dest.write_timeout_secs) == (
        "non-transparent",
        5,
        2.5,
    )


@pytest.mark.parametrize("value", ["false", "0", "no", "off"])
def test_tls_verify_is_off_only_when_asked(value: str) -> None:
    assert destination(f"syslog+tls://h?tls.verify={value}").tls.verify is False


def test_a_message_larger_than_a_datagram_is_allowed_over_tcp_but_not_over_udp() -> None:
    assert destination("syslog+tcp://h?max_message_bytes=262144").max_message_bytes == 262144
    message = config_error("syslog+udp://h?max_message_bytes=65508")
    assert "destinations.0.max_message_bytes: 65508 bytes do not fit in a UDP datagram" in message
    assert "expected at most 65507 over udp" in message


@pytest.mark.parametrize(
    ("uri", "name"),
    [
        ("syslog+udp://h", "syslog+udp://h:514"),
        ("syslog+tcp://h", "syslog+tcp://h:514"),
        ("syslog+tls://h", "syslog+tls://h:6514"),
        ("syslog+tls://h?name=central", "central"),
    ],
)
def test_a_destination_is_called_by_its_uri_with_the_port_it_uses(uri: str, name: str) -> None:
    assert destination(uri).describe() == name


def test_every_syslog_option_is_documented() -> None:
    for name, field in SyslogConfig.model_fields.items():
        if name != "batch":  # shared by every destination, documented by its own model
            assert field.description, name
    for name, field in TlsConfig.model_fields.items():
        assert field.description, f"tls.{name}"


# -- bad options ------------------------------------------------------------------------------


def test_an_unknown_framing_is_named_quoted_and_the_known_ones_listed() -> None:
    message = config_error("syslog+tcp://h?framing=lf")
    assert (
        "destinations.0.framing: Input should be 'octet-counting' or 'non-transparent' (got 'lf')"
        in message
    )


@pytest.mark.parametrize(
    ("uri", "field"),
    [
        ("syslog+udp://h?framing=non-transparent", "framing"),
        ("syslog://h?framing=octet-counting", "framing"),
        ("syslog+udp://h?write_timeout_secs=5", "write_timeout_secs"),
    ],
)
def test_stream_options_over_udp_are_an_error_naming_them(uri: str, field: str) -> None:
    message = config_error(uri)
    assert f"destinations.0.{field}: {field} applies to transport tcp or tls, not 'udp'" in message


@pytest.mark.parametrize("uri", ["syslog+tcp://h?tls.verify=false", "syslog+udp://h?tls.verify=0"])
def test_tls_options_without_tls_are_an_error_naming_them(uri: str) -> None:
    message = config_error(uri)
    assert "destinations.0.tls: tls options apply to transport tls, not " in message
    assert "(got {'verify': " in message


def test_a_ca_file_that_cannot_be_read_is_named_and_quoted(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "ca.pem"
    message = config_error(f"syslog+tls://h?tls.ca_file={missing}")
    assert f"destinations.0.tls.ca_file: CA file '{missing}' does not exist or cannot be read" in (
        message
    )


def test_a_ca_file_without_a_certificate_in_it_is_a_config_error(tmp_path: Path) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("this is not a certificate\n")
    message = config_error(f"syslog+tls://h?tls.ca_file={not_pem}")
    assert "destinations.0.tls: cannot set up TLS from" in message
    assert str(not_pem) in message


def test_a_client_certificate_needs_its_key(test_ca: TlsFiles) -> None:
    message = config_error(f"syslog+tls://h?tls.cert_file={test_ca.client_cert}")
    assert "destinations.0.tls: cert_file and key_file go together" in message


def test_a_key_that_does_not_belong_to_the_certificate_is_a_config_error(
    test_ca: TlsFiles,
) -> None:
    message = config_error(
        f"syslog+tls://h?tls.cert_file={test_ca.client_cert}&tls.key_file={test_ca.server_key}"
    )
    assert "destinations.0.tls: cannot set up TLS from" in message


# -- the sink built from them -----------------------------------------------------------------


def test_udp_sends_datagrams_and_tcp_a_plain_stream() -> None:
    assert isinstance(SyslogSink(destination("syslog+udp://h")).channel, Datagrams)
    channel = SyslogSink(destination("syslog+tcp://h:1514?framing=non-transparent")).channel
    assert isinstance(channel, Stream)
    assert channel.transport.ssl_context is None
    assert channel.transport.address == "h:1514"
    assert channel.frame([b"a\nb"]) == b"a b\n"


@pytest.mark.parametrize(
    ("given", "number"),
    [("daemon", 3), ("kern", 0), ("authpriv", 10), ("local0", 16), ("LOCAL7", 23), ("9", 9)],
)
def test_a_facility_is_a_name_or_a_number_as_dockers_syslog_facility(
    given: str, number: int
) -> None:
    assert destination(f"syslog+udp://h?facility={given}").facility == number
    assert destination({"type": "syslog", "host": "h", "facility": given}).facility == number


def test_the_facility_is_daemon_unless_given() -> None:
    assert destination("syslog+udp://h").facility == 3


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        ("local8", "unknown syslog facility 'local8': expected a number from 0 to 23 or one of"),
        ("24", "Input should be less than or equal to 23"),
    ],
)
def test_an_unknown_facility_is_named_with_what_is_expected(given: str, complaint: str) -> None:
    message = config_error(f"syslog+udp://h?facility={given}")
    assert f"destinations.0.facility: {complaint}" in message


@pytest.mark.parametrize(
    ("uri", "ends_with_lf"),
    [
        ("syslog+udp://h?format=rfc5424micro", True),  # as Docker's datagrams
        ("syslog+tls://h?format=rfc5424micro", True),  # inside the octet count, as Docker's
        ("syslog+tcp://h?format=rfc5424micro", False),  # the framing's LF ends it already
        ("syslog+udp://h", False),
    ],
)
def test_rfc5424micro_ends_with_lf_as_dockers_unless_the_framing_adds_one(
    uri: str, ends_with_lf: bool
) -> None:
    sink = SyslogSink(destination(uri))
    (data,) = sink.encoder.encode([make_record()])
    assert data.endswith(b"\n") is ends_with_lf
    framed = sink.channel.frame([data]) if isinstance(sink.channel, Stream) else data
    assert not framed.endswith(b"\n\n")


def test_tls_checks_the_certificate_and_the_name_by_default(test_ca: TlsFiles) -> None:
    channel = SyslogSink(destination(f"syslog+tls://h?tls.ca_file={test_ca.ca_file}")).channel
    assert isinstance(channel, Stream)
    context = channel.transport.ssl_context
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert channel.transport.server_hostname is None  # the host itself is checked
    assert channel.frame([b"a\nb"]) == b"3 a\nb"


def test_tls_server_name_is_the_name_checked_and_verify_false_checks_nothing() -> None:
    channel = SyslogSink(
        destination("syslog+tls://10.0.0.5?tls.server_name=logs.example.com&tls.verify=false")
    ).channel
    assert isinstance(channel, Stream)
    assert channel.transport.server_hostname == "logs.example.com"
    context = channel.transport.ssl_context
    assert context is not None
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname


def test_structured_data_adds_one_element_after_ours_as_logspouts_option() -> None:
    sink = SyslogSink(destination('syslog+udp://h?structured_data=abc@41058 tag="web"'))
    (data,) = sink.encoder.encode([make_record()])
    assert b'"][abc@41058 tag="web"] hello' in data


@pytest.mark.parametrize(
    "value", ["two words", 'a@1 tag="x]"', 'a@1 tag="x"]', 'a@1 tag="x\ny"', "a@1 tag=x"]
)
def test_structured_data_that_is_not_one_element_is_refused_without_quoting_it(
    value: str,
) -> None:
    message = config_error({"type": "syslog", "host": "h", "structured_data": value})
    assert "destinations.0.structured_data: expected the inside of one structured data" in message
    assert value not in message
