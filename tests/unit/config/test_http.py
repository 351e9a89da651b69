"""The operator's window's settings: `http: PORT` as before, the block, and every source of it
merged key by key (LOGSHIP_HTTP with LOGSHIP_HTTP__TOKEN_FILE, --http with a file's block)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from logship.cli import _overrides, build_parser
from logship.config.http import HttpSettings, is_loopback
from logship.errors import ConfigError
from logship.settings import load_settings

TOKEN = "t0k3n-Secret_value"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.upper().startswith("LOGSHIP_"):
            monkeypatch.delenv(name)
    yield


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "http-token"
    path.write_text(TOKEN + "\n")
    return path


def run_args(*argv: str) -> dict[str, object]:
    return _overrides(build_parser().parse_args(["run", *argv]))


@pytest.mark.parametrize("value", ["9880", ":9880", "0.0.0.0:9880", "[::1]:9880"])
def test_http_given_as_an_address_is_the_listen_address_as_before(
    value: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert load_settings(None, **run_args("--http", value)).http == HttpSettings(listen=value)
    monkeypatch.setenv("LOGSHIP_HTTP", value)
    assert load_settings(None).http == HttpSettings(listen=value)
    monkeypatch.delenv("LOGSHIP_HTTP")
    config = tmp_path / "logship.yaml"
    config.write_text(f'http: "{value}"\n')
    assert load_settings(config).http == HttpSettings(listen=value)


def test_a_bare_port_in_the_yaml_file_is_taken_too(tmp_path: Path) -> None:
    config = tmp_path / "logship.yaml"
    config.write_text("http: 9880\n")
    settings = load_settings(config)
    assert settings.http is not None
    assert (settings.http.host, settings.http.port) == ("127.0.0.1", 9880)


def test_no_http_means_no_server() -> None:
    assert load_settings(None).http is None


def test_logship_http_and_logship_http_token_file_make_one_block(
    token_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGSHIP_HTTP", "0.0.0.0:9880")
    monkeypatch.setenv("LOGSHIP_HTTP__TOKEN_FILE", str(token_file))
    monkeypatch.setenv("LOGSHIP_HTTP__MAX_LOG_READERS", "3")
    http = load_settings(None).http
    assert http is not None
    assert (http.listen, http.token_file, http.max_log_readers) == ("0.0.0.0:9880", token_file, 3)
    assert http.token is not None and http.token.get_secret_value() == TOKEN


def test_the_block_can_be_given_as_json_in_logship_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGSHIP_HTTP", '{"listen": "9880", "allowed_hosts": ["logs.internal"]}')
    monkeypatch.setenv("LOGSHIP_HTTP__MAX_LOG_READERS_PER_CLIENT", "2")
    http = load_settings(None).http
    assert http == HttpSettings(
        listen="9880", allowed_hosts=["logs.internal"], max_log_readers_per_client=2
    )


def test_the_flags_add_to_the_files_block_key_by_key(token_file: Path, tmp_path: Path) -> None:
    config = tmp_path / "logship.yaml"
    config.write_text("http:\n  listen: 127.0.0.1:1\n  allowed_hosts: [logs.internal]\n")
    settings = load_settings(config, **run_args("--http", "0.0.0.0:9880"))
    assert settings.http == HttpSettings(listen="0.0.0.0:9880", allowed_hosts=["logs.internal"])
    settings = load_settings(config, **run_args("--http-token-file", str(token_file)))
    assert settings.http is not None
    assert (settings.http.listen, settings.http.token_file) == ("127.0.0.1:1", token_file)


def test_a_token_file_from_the_environment_adds_to_the_files_shorthand(
    token_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "logship.yaml"
    config.write_text('http: "0.0.0.0:9880"\n')
    monkeypatch.setenv("LOGSHIP_HTTP__TOKEN_FILE", str(token_file))
    settings = load_settings(config)
    assert settings.http is not None
    assert (settings.http.listen, settings.http.token_file) == ("0.0.0.0:9880", token_file)


def test_a_token_file_without_an_address_says_what_is_missing(token_file: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(None, **run_args("--http-token-file", str(token_file)))
    assert "--http [ADDR:]PORT" in str(error.value)


def test_the_token_is_the_files_first_line_without_its_newline(tmp_path: Path) -> None:
    for text in (TOKEN, TOKEN + "\n", TOKEN + "\r\n"):
        path = tmp_path / "token"
        path.write_text(text)
        http = HttpSettings(listen="9880", token_file=path)
        assert http.token is not None and http.token.get_secret_value() == TOKEN


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("\n", "is empty"),
        (f"{TOKEN} and more\n", "holds spaces, control or non-ASCII characters"),
        (f"{TOKEN}\nsecond-line\n", "holds spaces, control or non-ASCII characters"),
        (f"{TOKEN}\x1b\n", "holds spaces, control or non-ASCII characters"),
    ],
)
def test_a_token_file_that_cannot_serve_is_a_config_error_naming_the_field_not_the_token(
    content: str, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "token"
    path.write_text(content)
    with pytest.raises(ConfigError) as error:
        load_settings(None, **run_args("--http", "9880", "--http-token-file", str(path)))
    text = str(error.value)
    assert "http.token_file" in text and message in text and str(path) in text
    assert TOKEN not in text and "second-line" not in text


def test_an_unreadable_token_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(None, http={"listen": "9880", "token_file": str(tmp_path / "nope")})
    assert "http.token_file: cannot read token_file" in str(error.value)
    assert "No such file or directory" in str(error.value)


def test_the_token_is_never_in_what_the_settings_show(token_file: Path) -> None:
    settings = load_settings(None, http={"listen": "9880", "token_file": str(token_file)})
    assert TOKEN not in repr(settings)
    assert TOKEN not in settings.model_dump_json()


@pytest.mark.parametrize("given", ["logs.internal:80", "http://logs", "a b", ""])
def test_an_allowed_host_must_be_a_bare_name(given: str) -> None:
    with pytest.raises(ConfigError, match=r"http\.allowed_hosts"):
        load_settings(None, http={"listen": "9880", "allowed_hosts": [given]})


def test_allowed_hosts_are_compared_in_lower_case_without_a_final_dot() -> None:
    http = HttpSettings(listen="9880", allowed_hosts=["Logs.Internal.", "[fd00::1]"])
    assert http.allowed_hosts == ["logs.internal", "fd00::1"]


@pytest.mark.parametrize(
    ("listen", "loopback"),
    [
        ("9880", True),
        ("127.0.0.1:9880", True),
        ("127.8.9.1:9880", True),
        ("[::1]:9880", True),
        ("localhost:9880", True),
        ("0.0.0.0:9880", False),
        ("[::]:9880", False),
        ("10.0.0.7:9880", False),
        ("node-1:9880", False),  # a name that is not localhost: not known to be the loopback
    ],
)
def test_which_listen_addresses_are_the_loopback(listen: str, loopback: bool) -> None:
    assert HttpSettings(listen=listen).loopback is loopback
    assert is_loopback(HttpSettings(listen=listen).host) is loopback


def test_honor_ignore_is_on_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(None).honor_ignore is True
    assert load_settings(None, **run_args("--no-honor-ignore")).honor_ignore is False
    monkeypatch.setenv("LOGSHIP_HONOR_IGNORE", "false")
    assert load_settings(None).honor_ignore is False
    assert load_settings(None, **run_args("--honor-ignore")).honor_ignore is True
