"""docs/reference.md is what the configuration models say: a new option, or a changed default
or description, cannot reach main without the reference saying so."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from tests.helpers.paths import ROOT


def reference_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reference", ROOT / "scripts" / "reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_reference_is_current_run_scripts_reference_py_if_not() -> None:
    script = reference_script()
    assert (ROOT / "docs" / "reference.md").read_text() == script.render()


def test_the_reference_names_every_setting_and_every_destination_option() -> None:
    from logship.settings import Settings
    from logship.sinks.registry import destination_types

    text = (ROOT / "docs" / "reference.md").read_text()
    for name in Settings.model_fields:
        assert f"| `{name}" in text, name
    for kind in destination_types():
        assert f"### {kind.name}\n" in text
        for name in kind.config.model_fields:
            if name != "type":
                assert f"| `{name}" in text, (kind.name, name)
