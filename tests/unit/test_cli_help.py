"""The examples `--help` shows are commands that parse: an option renamed breaks this test,
not a user's copy-paste."""

from __future__ import annotations

import shlex

import pytest

from logship.cli import EXAMPLES, build_parser


def example_commands(text: str) -> list[list[str]]:
    lines = [line.strip() for line in text.splitlines()]
    return [shlex.split(line, comments=True)[1:] for line in lines if line.startswith("logship ")]


@pytest.mark.parametrize("command", sorted(EXAMPLES))
def test_every_example_in_the_help_parses(command: str) -> None:
    examples = example_commands(EXAMPLES[command])
    assert len(examples) >= 2
    parser = build_parser()
    for argv in examples:
        args = parser.parse_args(argv)
        assert command == "logship" or args.command == command


@pytest.mark.parametrize("command", ["run", "check", "tail"])
def test_each_commands_help_ends_with_its_examples(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    shown = capsys.readouterr().out
    assert "\nexamples:\n  logship " + command in shown


def test_the_top_level_help_shows_an_example_of_each_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    shown = capsys.readouterr().out
    assert all(f"  logship {command} " in shown for command in ("run", "check", "tail"))


def test_log_format_is_a_run_and_check_option() -> None:
    for command in ("run", "check"):
        assert build_parser().parse_args([command, "--log-format", "json"]).log_format == "json"


def test_the_multiline_option_offers_every_preset() -> None:
    from logship.cli import MULTILINE_PRESETS
    from logship.config.multiline import PRESETS

    assert MULTILINE_PRESETS == PRESETS
