"""What the box ships for monitoring: the alert rules and the Grafana dashboard, with the
queries in them and the metric names those queries read (Prometheus' query language parsed by
promql-parser, a port of Prometheus' own parser)."""

from __future__ import annotations

import json
import re
from typing import Any

import promql_parser
import yaml

from tests.helpers.paths import ROOT

MONITORING = ROOT / "helm" / "logship" / "monitoring"
ALERTS = MONITORING / "alerts.yaml"
DASHBOARD = MONITORING / "dashboard.json"

# what Grafana puts in a query before Prometheus sees it: its range variables become durations
_GRAFANA_RANGES = re.compile(r"\$__(rate_interval|interval|range)\b")
_LABEL_VALUES = re.compile(r"label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)")


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def dashboard_queries() -> dict[str, str]:
    """``panel title / refId`` -> its query, as Prometheus gets it from Grafana; a variable's
    ``label_values(METRIC, LABEL)`` as the series selector it asks for."""
    board = dashboard()
    out = {}
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            found = _LABEL_VALUES.fullmatch(variable["query"]["query"])
            assert found, f"${variable['name']}: {variable['query']['query']}"
            out[f"${variable['name']}"] = found.group(1)
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            out[f"{panel['title']} / {target['refId']}"] = _GRAFANA_RANGES.sub("5m", target["expr"])
    return out


def metric_names(query: str) -> set[str]:
    """The metrics a query reads; a query that does not parse fails here, saying why."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(query), visit)
    return names
