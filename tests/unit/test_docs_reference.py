"""docs/reference.md is what the configuration models say: a new option, or a changed default
or description, cannot reach main without the reference saying so."""

from __future__ import annotations

from tests.helpers.paths import ROOT
from tests.helpers.scripts import load_script


def test_the_reference_is_current_run_scripts_reference_py_if_not() -> None:
    script = load_script("reference")
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
