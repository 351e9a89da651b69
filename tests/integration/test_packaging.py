"""What the wheel ships, installed as a user installs it: the example configuration that
`--config`'s help names, there and valid; and, built without mypyc (a plain `pip install`), only
Python, even from a tree whose modules were compiled (scripts/test.sh compiles them)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.helpers.paths import ROOT


def test_the_wheel_ships_the_example_config_that_the_help_names(tmp_path: Path) -> None:
    find_links = ROOT / "build" / "wheels"  # scripts/build-image.sh's, when there (hatchling)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist")]
        + (["--find-links", str(find_links)] if find_links.is_dir() else [])
        + [str(ROOT)],
        check=True,
        capture_output=True,
        timeout=240,
        env={k: v for k, v in os.environ.items() if not k.startswith("HATCH_BUILD_HOOK")},
    )
    (wheel,) = (tmp_path / "dist").glob("logship-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "logship/logship.example.yaml" in names
    assert wheel.name.endswith("-py3-none-any.whl")
    assert not [name for name in names if name.endswith(".so")]
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), wheel],
        check=True,
        capture_output=True,
        timeout=120,
    )
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "1000"}
    installed = site / "logship" / "logship.example.yaml"
    shown = subprocess.run(
        [sys.executable, "-m", "logship", "run", "--help"],
        env=env,
        cwd=tmp_path,  # not the repository: the installed package, not the source tree
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"every option, commented: {installed} " in shown
    check = subprocess.run(
        [sys.executable, "-m", "logship", "check", "--config", str(installed)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode != 2, check.stdout + check.stderr  # 2: an invalid configuration
