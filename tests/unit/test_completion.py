"""`logship completion SHELL` as a shell runs it: the script printed by the real command line,
loaded into a real bash, asked what it offers after the words a user typed."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from logship.cli import build_parser


def printed(shell: str, tmp_path: Path) -> Path:
    script = tmp_path / f"logship.{shell}"
    script.write_text(
        subprocess.run(
            [sys.executable, "-m", "logship", "completion", shell],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    return script


@pytest.fixture
def bash_script(tmp_path: Path) -> Path:
    return printed("bash", tmp_path)


def offered(script: Path, typed: str) -> list[str]:
    """What bash offers after ``typed`` (the cursor at its end; a trailing space starts a new
    word), as Tab would."""
    words = shlex.split(typed) + ([""] if typed.endswith(" ") else [])
    program = (
        f"source {shlex.quote(str(script))}\n"
        f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_logship\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    result = subprocess.run(
        ["bash", "--norc", "--noprofile"], input=program, capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return [line for line in result.stdout.splitlines() if line]


def test_bash_offers_the_commands(bash_script: Path) -> None:
    assert set(offered(bash_script, "logship ")) >= {"run", "tail", "check", "completion"}
    assert offered(bash_script, "logship ta") == ["tail"]


def test_bash_offers_each_commands_own_options(bash_script: Path) -> None:
    assert offered(bash_script, "logship tail --no-") == [
        "--no-follow",
        "--no-color",
        "--no-log-prefix",
    ]
    assert "--follow" in offered(bash_script, "logship tail -")
    assert "--state-dir" in offered(bash_script, "logship check --")
    assert "--state-dir" not in offered(bash_script, "logship tail --")


def test_bash_offers_an_options_choices_and_a_files_path(bash_script: Path, tmp_path: Path) -> None:
    assert offered(bash_script, "logship run --source ") == ["auto", "docker", "files", "cri"]
    assert offered(bash_script, "logship tail --stream std") == ["stdout", "stderr"]
    assert offered(bash_script, "logship completion ") == ["bash", "zsh", "fish", "-h", "--help"]
    configs = tmp_path / "etc"
    configs.mkdir()
    (configs / "logship.yaml").write_text("")
    assert offered(bash_script, f"logship run --config {configs}/lo") == [f"{configs}/logship.yaml"]


def test_zsh_registers_it_through_bashcompinit(tmp_path: Path) -> None:
    script = printed("zsh", tmp_path)
    shown = subprocess.run(
        [
            "zsh",
            "-f",
            "-c",
            f"autoload -U compinit && compinit -u -d {tmp_path}/zcompdump; "
            f"source {shlex.quote(str(script))}; print -r -- ${{_comps[logship]}}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.strip() == "_bash_complete -F _logship", shown.stderr


def fish_offers(script: Path, typed: str) -> list[str]:
    """What fish offers after ``typed``: each candidate without its description."""
    shown = subprocess.run(
        [
            "fish",
            "--no-config",
            "-c",
            f"source {shlex.quote(str(script))}; complete -C {shlex.quote(typed)}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stderr == "", shown.stderr
    return [line.partition("\t")[0] for line in shown.stdout.splitlines()]


def test_fish_offers_commands_options_and_their_choices(tmp_path: Path) -> None:
    script = printed("fish", tmp_path)
    assert fish_offers(script, "logship ") == ["check", "completion", "run", "tail"]
    assert fish_offers(script, "logship tail --no-") == [
        "--no-color",
        "--no-follow",
        "--no-log-prefix",
    ]
    assert "--state-dir" not in fish_offers(script, "logship tail --")
    assert fish_offers(script, "logship run --source ") == ["auto", "cri", "docker", "files"]
    assert fish_offers(script, "logship completion ") == ["bash", "fish", "zsh"]
    assert "ship every container's stdout/stderr" in script.read_text().replace("\\'", "'")


def test_an_unknown_shell_exits_2_naming_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["completion", "powershell"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'powershell'" in err and all(s in err for s in ("bash", "zsh", "fish"))
