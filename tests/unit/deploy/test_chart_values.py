"""docs/chart-values.md is what helm/logship/values.yaml says: every value with its default
and its comment, so that a new value cannot reach main undocumented."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import yaml

from tests.helpers.paths import ROOT


def values_script() -> ModuleType:
    path = ROOT / "scripts" / "chart_values.py"
    spec = importlib.util.spec_from_file_location("chart_values", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("chart_values", module)
    spec.loader.exec_module(module)
    return module


def test_the_page_is_current_run_scripts_chart_values_py_if_not() -> None:
    script = values_script()
    assert (ROOT / "docs" / "chart-values.md").read_text() == script.render()


def test_every_value_has_a_comment_its_own_or_its_maps() -> None:
    script = values_script()
    rows = script.values((ROOT / "helm" / "logship" / "values.yaml").read_text())
    commented = {row.path for row in rows if row.comment}
    bare = [
        ".".join(row.path)
        for row in rows
        if not row.comment and not any(row.path[:i] in commented for i in range(1, len(row.path)))
    ]
    assert not bare, f"values.yaml: write a comment above {bare}"


def test_the_page_lists_every_top_level_value_with_its_default() -> None:
    defaults = yaml.safe_load((ROOT / "helm" / "logship" / "values.yaml").read_text())
    text = (ROOT / "docs" / "chart-values.md").read_text()
    for key in defaults:
        assert f"| `{key}" in text, key
    assert "| `http.port` | `9880` |" in text
    assert '| `args` | `["run"]` |' in text
