"""The docker command line, as a test runs it: against a given engine, or the shared one."""

from __future__ import annotations

import subprocess


def docker_cli(host: str, *args: str, input: bytes | None = None, timeout: float = 120) -> str:
    """The docker CLI against the engine at ``host``; its standard output. A failure says what
    the CLI said, so a test failing on a private engine can be understood from its report."""
    done = subprocess.run(
        ["docker", "-H", host, *args], input=input, capture_output=True, timeout=timeout
    )
    if done.returncode != 0:
        raise AssertionError(
            f"docker {' '.join(args)} failed ({done.returncode}): "
            f"{done.stderr.decode(errors='replace').strip()}"
        )
    return done.stdout.decode()


def docker(*args: str, check: bool = True, timeout: float = 60) -> str:
    """The docker CLI against the shared engine; its standard output, stripped. With ``check``,
    a failure says what the CLI said."""
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: exit {done.returncode}: {done.stderr}")
    return done.stdout.strip()


def logs(container: str) -> str:
    """What the container wrote, stdout and stderr (logship's own log is on stderr)."""
    done = subprocess.run(
        ["docker", "logs", container], capture_output=True, text=True, timeout=60, check=False
    )
    return done.stdout + done.stderr
