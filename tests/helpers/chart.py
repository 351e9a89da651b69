"""The Helm chart as the tests render it: real Helm (helm-python-sdk), the manifests parsed."""

from __future__ import annotations

from typing import Any

import helm_python
import yaml

from tests.helpers.paths import ROOT

CHART = ROOT / "helm" / "logship"
KUBE_VERSIONS = ["1.25.0", "1.31.0", "1.37.0"]  # the oldest, one between, the newest

# every value the Fluent Bit and Vector charts' users reach for, set at once (existingConfigMap
# aside: it replaces the chart's ConfigMap)
EVERY_EXTENSION_POINT: dict[str, Any] = {
    "global": {"imageRegistry": "registry.example.com", "storageClass": "fast"},
    "config": {"destinations": ["syslog+tcp://logs.example.com:514"]},
    "env": [
        {"name": "TZ", "value": "UTC"},
        {"name": "FROM_A_MAP", "valueFrom": {"configMapKeyRef": {"name": "env", "key": "a"}}},
    ],
    "extraEnv": [{"name": "OLD_NAME", "value": "still works"}],
    "envFrom": [{"configMapRef": {"name": "logship-env"}}, {"secretRef": {"name": "proxy"}}],
    "args": ["run", "--log-level", "debug"],
    "labels": {"team": "platform"},
    "annotations": {"argocd.argoproj.io/sync-wave": "1"},
    "serviceAccount": {
        "create": True,
        "name": "log-agent",
        "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/logs"},
    },
    "podSecurityContext": {
        "seccompProfile": {"type": "RuntimeDefault"},
        "supplementalGroups": [4000],
    },
    "securityContext": {"seLinuxOptions": {"type": "spc_t"}},
    "extraVolumes": [{"name": "ca-bundle", "configMap": {"name": "ca-bundle"}}],
    "extraVolumeMounts": [{"name": "ca-bundle", "mountPath": "/etc/ssl/extra", "readOnly": True}],
    "hostNetwork": True,
    "dnsPolicy": "ClusterFirstWithHostNet",
    "dnsConfig": {"options": [{"name": "ndots", "value": "2"}]},
    "lifecycle": {"preStop": {"exec": {"command": ["sleep", "2"]}}},
    "initContainers": [
        {"name": "wait-for-dns", "image": "busybox:1.36", "command": ["nslookup", "kubernetes"]}
    ],
    "extraContainers": [
        {"name": "sidecar", "image": "busybox:1.36", "args": ["sleep", "infinity"]}
    ],
}


def render(chart: helm_python.Chart, values: dict[str, Any]) -> list[dict[str, Any]]:
    """Every manifest ``helm install logship --namespace logging`` would apply."""
    out = chart.render(values, name="logship", namespace="logging", is_install=True)
    return [
        doc
        for path, text in sorted(out.items())
        if path.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def find(manifests: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    matches = [m for m in manifests if m["kind"] == kind]
    assert len(matches) == 1, f"{len(matches)} {kind}s rendered"
    return matches[0]


def pod_spec(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    return dict(find(manifests, "DaemonSet")["spec"]["template"]["spec"])


def logship_container(spec: dict[str, Any]) -> dict[str, Any]:
    (container,) = [c for c in spec["containers"] if c["name"] == "logship"]
    return dict(container)
