"""An ssh:// engine's URL read as the docker CLI reads it: user and port given to ssh as
``-l`` and ``-p``, the host after ``--``; what ssh cannot be given is refused, saying why and
never quoting a password."""

from __future__ import annotations

import pytest

from logship.config.engine import SshTarget
from logship.errors import ConfigError
from logship.sources.docker.client import DockerClient


@pytest.mark.parametrize(
    ("url", "target", "shown"),
    [
        ("ssh://build-box", SshTarget("build-box"), "ssh://build-box"),
        ("ssh://me@build-box", SshTarget("build-box", user="me"), "ssh://me@build-box"),
        ("ssh://me@10.0.0.9:2222", SshTarget("10.0.0.9", "me", 2222), "ssh://me@10.0.0.9:2222"),
        ("ssh://[fd00::5]:22/", SshTarget("fd00::5", port=22), "ssh://[fd00::5]:22"),
    ],
)
def test_user_host_and_port_are_read(url: str, target: SshTarget, shown: str) -> None:
    assert SshTarget.parse(url) == target
    assert str(target) == shown


def test_ssh_is_run_as_the_docker_cli_runs_it_and_never_prompts() -> None:
    assert SshTarget("10.0.0.9", "me", 2222).argv() == [
        "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=30", "-T",
        "-l", "me", "-p", "2222", "--", "10.0.0.9", "docker", "system", "dial-stdio",
    ]  # fmt: skip
    assert SshTarget("build-box").argv()[-5:] == [
        "--", "build-box", "docker", "system", "dial-stdio"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("ssh://me:hunter2@build-box", "a password in the URL is not supported"),
        ("ssh://", "no host"),
        ("ssh://me@:22", "no host"),
        ("ssh://build-box:port", "Port could not be cast"),
        ("ssh://build-box:70000", "out of range"),
        ("ssh://build-box/var/run/docker.sock", "nothing may follow the host"),
        ("ssh://build-box?x=1", "nothing may follow the host"),
        ("ssh://-oProxyCommand=touch@build-box", "cannot begin with '-'"),
    ],
)
def test_what_ssh_cannot_be_given_is_refused_saying_why(url: str, said: str) -> None:
    with pytest.raises(ValueError, match="ssh://") as error:
        SshTarget.parse(url)
    assert said in str(error.value)
    assert "hunter2" not in str(error.value)
    with pytest.raises(ConfigError) as config_error:  # exit 2 at start, not a traceback
        DockerClient.connect_to(url)
    assert said in str(config_error.value)


def test_without_an_ssh_client_installed_the_error_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ConfigError) as error:
        DockerClient.connect_to("ssh://me@build-box")
    assert "'ssh' is not installed" in str(error.value)
    assert "openssh-client" in str(error.value)
    assert "ssh://me@build-box" in str(error.value)


def test_a_client_for_an_ssh_engine_is_named_by_its_url_and_is_not_local() -> None:
    client = DockerClient.connect_to("ssh://me@build-box:2222")
    assert str(client.endpoint) == "ssh://me@build-box:2222"
    assert not client.endpoint.local
