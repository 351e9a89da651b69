"""``logship completion bash|zsh|fish``: a shell's completion script, written from the
command-line parser itself, so that it names every command and option there is (and none that
is gone) with no library of its own. zsh runs the bash script through its bashcompinit."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

SHELLS = ("bash", "zsh", "fish")
# the commands whose arguments are container names (offered from `docker ps -a`)
_NAMES_OF_CONTAINERS = ("tail",)


@dataclass(frozen=True)
class _Option:
    flags: tuple[str, ...]
    help: str
    takes_value: bool
    choices: tuple[str, ...]
    is_path: bool


@dataclass(frozen=True)
class _Command:
    name: str
    help: str
    options: tuple[_Option, ...]
    arguments: tuple[str, ...]  # what its positional arguments may be, when that is a list


def _options(parser: argparse.ArgumentParser) -> tuple[_Option, ...]:
    return tuple(
        _Option(
            flags=tuple(action.option_strings),
            help=" ".join((action.help or "").replace("%%", "%").split()),
            takes_value=action.nargs != 0,
            choices=tuple(str(c) for c in action.choices or ()),
            is_path=action.type is Path,
        )
        for action in parser._actions
        if action.option_strings and action.help != argparse.SUPPRESS
    )


def _arguments(parser: argparse.ArgumentParser) -> tuple[str, ...]:
    return tuple(
        str(choice)
        for action in parser._actions
        if not action.option_strings
        for choice in action.choices or ()
    )


def _commands(parser: argparse.ArgumentParser) -> tuple[_Command, ...]:
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help or "" for a in subparsers._choices_actions}
    return tuple(
        _Command(name, helps.get(name, ""), _options(sub), _arguments(sub))
        for name, sub in subparsers.choices.items()
    )


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of ``parser``'s program for ``shell`` (one of :data:`SHELLS`)."""
    commands = _commands(parser)
    if shell == "fish":
        return _fish(parser.prog, _options(parser), commands)
    script = _bash(parser.prog, _options(parser), commands)
    if shell == "zsh":
        return "autoload -U +X bashcompinit && bashcompinit\n" + script
    return script


def _bash(prog: str, top: tuple[_Option, ...], commands: tuple[_Command, ...]) -> str:
    function = "_" + prog.replace("-", "_")
    names = " ".join(c.name for c in commands)
    cases = []
    for command in commands:
        values = []
        for option in command.options:
            if not option.takes_value:
                continue
            flags = "|".join(option.flags)
            if option.choices:
                reply = f'COMPREPLY=($(compgen -W "{" ".join(option.choices)}" -- "$cur"))'
            elif option.is_path:
                reply = 'COMPREPLY=($(compgen -f -- "$cur"))'
            else:
                reply = "COMPREPLY=()"
            values.append(f"                {flags}) {reply}; return ;;")
        words = " ".join([*command.arguments, *(f for o in command.options for f in o.flags)])
        others = ""
        if command.name in _NAMES_OF_CONTAINERS:
            others = (
                '\n            [[ "$cur" != -* ]] && '
                "words=\"$(docker ps -a --format '{{.Names}}' 2>/dev/null)\""
            )
        cases.append(
            f"        {command.name})\n"
            f'            case "$prev" in\n' + "\n".join(values) + "\n            esac\n"
            f'            words="{words}"{others} ;;'
        )
    top_words = " ".join(f for o in top for f in o.flags)
    return f"""# {prog} completion for bash: {prog} completion bash
{function}() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    local command="" words="" i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${{COMP_WORDS[i]}}" in
            {"|".join(c.name for c in commands)}) command="${{COMP_WORDS[i]}}"; break ;;
        esac
    done
    case "$command" in
        "") words="{top_words} {names}" ;;
{chr(10).join(cases)}
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}}
complete -F {function} {prog}
"""


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_option(prog: str, condition: str, option: _Option) -> str:
    parts = [f"complete -c {prog} -n {_fish_quote(condition)}"]
    parts += [f"-l {f[2:]}" if f.startswith("--") else f"-s {f[1:]}" for f in option.flags]
    if option.choices:
        parts.append(f"-x -a {_fish_quote(' '.join(option.choices))}")
    elif option.is_path:
        parts.append("-r -F")
    elif option.takes_value:
        parts.append("-x")
    if option.help:
        parts.append(f"-d {_fish_quote(option.help)}")
    return " ".join(parts)


def _fish(prog: str, top: tuple[_Option, ...], commands: tuple[_Command, ...]) -> str:
    lines = [f"# {prog} completion for fish: {prog} completion fish", f"complete -c {prog} -f"]
    lines += [_fish_option(prog, "__fish_use_subcommand", o) for o in top]
    for command in commands:
        lines.append(
            f"complete -c {prog} -n __fish_use_subcommand -a {command.name}"
            f" -d {_fish_quote(command.help)}"
        )
        condition = f"__fish_seen_subcommand_from {command.name}"
        lines += [_fish_option(prog, condition, o) for o in command.options]
        if command.arguments:
            lines.append(
                f"complete -c {prog} -n {_fish_quote(condition)}"
                f" -a {_fish_quote(' '.join(command.arguments))}"
            )
        if command.name in _NAMES_OF_CONTAINERS:
            lines.append(
                f"complete -c {prog} -n {_fish_quote(condition)} "
                "-a \"(docker ps -a --format '{{.Names}}' 2>/dev/null)\""
            )
    return "\n".join(lines) + "\n"
