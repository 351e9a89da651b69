"""The compiled build's guards (docs/architecture.md, "Compiled modules"): the test suite
refuses to run on a compiled module older than its source, and ``setup-venv.sh --compiled``
says what it needs when the machine cannot compile, leaving the tree as it was."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

from tests.helpers.compiled import compiled_modules, stale_modules
from tests.helpers.paths import ROOT

SUFFIX = EXTENSION_SUFFIXES[0]


def package(tmp_path: Path) -> Path:
    root = tmp_path / "logship"
    (root / "protocol").mkdir(parents=True)
    for name in ("record", "protocol/cri"):
        (root / f"{name}.py").write_text("")
        (root / f"{name}{SUFFIX}").write_bytes(b"")
    (root / f"orphan{SUFFIX}").write_bytes(b"")  # no source beside it: not one of our modules
    return root


def test_a_build_older_than_its_source_is_named_and_a_current_one_is_not(tmp_path: Path) -> None:
    root = package(tmp_path)
    assert [p.name for p in compiled_modules(root)] == [f"cri{SUFFIX}", f"record{SUFFIX}"]
    assert stale_modules(root) == []
    later = (root / f"record{SUFFIX}").stat().st_mtime + 10
    os.utime(root / "record.py", (later, later))  # the source edited after the build
    assert stale_modules(root) == ["logship/record.py"]


def test_compiled_without_a_compiler_says_what_it_needs_and_keeps_the_builds(
    tmp_path: Path,
) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup-venv.sh", tmp_path / "scripts")
    build = tmp_path / "logship" / f"record{SUFFIX}"
    build.parent.mkdir()
    build.write_bytes(b"")
    done = subprocess.run(
        ["bash", str(tmp_path / "scripts" / "setup-venv.sh"), "--compiled"],
        env={**os.environ, "CC": "/nonexistent/cc"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "--compiled needs a C compiler and Python's headers" in done.stderr
    assert build.exists()  # a failed --compiled leaves the tree as it was


def test_a_run_that_expects_the_compiled_build_refuses_to_start_without_it() -> None:
    # CI's second pass sets LOGSHIP_EXPECT_COMPILED=1: a build step that silently produced
    # nothing would otherwise test pure Python twice and call it the image's build
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--collect-only", "tests/unit/test_record.py"],
        cwd=ROOT,
        env={**os.environ, "LOGSHIP_EXPECT_COMPILED": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if compiled_modules():
        assert done.returncode == 0, done.stdout + done.stderr
    else:
        assert done.returncode == 4, done.stdout + done.stderr
        assert "LOGSHIP_EXPECT_COMPILED=1, but no module of logship is compiled" in (
            done.stdout + done.stderr
        )
