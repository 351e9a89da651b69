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


def compiled_modules() -> list[Path]:
    """The package's modules that have a compiled build next to their source."""
    return sorted(
        path
        for suffix in EXTENSION_SUFFIXES
        for path in PACKAGE.rglob(f"*{suffix}")
        if path.with_name(path.name.removesuffix(suffix) + ".py").exists()
    )


def stale_modules() -> list[str]:
    """Compiled modules whose source changed after they were built: Python would import the
    old build and ignore the change."""
    stale = []
    for path in compiled_modules():
        source = next(
            path.with_name(path.name.removesuffix(suffix) + ".py")
            for suffix in EXTENSION_SUFFIXES
            if path.name.endswith(suffix)
        )
        if source.stat().st_mtime > path.stat().st_mtime:
            stale.append(str(source.relative_to(PACKAGE.parent)))
    return stale


def patches(module: ModuleType) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        is_compiled(module),
        reason=f"patches {module.__name__}, compiled here: the pure-Python run covers it",
    )
