"""The Grafana dashboard is checked against Grafana's own dashboard schema: the TypeScript
types Grafana generates from it and publishes (@grafana/schema), compiled with the dashboard
JSON as a value of type ``Dashboard`` by the TypeScript compiler, which refuses a key the
schema does not have, a missing one it requires, and a value of the wrong type. (No Grafana can
run in our test environment to draw it.) scripts/setup-host.sh installs both packages, pinned
in tests/grafana/package.json."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.helpers.monitoring import DASHBOARD
from tests.helpers.paths import ROOT

MODULES = ROOT / "tests" / "grafana" / "node_modules"
TYPES = MODULES / "@grafana" / "schema" / "dist" / "types" / "raw" / "dashboard" / "x"
TSC = MODULES / "typescript" / "bin" / "tsc"
_ENUM = re.compile(r"export declare enum (\w+) \{([^}]*)\}")


def as_json_types(declarations: str) -> str:
    """Grafana's types with each enum as the union of its values: JSON holds ``"absolute"``,
    which TypeScript takes for the enum ``ThresholdsMode.Absolute`` only in code."""

    members: dict[str, str] = {}  # "MappingType.ValueToText" -> '"value"'

    def union(found: re.Match[str]) -> str:
        pairs = re.findall(r'(\w+)\s*=\s*("[^"]*"|-?[0-9]+)', found.group(2))
        members.update({f"{found.group(1)}.{name}": value for name, value in pairs})
        return f"export type {found.group(1)} = {' | '.join(value for _, value in pairs)};"

    declarations = _ENUM.sub(union, declarations)
    return re.sub(r"\b\w+\.\w+\b", lambda m: members.get(m.group(0), m.group(0)), declarations)


def compile_errors(board: str, tmp_path: Path) -> str:
    assert TSC.exists(), "run scripts/setup-host.sh (it installs tests/grafana's packages)"
    types = (TYPES / "types.gen.d.ts").read_text()
    (tmp_path / "grafana.d.ts").write_text(as_json_types(types))
    source = tmp_path / "dashboard.ts"
    source.write_text(
        'import type { Dashboard } from "./grafana";\n\n'
        f"export const dashboard: Dashboard = {board.strip()};\n"
    )
    run = subprocess.run(
        ["node", str(TSC), "--noEmit", "--strict", "--target", "es2022", str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return run.stdout + run.stderr


def test_the_dashboard_is_a_dashboard_as_grafanas_schema_says(tmp_path: Path) -> None:
    assert compile_errors(DASHBOARD.read_text(), tmp_path) == ""


@pytest.mark.parametrize(
    ("given", "wrong", "said"),
    [
        ('"schemaVersion": 39', '"schemaVersion": "39"', "not assignable to type 'number'"),
        ('"mode": "absolute"', '"mode": "fixed"', '"fixed"'),
        ('"graphTooltip": 1', '"graphTooltip": 1, "panelz": []', "panelz"),
    ],
)
def test_the_check_refuses_what_grafana_would_not_take(
    tmp_path: Path, given: str, wrong: str, said: str
) -> None:
    board = DASHBOARD.read_text()
    assert given in board
    assert said in compile_errors(board.replace(given, wrong, 1), tmp_path)
