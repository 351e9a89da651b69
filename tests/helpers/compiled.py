"""Whether a module of logship runs compiled (mypyc, pyproject.toml) or as Python.

A compiled module calls its own functions and methods directly, so a test that counts calls by
patching one with ``monkeypatch`` sees nothing there. Such a test is marked
``@patches(module)``: it runs against the pure-Python package (scripts/test.sh runs the unit
tests that way too) and says why it is skipped against the compiled one.
"""

from __future__ import annotations

from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from types import ModuleType

import pytest

import logship

PACKAGE = Path(logship.__file__).parent


def is_compiled(module: ModuleType) -> bool:
    return (module.__file__ or "").endswith(tuple(EXTENSION_SUFFIXES))


def _builds(root: Path) -> list[tuple[Path, Path]]:
    """(compiled build, its source) of each module under ``root`` that has both."""
    found = []
    for suffix in EXTENSION_SUFFIXES:
        for build in root.rglob(f"*{suffix}"):
            source = build.with_name(build.name.removesuffix(suffix) + ".py")
            if source.exists():
                found.append((build, source))
    return sorted(found)


def compiled_modules(root: Path = PACKAGE) -> list[Path]:
    """The package's modules that have a compiled build next to their source."""
    return [build for build, _ in _builds(root)]


def stale_modules(root: Path = PACKAGE) -> list[str]:
    """Compiled modules whose source changed after they were built: Python would import the
    old build and ignore the change."""
    return [
        str(source.relative_to(root.parent))
        for build, source in _builds(root)
        if source.stat().st_mtime > build.stat().st_mtime
    ]


def patches(module: ModuleType) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        is_compiled(module),
        reason=f"patches {module.__name__}, compiled here: the pure-Python run covers it",
    )
