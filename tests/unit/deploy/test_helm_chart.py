"""The Helm chart, rendered and linted by real Helm (helm-python-sdk embeds it), every manifest
validated against the Kubernetes schemas of the versions we support, and the ConfigMap it
renders loaded by logship's own settings loader, so chart and agent cannot drift apart.

The value sets are the commands of docs/kubernetes.md (the README's "Run on Kubernetes" shows
its install command) and a few realistic overrides: syslog over TLS with the chart's Secret on
Docker nodes (the socket mounted), Elasticsearch with an existing Secret, forward with a shared
key from the environment and the node's paths elsewhere, a private registry.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import quote

import helm_python
import kubernetes_validate
import pytest
import yaml

from logship.assemble import container_filter
from logship.record import ContainerMeta, HostMeta
from logship.settings import Settings, load_settings
from logship.sinks.registry import destination_types, schemes
from tests.helpers.chart import (
    CHART,
    EVERY_EXTENSION_POINT,
    KUBE_VERSIONS,
    find,
    logship_container,
    pod_spec,
    render,
)
from tests.helpers.image import doc_command
from tests.helpers.paths import ROOT
from tests.helpers.tls import TlsFiles

README = ROOT / "README.md"
KUBERNETES_PAGE = ROOT / "docs" / "kubernetes.md"
MOUNT = "/etc/logship/secrets"
# settings the chart sets itself, through the DaemonSet's environment
SET_BY_CHART = {
    "hostname",
    "host_ip",
    "state_dir",
    "http",
    "docker_host",
    "docker_tls_verify",
    "docker_cert_path",
    "docker_root",
    "pods_dir",
    "pod_links_dir",
}


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge of values: maps deeply, everything else replaced."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def docs_helm_values(command_start: str) -> dict[str, Any]:
    """The values a ``helm`` command of docs/kubernetes.md gives: its --set and --set-json
    flags, and the values file it names (the page's YAML block that starts with ``# FILE``)."""
    section = KUBERNETES_PAGE.read_text()
    words = shlex.split(doc_command(KUBERNETES_PAGE, command_start))
    values: dict[str, Any] = {}
    for flag, argument in itertools.pairwise(words):
        if flag == "--set":
            values = merge(values, helm_python.parse_set_string(argument))
        elif flag == "--set-json":
            values = merge(values, helm_python.parse_set_json(argument))
        elif flag in ("-f", "--values"):
            block = re.search(rf"```yaml\n# {re.escape(argument)}\n(.*?)```", section, re.DOTALL)
            assert block, f"docs/kubernetes.md shows no {argument}"
            values = merge(values, yaml.safe_load(block.group(1)))
    return values


def value_sets(ca: TlsFiles) -> dict[str, dict[str, Any]]:
    return {
        "defaults": {},
        "readme-install": docs_helm_values("helm install logship helm/logship"),
        "readme-values-file": docs_helm_values("helm upgrade --install logship helm/logship"),
        "syslog-tls-with-the-charts-secret": {
            "image": {"repository": "registry.example.com/ops/logship", "tag": "0.1.0"},
            "docker": {"socket": {"enabled": True}},
            "config": {
                "destinations": [
                    f"syslog+tls://logs.example.com:6514?tls.ca_file={MOUNT}/ca.crt"
                    f"&tls.cert_file={MOUNT}/client.crt&tls.key_file={MOUNT}/client.key",
                    "console://?format=json&filter.labels=io.kubernetes.pod.namespace:payments",
                ],
                "include": {"labels": ["io.kubernetes.pod.namespace"]},
                "buffer": {"max_records": 100000, "max_bytes": 33554432},
                "log_level": "warning",
            },
            "secret": {
                "create": True,
                "files": {
                    "ca.crt": ca.ca_file.read_text(),
                    "client.crt": ca.client_cert.read_text(),
                    "client.key": ca.client_key.read_text(),
                },
            },
            "resources": {
                "requests": {"cpu": "100m", "memory": "128Mi"},
                "limits": {"cpu": 1, "memory": "512Mi"},
            },
            "tolerations": [{"operator": "Exists"}],
            "nodeSelector": {"kubernetes.io/os": "linux", "node.example.com/logs": "true"},
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {
                                        "key": "node.kubernetes.io/instance-type",
                                        "operator": "NotIn",
                                        "values": ["fargate"],
                                    }
                                ]
                            }
                        ]
                    }
                }
            },
            "priorityClassName": "system-node-critical",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "20%"}},
            "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
            "podLabels": {"team": "platform"},
            "http": {"logs": {"enabled": True}},
            "networkPolicy": {
                "enabled": True,
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                "podSelector": {
                    "matchExpressions": [
                        {
                            "key": "app.kubernetes.io/name",
                            "operator": "In",
                            "values": ["prometheus"],
                        }
                    ]
                },
            },
        },
        "forward-with-a-key-from-the-environment": {
            "fullnameOverride": "logs-agent",
            "image": {"repository": "registry.example.com/logship", "pullPolicy": "Always"},
            "imagePullSecrets": [{"name": "registry-credentials"}],
            "config": {
                "destinations": [
                    {
                        "type": "forward",
                        "host": "fluentd.logging.svc",
                        "port": 24224,
                        "ack": True,
                        "shared_key_env": "FORWARD_SHARED_KEY",
                    }
                ],
                "backlog": True,
                "checkpoint_interval_secs": 2,
            },
            "extraEnv": [
                {
                    "name": "FORWARD_SHARED_KEY",
                    "valueFrom": {"secretKeyRef": {"name": "fluentd", "key": "shared-key"}},
                }
            ],
            "metrics": {"podAnnotations": False},
            "stateDir": {"hostPath": "/var/lib/logs-agent"},
            "logFiles": {
                "podsDir": "/data/kubelet/pods-logs",
                "podLinksDir": "/var/log/containers",
                "dockerRoot": "",
            },
            "http": {
                "port": 2020,
                "logs": {
                    "enabled": True,
                    "existingSecret": "logs-agent-http",
                    "secretKey": "bearer",
                },
            },
            "networkPolicy": {"enabled": True, "podSelector": {"matchLabels": {"app": "vmagent"}}},
            "updateStrategy": {"type": "OnDelete"},
        },
        "every-extension-point": EVERY_EXTENSION_POINT,
    }


@pytest.fixture(scope="module")
def chart() -> helm_python.Chart:
    return helm_python.Chart.load(CHART)


@pytest.fixture(scope="module")
def sets(test_ca: TlsFiles) -> dict[str, dict[str, Any]]:
    return value_sets(test_ca)


NAMES = [
    "defaults",
    "readme-install",
    "readme-values-file",
    "syslog-tls-with-the-charts-secret",
    "forward-with-a-key-from-the-environment",
    "every-extension-point",
]


@pytest.mark.parametrize("name", NAMES)
def test_every_rendered_manifest_is_valid_for_every_supported_kubernetes(
    chart: helm_python.Chart, sets: dict[str, dict[str, Any]], name: str
) -> None:
    manifests = render(chart, sets[name])
    assert {m["kind"] for m in manifests} >= {"DaemonSet", "ConfigMap"}
    for manifest in manifests:
        if manifest["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a CRD: checked against the Service below
        for version in KUBE_VERSIONS:
            kubernetes_validate.validate(manifest, version, strict=True)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kube_version", ["v1.25.0", "v1.37.0"])
def test_helm_lint_strict_finds_nothing(
    sets: dict[str, dict[str, Any]], name: str, kube_version: str
) -> None:
    report = helm_python.lint(CHART, sets[name], strict=True, kube_version=kube_version)
    problems = [m for m in report["messages"] if m["severity"] >= 2]  # warnings and errors
    assert not problems and not report["errors"], report


def secret_files(
    manifests: list[dict[str, Any]], volume: dict[str, Any], config: str, mount: str, ca: TlsFiles
) -> dict[str, bytes]:
    """The files a Secret volume shows at ``mount``: the rendered Secret's, or for one that
    exists already, what the config names there (the test CA's PEMs where one is wanted)."""
    name = volume["secret"]["secretName"]
    rendered = [m for m in manifests if m["kind"] == "Secret" and m["metadata"]["name"] == name]
    if rendered:
        data = {k: base64.b64decode(v) for k, v in rendered[0]["data"].items()}
    else:
        data = {}
        for path in re.findall(rf"{re.escape(mount)}/([-._a-zA-Z0-9]+)", config):
            real = {".crt": ca.ca_file, ".key": ca.client_key}.get(Path(path).suffix)
            data[path] = real.read_bytes() if real else f"secret-of-{path}\n".encode()
        for item in volume["secret"].get("items", []):
            data[item["key"]] = f"secret-of-{item['key']}\n".encode()
    items = volume["secret"].get("items")
    if items:
        return {item["path"]: data[item["key"]] for item in items}
    return data


def emulate_the_pod(
    manifests: list[dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ca: TlsFiles,
) -> Settings:
    """What logship loads in the pod: the ConfigMap's file, every Secret volume's files at
    their mount path (here a temporary directory each), and the container's environment, with
    the downward API's values for a node called node-1."""
    config = find(manifests, "ConfigMap")["data"]["logship.yaml"]
    spec = pod_spec(manifests)
    container = logship_container(spec)
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounted: dict[str, Path] = {}  # mount path in the pod -> the directory here
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "secret" in volume:
            here = tmp_path / mount["name"]
            here.mkdir()
            for file, content in secret_files(
                manifests, volume, config, mount["mountPath"], ca
            ).items():
                (here / file).write_bytes(content)
            mounted[mount["mountPath"]] = here

    def here(text: str) -> str:
        for path, directory in mounted.items():
            text = text.replace(path, str(directory))
        return text

    config_file = tmp_path / "logship.yaml"
    config_file.write_text(here(config))
    downward = {"spec.nodeName": "node-1", "status.hostIP": "10.0.0.7"}
    for var in container["env"]:
        if "value" in var:
            monkeypatch.setenv(var["name"], here(var["value"]))
        elif "fieldRef" in var["valueFrom"]:
            monkeypatch.setenv(var["name"], downward[var["valueFrom"]["fieldRef"]["fieldPath"]])
        else:
            monkeypatch.setenv(var["name"], "from-a-secret")
    return load_settings(config_file)


@pytest.mark.parametrize("name", NAMES)
def test_logship_loads_the_config_the_chart_renders(
    chart: helm_python.Chart,
    sets: dict[str, dict[str, Any]],
    name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    test_ca: TlsFiles,
) -> None:
    values = sets[name]
    manifests = render(chart, values)
    settings = emulate_the_pod(manifests, tmp_path, monkeypatch, test_ca)
    port = values.get("http", {}).get("port", 9880)
    assert settings.hostname == "node-1"
    assert settings.host_ip == "10.0.0.7"
    assert settings.http is not None
    assert settings.http.listen == f"0.0.0.0:{port}"
    assert settings.honor_ignore is False  # the operator's excludes, not the containers' say
    logs = values.get("http", {}).get("logs", {})
    assert (settings.http.token is not None) == bool(logs.get("enabled"))
    assert settings.state_dir == Path("/var/lib/logship")
    assert settings.docker_host == "unix:///var/run/docker.sock"
    assert settings.source == "auto"
    files = merge(chart_defaults()["logFiles"], values.get("logFiles", {}))
    assert settings.pods_dir == Path(files["podsDir"])
    assert settings.pod_links_dir == Path(files["podLinksDir"])
    # no docker root mounted: the default, which then is not there
    assert settings.docker_root == Path(files["dockerRoot"] or "/var/lib/docker")
    wanted = values.get("config", {}).get("destinations", [])
    assert len(settings.destinations) == len(wanted)
    for destination, given in zip(settings.destinations, wanted, strict=True):
        kind = given["type"] if isinstance(given, dict) else schemes()[given.split(":")[0]][0]
        assert destination.type == kind


def test_the_readme_shows_the_install_command_of_the_kubernetes_page() -> None:
    start = "helm install logship helm/logship"
    readme = doc_command(README, start, "Run on Kubernetes")
    assert readme == doc_command(KUBERNETES_PAGE, start)


def test_the_readme_install_command_filters_on_the_pod_namespace(
    chart: helm_python.Chart,
    sets: dict[str, dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    test_ca: TlsFiles,
) -> None:
    manifests = render(chart, sets["readme-install"])
    settings = emulate_the_pod(manifests, tmp_path, monkeypatch, test_ca)
    (destination,) = settings.destinations
    assert destination.filter.labels == ["io.kubernetes.pod.namespace:payments"]


def chart_defaults() -> dict[str, Any]:
    return dict(yaml.safe_load((CHART / "values.yaml").read_text()))


def test_the_pod_runs_as_root_with_no_capability_and_nothing_writable_but_its_state(
    chart: helm_python.Chart,
) -> None:
    for values in ({}, {"docker": {"socket": {"enabled": True}}}):
        spec = pod_spec(render(chart, values))
        (container,) = spec["containers"]
        # root: the runtimes write the logs as root's, readable by their owner only; but no
        # capability at all, so nothing beyond what the files' owner may do
        assert container["securityContext"] == {
            "runAsUser": 0,
            "runAsGroup": 0,
            "runAsNonRoot": False,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }
        assert spec["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
        assert "initContainers" not in spec  # root owns the state directory the kubelet makes
        assert spec["automountServiceAccountToken"] is False
        writable = [m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")]
        assert writable == ["/var/lib/logship"]


def test_the_node_log_files_are_mounted_read_only_at_their_own_paths_and_no_socket_by_default(
    chart: helm_python.Chart,
) -> None:
    spec = pod_spec(render(chart, {}))
    (container,) = spec["containers"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    # the kubelet's links are absolute paths on the node: the same paths in the pod
    for name, path, kind in [
        ("pods", "/var/log/pods", "Directory"),
        ("pod-links", "/var/log/containers", "Directory"),
        ("docker-containers", "/var/lib/docker/containers", "DirectoryOrCreate"),
    ]:
        assert volumes[name]["hostPath"] == {"path": path, "type": kind}
        assert mounts[name]["mountPath"] == path
        assert mounts[name]["readOnly"] is True
    # a containerd or CRI-O node has no Docker socket: nothing may depend on one
    assert "docker-socket" not in volumes and "docker-socket" not in mounts
    assert not [v for v in spec["volumes"] if "sock" in v.get("hostPath", {}).get("path", "")]
    assert volumes["state"]["hostPath"] == {"path": "/var/lib/logship", "type": "DirectoryOrCreate"}
    assert mounts["state"]["mountPath"] == "/var/lib/logship"


def test_the_docker_socket_is_mounted_only_when_asked_and_then_must_be_a_socket(
    chart: helm_python.Chart,
) -> None:
    values = {"docker": {"socket": {"enabled": True, "path": "/run/docker.sock"}}}
    spec = pod_spec(render(chart, values))
    (container,) = spec["containers"]
    (socket_volume,) = [v for v in spec["volumes"] if v["name"] == "docker-socket"]
    assert socket_volume["hostPath"] == {"path": "/run/docker.sock", "type": "Socket"}
    (socket_mount,) = [m for m in container["volumeMounts"] if m["name"] == "docker-socket"]
    assert socket_mount == {
        "name": "docker-socket",
        "mountPath": "/var/run/docker.sock",
        "readOnly": True,
    }


def test_an_empty_docker_root_mounts_nothing_of_dockers(chart: helm_python.Chart) -> None:
    spec = pod_spec(render(chart, {"logFiles": {"dockerRoot": ""}}))
    paths = [v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v]
    assert paths == ["/var/log/pods", "/var/log/containers", "/var/lib/logship"]
    env = {e["name"] for e in spec["containers"][0]["env"]}
    assert "LOGSHIP_DOCKER_ROOT" not in env


def test_the_rest_of_the_daemonset_is_as_documented(chart: helm_python.Chart) -> None:
    daemonset = find(render(chart, {}), "DaemonSet")
    pod = daemonset["spec"]["template"]
    spec = pod["spec"]
    (container,) = spec["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["LOGSHIP_HOSTNAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 9880, "protocol": "TCP"}]
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "9880"
    assert {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists",
            "effect": "NoSchedule"} in spec["tolerations"]  # fmt: skip
    assert daemonset["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1},
    }
    assert container["resources"]["limits"]["memory"] == "256Mi"


def own_and_other_pods(namespace: str) -> dict[str, ContainerMeta]:
    """Containers as each source names them: the CRI source ``<pod>/<container>``, Docker's
    kubelet ``k8s_<container>_<pod>_<namespace>_<uid>_<attempt>``."""
    host = HostMeta("node-1", "10.0.0.7")
    uid = "0d9c4a6e-2f4b-4c43-9a57-3e4b8f1f5a11"
    names = {
        "own, cri": "logship-x7k2p/logship",
        "own, docker": f"k8s_logship_logship-x7k2p_{namespace}_{uid}_0",
        "other, cri": "logship-web-6d4cf56db6-x7k2p/logship",
        "other, docker": f"k8s_logship_logship-x7k2p_shop_{uid}_0",
        "other namespace's logship pod, cri": "api-x7k2p/logship",
    }
    return {what: ContainerMeta(uid, name, "", "", host) for what, name in names.items()}


@pytest.mark.parametrize("user_excludes", [None, ["web-*"], "web-*,db-*"])
def test_logships_own_pods_are_not_followed_by_either_source(
    chart: helm_python.Chart,
    sets: dict[str, dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    test_ca: TlsFiles,
    user_excludes: list[str] | str | None,
) -> None:
    values: dict[str, Any] = {}
    if user_excludes is not None:
        values = {"config": {"exclude": {"names": user_excludes}}}
    settings = emulate_the_pod(render(chart, values), tmp_path, monkeypatch, test_ca)
    skip = container_filter(settings).reason_to_skip
    pods = own_and_other_pods("logging")
    assert skip(pods["own, cri"]) and skip(pods["own, docker"])
    assert not [what for what, meta in pods.items() if what.startswith("other") and skip(meta)]
    if user_excludes is not None:  # the user's own excludes still hold
        assert skip(ContainerMeta("1", "web-1", "", "", HostMeta("n", "1.2.3.4")))


def test_ship_own_logs_follows_logships_pods_too(
    chart: helm_python.Chart, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, test_ca: TlsFiles
) -> None:
    values = {"shipOwnLogs": True, "config": {"destinations": ["syslog+udp://logs:514"]}}
    settings = emulate_the_pod(render(chart, values), tmp_path, monkeypatch, test_ca)
    skip = container_filter(settings).reason_to_skip
    assert not [what for what, meta in own_and_other_pods("logging").items() if skip(meta)]


def test_a_config_change_rolls_the_pods(chart: helm_python.Chart) -> None:
    def checksum(values: dict[str, Any]) -> str:
        pod = find(render(chart, values), "DaemonSet")["spec"]["template"]
        return str(pod["metadata"]["annotations"]["checksum/config"])

    assert checksum({}) != checksum({"config": {"log_level": "debug"}})


def test_the_service_monitor_scrapes_the_metrics_port_of_every_pod(
    chart: helm_python.Chart, sets: dict[str, dict[str, Any]]
) -> None:
    manifests = render(chart, sets["syslog-tls-with-the-charts-secret"])
    monitor, service = find(manifests, "ServiceMonitor"), find(manifests, "Service")
    pod = find(manifests, "DaemonSet")["spec"]["template"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prom"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert service["spec"]["clusterIP"] == "None"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in [p["name"] for p in service["spec"]["ports"]]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["logging"]}


def test_without_a_service_monitor_there_is_no_service(chart: helm_python.Chart) -> None:
    kinds = [m["kind"] for m in render(chart, {})]
    assert "Service" not in kinds and "ServiceMonitor" not in kinds and "Secret" not in kinds


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"docker": {"socket": {"enabled": "yes"}}},
         "at '/docker/socket/enabled': got string, want boolean"),
        # the values of an earlier chart, which ran as a user with the socket's group
        ({"docker": {"socketGroupId": 999}},
         "at '/docker': additional properties 'socketGroupId' not allowed"),
        ({"config": {"pods_dir": "/var/log/pods"}},
         "at '/config': additional properties 'pods_dir' not allowed"),
        ({"logFiles": {"podsDir": "var/log/pods"}}, "at '/logFiles/podsDir'"),
        ({"config": {"destinatons": []}},
         "at '/config': additional properties 'destinatons' not allowed"),
        ({"config": {"hostname": "node-1"}},
         "at '/config': additional properties 'hostname' not allowed"),
        ({"config": {"destinations": ["sylog://logs:514"]}}, "at '/config/destinations/0'"),
        ({"config": {"destinations": [{"type": "splunk"}]}}, "at '/config/destinations/0'"),
        ({"config": {"log_level": "verbose"}}, "at '/config/log_level'"),
        ({"image": {"repository": "logship", "pullPolicy": "always"}}, "at '/image/pullPolicy'"),
        ({"securityContext": "root"}, "at '/securityContext': got string, want object"),
        ({"serviceAccount": {"automountServiceAccountToken": True}},
         "additional properties 'automountServiceAccountToken' not allowed"),
        ({"args": []}, "at '/args'"),
        ({"dnsPolicy": "ClusterFirstWithHostnet"}, "at '/dnsPolicy'"),
        ({"resources": {"limits": {"memory": "256MB"}}}, "at '/resources/limits/memory'"),
        ({"updateStrategy": {"type": "Rolling"}}, "at '/updateStrategy/type'"),
        ({"http": {"port": 98800}}, "at '/http/port'"),
        ({"tolerations": {"operator": "Exists"}}, "at '/tolerations': got object, want array"),
    ],
)  # fmt: skip
def test_a_wrong_value_fails_at_install_time_naming_it(
    chart: helm_python.Chart, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm_python.HelmValuesError) as failure:
        chart.render(values, name="logship", namespace="logging", is_install=True)
    assert message in str(failure.value)


def test_the_schema_knows_every_setting_of_logship_and_nothing_else() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    config = schema["properties"]["config"]["properties"]
    # a new setting of logship's must be added to the chart's schema (or to SET_BY_CHART)
    assert set(config) == set(Settings.model_fields) - SET_BY_CHART
    destination = config["destinations"]["items"]["oneOf"]
    types = {kind.name for kind in destination_types()}
    assert set(destination[1]["properties"]["type"]["enum"]) == types
    uri = re.compile(destination[0]["else"]["pattern"])
    assert all(uri.match(f"{scheme}://host") for scheme in schemes())
    assert not uri.match("sylog://host")


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ({"create": True, "files": {"a": "b"}, "existingSecret": "mine"}, "not both"),
        ({"create": True}, "secret.files is empty"),
    ],
)
def test_an_ambiguous_secret_fails_saying_why(
    chart: helm_python.Chart, secret: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm_python.HelmError) as failure:
        chart.render({"secret": secret}, name="logship", namespace="logging", is_install=True)
    assert message in str(failure.value)


# -- who can read the logs (issue 13) -----------------------------------------------------------


def test_without_http_logs_there_is_no_token_and_no_network_policy(
    chart: helm_python.Chart,
) -> None:
    manifests = render(chart, {})
    spec = pod_spec(manifests)
    (container,) = spec["containers"]
    assert "http-token" not in {v["name"] for v in spec["volumes"]}
    assert "LOGSHIP_HTTP__TOKEN_FILE" not in {e["name"] for e in container["env"]}
    kinds = [m["kind"] for m in manifests]
    assert "Secret" not in kinds and "NetworkPolicy" not in kinds


def test_http_logs_takes_a_token_the_chart_makes_into_a_secret(
    chart: helm_python.Chart, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, test_ca: TlsFiles
) -> None:
    manifests = render(chart, {"http": {"logs": {"enabled": True}}})
    (secret,) = [m for m in manifests if m["kind"] == "Secret"]
    assert secret["metadata"]["name"] == "logship-http-token"
    token = base64.b64decode(secret["data"]["token"]).decode()
    assert re.fullmatch(r"[A-Za-z0-9]{48}", token)
    (volume,) = [v for v in pod_spec(manifests)["volumes"] if v["name"] == "http-token"]
    assert volume["secret"]["secretName"] == "logship-http-token"
    settings = emulate_the_pod(manifests, tmp_path, monkeypatch, test_ca)
    assert settings.http is not None and settings.http.token is not None
    assert settings.http.token.get_secret_value() == token
    assert not settings.http.loopback  # every address: the token is what guards /logs


def test_http_logs_takes_the_token_of_an_existing_secret(chart: helm_python.Chart) -> None:
    values = {"http": {"logs": {"enabled": True, "existingSecret": "ops-tokens", "secretKey": "k"}}}
    manifests = render(chart, values)
    assert "Secret" not in [m["kind"] for m in manifests]
    spec = pod_spec(manifests)
    (volume,) = [v for v in spec["volumes"] if v["name"] == "http-token"]
    assert volume["secret"]["secretName"] == "ops-tokens"
    assert volume["secret"]["items"] == [{"key": "k", "path": "token"}]
    (mount,) = [m for m in spec["containers"][0]["volumeMounts"] if m["name"] == "http-token"]
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    assert env["LOGSHIP_HTTP__TOKEN_FILE"] == f"{mount['mountPath']}/token"
    assert mount["readOnly"] is True


def test_the_network_policy_admits_only_the_http_port_from_the_selected_pods(
    chart: helm_python.Chart, sets: dict[str, dict[str, Any]]
) -> None:
    values = sets["syslog-tls-with-the-charts-secret"]
    manifests = render(chart, values)
    policy = find(manifests, "NetworkPolicy")
    pod = find(manifests, "DaemonSet")["spec"]["template"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert policy["spec"]["policyTypes"] == ["Ingress"]  # the destinations stay reachable
    (rule,) = policy["spec"]["ingress"]
    (port,) = rule["ports"]
    (container_port,) = pod["spec"]["containers"][0]["ports"]
    assert (port["port"], port["protocol"]) == (container_port["name"], "TCP")
    wanted = values["networkPolicy"]
    assert rule["from"] == [
        {"namespaceSelector": wanted["namespaceSelector"], "podSelector": wanted["podSelector"]}
    ]
    # a podSelector alone: those pods of the release's namespace
    alone = render(
        chart, {"networkPolicy": {"enabled": True, "podSelector": wanted["podSelector"]}}
    )
    assert find(alone, "NetworkPolicy")["spec"]["ingress"][0]["from"] == [
        {"podSelector": wanted["podSelector"]}
    ]


def test_a_network_policy_that_selects_nobody_fails_saying_what_it_needs(
    chart: helm_python.Chart,
) -> None:
    with pytest.raises(helm_python.HelmError) as failure:
        render(chart, {"networkPolicy": {"enabled": True}})
    assert "give networkPolicy.namespaceSelector and/or podSelector" in str(failure.value)


# every character a URI treats specially, and base64's
SECRET = "pa:ss/w#o?r&d@=%+ 1;[]$!'*,~"


@pytest.mark.parametrize(
    "destination",
    [
        f"elasticsearch+https://logship:{quote(SECRET, safe='')}@es.example.com:9200",
        f"elasticsearch+https://logship:{SECRET}@es.example.com:9200",
        f"elasticsearch+https://logship:{quote(SECRET, safe='')}@es1:9200,es2:9200",
        "elasticsearch+https://es1:9200,logship:hunter2",
        "gelf+https://writer:hunter2@graylog.example.com/gelf",
        f"elasticsearch+https://es:9200?user=logship&password={quote(SECRET, safe='')}",
        f"elasticsearch+https://es:9200?api_key={quote(SECRET, safe='')}",
        f"forward://fluentd:24224?ack=true&shared_key={quote(SECRET, safe='')}",
        f"forward+tls://fluentd:24224?tls.ca_file={MOUNT}/ca.crt&shared_key=k",
        {"type": "elasticsearch", "host": "es", "user": "logship", "password": SECRET},
        {"type": "elasticsearch", "host": "es", "api_key": SECRET},
        {"type": "forward", "host": "fluentd", "shared_key": SECRET},
    ],
)
def test_a_secret_written_into_the_config_is_refused_pointing_to_the_secret(
    chart: helm_python.Chart, destination: str | dict[str, str]
) -> None:
    values = {"config": {"destinations": ["console://", destination]}}
    with pytest.raises(helm_python.HelmValuesError) as failure:
        chart.render(values, name="logship", namespace="logging", is_install=True)
    message = str(failure.value)
    assert "at '/config/destinations/1" in message
    assert "lands in a ConfigMap" in message and "secret.existingSecret" in message
    assert "_file" in message  # what to write instead
    for secret in (SECRET, quote(SECRET, safe=""), "hunter2"):
        assert secret not in message


@pytest.mark.parametrize(
    "destination",
    [
        f"elasticsearch+https://logship@es.example.com:9200?password_file={MOUNT}/es-password",
        "elasticsearch+https://es:9200?user=logship&password_env=ES_PASSWORD",
        f"elasticsearch+https://es:9200?api_key_file={MOUNT}/es-api-key",
        f"elasticsearch+https://logship@es1:9200,es2:9200/?password_file={MOUNT}/es-password",
        "elasticsearch+https://es1,es2:9201,es3",
        "forward://fluentd:24224?shared_key_env=FORWARD_KEY",
        "syslog+tcp://[::1]:514?filter.labels=maintainer:ops@example.com",
        "syslog+udp://logs:514?tag={{.Name}}@{{.ImageName}}",
        {"type": "elasticsearch", "host": "es", "user": "u", "password_file": f"{MOUNT}/pw"},
    ],
)
def test_secrets_named_by_file_or_variable_pass(
    chart: helm_python.Chart, destination: str | dict[str, str]
) -> None:
    chart.render({"config": {"destinations": [destination]}}, name="logship", namespace="logging")


def test_containers_opt_out_only_when_the_operator_lets_them(
    chart: helm_python.Chart, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, test_ca: TlsFiles
) -> None:
    values = {"config": {"honor_ignore": True}}
    settings = emulate_the_pod(render(chart, values), tmp_path, monkeypatch, test_ca)
    assert settings.honor_ignore is True
    assert chart_defaults()["config"]["honor_ignore"] is False
