"""The alerts and the Grafana dashboard in the box: every query parses as Prometheus parses it,
every alert says what to do, the chart ships them as a PrometheusRule and a sidecar's ConfigMap
(rendered and linted by real Helm), and the page that explains the alerts names each one.
That every metric they read is one a running agent serves: tests/integration/
test_metrics_catalogue.py."""

from __future__ import annotations

import json
import re
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml

from tests.helpers.chart import CHART, KUBE_VERSIONS, find, render
from tests.helpers.monitoring import (
    ALERTS,
    DASHBOARD,
    alert_rules,
    dashboard,
    dashboard_queries,
    metric_names,
)
from tests.helpers.paths import ROOT

PAGE = ROOT / "docs" / "operators-window.md"


@pytest.fixture(scope="module")
def chart() -> helm_python.Chart:
    return helm_python.Chart.load(CHART)


def test_every_alert_parses_fires_after_a_while_and_says_what_to_do() -> None:
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} == {
        "LogshipRecordsDropped",
        "LogshipDestinationDown",
        "LogshipSourceUnreachable",
        "LogshipNotReady",
        "LogshipSpoolFilling",
        "LogshipConfigReloadFailed",
    }
    for rule in rules:
        assert metric_names(rule["expr"]), rule["alert"]
        assert re.fullmatch(r"[0-9]+m", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical")
        annotations = rule["annotations"]
        assert {"summary", "description", "runbook"} <= annotations.keys()


def test_the_page_explains_every_alert() -> None:
    text = PAGE.read_text()
    section = text[text.index("\n## Alerts and a dashboard\n") :]
    for rule in alert_rules():
        assert f"`{rule['alert']}`" in section, rule["alert"]


def test_every_dashboard_query_parses_and_every_panel_fits_the_grid() -> None:
    board = dashboard()
    queries = dashboard_queries()
    assert len(queries) >= 20
    for where, query in queries.items():
        assert metric_names(query), where
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["description"], panel["title"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    assert metric_names(queries["$instance"]) == {"logship_build_info"}


def test_the_chart_ships_the_alerts_as_a_prometheus_rule(chart: helm_python.Chart) -> None:
    assert not [m for m in render(chart, {}) if m["kind"] in ("PrometheusRule",)]
    values = {
        "prometheusRule": {
            "enabled": True,
            "labels": {"release": "prometheus"},
            "alertLabels": {"team": "platform"},
            "runbookUrl": "https://wiki.example.com/logship",
        }
    }
    rule = find(render(chart, values), "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    (group,) = rule["spec"]["groups"]
    shipped = {r["alert"]: r for r in group["rules"]}
    for given in alert_rules():
        got = shipped[given["alert"]]
        assert got["expr"] == given["expr"] and got["for"] == given["for"]
        assert got["labels"] == {**given["labels"], "team": "platform"}
        url = f"https://wiki.example.com/logship#{given['alert'].lower()}"
        assert got["annotations"] == {**given["annotations"], "runbook_url": url}


@pytest.mark.parametrize(
    ("values", "label"),
    [({}, ("grafana_dashboard", "1")), ({"label": "dashboards", "labelValue": "logs"},
                                        ("dashboards", "logs"))],
)  # fmt: skip
def test_the_chart_ships_the_dashboard_for_grafanas_sidecar(
    chart: helm_python.Chart, values: dict[str, Any], label: tuple[str, str]
) -> None:
    assert not [m for m in render(chart, {}) if m["metadata"]["name"] == "logship-dashboard"]
    manifests = render(chart, {"dashboards": {"enabled": True, **values}})
    (config_map,) = [m for m in manifests if m["metadata"]["name"] == "logship-dashboard"]
    key, value = label
    assert config_map["metadata"]["labels"][key] == value
    # the very file a Docker host's user imports by hand
    assert json.loads(config_map["data"]["logship.json"]) == json.loads(DASHBOARD.read_text())
    for version in KUBE_VERSIONS:
        kubernetes_validate.validate(config_map, version, strict=True)


def test_the_chart_with_both_lints_clean() -> None:
    values = {"prometheusRule": {"enabled": True}, "dashboards": {"enabled": True}}
    for kube_version in ("v1.25.0", "v1.37.0"):
        report = helm_python.lint(CHART, values, strict=True, kube_version=kube_version)
        problems = [m for m in report["messages"] if m["severity"] >= 2]
        assert not problems and not report["errors"], report


def test_the_rules_file_is_one_prometheus_loads() -> None:
    # rule_files: in prometheus.yml takes this file as it is (groups of named rules)
    data = yaml.safe_load(ALERTS.read_text())
    assert list(data) == ["groups"]
    for group in data["groups"]:
        assert set(group) == {"name", "rules"}
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
