"""Pod metadata, end to end: containers started with the labels the kubelet puts on them (on
Docker nodes), through one `logship run` with every kind of destination, into real receivers.

Every destination carries namespace, pod name, pod UID and container name in its own way
(syslog structured data, GELF ``_kubernetes_*``, ECS ``kubernetes.*`` in Elasticsearch and on
the console, forward's ``kubernetes`` map); a container outside Kubernetes carries none; and
``filter.labels=io.kubernetes.pod.namespace:payments`` lets only that namespace through.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers.agent_process import AgentProcess
from tests.helpers.receivers.elasticsearch import ElasticsearchStandIn
from tests.helpers.receivers.forward import ForwardReceiver
from tests.helpers.receivers.gelf import GelfReceiver
from tests.helpers.rsyslog import Rsyslog, parse_structured_data
from tests.helpers.waiting import wait_until


def kubelet_labels(namespace: str, pod: str, container: str) -> tuple[str, dict[str, str]]:
    """The name and labels dockershim / cri-dockerd give a pod's container."""
    uid = str(uuid.uuid4())
    name = f"k8s_{container}_{pod}_{namespace}_{uid}_0"
    return name, {
        "io.kubernetes.pod.namespace": namespace,
        "io.kubernetes.pod.name": pod,
        "io.kubernetes.pod.uid": uid,
        "io.kubernetes.container.name": container,
        "io.kubernetes.docker.type": "container",
        "io.kubernetes.container.logpath": f"/var/log/pods/{namespace}_{pod}_{uid}/{container}",
    }


@pytest.fixture
def receivers(
    rsyslog_tcp: Rsyslog,
    start_gelf: Callable[..., GelfReceiver],
    es: ElasticsearchStandIn,
    start_forward: Callable[..., ForwardReceiver],
) -> tuple[Rsyslog, GelfReceiver, ElasticsearchStandIn, ForwardReceiver]:
    """One of each: rsyslogd over TCP, and the GELF, Elasticsearch and forward stand-ins."""
    return rsyslog_tcp, start_gelf(), es, start_forward()


def test_every_destination_carries_the_pod_and_the_namespace_filter_works(
    start_agent: Callable[..., AgentProcess], containers: Any, receivers: Any
) -> None:
    rsyslog, gelf, es, forward = receivers
    agent = start_agent(
        "run",
        f"syslog+tcp://127.0.0.1:{rsyslog.tcp_port}"
        "?filter.labels=io.kubernetes.pod.namespace:payments",
        f"gelf+tcp://127.0.0.1:{gelf.tcp_port}",
        f"elasticsearch+http://127.0.0.1:{es.port}",
        f"forward://127.0.0.1:{forward.port}?ack=true",
        "console://?format=json",
    )
    pods = {
        "payments": kubelet_labels("payments", "api-7d9f-xk2", "api"),
        "shop": kubelet_labels("shop", "web-5c4b-q8z", "nginx"),
    }
    started = {
        ns: containers.run(f"echo hello from {ns}; sleep 30", name=name, labels=labels)
        for ns, (name, labels) in pods.items()
    }
    plain = containers.run("echo hello from no pod; sleep 30")
    expected = {
        c.name: (ns, pods[ns][1]["io.kubernetes.pod.name"], pods[ns][1]["io.kubernetes.pod.uid"])
        for ns, c in started.items()
    }
    names = [*expected, plain.name]

    # Elasticsearch and the console: ECS kubernetes.*
    docs = wait_until(
        lambda: len(got := es.documents()) >= 3 and got, timeout=30, what="three documents"
    )
    console = wait_until(
        lambda: len(got := agent.stdout_json()) >= 3 and got, what="three console records"
    )
    for where in (docs, console):
        by_name = {d["container"]["name"]: d for d in where}
        assert sorted(by_name) == sorted(names)
        assert "kubernetes" not in by_name[plain.name]
        for name, (ns, pod, uid) in expected.items():
            assert by_name[name]["kubernetes"] == {
                "namespace": ns,
                "pod": {"name": pod, "uid": uid},
                "container": {"name": "api" if ns == "payments" else "nginx"},
            }

    # GELF: _kubernetes_* fields
    messages = wait_until(
        lambda: len(got := gelf.messages()) >= 3 and got, what="three GELF messages"
    )
    by_name = {m["_container_name"]: m for m in messages}
    assert not any(k.startswith("_kubernetes") for k in by_name[plain.name])
    for name, (ns, pod, uid) in expected.items():
        m = by_name[name]
        assert (m["_kubernetes_namespace"], m["_kubernetes_pod_name"]) == (ns, pod)
        assert m["_kubernetes_pod_uid"] == uid
        assert m["_kubernetes_container_name"] == ("api" if ns == "payments" else "nginx")

    # forward: a kubernetes map in the record
    events = wait_until(lambda: len(got := forward.events()) >= 3 and got, what="three events")
    by_name = {e.record["container_name"].lstrip("/"): e.record for e in events}
    assert "kubernetes" not in by_name[plain.name]
    for name, (ns, pod, uid) in expected.items():
        assert by_name[name]["kubernetes"] == {
            "namespace": ns,
            "pod_name": pod,
            "pod_uid": uid,
            "container_name": "api" if ns == "payments" else "nginx",
        }

    # syslog, filtered on the namespace: only the payments pod, with its structured data
    payments = started["payments"].name
    wait_until(lambda: rsyslog.messages(), what="the payments pod's line at rsyslogd")
    received = rsyslog.messages()
    assert [(m["app"][:48], m["msg"]) for m in received] == [(payments[:48], "hello from payments")]
    sd = parse_structured_data(received[0]["sd"])["logship@32473"]
    ns, pod, uid = expected[payments]
    assert (sd["k8s_namespace"], sd["k8s_pod_name"], sd["k8s_pod_uid"]) == (ns, pod, uid)
    assert sd["k8s_container_name"] == "api"
    agent.stop()
