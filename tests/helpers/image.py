"""logship's container image, built as the README says, once per test session."""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

from tests.helpers.paths import ROOT

TAG = "logship-test/logship:dev"
README = ROOT / "README.md"


def doc_commands(path: Path, starts: str, section: str | None = None) -> list[str]:
    """The shell commands of the document at ``path`` (of its ``## section`` when given) that
    start with ``starts``, each with its continuation lines joined."""
    body = path.read_text()
    if section is not None:
        body = body.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    found = re.findall(rf"^{re.escape(starts)}(?:.*\\\n)*.*$", body, re.MULTILINE)
    where = path.name if section is None else f"{path.name} section {section!r}"
    assert found, f"{where} has no command starting {starts!r}"
    return [command.replace("\\\n", " ") for command in found]


def doc_command(path: Path, starts: str, section: str | None = None) -> str:
    """The first shell command of the document at ``path`` (of its ``## section`` when given)
    that starts with ``starts``, with its continuation lines joined."""
    return doc_commands(path, starts, section)[0]


def readme_commands(starts: str) -> list[str]:
    """The shell commands of the README's "Run on a Docker host" that start with ``starts``."""
    return doc_commands(README, starts, "Run on a Docker host")


def readme_command(starts: str) -> str:
    """The first shell command of the README's "Run on a Docker host" that starts with
    ``starts``."""
    return readme_commands(starts)[0]


@functools.cache  # once per test session
def build_image() -> str:
    """The image, built by the README's build command on the local base (Docker's layer
    cache: when nothing changed, this takes a second)."""
    build = readme_command("bash scripts/build-image.sh --local-base")
    assert "--local-base" in build  # this machine reaches no registry
    done = subprocess.run(
        [*build.split("#", 1)[0].split(), "--tag", TAG],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=840,  # a fresh machine: two debootstraps, every wheel, the compile
        check=False,
    )
    assert done.returncode == 0, f"build failed:\n{done.stderr[-4000:]}"
    return TAG
