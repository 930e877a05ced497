"""AUTH=kubeflow against a real kube-apiserver: TokenReview for publishers, SubjectAccessReview
for readers, and every read and write path tried as a hostile tenant.

The cluster (tenants.py) has two profiles: tenant-a (alice reads it) and tenant-b (bob), each
with KFP's step ServiceAccount `default-editor`. The server runs as KFP's
`ml-pipeline-visualizationserver` ServiceAccount with exactly deploy/kustomize/tenancy's
RBAC. Steps publish with projected tokens of several audiences (`kubectl create token
--audience`); users are named by the `kubeflow-userid` header, as Kubeflow's gateway sets it.
"""

from __future__ import annotations

import json
import time
import uuid

import grpc
import pytest
import requests
import tenants
from kfp_viz.pb import kfpviz_progress_pb2 as pb
from kfp_viz.pb import kfpviz_progress_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration

SECRET = "tenant-a's private loss curve"


@pytest.fixture(scope="module")
def cluster(kube_apiserver, tmp_path_factory) -> tenants.Tenants:
    return tenants.set_up(kube_apiserver, tmp_path_factory.mktemp("tenancy"))


@pytest.fixture(scope="module")
def server(cluster, tmp_path_factory):
    from support import RunningServer

    log = tmp_path_factory.mktemp("tenancy-server") / "server.log"
    running = RunningServer(
        [
            "--pool-size",
            "1",
            "--auth",
            "kubeflow",
            "--progress-heartbeat",
            "0.5",
            "--access-review-ttl",
            "1",
        ],
        # As the server runs in tenant-a (a per-namespace server): its `progress` renders
        # are tenant-a's.
        {"KUBECONFIG": str(cluster.server_kubeconfig), "POD_NAMESPACE": "tenant-a"},
        log,
    )
    running.wait_ready()
    yield running
    assert running.stop() == 0, running.log()


@pytest.fixture(scope="module")
def tokens(cluster) -> dict[str, str]:
    return {
        "a": cluster.step_token("tenant-a"),
        "b": cluster.step_token("tenant-b"),
        "a-other-audience": cluster.step_token("tenant-a", audience="https://example.com"),
        "a-api-audience": cluster.step_token("tenant-a", audience=None),
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def user(name: str) -> dict[str, str]:
    return {"kubeflow-userid": name}


def publish(server, run: str, headers: dict, *events: dict) -> requests.Response:
    body = [{"node_id": "train", "kind": "log", "message": "hello", **e} for e in events]
    return requests.post(
        f"{server.url}/progress/{run}", data=json.dumps(body or [{"node_id": "train",
                                                               "kind": "log", "message": "m"}]),
        headers=headers, timeout=30,
    )  # fmt: skip


def new_run() -> str:
    return str(uuid.uuid4())


def history(server, run: str, headers: dict) -> list[dict]:
    """A run's events so far, through the server-sent events, as `headers` reads them."""
    reply = requests.get(f"{server.url}/progress/{run}/events", headers=headers,
                         stream=True, timeout=10)  # fmt: skip
    assert reply.status_code == 200, reply.text
    events, fields = [], {}
    for line in reply.iter_lines(decode_unicode=True):
        if line:
            name, _, value = line.partition(": ")
            fields[name] = value
            continue
        if fields.get("event") == "progress":
            events.append(json.loads(fields["data"]))
        if fields.get("event") in ("caught_up", "end"):
            break
        fields = {}
    reply.close()
    return events


@pytest.fixture(scope="module")
def team_a_run(server, tokens) -> str:
    """A run of tenant-a holding a secret only tenant-a's readers may see."""
    run = new_run()
    reply = publish(server, run, bearer(tokens["a"]),
                    {"kind": "log", "message": SECRET},
                    {"kind": "status", "node_id": "", "status": "Running"})  # fmt: skip
    assert reply.status_code == 200, reply.text
    return run


# -- publishers: TokenReview --------------------------------------------------------------


@pytest.mark.parametrize(
    ("credential", "words"),
    [
        (None, "publishing needs a ServiceAccount token"),
        ("garbage", "the token was not accepted"),
        ("a-other-audience", "the token was not accepted"),
        ("a-api-audience", "the token was not accepted"),
    ],
)
def test_a_publisher_without_a_token_for_kfps_audience_is_unauthenticated(
    server, tokens, credential, words
):
    run = new_run()
    headers = {} if credential is None else bearer(tokens.get(credential, credential))
    reply = publish(server, run, headers)
    assert reply.status_code == 401, reply.text
    assert words in reply.json()["error"]
    assert reply.reason.startswith("Unauthenticated")
    # nothing of it reached the log: the run stays unknown
    assert requests.get(f"{server.url}/progress/{run}/events", headers=user("alice"),
                        timeout=10).status_code == 404  # fmt: skip


def test_a_step_publishes_as_its_namespace_whatever_its_events_say(server, tokens):
    run = new_run()
    reply = publish(server, run, bearer(tokens["a"]), {"namespace": "tenant-b"})
    assert reply.status_code == 200, reply.text
    events = history(server, run, user("alice"))
    assert [e["namespace"] for e in events] == ["tenant-a"]
    assert requests.get(f"{server.url}/progress/{run}/events", headers=user("bob"),
                        timeout=10).status_code == 403  # fmt: skip


def test_grpc_publishers_are_checked_the_same_way(server, tokens, team_a_run):
    stub = pb_grpc.ProgressStub(server.channel)
    event = pb.ProgressEvent(run_id=new_run(), node_id="s", kind="log", message="m")
    with pytest.raises(grpc.RpcError) as unauthenticated:
        stub.PublishProgress(pb.PublishProgressRequest(events=[event]), timeout=30)
    assert unauthenticated.value.code() == grpc.StatusCode.UNAUTHENTICATED
    intruding = pb.ProgressEvent(run_id=team_a_run, node_id="s", kind="log", message="spoof")
    with pytest.raises(grpc.RpcError) as forbidden:
        stub.PublishProgress(pb.PublishProgressRequest(events=[intruding]), timeout=30,
                             metadata=(("authorization", f"Bearer {tokens['b']}"),))  # fmt: skip
    assert forbidden.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "belongs to namespace tenant-a" in forbidden.value.details()
    as_a = (("authorization", f"Bearer {tokens['a']}"),)
    reply = stub.PublishProgress(
        pb.PublishProgressRequest(events=[event]), timeout=30, metadata=as_a
    )
    assert len(reply.cursors) == 1


def test_publishing_into_another_namespaces_run_is_forbidden_and_reaches_nothing(
    server, tokens, team_a_run
):
    reply = publish(server, team_a_run, bearer(tokens["b"]), {"message": "intruder was here"})
    assert reply.status_code == 403, reply.text
    assert "belongs to namespace tenant-a; this step publishes as tenant-b" in reply.json()["error"]
    messages = [e.get("message") for e in history(server, team_a_run, user("alice"))]
    assert SECRET in messages and "intruder was here" not in messages


# -- readers: SubjectAccessReview ---------------------------------------------------------


def test_the_namespaces_reader_sees_the_run_on_every_read_path(server, team_a_run):
    headers = user("alice")
    assert SECRET in [e.get("message") for e in history(server, team_a_run, headers)]
    page = requests.get(f"{server.url}/progress/{team_a_run}", headers=headers, timeout=10)
    assert page.status_code == 200 and "Access-Control-Allow-Origin" not in page.headers
    compare = requests.get(f"{server.url}/progress", params={"runs": team_a_run},
                           headers=headers, timeout=10)  # fmt: skip
    assert compare.status_code == 200
    watch = pb_grpc.ProgressStub(server.channel).WatchProgress(
        pb.WatchProgressRequest(run_id=team_a_run, from_beginning=True), timeout=10,
        metadata=(("kubeflow-userid", "alice"),),
    )  # fmt: skip
    messages = []
    for reply in watch:
        messages += [e.event.message for e in reply.events]
        if reply.HasField("caught_up"):
            break
    watch.cancel()
    assert SECRET in messages


def test_a_steps_token_reads_its_own_namespace_through_its_groups_and_bindings(
    server, tokens, team_a_run
):
    assert SECRET in [e.get("message") for e in history(server, team_a_run, bearer(tokens["a"]))]
    reply = requests.get(f"{server.url}/progress/{team_a_run}/events",
                         headers=bearer(tokens["b"]), timeout=10)  # fmt: skip
    assert reply.status_code == 403


def read_paths(server, run: str) -> dict[str, object]:
    """Each HTTP read of a run, as a function of headers giving (status, body)."""

    def get(path: str, **params):
        def read(headers: dict) -> tuple[int, str]:
            """The status and what came within 2 s (a stream that was let through would
            otherwise never end: its heartbeats keep it open)."""
            with requests.get(server.url + path, params=params, headers=headers, timeout=10,
                              stream=True) as reply:  # fmt: skip
                body, deadline = b"", time.monotonic() + 2
                for chunk in reply.iter_content(chunk_size=None):
                    body += chunk
                    if time.monotonic() > deadline:
                        break
                return reply.status_code, body.decode(errors="replace")

        return read

    return {
        "events": get(f"/progress/{run}/events"),
        "events resumed": get(f"/progress/{run}/events", resume_after="0:0"),
        "page": get(f"/progress/{run}"),
        "comparison": get("/progress", runs=run),
        "comparison among others": get("/progress", runs=f"{new_run()},{run}"),
    }


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"kubeflow-userid": "bob"}, 403),
        ({"Authorization": "Bearer forged"}, 401),
        ({"Authorization": "Basic Ym9iOmJvYg=="}, 401),
    ],
    ids=["no identity", "another tenant", "forged token", "not a bearer"],
)
def test_every_http_read_path_refuses_a_hostile_tenant_and_leaks_nothing(
    server, team_a_run, headers, status
):
    for path, read in read_paths(server, team_a_run).items():
        code, body = read(headers)
        expected = 404 if path == "comparison among others" and status == 403 else status
        assert code == expected, f"{path}: {code} {body}"
        assert SECRET not in body and "tenant-a" not in body, f"{path} leaked: {body}"


@pytest.mark.parametrize(
    ("metadata", "code"),
    [
        ((), grpc.StatusCode.UNAUTHENTICATED),
        ((("kubeflow-userid", "bob"),), grpc.StatusCode.PERMISSION_DENIED),
        ((("authorization", "Bearer forged"),), grpc.StatusCode.UNAUTHENTICATED),
    ],
    ids=["no identity", "another tenant", "forged token"],
)
def test_grpc_watch_refuses_a_hostile_tenant(server, team_a_run, metadata, code):
    watch = pb_grpc.ProgressStub(server.channel).WatchProgress(
        pb.WatchProgressRequest(run_id=team_a_run, from_beginning=True), timeout=10,
        metadata=metadata,
    )  # fmt: skip
    with pytest.raises(grpc.RpcError) as refused:
        for reply in watch:
            assert not reply.events, "events reached a refused watcher"
    assert refused.value.code() == code


def test_an_unknown_run_is_not_found_for_every_reader(server):
    run = new_run()
    for headers in (user("alice"), user("bob")):
        reply = requests.get(f"{server.url}/progress/{run}/events", headers=headers, timeout=10)
        assert reply.status_code == 404 and f"no run {run} is known yet" in reply.json()["error"]


def test_access_decisions_follow_rbac_changes_after_the_review_ttl(server, cluster, team_a_run):
    """bob is granted tenant-a, reads, and loses it again: the server follows RBAC (its
    decisions are reused for --access-review-ttl, 1 s here)."""
    from support import wait_until

    def bob_reads() -> int:
        url = f"{server.url}/progress/{team_a_run}/events"
        reply = requests.get(url, headers=user("bob"), stream=True, timeout=10)
        reply.close()
        return reply.status_code

    binding = ("rolebinding", "bob-temporary", "-n", "tenant-a")
    cluster.kube.kubectl("create", *binding, "--role", "pipelines-view", "--user", "bob")
    try:
        wait_until(lambda: bob_reads() == 200, timeout=10, what="bob's new RoleBinding")
        assert SECRET in [e.get("message") for e in history(server, team_a_run, user("bob"))]
    finally:
        cluster.kube.kubectl("delete", *binding)
    wait_until(lambda: bob_reads() == 403, timeout=10, what="bob's RoleBinding removed")


def test_the_progress_view_shows_only_runs_of_the_renders_namespace(server, tokens, team_a_run):
    """KFP's API server authorized its user for the render's namespace (here the server's
    own, tenant-a): another namespace's run is refused, with nothing of it shown."""
    other = new_run()
    assert publish(server, other, bearer(tokens["b"]), {"message": "tenant-b's"}).ok
    shown = server.post(type="progress", source=team_a_run, arguments="{}")
    assert shown.status_code == 200 and SECRET in shown.text
    refused = server.post(type="table", source=f"progress://{other}", arguments="{}")
    assert refused.status_code == 403, refused.text
    assert "tenant-b" not in refused.text and f"run {other} is not among" in refused.reason
