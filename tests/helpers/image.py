"""logship's container image, built as the README says, once per test session."""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

from tests.helpers.paths import ROOT

TAG = "logship-test/logship:dev"
README = ROOT / "README.md"


def doc_command(path: Path, starts: str, section: str | None = None) -> str:
    """The shell command of the document at ``path`` (of its ``## section`` when given) that
    starts with ``starts``, with its continuation lines joined."""
    body = path.read_text()
    if section is not None:
        body = body.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(rf"^{re.escape(starts)}(?:.*\\\n)*.*$", body, re.MULTILINE)
    where = path.name if section is None else f"{path.name} section {section!r}"
    assert match, f"{where} has no command starting {starts!r}"
    return match.group(0).replace("\\\n", " ")


def readme_command(starts: str) -> str:
    """The shell command of the README's "Run on a Docker host" that starts with ``starts``."""
    return doc_command(README, starts, "Run on a Docker host")


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
        timeout=540,
        check=False,
    )
    assert done.returncode == 0, f"build failed:\n{done.stderr[-4000:]}"
    return TAG
