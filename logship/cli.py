"""``logship run | tail | version``: parse arguments, build settings, hand over to the agent."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from logship import __version__
from logship.completion import SHELLS, completion_script
from logship.errors import ConfigError

EXIT_CONFIG = 2
DOCKER_HOST_HELP = (
    "unix:///path or tcp://host:port (default: DOCKER_HOST, else the docker context's, "
    "as for the docker CLI)"
)
# the example configuration, installed with the package
EXAMPLE_CONFIG = Path(__file__).with_name("logship.example.yaml")


def _selection_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("which containers")
    for verb in ("include", "exclude"):
        for what, meta, help_ in (
            ("name", "GLOB", "container name glob"),
            ("image", "GLOB", "image glob"),
            ("label", "KEY[=VALUE]", "label, with or without a value"),
        ):
            group.add_argument(
                f"--{verb}-{what}",
                action="append",
                metavar=meta,
                dest=f"{verb}_{what}s",
                help=f"{verb} containers by {help_} (repeatable)",
            )


EXAMPLES = {
    "logship": """
examples:
  logship run                                  # every container's lines to the console
  logship run syslog+tcp://logs.example.com:514 --state-dir /var/lib/logship
  logship check --config /etc/logship/logship.yaml
  logship tail 'web-*' --since 10m
  logship completion bash                      # Tab completion: see its --help

each command's options: logship COMMAND --help; every setting: docs/reference.md
""",
    "run": """
examples:
  logship run syslog+udp://logs.example.com:514
  logship run 'syslog+tcp://logs.example.com?facility=local0&format=rfc5424micro' --http 9880
  logship run 'forward://fluentd.example.com:24224?ack=true&shared_key_file=/run/secrets/key'
  logship run 'elasticsearch+https://es.example.com:9200?user=logship&password_file=/run/pw'
  logship run --config /etc/logship/logship.yaml --log-format json
  logship run --include-label com.example.team=payments --exclude-name 'debug-*' gelf://graylog.example.com:12201

Settings also come from LOGSHIP_* variables and --config's YAML file; logspout's ROUTE_URIS
and SYSLOG_* variables are read too (docs/configuration.md).
""",
    "check": """
examples:
  logship check syslog+tcp://logs.example.com:514
  logship check --config /etc/logship/logship.yaml --timeout-secs 10
""",
    "completion": """
examples:
  logship completion bash    # save as ~/.local/share/bash-completion/completions/logship
  logship completion zsh     # or in ~/.zshrc: source <(logship completion zsh)
  logship completion fish    # save as ~/.config/fish/completions/logship.fish
""",
    "tail": """
examples:
  logship tail                                 # every running container, live
  logship tail -f 'web-*' --since 10m -t
  logship tail --no-log-prefix --no-color api > api.log
  logship tail --no-follow --json api
  logship tail --stream stderr --grep 'ERROR|WARN' --filter labels=com.example.team:payments
  logship tail --docker-host tcp://node-7:2376 -n 100
""",
}


def _epilog(command: str) -> dict[str, Any]:
    return {"epilog": EXAMPLES[command], "formatter_class": argparse.RawDescriptionHelpFormatter}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="logship",
        description="Ship every Docker container's logs, enriched.",
        **_epilog("logship"),
    )
    parser.add_argument("--version", action="version", version=f"logship {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run", help="ship every container's stdout/stderr to destinations", **_epilog("run")
    )
    run.add_argument(
        "destinations",
        nargs="*",
        metavar="DESTINATION-URI",
        help="e.g. syslog+udp://127.0.0.1:514?format=rfc5424 or console://?format=json "
        "(default: the console, or the destinations of --config)",
    )
    run.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help=f"YAML config file; every option, commented: {EXAMPLE_CONFIG} (shipped with "
        "logship: copy it and keep what you need)",
    )
    run.add_argument("--docker-host", metavar="URL", help=DOCKER_HOST_HELP)
    run.add_argument(
        "--source",
        choices=["auto", "docker", "files", "cri"],
        help="where logs are read: the Engine API (docker), Docker's json-file logs (files), "
        "the kubelet's pod logs (cri), or auto (the default: see docs/configuration.md)",
    )
    run.add_argument(
        "--docker-root",
        type=Path,
        metavar="DIR",
        help="the engine's data root as seen here (default /var/lib/docker)",
    )
    run.add_argument(
        "--pods-dir", type=Path, metavar="DIR", help="pod logs (default /var/log/pods)"
    )
    run.add_argument(
        "--pod-links-dir",
        type=Path,
        metavar="DIR",
        help="the kubelet's links to pod logs (default /var/log/containers)",
    )

    run.add_argument("--hostname", help="host name records carry")
    run.add_argument("--host-ip", help="host address records carry")
    run.add_argument(
        "--backlog",
        action="store_true",
        default=None,
        help="also ship what running containers logged before logship started",
    )
    run.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="keep checkpoints here and resume from them after a restart (no line lost)",
    )
    run.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    run.add_argument(
        "--log-format",
        choices=["text", "json"],
        help="logship's own log lines on stderr: text (default), or one JSON object a line "
        "(ECS names) for a log pipeline",
    )
    run.add_argument(
        "--honor-ignore",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="let containers opt out of shipping (label logship.ignore=true, LOGSHIP=ignore); "
        "on unless --no-honor-ignore",
    )
    run.add_argument(
        "--http",
        metavar="[ADDR:]PORT",
        help="serve /healthz, /readyz, /metrics, /logs, /containers and a live page "
        "(PORT alone: 127.0.0.1)",
    )
    run.add_argument(
        "--http-token-file",
        type=Path,
        metavar="FILE",
        help="the token /logs, /containers and the page require (Authorization: Bearer); "
        "needed for them on any address but the loopback",
    )
    _selection_args(run)
    _line_args(run)

    tail = sub.add_parser(
        "tail", help="watch every container's lines live, like compose logs -f", **_epilog("tail")
    )
    tail.add_argument("names", nargs="*", metavar="NAME-GLOB", help="only containers named so")
    tail.add_argument("--json", action="store_true", help="one JSON object per line")
    tail.add_argument(
        "--since",
        metavar="DURATION|TIME",
        help="start this long ago (10m, 1h30m) or at this time (RFC 3339); default: whole log",
    )
    tail.add_argument(
        "--until",
        metavar="DURATION|TIME",
        help="stop at this time, or this long ago (as --since); lines after it are not shown",
    )
    tail.add_argument(
        "-n",
        "--tail",
        metavar="N",
        help="the last N lines of each container first, like docker logs --tail (default: all)",
    )
    follow = tail.add_mutually_exclusive_group()
    follow.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="keep printing new lines (the default; accepted as docker logs -f takes it)",
    )
    follow.add_argument("--no-follow", action="store_true", help="print what is there and exit")
    tail.add_argument(
        "--grep", metavar="REGEX", help="only lines matching this (Python) regular expression"
    )
    tail.add_argument(
        "--stream", choices=["stdout", "stderr"], help="only what containers write to this one"
    )
    tail.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="as a destination's filter.*: name=GLOB, id=PREFIX, sources=stdout|stderr, "
        "labels=KEY:VALUE[,KEY:VALUE] (repeatable; every one must match)",
    )
    tail.add_argument(
        "-a",
        "--all",
        action="store_true",
        help="stopped containers too (the default when NAME-GLOBs are given)",
    )
    tail.add_argument("-t", "--timestamps", action="store_true", help="show Docker's timestamps")
    tail.add_argument(
        "--no-color",
        action="store_true",
        help="no colours (as docker compose logs; also when NO_COLOR is set or not a terminal)",
    )
    tail.add_argument(
        "--no-log-prefix",
        action="store_true",
        help="each line alone, without its container's name (as docker compose logs)",
    )
    tail.add_argument("--docker-host", metavar="URL", help=DOCKER_HOST_HELP)
    _line_args(tail)
    tail.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], default="warning"
    )

    # check takes run's options, so that `logship run ...` becomes `logship check ...`
    check = sub.add_parser(
        "check",
        parents=[run],
        add_help=False,
        help="show the effective settings, try the engine and every destination once",
        description="Read the configuration as `run` would, print it (secrets masked), try the "
        "engine and every destination once. Exit 0: all passed; 1: something failed; "
        "2: the configuration is invalid.",
        **_epilog("check"),
    )
    check.add_argument(
        "--timeout-secs",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long each check may take (default: 5)",
    )

    completion = sub.add_parser(
        "completion",
        help="print a shell's completion script (commands, options, their values)",
        **_epilog("completion"),
    )
    completion.add_argument("shell", choices=SHELLS, help="the shell it is for")
    return parser


# logship.config.multiline.PRESETS, written out: the command line loads no pydantic to parse
MULTILINE_PRESETS = ("java", "python", "go", "nodejs", "indented")


def _line_args(parser: argparse.ArgumentParser) -> None:
    """What happens to lines on their way, for run and tail alike (docs/lines.md)."""
    parser.add_argument(
        "--parse",
        choices=["json", "off"],
        help="read lines that are JSON objects as fields (the parse setting; a container's "
        "logship.parse label still wins)",
    )
    parser.add_argument(
        "--multiline",
        choices=[*MULTILINE_PRESETS, "off"],
        help="join the lines of a stack trace into one record (the multiline setting; a "
        "container's logship.multiline label still wins)",
    )


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {
        "docker_host": args.docker_host,
        "log_level": args.log_level,
        "log_format": getattr(args, "log_format", None),
        "hostname": getattr(args, "hostname", None),
        "host_ip": getattr(args, "host_ip", None),
        "backlog": getattr(args, "backlog", None),
        "state_dir": getattr(args, "state_dir", None),
        "http": _http(args),
        "honor_ignore": getattr(args, "honor_ignore", None),
        "source": getattr(args, "source", None),
        "pods_dir": getattr(args, "pods_dir", None),
        "docker_root": getattr(args, "docker_root", None),
        "pod_links_dir": getattr(args, "pod_links_dir", None),
        "destinations": getattr(args, "destinations", None) or None,
        "parse": getattr(args, "parse", None),
        "multiline": getattr(args, "multiline", None),
    }
    for verb in ("include", "exclude"):
        chosen = {
            what: getattr(args, f"{verb}_{what}", None) for what in ("names", "images", "labels")
        }
        chosen = {k: v for k, v in chosen.items() if v}
        if chosen:
            overrides[verb] = chosen
    return overrides


def _http(args: argparse.Namespace) -> dict[str, Any] | None:
    """``--http`` and ``--http-token-file``: what they give of the ``http`` block (the rest may
    come from LOGSHIP_HTTP* or the file)."""
    given = {
        "listen": getattr(args, "http", None),
        "token_file": getattr(args, "http_token_file", None),
    }
    given = {k: v for k, v in given.items() if v is not None}
    return given or None


def _tune_gc() -> None:
    """A log agent allocates a few short-lived objects per line and keeps up to a buffer's
    worth alive; almost none of them can form cycles. Freezing what startup made and
    collecting the young generation less often saves 10-20 % of CPU per line in a flood
    (bench/README.md) at the cost of cyclic garbage living a little longer."""
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def _run_async(main: Callable[[], Coroutine[Any, Any, int]]) -> int:
    _tune_gc()
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on every supported platform
        return asyncio.run(main())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())


def _setup_logging(level: str, format: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if format == "json":
        from logship.protocol.logline import JsonLogFormatter

        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])


def _silence_stdout() -> None:
    """After the reader of stdout went away, let the interpreter's final flush succeed."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def cmd_run(args: argparse.Namespace) -> int:
    from logship.assemble import build_agent
    from logship.settings import Settings, load_settings

    overrides = _overrides(args)
    settings = load_settings(args.config, **overrides)
    _setup_logging(settings.log_level, settings.log_format)

    def load() -> Settings:  # SIGHUP: the same sources again (the environment is the start's)
        return load_settings(args.config, **overrides)

    async def main() -> int:
        agent = await build_agent(settings, load)
        return await agent.run()

    return _run_async(main)


def cmd_tail(args: argparse.Namespace) -> int:
    from logship.settings import load_settings
    from logship.tail.command import Tail, TailRequest

    overrides = _overrides(args)
    overrides["backlog"] = True  # each container's whole log, unless --since says otherwise
    if args.names:
        overrides["include"] = {"names": args.names}
    settings = load_settings(None, **overrides)
    request = TailRequest(
        json=args.json,
        timestamps=args.timestamps,
        colour=not args.no_color,
        prefix=not args.no_log_prefix,
        since=args.since,
        until=args.until,
        tail=args.tail,
        follow=not args.no_follow,
        grep=args.grep,
        stream=args.stream,
        filters=args.filter,
        stopped=args.all or bool(args.names),
    )
    _setup_logging(settings.log_level, settings.log_format)
    tail = Tail(settings, request)
    try:
        code = _run_async(tail.run)
    finally:
        tail.close()
    _silence_stdout()
    return code


def cmd_completion(args: argparse.Namespace) -> int:
    sys.stdout.write(completion_script(build_parser(), args.shell))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from logship.check import EXIT_FAILED, run_checks
    from logship.settings import load_settings

    if not args.timeout_secs > 0:
        raise ConfigError(f"--timeout-secs: expected more than 0 seconds, got {args.timeout_secs}")
    settings = load_settings(args.config, **_overrides(args))
    _setup_logging(
        "error", settings.log_format
    )  # the checks' lines say it all; sinks' own info would repeat it
    timeout_secs = args.timeout_secs
    try:
        return _run_async(lambda: run_checks(settings, timeout_secs=timeout_secs, out=sys.stdout))
    except BrokenPipeError:  # `logship check | head`: the report's reader went away
        _silence_stdout()
        return EXIT_FAILED  # not all of it was seen: no success to claim


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run,
    "tail": cmd_tail,
    "check": cmd_check,
    "completion": cmd_completion,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"logship: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
