"""A script of scripts/ loaded as a module, to call what it writes (its ``render``)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.helpers.paths import ROOT


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` as a module (registered, so that its dataclasses work)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
