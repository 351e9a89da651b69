"""docs/chart-values.md is what helm/logship/values.yaml says: every value with its default
and its comment, so that a new value cannot reach main undocumented."""

from __future__ import annotations

import yaml

from tests.helpers.paths import ROOT
from tests.helpers.scripts import load_script


def test_the_page_is_current_run_scripts_chart_values_py_if_not() -> None:
    script = load_script("chart_values")
    assert (ROOT / "docs" / "chart-values.md").read_text() == script.render()


def test_every_value_has_a_comment_its_own_or_its_maps() -> None:
    script = load_script("chart_values")
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
