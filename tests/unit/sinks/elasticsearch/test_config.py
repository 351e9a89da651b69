"""The Elasticsearch destination's options: URI and YAML, secrets, and the errors bad ones get."""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from logship.errors import ConfigError
from logship.settings import load_settings
from logship.sinks.elasticsearch.config import ElasticsearchConfig
from logship.sinks.elasticsearch.sink import ElasticsearchSink, authorization

SECRET = "s3cr3t-Pa55"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.upper().startswith(("LOGSHIP_", "ES_")):
            monkeypatch.delenv(name)
    yield


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "es-password"
    path.write_text(SECRET + "\n")
    return path


def destination(uri: str) -> ElasticsearchConfig:
    (config,) = load_settings(destinations=[uri]).destinations
    assert isinstance(config, ElasticsearchConfig)
    return config


def config_error(uri: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(destinations=[uri])
    return str(info.value)


def test_a_uri_sets_every_option_as_the_yaml_keys_do(secret_file: Path, tmp_path: Path) -> None:
    uri = (
        "elasticsearch+https://writer@es.example.com:9243/proxy/es/"
        f"?password_file={secret_file}&index=logs-%25Y.%25m&compression=gzip"
        "&max_request_bytes=5000000&request_timeout_secs=15&tls.verify=false"
        "&batch.max_records=500&batch.timeout_secs=1"
    )
    config = destination(uri)
    yaml = tmp_path / "logship.yaml"
    yaml.write_text(
        "destinations:\n"
        "  - type: elasticsearch\n"
        "    scheme: https\n"
        "    host: es.example.com\n"
        "    port: 9243\n"
        "    path: /proxy/es/\n"
        "    user: writer\n"
        f"    password_file: {secret_file}\n"
        "    index: logs-%Y.%m\n"
        "    compression: gzip\n"
        "    max_request_bytes: 5000000\n"
        "    request_timeout_secs: 15\n"
        "    tls: {verify: false}\n"
        "    batch: {max_records: 500, timeout_secs: 1}\n"
    )
    assert load_settings(yaml).destinations == [config]
    assert config.url == "https://es.example.com:9243/proxy/es"
    assert config.index == "logs-%Y.%m"
    assert (config.compression, config.max_request_bytes) == ("gzip", 5_000_000)
    assert config.tls.verify is False
    assert config.batch.max_records == 500
    assert config.describe() == "elasticsearch+https://es.example.com:9243/proxy/es"


@pytest.mark.parametrize("scheme", ["opensearch+http", "elasticsearch+http"])
def test_opensearch_uris_are_the_same_destination_with_sensible_defaults(scheme: str) -> None:
    config = destination(f"{scheme}://search.internal")
    assert (config.type, config.scheme, config.port, config.path) == (
        "elasticsearch",
        "http",
        9200,
        "",
    )
    assert config.index_pattern is None and config.data_stream is None  # the default streams
    assert config.compression == "none"
    assert config.secret_password is None and config.secret_api_key is None


def test_a_password_file_is_read_once_at_startup_and_never_shown(secret_file: Path) -> None:
    config = destination(f"elasticsearch+http://writer@h?password_file={secret_file}")
    secret_file.write_text("changed later\n")
    assert config.secret_password is not None
    assert config.secret_password.get_secret_value() == SECRET  # no trailing newline
    assert SECRET not in repr(config) and SECRET not in str(config.model_dump())
    assert SECRET not in repr(config.secret_password)


def test_a_password_and_an_api_key_can_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ES_PASSWORD", SECRET)
    monkeypatch.setenv("ES_API_KEY", "VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw")
    basic = destination("elasticsearch+http://writer@h?password_env=ES_PASSWORD")
    keyed = destination("elasticsearch+http://h?api_key_env=ES_API_KEY")
    assert basic.secret_password is not None
    assert basic.secret_password.get_secret_value() == SECRET
    assert keyed.secret_api_key is not None
    assert keyed.secret_api_key.get_secret_value().startswith("VuaCfGcBCdbkQm-e5aOx:")
    assert SECRET not in repr(basic)


def test_the_authorization_header_is_basic_auth_or_an_encoded_api_key(
    secret_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    basic = destination(f"elasticsearch+http://writer@h?password_file={secret_file}")
    assert authorization(basic) == "Basic " + base64.b64encode(f"writer:{SECRET}".encode()).decode()
    key_file = tmp_path / "api-key"
    key_file.write_text("id1:key1\n")
    raw = destination(f"elasticsearch+http://h?api_key_file={key_file}")
    assert authorization(raw) == "ApiKey " + base64.b64encode(b"id1:key1").decode()
    monkeypatch.setenv("ES_API_KEY", "aWQxOmtleTE=")  # already encoded, as ES hands it out
    assert authorization(destination("elasticsearch+http://h?api_key_env=ES_API_KEY")) == (
        "ApiKey aWQxOmtleTE="
    )
    assert authorization(destination("elasticsearch+http://h")) is None


def test_a_password_inside_the_uri_works_but_draws_a_warning_that_does_not_show_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = destination(f"elasticsearch+http://writer:{SECRET}@h:9200")
    assert config.secret_password is not None
    assert config.secret_password.get_secret_value() == SECRET
    with caplog.at_level(logging.WARNING):
        ElasticsearchSink(config)
    assert "prefer password_file or password_env" in caplog.text
    assert SECRET not in caplog.text
    assert SECRET not in config.describe()


@pytest.mark.parametrize(
    ("query", "field", "complaint"),
    [
        (
            "user=w&password_file=/nonexistent/pw",
            "password_file",
            "cannot read password_file '/nonexistent/pw': No such file or directory",
        ),
        ("user=w&password_env=ES_NOT_SET", "password_env", "'ES_NOT_SET', which is not set"),
        ("api_key_file=/nonexistent/key", "api_key_file", "cannot read api_key_file"),
        ("api_key_env=ES_NOT_SET", "api_key_env", "'ES_NOT_SET', which is not set"),
        ("user=w&password_env=X&api_key_env=Y", "api_key_env", "api_key_env and basic auth"),
        ("password_env=ES_PASSWORD", "user", "a password needs a user"),
        ("user=w", "destinations.0", "user 'w' has no password"),
        ("user=a:b&password_env=ES_PASSWORD", "user", "must not contain ':'"),
        (
            "index=Logs-%25Y",
            "index",
            "index pattern 'Logs-%Y': index name 'Logs-2026' must be lowercase",
        ),
        ("index=logs-%25s", "index", "index pattern 'logs-%s' has %s"),
        ("data_stream=logs-a-b&index=x", "data_stream", "either index or data_stream"),
        ("data_stream=logs-%25Y", "data_stream", "must not contain '%'"),
        ("data_stream=Logs", "data_stream", "'Logs' must be lowercase"),
        ("tls.verify=false", "tls", "tls options apply to https only"),
        ("compression=brotli", "compression", "'gzip' or 'none'"),
        ("max_request_bytes=10", "max_request_bytes", "greater than or equal to 1024"),
    ],
)
def test_a_bad_option_is_refused_naming_the_field_and_quoting_the_value(
    query: str, field: str, complaint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ES_PASSWORD", SECRET)
    message = config_error(f"elasticsearch+http://h?{query}")
    assert f"  destinations.0{'.' + field if field != 'destinations.0' else ''}:" in message
    assert complaint in message


def test_an_empty_password_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    message = config_error(f"elasticsearch+http://w@h?password_file={empty}")
    assert f"password_file {str(empty)!r} is empty" in message


def test_errors_about_credentials_never_quote_a_password_written_inline() -> None:
    message = config_error(f"elasticsearch+http://writer:{SECRET}@h?api_key_env=ES_API_KEY")
    assert "api_key_env and basic auth" in message
    assert SECRET not in message
    message = config_error(f"elasticsearch+http://writer:{SECRET}@h?password_env=ES_PASSWORD")
    assert "give the password once" in message
    assert SECRET not in message


def test_installing_the_index_template_keeps_the_destinations_spool() -> None:
    # how the cluster types the fields does not change where records go
    plain = ElasticsearchConfig(host="es.example.com")
    templated = ElasticsearchConfig(host="es.example.com", install_template=True)
    assert templated.spool_key() == plain.spool_key()
    assert templated.template_name == "logship" and templated.template_priority == 150
