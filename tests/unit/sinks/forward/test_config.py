"""The forward destination's options: URI and YAML give the same model; bad values are named."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from logship.errors import ConfigError
from logship.settings import load_settings
from logship.sinks.forward.config import ForwardConfig


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.upper().startswith("LOGSHIP_") or name.upper() == "DOCKER_HOST":
            monkeypatch.delenv(name)
    yield


def destination(uri: str) -> ForwardConfig:
    (config,) = load_settings(destinations=[uri]).destinations
    assert isinstance(config, ForwardConfig)
    return config


def config_error(uri: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(destinations=[uri])
    return str(info.value)


def test_a_bare_forward_uri_takes_docker_s_defaults() -> None:
    config = destination("forward://fluentd.example.com")
    assert (config.transport, config.host, config.port) == ("tcp", "fluentd.example.com", 24224)
    assert (config.tag, config.labels, config.env) == ("{{.ID}}", [], [])
    assert (config.ack, config.shared_key, config.compress) == (False, None, "none")
    assert config.describe() == "forward://fluentd.example.com:24224"


def test_uri_options_and_a_yaml_block_give_the_same_destination(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("s3cr3t\n")
    uri = destination(
        f"forward+tls://127.0.0.1:24225?tag=docker.{{{{.Name}}}}&labels=app,team&env=APP_ENV"
        f"&ack=true&ack_timeout_secs=5&shared_key_file={key}&self_hostname=node-1"
        "&tls.server_name=localhost&compress=gzip"
    )
    yaml = tmp_path / "logship.yaml"
    yaml.write_text(
        "destinations:\n"
        "  - type: forward\n    transport: tls\n    host: 127.0.0.1\n    port: 24225\n"
        "    tag: docker.{{.Name}}\n    labels: [app, team]\n    env: [APP_ENV]\n"
        f"    ack: true\n    ack_timeout_secs: 5\n    shared_key_file: {key}\n"
        "    self_hostname: node-1\n    tls:\n      server_name: localhost\n"
        "    compress: gzip\n"
    )
    (block,) = load_settings(yaml).destinations
    assert block == uri
    assert uri.shared_key == b"s3cr3t"  # the final newline is not part of the key
    assert uri.describe() == "forward+tls://127.0.0.1:24225"
    assert "s3cr3t" not in repr(uri)


def test_the_shared_key_can_come_from_an_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLUENT_KEY", "from-env")
    assert destination("forward://h?shared_key_env=FLUENT_KEY").shared_key == b"from-env"


@pytest.mark.parametrize(
    ("query", "complaint"),
    [
        (
            "shared_key_file=/nonexistent/key",
            "shared_key_file: cannot read shared_key_file '/nonexistent/key': No such file",
        ),
        (
            "shared_key_env=LOGSHIP_TEST_UNSET_KEY",
            "shared_key_env: shared_key_env names the environment variable "
            "'LOGSHIP_TEST_UNSET_KEY', which is not set",
        ),
        ("self_hostname=me", "self_hostname is only sent in the shared-key handshake"),
        ("tls.verify=false", "tls.* options need transport tls"),
        ("tag={{.Nope}}", "unknown placeholder '{{.Nope}}'"),
        ("labels=all", "forward takes label names"),
        ("ack=maybe", "ack: Input should be a valid boolean"),
        ("ack_timeout_secs=0", "ack_timeout_secs: Input should be greater than 0"),
        ("compress=zstd", "compress: Input should be 'none' or 'gzip'"),
        ("max_message_bytes=10", "max_message_bytes: Input should be greater than or equal"),
        ("sharedkey=x", "sharedkey: Extra inputs are not permitted"),
    ],
)
def test_a_bad_option_is_named_with_its_value(query: str, complaint: str) -> None:
    message = config_error(f"forward://127.0.0.1?{query}")
    assert complaint in message
    assert "destinations.0" in message


def test_an_empty_key_file_and_two_key_sources_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty, key = tmp_path / "empty", tmp_path / "key"
    empty.write_text("\n")
    key.write_text("k")
    monkeypatch.setenv("FLUENT_KEY", "k")
    assert f"shared_key_file {str(empty)!r} is empty" in config_error(
        f"forward://h?shared_key_file={empty}"
    )
    both = config_error(f"forward://h?shared_key_file={key}&shared_key_env=FLUENT_KEY")
    assert "shared_key_file or shared_key_env, not both" in both


def test_an_unreadable_ca_file_for_forward_tls_is_named() -> None:
    message = config_error("forward+tls://h?tls.ca_file=/nonexistent/ca.pem")
    assert "destinations.0.tls.ca_file" in message and "'/nonexistent/ca.pem'" in message
