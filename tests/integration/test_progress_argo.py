"""Zero-code step status: Argo Workflow objects on a real kube-apiserver → WatchProgress.

Argo's Workflow CRD is restated as Argo's minimal CRDs are (spec and status kept whole with
`x-kubernetes-preserve-unknown-fields`), and no Argo controller runs: the test advances each
Workflow's `status` as Argo's controller would (nodes appear Pending/Running, their children
lists give the DAG, phases and times change, the Workflow's own phase last). The server runs
with deploy/kustomize/argo-status applied for real: it watches with a token of its own
ServiceAccount, bound to that component's Role and nothing else.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml
from progress_support import Watch, new_run
from services import cached_tool
from support import RunningServer, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE = cached_tool("KFP_VIZ_KUSTOMIZE", "kustomize-*/kustomize")
SERVER_ACCOUNT = "ml-pipeline-visualizationserver"
LEASE = "kfp-viz-server-argo-status"

WORKFLOW_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "workflows.argoproj.io"},
    "spec": {
        "group": "argoproj.io",
        "names": {"kind": "Workflow", "listKind": "WorkflowList", "plural": "workflows",
                  "singular": "workflow", "shortNames": ["wf"]},
        "scope": "Namespaced",
        "versions": [{
            "name": "v1alpha1", "served": True, "storage": True,
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "required": ["metadata", "spec"],
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "metadata": {"type": "object"},
                    "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            }},
        }],
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def argo_cluster(kube_apiserver):
    """The API server with Argo's Workflow CRD established."""
    kube_apiserver.kubectl("apply", "-f", "-", input=json.dumps(WORKFLOW_CRD))
    kube_apiserver.kubectl("wait", "--for=condition=Established", "crd/workflows.argoproj.io")
    return kube_apiserver


@pytest.fixture
def namespace(argo_cluster, tmp_path) -> str:
    """A namespace with the server's ServiceAccount and the argo-status component's RBAC."""
    name = f"argo-{uuid.uuid4().hex[:8]}"
    argo_cluster.kubectl("create", "namespace", name)
    argo_cluster.kubectl("create", "serviceaccount", "-n", name, SERVER_ACCOUNT)
    argo_cluster.kubectl("apply", "-n", name, "-f", "-", input=component_rbac(tmp_path, name))
    yield name
    argo_cluster.kubectl("delete", "namespace", name, "--wait=false")


def component_rbac(folder: Path, namespace: str) -> str:
    """deploy/kustomize/argo-status's Role and RoleBinding as an overlay in `namespace` builds
    them (checking on the way that it turns the feature on and mounts the token)."""
    overlay = folder / "overlay"
    overlay.mkdir()
    # The component patches the server's Deployment: the overlay gives it a bare one.
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": SERVER_ACCOUNT},
                  "spec": {"selector": {"matchLabels": {"app": "x"}},
                           "template": {"metadata": {"labels": {"app": "x"}},
                                        "spec": {"containers": [{"name": SERVER_ACCOUNT,
                                                                 "image": "x"}]}}}}  # fmt: skip
    (overlay / "deployment.json").write_text(json.dumps(deployment))
    component = os.path.relpath(ROOT / "deploy" / "kustomize" / "argo-status", overlay)
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"namespace: {namespace}\nresources:\n- deployment.json\ncomponents:\n- {component}\n"
    )
    result = subprocess.run([KUSTOMIZE, "build", "--load-restrictor", "LoadRestrictionsNone",
                             str(overlay)], capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    built = [d for d in yaml.safe_load_all(result.stdout) if d]
    (deployment,) = [d for d in built if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True
    variables = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert variables["ARGO_WORKFLOWS"]["value"] == "true"
    rbac = [d for d in built if d["kind"] != "Deployment"]
    assert sorted(d["kind"] for d in rbac) == ["Role", "RoleBinding"]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": rbac})


def server_kubeconfig(kube, namespace: str, folder: Path) -> Path:
    """A kubeconfig with a token of the server's ServiceAccount (as its pod would have)."""
    token = kube.kubectl("create", "token", "-n", namespace, SERVER_ACCOUNT).stdout.strip()
    path = folder / f"kubeconfig-{namespace}"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": kube.url,
                                               "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }))  # fmt: skip
    return path


def argo_server(namespace: str, kubeconfig: Path, log: Path, env: dict | None = None):
    server = RunningServer(
        ["--pool-size", "1", "--argo-workflows", "--namespace", namespace,
         "--progress-heartbeat", "0.5"],
        {"KUBECONFIG": str(kubeconfig), **(env or {})}, log,
    )  # fmt: skip
    server.wait_ready(full=False)
    return server


T0 = 1_790_000_000  # a fixed start, so times in events can be checked exactly


def stamp(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(T0 + seconds))


def node(
    name: str,
    display: str,
    phase: str,
    started: int | None = None,
    finished: int | None = None,
    children=(),
    kind: str = "Pod",
    message: str = "",
) -> dict:
    found = {"id": name, "name": name, "displayName": display, "type": kind, "phase": phase,
             "children": list(children)}  # fmt: skip
    if started is not None:
        found["startedAt"] = stamp(started)
    if finished is not None:
        found["finishedAt"] = stamp(finished)
    if message:
        found["message"] = message
    return found


class Workflow:
    """One Workflow object the test advances as Argo's controller would."""

    def __init__(self, kube, namespace: str, run_id: str | None) -> None:
        self.kube, self.namespace = kube, namespace
        self.name = f"pipeline-{uuid.uuid4().hex[:6]}"
        labels = {"pipeline/runid": run_id} if run_id else {}
        body = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                "metadata": {"name": self.name, "labels": labels},
                "spec": {"entrypoint": "main", "templates": [{"name": "main"}]}}  # fmt: skip
        kube.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(body))

    def status(self, phase: str, *nodes: dict, message: str = "") -> None:
        by_id = {n["id"]: n for n in nodes}
        status = {"phase": phase, "startedAt": stamp(0), "nodes": by_id}
        if phase != "Running":
            status["finishedAt"] = by_id.get(self.name, {}).get("finishedAt", stamp(30))
        if message:
            status["message"] = message
        self.kube.kubectl("patch", "-n", self.namespace, "workflow", self.name, "--type=merge",
                          "-p", json.dumps({"status": status}))  # fmt: skip
        time.sleep(0.3)  # a controller's updates are apart; the watch sees each one


def advance_a_diamond(workflow: Workflow, *, after=None) -> None:
    """prepare → (train, evaluate) → report, with a group node between, then Succeeded.

    `after(step)`: called after each update (e.g. to stop a replica mid-run)."""
    root = workflow.name
    steps = [
        ("Running", [node(root, root, "Running", 0, children=["p"], kind="DAG"),
                     node("p", "prepare", "Pending")]),
        ("Running", [node(root, root, "Running", 0, children=["p"], kind="DAG"),
                     node("p", "prepare", "Running", 1)]),
        ("Running", [node(root, root, "Running", 0, children=["p"], kind="DAG"),
                     node("p", "prepare", "Succeeded", 1, 5, children=["g"]),
                     node("g", "[1]", "Running", 5, children=["t", "e"], kind="TaskGroup"),
                     node("t", "train", "Running", 6), node("e", "evaluate", "Running", 7)]),
        ("Running", [node(root, root, "Running", 0, children=["p"], kind="DAG"),
                     node("p", "prepare", "Succeeded", 1, 5, children=["g"]),
                     node("g", "[1]", "Succeeded", 5, 20, children=["t", "e"],
                          kind="TaskGroup"),
                     node("t", "train", "Succeeded", 6, 20, children=["r"]),
                     node("e", "evaluate", "Failed", 7, 9, children=["r"],
                          message="Error (exit code 1)"),
                     node("r", "report", "Running", 21)]),
        ("Succeeded", [node(root, root, "Succeeded", 0, 30, children=["p"], kind="DAG"),
                       node("p", "prepare", "Succeeded", 1, 5, children=["g"]),
                       node("g", "[1]", "Succeeded", 5, 20, children=["t", "e"],
                            kind="TaskGroup"),
                       node("t", "train", "Succeeded", 6, 20, children=["r"]),
                       node("e", "evaluate", "Failed", 7, 9, children=["r"],
                            message="Error (exit code 1)"),
                       node("r", "report", "Succeeded", 21, 30)]),
    ]  # fmt: skip
    for index, (phase, nodes) in enumerate(steps):
        workflow.status(phase, *nodes)
        if after is not None:
            after(index)


EXPECTED = [
    ("prepare", "Pending"), ("", "Running"), ("prepare", "Running"), ("prepare", "Succeeded"),
    ("train", "Running"), ("evaluate", "Running"), ("evaluate", "Failed"),
    ("train", "Succeeded"), ("report", "Running"), ("report", "Succeeded"), ("", "Succeeded"),
]  # fmt: skip
"""The order a viewer sees: each update's steps by start time, the run's own phase last."""


def statuses(watch: Watch) -> list[tuple[str, str]]:
    return [(e.event.node_id, e.event.status) for e in watch.events if e.event.kind == "status"]


def assert_the_diamond(watch: Watch) -> None:
    assert statuses(watch) == EXPECTED
    last = {e.event.node_id: e.event for e in watch.events}
    assert list(last["prepare"].parents) == []
    assert sorted(last["train"].parents) == ["prepare"]  # through the group node
    assert sorted(last["evaluate"].parents) == ["prepare"]
    assert sorted(last["report"].parents) == ["evaluate", "train"]
    assert last["evaluate"].message == "Error (exit code 1)"
    assert (last["train"].started, last["train"].finished) == (T0 + 6, T0 + 20)
    assert last["train"].ts == T0 + 20 and last[""].finished == T0 + 30
    assert "[1]" not in last  # a group node is no step


def test_a_watch_sees_each_steps_status_in_order_with_the_dags_edges(
    argo_cluster, namespace, tmp_path
):
    kubeconfig = server_kubeconfig(argo_cluster, namespace, tmp_path)
    server = argo_server(namespace, kubeconfig, tmp_path / "server.log")
    try:
        run = new_run()
        watch = Watch(server.grpc_target, run, from_beginning=True)
        wait_until(lambda: "caught_up" in watch.kinds(), timeout=20, what="caught_up")
        Workflow(argo_cluster, namespace, None).status(  # not KFP's: no run id, ignored
            "Running", node("x", "x", "Running", 0)
        )
        advance_a_diamond(Workflow(argo_cluster, namespace, run))
        assert watch.ended.wait(20), f"the stream did not end: {statuses(watch)}"
        assert watch.error is None
        assert_the_diamond(watch)
        # A later watch gets the same from history (the bus keeps what was published).
        again = Watch(server.grpc_target, run, from_beginning=True)
        assert again.ended.wait(20)
        assert statuses(again) == EXPECTED
        assert server.ready()["progress"]["argo"]["leading"] is True
    finally:
        assert server.stop() == 0, server.log()


def test_without_the_role_the_server_says_why_and_keeps_serving(argo_cluster, tmp_path):
    """A namespace where the server's ServiceAccount has no Role: /readyz names the refusal."""
    name = f"argo-norbac-{uuid.uuid4().hex[:6]}"
    argo_cluster.kubectl("create", "namespace", name)
    argo_cluster.kubectl("create", "serviceaccount", "-n", name, SERVER_ACCOUNT)
    try:
        kubeconfig = server_kubeconfig(argo_cluster, name, tmp_path)
        server = argo_server(name, kubeconfig, tmp_path / "server.log")
        try:
            wait_until(lambda: "Forbidden" in server.ready()["progress"]["argo"]["detail"],
                       timeout=20, what="the refusal in /readyz")  # fmt: skip
            assert server.post(type="test", source="x").status_code == 200
        finally:
            assert server.stop() == 0, server.log()
    finally:
        argo_cluster.kubectl("delete", "namespace", name, "--wait=false")


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGKILL"])
def test_two_replicas_on_kafka_publish_each_change_once_and_hand_over(
    argo_cluster, namespace, kafka, tmp_path, stop
):
    """With Kafka, the Lease holder alone publishes; when it stops (giving the Lease up) or is
    killed (the Lease then expires, 15 s), the other takes over, reads what was published, and
    goes on without repeating or missing a change."""
    from kafka import KafkaProducer
    from progress_support import new_topic

    topic = new_topic()
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)  # the topic exists (auto-made)
    producer.send(topic, key=b"warm-up", value=b"not an event").get(30)
    producer.close()
    kafka_env = {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "KAFKA_PROGRESS_TOPIC": topic}
    kubeconfig = server_kubeconfig(argo_cluster, namespace, tmp_path)
    logs = [tmp_path / f"server-{i}.log" for i in range(2)]
    servers = [argo_server(namespace, kubeconfig, log, kafka_env) for log in logs]
    try:
        wait_until(lambda: sum(s.ready()["progress"]["argo"]["leading"] for s in servers) == 1,
                   timeout=30, what="one leader")  # fmt: skip
        leader = next(s for s in servers if s.ready()["progress"]["argo"]["leading"])
        other = next(s for s in servers if s is not leader)
        holder = json.loads(argo_cluster.kubectl(
            "get", "lease", "-n", namespace, LEASE, "-o", "json").stdout)["spec"]  # fmt: skip
        assert holder["holderIdentity"]
        run = new_run()
        watch = Watch(other.grpc_target, run, from_beginning=True)
        wait_until(lambda: "caught_up" in watch.kinds(), timeout=30, what="caught_up")

        def stop_the_leader(index: int) -> None:
            if index == 2:  # mid-run: prepare done, train and evaluate running
                wait_until(lambda: ("evaluate", "Running") in statuses(watch), timeout=20,
                           what="the leader's last update")  # fmt: skip
                signum = getattr(signal, stop)
                assert leader.stop(signum) == (0 if stop == "SIGTERM" else -signum), leader.log()
                wait_until(lambda: other.ready()["progress"]["argo"]["leading"], timeout=45,
                           what="the other replica leading")  # fmt: skip

        advance_a_diamond(Workflow(argo_cluster, namespace, run), after=stop_the_leader)
        assert watch.ended.wait(30), f"the stream did not end: {statuses(watch)}"
        assert_the_diamond(watch)  # in order, each change once: no repeat at the handover
    finally:
        for server in servers:
            if server.process.poll() is None:
                assert server.stop() == 0, server.log()
