"""The chart bends as the Fluent Bit and Vector charts do, without being less safe by default:
every extension point lands where a user expects it, the defaults are today's, and the chart
works as a subchart of an umbrella chart that passes ``global`` (real Helm renders and lints
each; kubernetes-validate --strict checks every core manifest)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml

from tests.helpers.chart import (
    CHART,
    EVERY_EXTENSION_POINT,
    KUBE_VERSIONS,
    find,
    logship_container,
    pod_spec,
    render,
)

SAFE_CONTAINER = {
    "runAsUser": 0,
    "runAsGroup": 0,
    "runAsNonRoot": False,
    "allowPrivilegeEscalation": False,
    "privileged": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


@pytest.fixture(scope="module")
def chart() -> helm_python.Chart:
    return helm_python.Chart.load(CHART)


def validate(manifests: list[dict[str, Any]]) -> None:
    for manifest in manifests:
        if manifest["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a CRD: no schema of it in kubernetes-validate
        for version in KUBE_VERSIONS:
            kubernetes_validate.validate(manifest, version, strict=True)


def lint(path: Path, values: dict[str, Any], **options: Any) -> None:
    for kube_version in ("v1.25.0", "v1.37.0"):
        report = helm_python.lint(path, values, strict=True, kube_version=kube_version, **options)
        problems = [m for m in report["messages"] if m["severity"] >= 2]
        assert not problems and not report["errors"], report


def test_by_default_the_pods_have_an_account_of_their_own_with_no_token(
    chart: helm_python.Chart,
) -> None:
    manifests = render(chart, {})
    account = find(manifests, "ServiceAccount")
    assert account["metadata"]["name"] == "logship"
    assert account["automountServiceAccountToken"] is False
    spec = pod_spec(manifests)
    assert spec["serviceAccountName"] == "logship"
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
    assert logship_container(spec)["securityContext"] == SAFE_CONTAINER
    assert logship_container(spec)["args"] == ["run"]
    for absent in ("hostNetwork", "dnsPolicy", "dnsConfig", "initContainers"):
        assert absent not in spec
    assert [c["name"] for c in spec["containers"]] == ["logship"]
    assert "lifecycle" not in logship_container(spec)
    assert "envFrom" not in logship_container(spec)


@pytest.mark.parametrize(
    ("account", "name"), [({"create": False}, "default"), ({"create": False, "name": "x"}, "x")]
)
def test_an_account_that_exists_is_used_as_it_is(
    chart: helm_python.Chart, account: dict[str, Any], name: str
) -> None:
    manifests = render(chart, {"serviceAccount": account})
    assert not [m for m in manifests if m["kind"] == "ServiceAccount"]
    spec = pod_spec(manifests)
    assert spec["serviceAccountName"] == name
    assert spec["automountServiceAccountToken"] is False


def test_every_extension_point_lands_where_a_user_expects_it(chart: helm_python.Chart) -> None:
    values = EVERY_EXTENSION_POINT
    manifests = render(chart, values)
    daemonset = find(manifests, "DaemonSet")
    assert daemonset["metadata"]["labels"]["team"] == "platform"
    assert daemonset["metadata"]["annotations"] == values["annotations"]
    account = find(manifests, "ServiceAccount")
    assert account["metadata"]["name"] == "log-agent"
    assert account["metadata"]["annotations"] == values["serviceAccount"]["annotations"]
    assert account["automountServiceAccountToken"] is False
    spec = pod_spec(manifests)
    assert spec["serviceAccountName"] == "log-agent"
    assert spec["automountServiceAccountToken"] is False  # no opting in to the API token
    assert spec["securityContext"] == values["podSecurityContext"]
    assert (spec["hostNetwork"], spec["dnsPolicy"]) == (True, "ClusterFirstWithHostNet")
    assert spec["dnsConfig"] == values["dnsConfig"]
    assert spec["initContainers"] == values["initContainers"]
    assert [c["name"] for c in spec["containers"]] == ["logship", "sidecar"]
    assert spec["containers"][1] == values["extraContainers"][0]
    assert spec["volumes"][-1] == values["extraVolumes"][0]
    container = logship_container(spec)
    assert container["volumeMounts"][-1] == values["extraVolumeMounts"][0]
    assert container["args"] == ["run", "--log-level", "debug"]
    assert container["lifecycle"] == values["lifecycle"]
    assert container["envFrom"] == values["envFrom"]
    # the chart's variables first, then extraEnv's and env's
    names = [e["name"] for e in container["env"]]
    assert names[0] == "LOGSHIP_CONFIG"
    assert names[-3:] == ["OLD_NAME", "TZ", "FROM_A_MAP"]
    # what the user gave is merged into the safe defaults, which stay
    assert container["securityContext"] == {**SAFE_CONTAINER, "seLinuxOptions": {"type": "spc_t"}}


def test_a_key_of_the_safe_defaults_goes_only_when_set_to_null(chart: helm_python.Chart) -> None:
    spec = pod_spec(render(chart, {"securityContext": {"readOnlyRootFilesystem": None}}))
    security = logship_container(spec)["securityContext"]
    assert "readOnlyRootFilesystem" not in security
    assert security["capabilities"] == {"drop": ["ALL"]}


def test_an_existing_config_map_is_mounted_instead_of_the_charts(
    chart: helm_python.Chart,
) -> None:
    values = {"existingConfigMap": "my-logship-config", "config": {"log_level": "debug"}}
    manifests = render(chart, values)
    assert not [m for m in manifests if m["kind"] == "ConfigMap"]
    spec = pod_spec(manifests)
    (config,) = [v for v in spec["volumes"] if v["name"] == "config"]
    assert config["configMap"] == {"name": "my-logship-config"}
    daemonset = find(manifests, "DaemonSet")
    assert "checksum/config" not in daemonset["spec"]["template"]["metadata"]["annotations"]
    validate(manifests)
    lint(CHART, values)


def umbrella(tmp_path: Path) -> Path:
    """A chart of charts with logship among its dependencies (in its charts/ directory), as
    a platform team packs its cluster's add-ons."""
    root = tmp_path / "platform"
    (root / "templates").mkdir(parents=True)
    shutil.copytree(CHART, root / "charts" / "logship")
    chart = {
        "apiVersion": "v2",
        "name": "platform",
        "version": "1.0.0",
        "dependencies": [{"name": "logship", "version": "0.1.0"}],
    }
    (root / "Chart.yaml").write_text(yaml.safe_dump(chart))
    (root / "values.yaml").write_text(
        yaml.safe_dump(
            {
                "global": {"imageRegistry": "registry.example.com", "clusterName": "prod-eu"},
                "logship": {"config": {"destinations": ["syslog+tcp://logs.example.com:514"]}},
            }
        )
    )
    return root


def test_as_a_subchart_under_an_umbrella_that_passes_global(tmp_path: Path) -> None:
    root = umbrella(tmp_path)
    values = {"global": {"team": "platform"}, "logship": EVERY_EXTENSION_POINT}
    for given in ({}, values):
        out = helm_python.Chart.load(root).render(
            given, name="platform", namespace="logging", is_install=True
        )
        manifests = [
            doc
            for path, text in sorted(out.items())
            if path.endswith(".yaml")
            for doc in yaml.safe_load_all(text)
            if doc
        ]
        daemonset = find(manifests, "DaemonSet")
        assert daemonset["metadata"]["name"] == "platform-logship"
        config = find(manifests, "ConfigMap")["data"]["logship.yaml"]
        assert "syslog+tcp://logs.example.com:514" in config
        validate(manifests)
        lint(root, given, with_subcharts=True)
