"""The chart's pod, run for real: no kubelet can run here, so the DaemonSet that real Helm
renders is turned into the `docker run` commands a kubelet on a Docker node would amount to
(the init container, then logship with the pod's user, groups, read-only root, dropped
capabilities, environment with the downward API's node name, ConfigMap file and hostPaths),
against the real engine with the real image. The probes must answer, containers with the
kubelet's labels must arrive at a real rsyslogd filtered by namespace with the node's name,
and a stop must leave the checkpoints in the node's state directory.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from tests.helpers.containers import RUN_ID, TEST_LABEL
from tests.helpers.docker_cli import docker, logs
from tests.helpers.image import build_image
from tests.helpers.paths import ROOT
from tests.helpers.ports import free_port
from tests.helpers.rsyslog import Rsyslog, by_container, parse_structured_data
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.timeout(900)  # a first build on a new machine (see test_image.py)

SOCKET = "/var/run/docker.sock"
NODE = {"spec.nodeName": "node-1.cluster.test", "status.hostIP": "10.0.0.7"}


def pod_from_chart(values: dict[str, Any]) -> dict[str, Any]:
    chart = helm_python.Chart.load(ROOT / "helm" / "logship")
    out = chart.render(values, name="logship", namespace="logging", is_install=True)
    manifests = [
        d for p, t in out.items() if p.endswith(".yaml") for d in yaml.safe_load_all(t) if d
    ]
    (daemonset,) = [m for m in manifests if m["kind"] == "DaemonSet"]
    (configmap,) = [m for m in manifests if m["kind"] == "ConfigMap"]
    pod: dict[str, Any] = daemonset["spec"]["template"]["spec"]
    pod["_configmap"] = configmap["data"]
    return pod


def docker_run_args(
    pod: dict[str, Any], container: dict[str, Any], files: Path, name: str
) -> list[str]:
    """``docker run`` options for one of the pod's containers, as the kubelet would set it up."""
    security = container["securityContext"]
    args = ["--name", name, "--label", f"{TEST_LABEL}={RUN_ID}-pod", "--network", "host"]
    args += ["--user", f"{security['runAsUser']}:{security.get('runAsGroup', 0)}"]
    if security["runAsUser"] != 0:  # supplementalGroups and fsGroup: for the pod's processes
        groups = pod["securityContext"]
        for gid in [*groups["supplementalGroups"], groups["fsGroup"]]:
            args += ["--group-add", str(gid)]
    if security.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    if security.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    args += [f"--cap-drop={c}" for c in security["capabilities"].get("drop", [])]
    args += [f"--cap-add={c}" for c in security["capabilities"].get("add", [])]
    for var in container.get("env", []):
        if "value" in var:
            value = var["value"]
        else:
            value = NODE[var["valueFrom"]["fieldRef"]["fieldPath"]]
        args += ["-e", f"{var['name']}={value}"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "hostPath" in volume:
            source = volume["hostPath"]["path"]
        else:  # the ConfigMap: its file on the "node"
            source = str(files / mount["subPath"])
            (files / mount["subPath"]).write_text(pod["_configmap"][mount["subPath"]])
        mode = "ro" if mount.get("readOnly") else "rw"
        args += ["-v", f"{source}:{mount['mountPath']}:{mode}"]
    if "command" in container:
        args += ["--entrypoint", container["command"][0]]
    args.append(container["image"])
    args += container.get("command", [])[1:] + container.get("args", [])
    return args


@pytest.fixture
def node(tmp_path: Path, rsyslog_tcp: Rsyslog) -> Iterator[dict[str, Any]]:
    """A state directory on the "node", made as the kubelet's DirectoryOrCreate does (root's),
    and a receiver; the pod's containers are removed afterwards."""
    state = tmp_path / "node" / "var-lib-logship"
    state.mkdir(parents=True)
    files = tmp_path / "pod"
    files.mkdir()
    started: list[str] = []
    yield {"state": state, "files": files, "rsyslog": rsyslog_tcp, "started": started}
    for name in started:
        docker("rm", "-f", name, check=False)


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except OSError:
        return 0


def test_the_charts_pod_runs_the_image_probes_answer_and_pods_are_shipped_by_namespace(
    node: dict[str, Any], docker_client: Any, containers: Any, test_label: str
) -> None:
    image = build_image()
    repository, tag = image.rsplit(":", 1)
    port = free_port(socket.SOCK_STREAM)
    rsyslog: Rsyslog = node["rsyslog"]
    pod = pod_from_chart(
        {
            "image": {"repository": repository, "tag": tag},
            "docker": {"socketGroupId": os.stat(SOCKET).st_gid},
            "stateDir": {"hostPath": str(node["state"])},
            "http": {"port": port},
            "config": {
                "destinations": [
                    f"syslog+tcp://127.0.0.1:{rsyslog.tcp_port}"
                    "?filter.labels=io.kubernetes.pod.namespace:payments"
                ],
                "include": {"labels": [f"{TEST_LABEL}={test_label}"]},
            },
        }
    )
    (init,) = pod["initContainers"]
    (main,) = pod["containers"]

    # the init container, as root with CHOWN and FOWNER only, gives the state directory away
    name = f"lt-init-{uuid.uuid4().hex[:8]}"
    node["started"].append(name)
    docker("run", *docker_run_args(pod, init, node["files"], name), timeout=60)
    assert (node["state"].stat().st_uid, node["state"].stat().st_gid) == (10001, 10001)

    name = f"lt-logship-{uuid.uuid4().hex[:8]}"
    node["started"].append(name)
    docker("run", "-d", *docker_run_args(pod, main, node["files"], name))
    probes = {p: main[f"{p}Probe"]["httpGet"]["path"] for p in ("liveness", "readiness")}
    assert probes == {"liveness": "/healthz", "readiness": "/readyz"}
    for path in probes.values():
        wait_until(
            lambda path=path: get(f"http://127.0.0.1:{port}{path}") == 200,
            timeout=30,
            what=f"{path} to answer 200 (log: {logs(name)[-2000:]})",
        )

    uid = str(uuid.uuid4())
    payments = containers.run(
        "echo paid; sleep 30",
        name=f"k8s_api_api-7d9f_payments_{uid}_0",
        labels={
            "io.kubernetes.pod.namespace": "payments",
            "io.kubernetes.pod.name": "api-7d9f",
            "io.kubernetes.pod.uid": uid,
            "io.kubernetes.container.name": "api",
        },
    )
    shop = containers.run(
        "echo bought; sleep 30",
        labels={"io.kubernetes.pod.namespace": "shop", "io.kubernetes.pod.name": "web-1"},
    )
    (received,) = wait_until(
        lambda: by_container(rsyslog, payments.name[:48]), what="the payments pod's line"
    )
    assert received["msg"] == "paid"
    assert received["hostname"] == NODE["spec.nodeName"]  # the downward API's node name
    sd = parse_structured_data(received["sd"])["logship@32473"]
    assert (sd["k8s_namespace"], sd["k8s_pod_uid"], sd["host_ip"]) == ("payments", uid, "10.0.0.7")

    docker("stop", name, timeout=60)
    assert docker("inspect", "-f", "{{.State.ExitCode}}", name) == "0", logs(name)
    checkpoints = json.loads((node["state"] / "checkpoints.json").read_text())["containers"]
    assert {payments.id, shop.id} <= set(checkpoints)
    assert not [m for m in rsyslog.messages() if m["msg"] == "bought"]
