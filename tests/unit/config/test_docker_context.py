"""The engine found as the docker CLI finds it when no docker_host is given: DOCKER_CONTEXT,
else the current context of config.json, each context's endpoint and TLS files read from its
directory; a context that cannot be used is a configuration error naming it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from logship.errors import ConfigError
from logship.settings import load_settings
from tests.helpers.docker_context import write_context


@pytest.fixture(autouse=True)
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.upper().startswith(("LOGSHIP_", "DOCKER_")):
            monkeypatch.delenv(name)
    directory = tmp_path / "docker-config"
    directory.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    return directory


def test_without_a_context_the_local_socket_is_used() -> None:
    assert load_settings().docker_host == "unix:///var/run/docker.sock"


def test_the_current_context_of_config_json_names_the_engine(docker_config: Path) -> None:
    (docker_config / "config.json").write_text(json.dumps({"auths": {}}))
    write_context(docker_config, "colima", "unix:///home/me/.colima/docker.sock", current=True)
    assert load_settings().docker_host == "unix:///home/me/.colima/docker.sock"


def test_docker_context_beats_the_current_context(
    docker_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_context(docker_config, "desktop", "unix:///desktop.sock", current=True)
    write_context(docker_config, "rootless", "unix:///run/user/1000/docker.sock")
    monkeypatch.setenv("DOCKER_CONTEXT", "rootless")
    assert load_settings().docker_host == "unix:///run/user/1000/docker.sock"
    monkeypatch.setenv("DOCKER_CONTEXT", "default")  # the local socket, as for the docker CLI
    assert load_settings().docker_host == "unix:///var/run/docker.sock"


def test_docker_host_and_every_setting_of_ours_beat_any_context(
    docker_config: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_context(docker_config, "desktop", "unix:///desktop.sock", current=True)
    monkeypatch.setenv("DOCKER_CONTEXT", "desktop")
    assert load_settings(docker_host="unix:///flag.sock").docker_host == "unix:///flag.sock"
    config = tmp_path / "logship.yaml"
    config.write_text("docker_host: unix:///file.sock\n")
    assert load_settings(config).docker_host == "unix:///file.sock"
    monkeypatch.setenv("DOCKER_HOST", "unix:///env.sock")
    assert load_settings().docker_host == "unix:///env.sock"


def test_a_tcp_context_brings_its_tls_files(docker_config: Path, tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (certs / name).write_text("pem")
    write_context(docker_config, "node-7", "tcp://node-7:2376", tls_dir=certs, current=True)
    settings = load_settings()
    assert settings.docker_host == "tcp://node-7:2376"
    tls = settings.docker_tls()
    assert tls is not None and tls.ca_file is not None
    assert tls.ca_file.is_relative_to(docker_config / "contexts" / "tls")  # the context's own


def test_a_tcp_context_without_tls_files_is_plain_tcp_and_warned_about(
    docker_config: Path,
) -> None:
    write_context(docker_config, "lab", "tcp://10.0.0.9:2375", current=True)
    settings = load_settings()
    assert settings.docker_tls() is None
    assert any("plain TCP" in w for w in settings.security_warnings())


def test_an_engine_logship_cannot_reach_is_refused_naming_the_context(
    docker_config: Path,
) -> None:
    write_context(docker_config, "remote", "npipe:////./pipe/docker_engine", current=True)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "docker context 'remote' (currentContext in " in str(error.value)
    assert "expected unix://, tcp:// or ssh://" in str(error.value)


def test_an_ssh_context_is_the_engine_with_no_tls(
    docker_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_context(docker_config, "build-box", "ssh://me@build-box:2222")
    monkeypatch.setenv("DOCKER_CONTEXT", "build-box")
    settings = load_settings()
    assert settings.docker_host == "ssh://me@build-box:2222"
    assert settings.docker_tls() is None


def test_an_ssh_context_that_ssh_cannot_be_given_is_refused_naming_it(
    docker_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_context(docker_config, "remote", "ssh://me:hunter2@build-box")
    monkeypatch.setenv("DOCKER_CONTEXT", "remote")
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "docker context 'remote' (DOCKER_CONTEXT)" in str(error.value)
    assert "a password in the URL is not supported" in str(error.value)
    assert "hunter2" not in str(error.value)


def test_skipping_the_engines_certificate_check_is_refused(docker_config: Path) -> None:
    write_context(docker_config, "lax", "tcp://node-7:2376", skip_tls_verify=True, current=True)
    with pytest.raises(ConfigError, match="SkipTLSVerify") as error:
        load_settings()
    assert "docker context update lax" in str(error.value)


def test_a_context_that_does_not_exist_is_named(
    docker_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONTEXT", "gone")
    with pytest.raises(
        ConfigError, match=r"docker context 'gone' \(DOCKER_CONTEXT\) does not exist"
    ):
        load_settings()


def test_a_broken_config_json_is_named_without_its_content(docker_config: Path) -> None:
    (docker_config / "config.json").write_text('{"auths": {"r": {"auth": "c2VjcmV0"}}')
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "config.json' cannot be read as JSON" in str(error.value)
    assert "c2VjcmV0" not in str(error.value)
