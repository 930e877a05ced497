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
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from kfp_v2_workflow import V2Workflow, container_task, parallel_for
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
    try:
        server.wait_ready(full=False)
    except BaseException:
        server.stop()  # a server that never got ready must not outlive the test
        raise
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


def watched_run(kube, namespace: str, folder: Path):
    """A server watching `namespace`'s Workflows, and a watch of a new run from its start."""
    server = argo_server(namespace, server_kubeconfig(kube, namespace, folder),
                         folder / "server.log")  # fmt: skip
    run = new_run()
    try:
        watch = Watch(server.grpc_target, run, from_beginning=True)
        wait_until(lambda: "caught_up" in watch.kinds(), timeout=20, what="caught_up")
    except BaseException:
        server.stop()
        raise
    return server, run, watch


def test_a_watch_sees_each_steps_status_in_order_with_the_dags_edges(
    argo_cluster, namespace, tmp_path
):
    server, run, watch = watched_run(argo_cluster, namespace, tmp_path)
    try:
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


# -- KFP v2: one task, one row, with its SDK's events ---------------------------------------

LAUNCHER = """#!/bin/sh
# Stands in for KFP v2's /kfp-launcher/launch: its flags, `--`, then the component's command,
# run as a child as the launcher runs it.
while [ "$1" != "--" ]; do shift; done
shift
"$@"
exit $?
"""
STEP_ENV = ("KFP_RUN_ID", "KFP_NODE_ID", "ARGO_NODE_ID", "KFP_POD_NAME", "KFP_NAMESPACE",
            "POD_NAMESPACE", "KAFKA_BOOTSTRAP_SERVERS", "KFP_VIZ_SERVER_URL")  # fmt: skip
SDK_STEP = """
import sys
from kfp_viz.progress import Reporter
report = Reporter()
report.progress(3, 10)
report.metric(loss=float(sys.argv[1]), step=3)
assert report.flush(20), "not delivered"
print(report.node_id, report.argo_node_id)
report.close()
"""


def sdk_step(folder: Path, server, run: str, task: str, pod: str, loss: float) -> str:
    """The SDK in a KFP v2 executor pod: ARGO_NODE_ID from Argo, the run and the task from the
    launcher's arguments (the executor input's output path, as KFP 2.17's driver makes it)."""
    launcher = folder / "kfp-launcher" / "launch"
    if not launcher.exists():
        launcher.parent.mkdir()
        launcher.write_text(LAUNCHER)
        launcher.chmod(0o755)
    root = f"minio://mlpipeline/v2/artifacts/pipe/{run}/{task}/{uuid.uuid4()}"
    executor_input = {
        "inputs": {"parameterValues": {"epochs": 3}},
        "outputs": {"artifacts": {"model": {"artifacts": [{"name": "model",
                                                            "uri": f"{root}/model"}]}},
                    "outputFile": root.replace("minio://", "/minio/") + "/output_metadata.json"},
    }  # fmt: skip
    environment = {k: v for k, v in os.environ.items() if k not in STEP_ENV}
    environment.update(ARGO_NODE_ID=pod, KFP_VIZ_SERVER_URL=server.url, KFP_POD_NAME="pod-x")
    done = subprocess.run(
        [str(launcher), "--pipeline_name", "pipe", "--run_id", run, "--execution_id", "7",
         "--executor_input", json.dumps(executor_input), "--component_spec", "{}", "--",
         sys.executable, "-c", SDK_STEP, str(loss)],
        capture_output=True, text=True, timeout=60, env=environment,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


class V2Run:
    """A KFP v2 run's Workflow on the API server, its status patched from the layout."""

    def __init__(self, kube, namespace: str, run_id: str) -> None:
        self.kube, self.namespace = kube, namespace
        self.layout = V2Workflow(f"pipe-{uuid.uuid4().hex[:6]}", run_id)
        body = self.layout.workflow()
        del body["status"]
        kube.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(body))

    def update(self, phase: str = "Running") -> None:
        status = self.layout.workflow(phase)["status"]
        self.kube.kubectl("patch", "-n", self.namespace, "workflow", self.layout.name,
                          "--type=merge", "-p", json.dumps({"status": status}))  # fmt: skip


def argo_statuses(watch: Watch) -> list[tuple[str, str, tuple[str, ...]]]:
    """The Argo source's statuses (a step's own SDK sends its pod's `argo_node_id`)."""
    events = [e.event for e in watch.events]
    return [(e.node_id, e.status, tuple(e.argo_nodes))
            for e in events if e.kind == "status" and not e.argo_node_id]  # fmt: skip


def published(watch: Watch, step: str, pod: str) -> bool:
    return any(s == step and pod in pods for s, _, pods in argo_statuses(watch))


def test_a_kfp_v2_run_shows_each_task_once_with_its_sdk_events(
    argo_cluster, namespace, tmp_path, online_browser
):
    server, run, watch = watched_run(argo_cluster, namespace, tmp_path)
    try:
        flow = V2Run(argo_cluster, namespace, run)
        wf = flow.layout
        prep = container_task(wf, "preprocess")
        prep.start_driver(2)
        flow.update()
        prep.start_dag(4)
        prep_pod = prep.start_pod(5)
        flow.update()
        wait_until(lambda: published(watch, "preprocess", prep_pod.id), what="preprocess's pod")
        prep_pod.phase = "Running"
        flow.update()
        assert sdk_step(tmp_path, server, run, "preprocess", prep_pod.id, 0.9) == (
            f"preprocess {prep_pod.id}"
        )
        prep.finish(20)
        train = container_task(wf, "train", after=[prep], retry=True)
        train.start_driver(21)
        train.start_dag(23)
        first = train.start_pod(24, "Running")
        flow.update()
        wait_until(lambda: published(watch, "train", first.id), what="train's first pod")
        sdk_step(tmp_path, server, run, "train", first.id, 0.7)
        first.phase, first.finished, first.message = "Failed", 30, "Error (exit code 1)"
        second = train.start_pod(31, "Running")
        flow.update()
        wait_until(lambda: published(watch, "train", second.id), what="train's retry")
        sdk_step(tmp_path, server, run, "train", second.id, 0.4)
        train.finish(40)
        loop = parallel_for(wf, "for-loop-2", 2, after=[train], at=41)
        pods = []
        for body in loop.bodies:
            evaluate = container_task(wf, "evaluate", boundary=body)
            evaluate.start_driver(43)
            evaluate.start_dag(44)
            pods.append(evaluate.start_pod(45, "Running"))
        flow.update()
        wait_until(lambda: published(watch, "evaluate[1]", pods[1].id), what="the iterations")
        # The SDK knows the task, not the iteration: the hub names it from Argo's pods.
        sdk_step(tmp_path, server, run, "evaluate", pods[1].id, 0.2)
        # An SDK from before `argo_node_id` named a step by its pod's node id.
        older = {"node_id": pods[0].id, "kind": "log", "message": "evaluating iteration 0"}
        assert server.post_progress(run, older).status_code == 200
        for pod in pods:
            pod.phase, pod.finished = "Succeeded", 50
        for node in wf.nodes.values():
            if node.phase == "Running":
                node.phase, node.finished = "Succeeded", 51
        flow.update("Succeeded")
        assert watch.ended.wait(20), f"the stream did not end: {argo_statuses(watch)}"

        steps = {"preprocess", "train", "for-loop-2", "evaluate[0]", "evaluate[1]"}
        assert {e.event.node_id for e in watch.events} == steps | {""}
        changes = argo_statuses(watch)
        assert len(changes) == len(set(changes)), "a change published twice"
        both = (first.id, second.id)
        assert [c for c in changes if c[0] == "train"] == [
            ("train", "Running", (first.id,)), ("train", "Running", both),
            ("train", "Succeeded", both),
        ]  # fmt: skip
        assert [c for c in changes if c[0] == "preprocess"] == [
            ("preprocess", "Running", ()), ("preprocess", "Running", (prep_pod.id,)),
            ("preprocess", "Succeeded", (prep_pod.id,)),
        ]  # fmt: skip
        sdk = [(e.event.node_id, e.event.argo_node_id, e.event.kind) for e in watch.events
               if e.event.kind in ("progress", "metric", "log")]  # fmt: skip
        assert sdk == [
            ("preprocess", prep_pod.id, "progress"), ("preprocess", prep_pod.id, "metric"),
            ("train", first.id, "progress"), ("train", first.id, "metric"),
            ("train", second.id, "progress"), ("train", second.id, "metric"),
            ("evaluate[1]", pods[1].id, "progress"), ("evaluate[1]", pods[1].id, "metric"),
            ("evaluate[0]", "", "log"),
        ]  # fmt: skip

        again = Watch(server.grpc_target, run, from_beginning=True)  # history: the same names
        assert again.ended.wait(20)
        assert [e.event.node_id for e in again.events] == [e.event.node_id for e in watch.events]

        page = online_browser.new_page()
        page.goto(f"{server.url}/progress/{run}")
        page.wait_for_function("document.getElementById('conn').textContent === 'run finished'")
        rows = page.eval_on_selector_all(".step", "rows => rows.map(r => r.dataset.node)")
        assert sorted(rows) == sorted(steps), rows
        page.close()

        done = subprocess.run(
            [str(Path(sys.executable).parent / "kfp-viz"), "watch", run, "--server",
             server.grpc_target], capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        named = {line.split(" [", 1)[0] for line in done.stdout.splitlines() if " [" in line}
        assert named == steps, done.stdout
    finally:
        assert server.stop() == 0, server.log()
