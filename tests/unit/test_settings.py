"""Settings from URIs, the environment and YAML files, and the errors bad input gets."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from logship.errors import ConfigError
from logship.settings import (
    Settings,
    load_settings,
    parse_destination_uri,
    wants_colour,
)
from logship.sinks.console.config import ConsoleConfig
from logship.sinks.syslog.config import SyslogConfig


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test sees only the variables it sets itself."""
    for name in list(os.environ):
        if name.upper().startswith("LOGSHIP_") or name.upper() in ("DOCKER_HOST", "NO_COLOR"):
            monkeypatch.delenv(name)
    yield


@pytest.fixture
def config_file(tmp_path: Path) -> Iterator[Any]:
    def write(text: str) -> Path:
        path = tmp_path / "logship.yaml"
        path.write_text(text)
        return path

    yield write


def config_error(**overrides: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(**overrides)
    return str(info.value)


# -- destination URIs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "options"),
    [
        ("console://", {"type": "console"}),
        ("console://?format=json", {"type": "console", "format": "json"}),
        ("syslog://10.0.0.5", {"type": "syslog", "transport": "udp", "host": "10.0.0.5"}),
        (
            "syslog+udp://logs.example.com:1514?format=rfc3164&tag={{.ImageName}}/{{.Name}}",
            {
                "type": "syslog",
                "transport": "udp",
                "host": "logs.example.com",
                "port": 1514,
                "format": "rfc3164",
                "tag": "{{.ImageName}}/{{.Name}}",
            },
        ),
        (
            "syslog://h?tag=%7B%7B.Name%7D%7D&labels=app,team",
            {
                "type": "syslog",
                "transport": "udp",
                "host": "h",
                "tag": "{{.Name}}",
                "labels": "app,team",
            },
        ),
        ("SYSLOG://[::1]:514", {"type": "syslog", "transport": "udp", "host": "::1", "port": 514}),
        ("syslog://h?name=", {"type": "syslog", "transport": "udp", "host": "h", "name": ""}),
        (
            "  syslog://h?tls.verify=false&tls.ca.file=/ca.pem  ",
            {
                "type": "syslog",
                "transport": "udp",
                "host": "h",
                "tls": {"verify": "false", "ca": {"file": "/ca.pem"}},
            },
        ),
    ],
)
def test_a_destination_uri_becomes_the_options_a_yaml_block_would_give(
    uri: str, options: dict[str, Any]
) -> None:
    assert parse_destination_uri(uri) == options


def test_an_unknown_scheme_names_it_and_lists_the_known_ones() -> None:
    with pytest.raises(ValueError) as info:
        parse_destination_uri("kafka://h:9092")
    message = str(info.value)
    assert message.startswith("unknown destination scheme 'kafka' in 'kafka://h:9092'; ")
    assert "expected one of console://, syslog://, syslog+udp://" in message
    assert "gelf+udp://" in message and "forward+tls://" in message


@pytest.mark.parametrize("uri", ["syslog://h:99999", "syslog://h:-1"])
def test_a_port_that_is_not_a_port_is_an_error_quoting_the_uri(uri: str) -> None:
    with pytest.raises(ValueError, match="invalid port in destination") as info:
        parse_destination_uri(uri)
    assert repr(uri) in str(info.value)


def test_a_port_of_letters_is_an_error_not_quoting_what_may_be_a_password() -> None:
    # syslog://user:pa/ss@h reads as host "user", port "pa": what follows the colon is not shown
    with pytest.raises(ValueError, match="invalid port in destination") as info:
        parse_destination_uri("syslog://h:port")
    assert "port'" not in str(info.value) and "'syslog://…'" in str(info.value)


def test_uris_become_the_same_models_as_yaml_blocks() -> None:
    settings = load_settings(
        destinations=[
            "console://?format=json",
            "syslog+udp://127.0.0.1:1514?format=rfc3164&tag={{.ID}}&labels=app,team",
            {"type": "syslog", "host": "10.0.0.5", "labels": "none", "name": "central"},
        ]
    )
    assert settings.destinations == [
        ConsoleConfig(format="json"),
        SyslogConfig(
            host="127.0.0.1", port=1514, format="rfc3164", tag="{{.ID}}", labels=["app", "team"]
        ),
        SyslogConfig(host="10.0.0.5", labels="none", name="central"),
    ]


def test_a_syslog_destination_defaults_to_rfc5424_over_udp_on_port_514() -> None:
    (dest,) = load_settings(destinations=["syslog://h"]).destinations
    assert isinstance(dest, SyslogConfig)
    assert (dest.transport, dest.port, dest.format, dest.tag, dest.labels) == (
        "udp",
        514,
        "rfc5424",
        "{{.Name}}",
        "all",
    )
    assert (dest.structured_data_id, dest.max_message_bytes) == ("logship@32473", 8192)


def test_no_destinations_given_means_an_empty_list() -> None:
    assert load_settings().destinations == []


@pytest.mark.parametrize("sd_id", ["logship@32473", "example@1.2.3", "a" * 26 + "@32473"])
def test_a_private_structured_data_id_name_at_enterprise_number_is_accepted(sd_id: str) -> None:
    (dest,) = load_settings(destinations=[f"syslog://h?structured_data_id={sd_id}"]).destinations
    assert isinstance(dest, SyslogConfig)
    assert dest.structured_data_id == sd_id


@pytest.mark.parametrize(
    "sd_id",
    ["a=b@1", "a]b@1", 'a"b@1', "a b@1", "", "é@1", "a" * 27 + "@32473", "origin", "x@pen"],
)
def test_a_structured_data_id_rfc5424_forbids_is_rejected(sd_id: str) -> None:
    message = config_error(
        destinations=[{"type": "syslog", "host": "h", "structured_data_id": sd_id}]
    )
    assert "destinations.0.structured_data_id" in message
    assert f"(got {sd_id!r})" in message


# -- the environment --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "console://?format=json syslog://h:1514",
        "console://?format=json,syslog://h:1514",
        " console://?format=json ,  syslog://h:1514\n",
    ],
)
def test_logship_destinations_takes_uris_separated_by_spaces_or_commas(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("LOGSHIP_DESTINATIONS", value)
    assert load_settings().destinations == [
        ConsoleConfig(format="json"),
        SyslogConfig(host="h", port=1514),
    ]


def test_commas_inside_a_uris_options_do_not_split_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGSHIP_DESTINATIONS", "syslog://h?labels=app,team,console://")
    assert load_settings().destinations == [
        SyslogConfig(host="h", labels=["app", "team"]),
        ConsoleConfig(),
    ]


def test_nested_settings_come_from_double_underscore_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOGSHIP_INCLUDE__NAMES", "web-*, api-*")
    monkeypatch.setenv("LOGSHIP_INCLUDE__LABELS", "team=payments")
    monkeypatch.setenv("LOGSHIP_EXCLUDE__IMAGES", "busybox,logship/*")
    monkeypatch.setenv("LOGSHIP_BUFFER__MAX_RECORDS", "10")
    monkeypatch.setenv("LOGSHIP_BACKLOG", "true")
    settings = load_settings()
    assert settings.include.names == ["web-*", "api-*"]
    assert settings.include.labels == ["team=payments"]
    assert settings.include.images == []
    assert settings.exclude.images == ["busybox", "logship/*"]
    assert settings.buffer.max_records == 10
    assert settings.backlog is True


def test_docker_host_is_honoured_as_by_the_docker_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().docker_host == "unix:///var/run/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.2:2375")
    assert load_settings().docker_host == "tcp://10.0.0.2:2375"


def test_logship_docker_host_beats_docker_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://for-the-cli:2375")
    monkeypatch.setenv("LOGSHIP_DOCKER_HOST", "unix:///run/other.sock")
    assert load_settings().docker_host == "unix:///run/other.sock"


def test_an_override_beats_both_docker_host_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://a:2375")
    monkeypatch.setenv("LOGSHIP_DOCKER_HOST", "tcp://b:2375")
    assert load_settings(docker_host="tcp://c:2375").docker_host == "tcp://c:2375"


def test_overrides_given_as_none_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGSHIP_LOG_LEVEL", "debug")
    assert load_settings(log_level=None).log_level == "debug"


def test_a_bad_environment_value_names_the_setting_and_quotes_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOGSHIP_BUFFER__MAX_RECORDS", "0")
    monkeypatch.setenv("LOGSHIP_LOG_LEVEL", "loud")
    message = config_error()
    assert "buffer.max_records: Input should be greater than or equal to 1 (got '0')" in message
    assert "log_level:" in message
    assert "(got 'loud')" in message


# -- YAML files -------------------------------------------------------------------------------

FULL_YAML = """\
docker_host: tcp://10.0.0.2:2375
hostname: vm
host_ip: 10.0.0.1
destinations:
  - syslog+udp://127.0.0.1:1514?format=rfc3164
  - type: syslog
    host: 10.0.0.5
    tag: "{{.ImageName}}/{{.Name}}/{{.ID}}"
    labels: [app, com.example.team]
  - type: console
    format: json
include:
  names: [web-*]
  images: nginx*, redis
exclude:
  labels: [logship.ignore=true]
backlog: true
max_line_bytes: 65536
buffer:
  max_records: 1000
  max_bytes: 1048576
shutdown_grace_secs: 2.5
log_level: debug
"""


def test_a_yaml_file_sets_every_setting(config_file: Any) -> None:
    settings = load_settings(config_file(FULL_YAML))
    assert settings.docker_host == "tcp://10.0.0.2:2375"
    assert (settings.hostname, settings.host_ip) == ("vm", "10.0.0.1")
    assert settings.destinations == [
        SyslogConfig(host="127.0.0.1", port=1514, format="rfc3164"),
        SyslogConfig(
            host="10.0.0.5",
            tag="{{.ImageName}}/{{.Name}}/{{.ID}}",
            labels=["app", "com.example.team"],
        ),
        ConsoleConfig(format="json"),
    ]
    assert settings.include.names == ["web-*"]
    assert settings.include.images == ["nginx*", "redis"]
    assert settings.exclude.labels == ["logship.ignore=true"]
    assert settings.backlog is True
    assert settings.max_line_bytes == 65536
    assert (settings.buffer.max_records, settings.buffer.max_bytes) == (1000, 1048576)
    assert settings.shutdown_grace_secs == 2.5
    assert settings.log_level == "debug"


def test_an_empty_yaml_file_means_the_defaults(config_file: Any) -> None:
    assert load_settings(config_file("# nothing here\n")) == Settings()


def test_logship_config_names_the_file_when_none_is_given(
    monkeypatch: pytest.MonkeyPatch, config_file: Any
) -> None:
    monkeypatch.setenv("LOGSHIP_CONFIG", str(config_file("log_level: error\n")))
    assert load_settings().log_level == "error"


def test_overrides_beat_the_environment_which_beats_the_yaml_file(
    monkeypatch: pytest.MonkeyPatch, config_file: Any
) -> None:
    path = config_file("log_level: debug\n")
    assert load_settings(path).log_level == "debug"
    monkeypatch.setenv("LOGSHIP_LOG_LEVEL", "warning")
    assert load_settings(path).log_level == "warning"
    assert load_settings(path, log_level="error").log_level == "error"


def test_nested_settings_merge_across_sources_key_by_key(
    monkeypatch: pytest.MonkeyPatch, config_file: Any
) -> None:
    path = config_file("buffer:\n  max_records: 5\n  max_bytes: 4096\n")
    monkeypatch.setenv("LOGSHIP_BUFFER__MAX_RECORDS", "7")
    buffer = load_settings(path).buffer
    assert (buffer.max_records, buffer.max_bytes) == (7, 4096)


def test_destinations_from_the_environment_replace_those_of_the_yaml_file(
    monkeypatch: pytest.MonkeyPatch, config_file: Any
) -> None:
    path = config_file("destinations: [syslog://yaml-host]\n")
    monkeypatch.setenv("LOGSHIP_DESTINATIONS", "console://")
    assert load_settings(path).destinations == [ConsoleConfig()]
    overridden = load_settings(path, destinations=["syslog://cli-host"])
    assert overridden.destinations == [SyslogConfig(host="cli-host")]


def test_the_environment_docker_host_beats_the_yaml_file(
    monkeypatch: pytest.MonkeyPatch, config_file: Any
) -> None:
    path = config_file("docker_host: tcp://yaml:2375\n")
    assert load_settings(path).docker_host == "tcp://yaml:2375"
    monkeypatch.setenv("DOCKER_HOST", "tcp://env:2375")
    assert load_settings(path).docker_host == "tcp://env:2375"


# -- every bad input is a ConfigError naming the field and quoting the value ------------------


@pytest.mark.parametrize(
    ("destination", "expected"),
    [
        (
            "syslog://h:99999",
            "destinations: invalid port in destination 'syslog://h:99999'",
        ),
        ("syslog://h:0", "destinations.0.port: Input should be greater than or equal to 1 (got 0)"),
        (
            "http://h",
            "destinations: unknown destination scheme 'http' in 'http://h'; "
            "expected one of console://, syslog://, syslog+udp://",
        ),
        (
            "syslog://h?bogus=1",
            "destinations.0.bogus: Extra inputs are not permitted (got '1')",
        ),
        (
            "console://?host=h",
            "destinations.0.host: Extra inputs are not permitted (got 'h')",
        ),
        (
            "syslog://h?tag={{.Nope}}",
            "destinations.0.tag: unknown placeholder '{{.Nope}}' in tag template '{{.Nope}}'",
        ),
        (
            "syslog://h?tag={{if .Name}}x{{end}}",
            "destinations.0.tag: tag template '{{if .Name}}x{{end}}' uses template syntax",
        ),
        ("syslog://h?format=rfc9999", "destinations.0.format:"),
        ("syslog://h?max_message_bytes=100", "destinations.0.max_message_bytes:"),
        ("syslog://", "destinations.0.host: Field required"),
    ],
)
def test_a_bad_destination_is_a_config_error_naming_the_field(
    destination: str, expected: str
) -> None:
    message = config_error(destinations=[destination])
    assert message.startswith("invalid configuration:\n")
    assert expected in message


@pytest.mark.parametrize(
    ("destination", "value"),
    [
        ("syslog://h?format=rfc9999", "'rfc9999'"),
        ("syslog://h?max_message_bytes=100", "'100'"),
        ("syslog://h:99999", "'syslog://h:99999'"),
        ("http://h", "'http://h'"),
    ],
)
def test_a_bad_destination_error_quotes_the_value_given(destination: str, value: str) -> None:
    assert value in config_error(destinations=[destination])


def test_every_bad_destination_is_reported_not_only_the_first() -> None:
    message = config_error(destinations=["syslog://h?format=x", "console://?format=y"])
    assert "destinations.0.format" in message
    assert "destinations.1.format" in message


def test_a_yaml_error_says_which_file_the_settings_came_from(config_file: Any) -> None:
    path = config_file("buffer:\n  max_records: 0\nbogus: 1\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert f"config file {str(path)!r}" in message
    assert "buffer.max_records: Input should be greater than or equal to 1 (got 0)" in message
    assert "bogus: Extra inputs are not permitted (got 1)" in message


@pytest.mark.parametrize(
    ("text", "kind"), [("- a\n- b\n", "list"), ("just text\n", "str"), ("42\n", "int")]
)
def test_a_yaml_file_that_is_not_a_mapping_is_a_config_error(
    config_file: Any, text: str, kind: str
) -> None:
    path = config_file(text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(info.value) == (
        f"config file {str(path)!r} must hold a mapping of settings, not {kind}"
    )


def test_a_host_ip_that_is_no_ip_address_is_a_config_error_naming_it() -> None:
    assert (
        "host_ip: not an IP address: expected one such as 10.0.0.12 or fd00::12 (got 'node-7')"
        in (config_error(host_ip="node-7"))
    )
    assert load_settings(host_ip=" fd00::12 ").host_ip == "fd00::12"


def test_invalid_yaml_is_a_config_error_naming_the_file(config_file: Any) -> None:
    path = config_file("buffer: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(info.value).startswith(f"config file {str(path)!r} is not valid YAML: ")


def test_a_missing_config_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(info.value) == f"config file {str(path)!r} does not exist or is not a file"


def test_a_directory_given_as_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist or is not a file"):
        load_settings(tmp_path)


def test_a_missing_file_named_by_logship_config_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LOGSHIP_CONFIG", str(tmp_path / "gone.yaml"))
    with pytest.raises(ConfigError, match=r"gone\.yaml"):
        load_settings()


def test_a_bad_destination_in_the_environment_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOGSHIP_DESTINATIONS", "console:// kafka://broker:9092")
    assert "unknown destination scheme 'kafka'" in config_error()


# -- colour -----------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_for_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    assert wants_colour(Terminal()) is True
    assert wants_colour(io.StringIO()) is False
    assert wants_colour(object()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert wants_colour(Terminal()) is False


@pytest.mark.parametrize(
    "destination",
    [
        "elasticsearch+https://writer:s3cr3t@h:99999",
        "elasticsearch+https://h:99999?user=writer&password=s3cr3t",
        {"type": "elasticsearch", "host": "h", "port": 0, "user": "w", "password": "s3cr3t"},
    ],
)
def test_a_password_written_inline_never_appears_in_a_config_error(destination: object) -> None:
    message = config_error(destinations=[destination])
    assert "s3cr3t" not in message
    assert "invalid port" in message or "port" in message


@pytest.mark.parametrize(
    ("destination", "field"),
    [
        ("gelf+http://writer:s3cr3t@h/gelf", "password"),  # GELF takes no user:password@
        ("forward://h?shared_key=s3cr3t", "shared_key"),  # it takes shared_key_file/_env
        ("elasticsearch+https://h?api_key=s3cr3t", "api_key"),
        ({"type": "syslog", "host": "h", "token": "s3cr3t"}, "token"),
    ],
)
def test_a_secret_given_to_an_option_that_does_not_exist_is_not_quoted(
    destination: object, field: str
) -> None:
    message = config_error(destinations=[destination])
    assert f"{field}: Extra inputs are not permitted" in message
    assert "s3cr3t" not in message


def test_redaction_masks_secrets_but_not_the_names_of_files_or_variables_holding_them() -> None:
    from logship.config.secrets import redact

    text = "x://u:pw1@h ?password=pw2&a=1 {'api_key': 'pw3', 'user': 'u'} shared_key_env=NAME"
    assert redact(text) == (
        "x://u:***@h ?password=***&a=1 {'api_key': '***', 'user': 'u'} shared_key_env=NAME"
    )


def test_a_token_in_syslog_structured_data_is_masked_wherever_the_configuration_is_shown() -> None:
    """Loggly-style receivers read the customer token as the SD-ID's name."""
    from logship.check import effective_settings
    from logship.config.secrets import redact

    settings = load_settings(
        destinations=['syslog+tcp://logs:514?structured_data=a1b2c3d4e5@41058%20tag%3D"web"']
    )
    shown = effective_settings(settings)
    assert "a1b2c3d4e5" not in shown
    assert 'structured_data: ***@41058 tag="web"' in shown
    for text in (
        "syslog+tcp://logs:514?structured_data=a1b2c3d4e5%4041058",
        "SYSLOG_STRUCTURED_DATA='[a1b2c3d4e5@41058 tag=\"x\"]'",
        "{'structured_data': 'a1b2c3d4e5@41058'}",
    ):
        assert "a1b2c3d4e5" not in redact(text), text


# -- what exposes logs or credentials on the network ------------------------------------------


@pytest.mark.parametrize("value", ["1", "0", "false", "no", "yes"])
def test_docker_tls_verify_set_to_anything_turns_tls_on_as_for_the_docker_cli(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_TLS_VERIFY", value)
    assert load_settings().docker_tls_verify is True
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "")
    assert load_settings().docker_tls_verify is False
    # logship's own variable keeps its meaning, and wins
    monkeypatch.setenv("DOCKER_TLS_VERIFY", value)
    monkeypatch.setenv("LOGSHIP_DOCKER_TLS_VERIFY", "false")
    assert load_settings().docker_tls_verify is False


def test_plain_text_credentials_and_unverified_tls_are_warned_about(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("k")
    settings = load_settings(
        docker_host="tcp://node-7:2375",
        destinations=[
            "elasticsearch+http://writer:pw@es:9200",
            f"elasticsearch+http://es:9200?api_key_file={key}",
            "elasticsearch+https://writer:pw@es:9200?tls.verify=false",
            "syslog+tls://logs:6514?tls.verify=false",
            "forward+tls://fluentd:24224?tls.verify=false",
            "gelf+https://graylog:12201?tls.verify=false",
            "elasticsearch+https://writer:pw@es:9200",  # none of these: no warning
            "elasticsearch+http://es:9200",
            "syslog+tcp://logs:514",
        ],
    )
    warnings = settings.security_warnings()
    assert len(warnings) == 7, warnings
    assert "the engine at tcp://node-7:2375 is reached over plain TCP, without TLS" in warnings[0]
    assert warnings[1].startswith("destination 0 elasticsearch+http://es:9200: sends the user")
    assert "sends the API key over plain http://" in warnings[2]
    for i, warning in zip(range(2, 6), warnings[3:], strict=True):
        assert warning.startswith(f"destination {i} ") and "tls.verify=false" in warning
    assert not any("pw" in w for w in warnings)
    assert load_settings(docker_host="unix:///var/run/docker.sock").security_warnings() == []
