"""The chart's pod, run for real: no kubelet can run here, so the DaemonSet that real Helm
renders is turned into the ``docker run`` command a kubelet would amount to (the pod's user,
read-only root, dropped capabilities, environment with the downward API's node name, the
ConfigMap's file, and its hostPaths checked by type as the kubelet checks them), against the
real engine with the real image. On each kind of node the probes must answer and pods' lines
must arrive at a real rsyslogd, filtered by namespace, with the node's name and the pod's
metadata:

- a containerd node: pod logs written as containerd writes them, root's and mode 0640, and no
  Docker socket;
- a cri-dockerd node: pod logs that are links to real containers' json-file logs in the real
  ``/var/lib/docker/containers``, no socket;
- a Docker node with ``docker.socket.enabled``: json-file logs with the engine's metadata.

A stop must leave the checkpoints in the node's state directory; the extension points a user
adds (a variable, the arguments, a volume) must reach the pod. And the pod's user must be able
to read a real json-file log, which user 10001 cannot, with or without DAC_READ_SEARCH.
"""

from __future__ import annotations

import base64
import json
import socket
import stat
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from tests.helpers.containers import RUN_ID, TEST_LABEL
from tests.helpers.docker_cli import docker, logs
from tests.helpers.image import build_image
from tests.helpers.kubelet import PodLogs
from tests.helpers.paths import ROOT
from tests.helpers.ports import free_port
from tests.helpers.rsyslog import Rsyslog, by_container, parse_structured_data
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.timeout(900)  # a first build on a new machine (see test_image.py)

SOCKET = "/var/run/docker.sock"
DOCKER_ROOT = Path("/var/lib/docker")  # the engine's, here
NODE = {"spec.nodeName": "node-1.cluster.test", "status.hostIP": "10.0.0.7"}
PAYMENTS = "?filter.labels=io.kubernetes.pod.namespace:payments"


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
    pod["_secrets"] = {
        m["metadata"]["name"]: {k: base64.b64decode(v) for k, v in m["data"].items()}
        for m in manifests
        if m["kind"] == "Secret"
    }
    return pod


def host_path(volume: dict[str, Any]) -> str:
    """The node's path of a hostPath volume, checked by type as the kubelet checks it before
    it starts the pod (``DirectoryOrCreate``: made, root's, mode 0755)."""
    path, kind = Path(volume["hostPath"]["path"]), volume["hostPath"].get("type", "")
    if kind == "DirectoryOrCreate":
        path.mkdir(mode=0o755, parents=True, exist_ok=True)
    elif kind == "Directory":
        assert path.is_dir(), f"hostPath type check failed: {path} is not a directory"
    elif kind == "Socket":
        assert path.is_socket(), f"hostPath type check failed: {path} is not a socket"
    else:
        raise AssertionError(f"a hostPath of type {kind!r}: the runtime would make {path}")
    return str(path)


def docker_run_args(
    pod: dict[str, Any], container: dict[str, Any], files: Path, name: str
) -> list[str]:
    """``docker run`` options for one of the pod's containers, as the kubelet would set it up."""
    security = container["securityContext"]
    pod_security = pod["securityContext"]
    assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}  # the engine's default
    args = ["--name", name, "--label", f"{TEST_LABEL}={RUN_ID}-pod", "--network", "host"]
    args += ["--user", f"{security['runAsUser']}:{security.get('runAsGroup', 0)}"]
    for gid in [*pod_security.get("supplementalGroups", []), pod_security.get("fsGroup")]:
        if gid is not None:
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
            source = host_path(volume)
        elif "secret" in volume:  # the chart's Secret: its files, as the kubelet shows them
            data = pod["_secrets"][volume["secret"]["secretName"]]
            directory = files / mount["name"]
            directory.mkdir()
            for item in volume["secret"].get("items") or [{"key": k, "path": k} for k in data]:
                (directory / item["path"]).write_bytes(data[item["key"]])
                (directory / item["path"]).chmod(volume["secret"].get("defaultMode", 0o644))
            source = str(directory)
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


@dataclass
class Node:
    """A node's directories (under a temporary directory, made root's as the kubelet and the
    runtimes make them), a receiver, and the pod's containers (removed afterwards)."""

    root: Path
    rsyslog: Rsyslog
    started: list[str] = field(default_factory=list)
    pod: dict[str, Any] = field(default_factory=dict)  # the last one started

    def __post_init__(self) -> None:
        for path in (self.state, self.pods, self.links, self.files):
            path.mkdir(parents=True)
        self.pods.chmod(0o750)  # root's alone, as on a node

    @property
    def state(self) -> Path:
        return self.root / "var/lib/logship"

    @property
    def pods(self) -> Path:
        return self.root / "var/log/pods"

    @property
    def links(self) -> Path:
        return self.root / "var/log/containers"

    @property
    def files(self) -> Path:
        return self.root / "pod"

    def values(self, **extra: Any) -> dict[str, Any]:
        """The chart's values for this node and the test image; ``extra`` on top."""
        repository, tag = build_image().rsplit(":", 1)
        values: dict[str, Any] = {
            "image": {"repository": repository, "tag": tag},
            "stateDir": {"hostPath": str(self.state)},
            "http": {"port": free_port(socket.SOCK_STREAM)},
            "logFiles": {
                "podsDir": str(self.pods),
                "podLinksDir": str(self.links),
                "dockerRoot": str(DOCKER_ROOT),
            },
            "config": {
                "destinations": [f"syslog+tcp://127.0.0.1:{self.rsyslog.tcp_port}{PAYMENTS}"]
            },
        }
        for key, value in extra.items():
            values[key] = {**values.get(key, {}), **value}
        return values

    def start(self, values: dict[str, Any]) -> str:
        """The pod's container, started; its name once both probes answer 200."""
        pod = self.pod = pod_from_chart(values)
        assert "initContainers" not in pod
        (main,) = pod["containers"]
        name = f"lt-logship-{uuid.uuid4().hex[:8]}"
        self.started.append(name)
        docker("run", "-d", *docker_run_args(pod, main, self.files, name))
        port = values["http"]["port"]
        probes = {p: main[f"{p}Probe"]["httpGet"]["path"] for p in ("liveness", "readiness")}
        assert probes == {"liveness": "/healthz", "readiness": "/readyz"}
        for path in probes.values():
            wait_until(
                lambda path=path: get(f"http://127.0.0.1:{port}{path}") == 200,
                timeout=30,
                what=f"{path} to answer 200 (log: {logs(name)[-2000:]})",
            )
        return name

    def stop(self, name: str) -> dict[str, Any]:
        """The pod stopped as the kubelet stops it; the checkpoints it left on the node."""
        docker("stop", name, timeout=60)
        assert docker("inspect", "-f", "{{.State.ExitCode}}", name) == "0", logs(name)
        saved: dict[str, Any] = json.loads((self.state / "checkpoints.json").read_text())
        return dict(saved["containers"])


@pytest.fixture
def node(tmp_path: Path, rsyslog_tcp: Rsyslog) -> Iterator[Node]:
    node = Node(tmp_path / "node", rsyslog_tcp)
    yield node
    for name in node.started:
        docker("rm", "-f", name, check=False)


def get(url: str, token: str | None = None) -> int:
    """The HTTP status of a GET (0: no answer)."""
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def structured(message: dict[str, Any]) -> dict[str, str]:
    return dict(parse_structured_data(message["sd"])["logship@32473"])


def test_on_a_containerd_node_the_pod_reads_the_pod_logs_with_no_socket(node: Node) -> None:
    docker_root = node.root / "var/lib/docker"  # none: the kubelet makes it, empty
    values = node.values(logFiles={"dockerRoot": str(docker_root)})
    name = node.start(values)
    assert (docker_root / "containers").is_dir()
    assert "through source cri" in logs(name), logs(name)[-2000:]

    # pods started after logship, their files written as containerd writes them (mode 0640)
    pod_logs = PodLogs(node.pods, node.links)
    uid = str(uuid.uuid4())
    api = pod_logs.container("payments", "api-7d9f", uid, "api")
    api.write("paid")
    api.write("refunded", "stderr")
    shop = pod_logs.container("shop", "web-1", str(uuid.uuid4()), "web")
    shop.write("bought")
    assert stat.S_IMODE(api.path.stat().st_mode) == 0o640 and api.path.stat().st_uid == 0
    try:
        received = wait_until(
            lambda: len(got := by_container(node.rsyslog, "api-7d9f/api")) >= 2 and got,
            what="the payments pod's lines",
        )
        checkpoints = node.stop(name)
    finally:
        pod_logs.close()
    assert [m["msg"] for m in received] == ["paid", "refunded"]
    assert received[0]["hostname"] == NODE["spec.nodeName"]  # the downward API's node name
    sd = structured(received[0])
    (link,) = [p for p in node.links.iterdir() if p.name.startswith("api-7d9f_payments_api-")]
    container_id = link.name.removesuffix(".log").rsplit("-", 1)[1]
    assert (sd["k8s_namespace"], sd["k8s_pod_uid"], sd["host_ip"]) == ("payments", uid, "10.0.0.7")
    assert sd["container_id"] == container_id
    assert container_id in checkpoints
    assert not [m for m in node.rsyslog.messages() if m["msg"] == "bought"]


def test_on_a_cri_dockerd_node_the_pod_reads_dockers_json_logs_through_the_pod_logs(
    node: Node, containers: Any
) -> None:
    name = node.start(node.values())
    assert "through source cri" in logs(name), logs(name)[-2000:]

    # the pod's container, run by Docker, and the kubelet's pod log: a link to its json log
    uid = str(uuid.uuid4())
    api = containers.run("echo paid; echo refunded >&2; sleep 30", name=f"k8s_api_{uid[:8]}")
    log_path = Path(docker("inspect", "-f", "{{.LogPath}}", api.id))
    assert log_path.parent.parent == DOCKER_ROOT / "containers"
    pod_log = node.pods / f"payments_api-7d9f_{uid}" / "api" / "0.log"
    (node.links / f"api-7d9f_payments_api-{api.id}.log").symlink_to(pod_log)
    pod_log.parent.mkdir(parents=True)
    pod_log.symlink_to(log_path)

    received = wait_until(
        lambda: len(got := by_container(node.rsyslog, "api-7d9f/api")) >= 2 and got,
        what="the payments pod's lines",
    )
    assert sorted(m["msg"] for m in received) == ["paid", "refunded"]
    sd = structured(received[0])
    assert (sd["k8s_namespace"], sd["k8s_pod_uid"]) == ("payments", uid)
    assert sd["container_id"] == api.id
    assert api.id in node.stop(name)


def test_on_a_docker_node_with_the_socket_the_pod_reads_json_logs_with_the_engines_metadata(
    node: Node, containers: Any, test_label: str
) -> None:
    values = node.values(
        docker={"socket": {"enabled": True, "path": SOCKET}},
        config={"include": {"labels": [f"{TEST_LABEL}={test_label}"]}},
    )
    name = node.start(values)
    assert "through source files" in logs(name), logs(name)[-2000:]

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
        lambda: by_container(node.rsyslog, payments.name[:48]), what="the payments pod's line"
    )
    assert received["msg"] == "paid"
    assert received["hostname"] == NODE["spec.nodeName"]
    sd = structured(received)
    assert (sd["k8s_namespace"], sd["k8s_pod_uid"], sd["host_ip"]) == ("payments", uid, "10.0.0.7")
    assert sd["image_name"]  # the engine's metadata: the files alone do not name the image
    assert {payments.id, shop.id} <= set(node.stop(name))
    assert not [m for m in node.rsyslog.messages() if m["msg"] == "bought"]


READ = """
import sys
try:
    print(open(sys.argv[1]).read(), end="")
except OSError as exc:
    print(f"cannot read: {exc.strerror}")
"""


@pytest.mark.parametrize(
    ("user", "add", "reads"),
    [
        (None, [], True),  # the chart's own: root, no capability
        (10001, [], False),
        (10001, ["DAC_READ_SEARCH"], False),  # a non-root user's added capability: not effective
    ],
)
def test_the_pods_user_reads_a_real_json_log_where_user_10001_cannot(
    node: Node, containers: Any, user: int | None, add: list[str], reads: bool
) -> None:
    writer = containers.run("echo a line for the log reader; sleep 30")
    log_path = Path(docker("inspect", "-f", "{{.LogPath}}", writer.id))
    wait_until(lambda: log_path.stat().st_size > 0, what="the container's first line")
    # as Docker makes them: root's alone
    assert (log_path.stat().st_uid, stat.S_IMODE(log_path.stat().st_mode)) == (0, 0o640)
    assert stat.S_IMODE(log_path.parent.stat().st_mode) == 0o710

    pod = pod_from_chart(node.values(logFiles={"dockerRoot": str(DOCKER_ROOT)}))
    (main,) = pod["containers"]
    main = {**main, "command": ["python3", "-c", READ, str(log_path)], "args": []}
    security = main["securityContext"]
    assert security["capabilities"] == {"drop": ["ALL"]}  # the chart adds none
    if user is not None:
        security = {**security, "runAsUser": user, "runAsGroup": user, "runAsNonRoot": True}
        security["capabilities"] = {"drop": ["ALL"], "add": add}
        main["securityContext"] = security
    name = f"lt-read-{uuid.uuid4().hex[:8]}"
    node.started.append(name)
    docker("run", *docker_run_args(pod, main, node.files, name))
    out = logs(name)
    if reads:
        assert json.loads(out)["log"] == "a line for the log reader\n", out
    else:
        assert out.strip() == "cannot read: Permission denied", out


@pytest.mark.parametrize("served", [False, True])
def test_the_pods_logs_and_containers_answer_only_the_token_the_chart_makes(
    node: Node, served: bool
) -> None:
    values = node.values(http={"logs": {"enabled": served}})
    name = node.start(values)
    base = f"http://127.0.0.1:{values['http']['port']}"
    assert get(f"{base}/metrics") == 200  # Prometheus needs no token
    if not served:  # every address of the pod and no token: not served at all
        assert (get(f"{base}/containers"), get(f"{base}/logs")) == (403, 403)
        return
    (token,) = node.pod["_secrets"]["logship-http-token"].values()
    assert get(f"{base}/containers") == 401
    assert get(f"{base}/containers", token="not-" + token.decode()) == 401
    assert get(f"{base}/containers", token=token.decode()) == 200
    assert token.decode() not in logs(name)


def test_the_pod_takes_the_extension_points_env_args_and_an_extra_volume(node: Node) -> None:
    extra = node.root / "etc/extra"
    values = node.values(logFiles={"dockerRoot": ""})
    values |= {
        "env": [{"name": "LOGSHIP_MAX_LINE_BYTES", "value": "1024"}],  # after the chart's own
        "args": ["run", "--log-level", "debug"],
        "extraVolumes": [
            {"name": "extra", "hostPath": {"path": str(extra), "type": "DirectoryOrCreate"}}
        ],
        "extraVolumeMounts": [{"name": "extra", "mountPath": "/etc/extra", "readOnly": True}],
    }
    name = node.start(values)
    mounts = json.loads(docker("inspect", "-f", "{{json .Mounts}}", name))
    (mount,) = [m for m in mounts if m["Destination"] == "/etc/extra"]
    assert (mount["Source"], mount["RW"]) == (str(extra), False)
    assert docker("inspect", "-f", "{{json .Args}}", name).endswith('"--log-level","debug"]')
    pod_logs = PodLogs(node.pods, node.links)
    api = pod_logs.container("payments", "api-1", str(uuid.uuid4()), "api")
    api.write("x" * 3000)
    try:
        (received,) = wait_until(
            lambda: by_container(node.rsyslog, "api-1/api"), what="the payments pod's line"
        )
        node.stop(name)
    finally:
        pod_logs.close()
    # the pod's own variable reached logship: the line was cut at 1024 bytes, not 1 MiB
    assert len(received["msg"]) < 1200 and received["msg"].startswith("x" * 1000)
