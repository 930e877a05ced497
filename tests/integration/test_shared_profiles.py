"""One server for every profile namespace, on real parts: a kube-apiserver enforcing RBAC, SeaweedFS
with each namespace's own restricted keys (made as KFP's profile controller makes them), real
kernels.

The server runs with the token of its ServiceAccount `kubeflow/ml-pipeline-visualizationserver`,
bound to nothing but the RBAC that deploy/kustomize/shared-server-profile-services ships. It
must keep the Services KFP's API server calls in labelled namespaces only, read a namespace's
objects with that namespace's keys (taken from its Secret), refuse what is another namespace's
with a 4xx that shows none of it, and store a namespace's large pages in its own folder.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import requests
from kfp_viz.pages import fetch_page
from kfp_viz.pb import visualization_pb2
from minio import Minio
from services import KubeApiServer, SeaweedFS, profile_bucket_policy, profile_namespace_keys
from stored_pages import reference_of
from support import RunningServer, custom_code, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SERVER_NAMESPACE = "kubeflow"
ACCOUNT = "ml-pipeline-visualizationserver"
SERVICE = "ml-pipeline-visualizationserver"
PROFILE = {"pipelines.kubeflow.org/enabled": "true"}
TARGET = "ml-pipeline-visualizationserver.kubeflow.svc.cluster.local"
BUCKET = "mlpipeline"
A_ROWS = "name,value\nalpha-of-team-a,1\n"
B_ROWS = "name,value\nbravo-of-team-b,2\n"
A_KEY = "private-artifacts/team-a/data/table.csv"
B_KEY = "private-artifacts/team-b/data/table.csv"


def host(namespace: str) -> dict[str, str]:
    """The Host KFP's API server sends for a namespace's visualization."""
    return {"Host": f"{SERVICE}.{namespace}:8888"}


def namespace(kube: KubeApiServer, name: str, labels: dict[str, str]) -> None:
    manifest = {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "labels": labels}}  # fmt: skip
    kube.kubectl("apply", "-f", "-", input=json.dumps(manifest))


def secret(kube: KubeApiServer, name: str, keys: dict[str, str]) -> None:
    manifest = {"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "mlpipeline-minio-artifact", "namespace": name},
                "stringData": keys}  # fmt: skip
    kube.kubectl("apply", "-f", "-", input=json.dumps(manifest))


def service_in(kube: KubeApiServer, name: str) -> dict | None:
    found = kube.kubectl("get", "service", SERVICE, "-n", name, "-o", "json", check=False)
    return json.loads(found.stdout) if found.returncode == 0 else None


def account_kubeconfig(kube: KubeApiServer, folder: Path) -> Path:
    """A kubeconfig holding only the server's ServiceAccount token, as its pod would have."""
    token = kube.kubectl("create", "token", ACCOUNT, "-n", SERVER_NAMESPACE,
                         "--duration=2h").stdout.strip()  # fmt: skip
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {"server": kube.url,
                                                  "insecure-skip-tls-verify": True}}],
        "users": [{"name": ACCOUNT, "user": {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": ACCOUNT}}],
        "current-context": "test",
    }  # fmt: skip
    path = folder / "kubeconfig"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module")
def cluster(kube_apiserver: KubeApiServer, seaweedfs: SeaweedFS) -> Iterator[KubeApiServer]:
    """Namespaces as a multi-user KFP >= 2.15 has them (each profile's keys, and the bucket's
    listing policy), and the server's account with the component's RBAC only."""
    kube = kube_apiserver
    if kube.kubectl("get", "namespace", SERVER_NAMESPACE, check=False).returncode != 0:
        kube.kubectl("create", "namespace", SERVER_NAMESPACE)  # other tests' labels kept
    for name in ("team-a", "team-b"):
        namespace(kube, name, PROFILE)
        secret(kube, name, profile_namespace_keys(seaweedfs, name))
    namespace(kube, "team-broken", PROFILE)
    secret(kube, "team-broken", {"accesskey": "not-a-key", "secretkey": "not-a-secret"})
    namespace(kube, "team-nosecret", PROFILE)
    namespace(kube, "plain", {})
    # A Service of that name the server did not make (an operator's per-namespace server).
    namespace(kube, "own-server", PROFILE)
    theirs = {"apiVersion": "v1", "kind": "Service",
              "metadata": {"name": SERVICE, "namespace": "own-server"},
              "spec": {"ports": [{"name": "http", "port": 8888}]}}  # fmt: skip
    kube.kubectl("apply", "-f", "-", input=json.dumps(theirs))
    # One the server made earlier, in a namespace that is no longer a profile.
    namespace(kube, "former", {})
    ours = {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": SERVICE, "namespace": "former",
                         "labels": {"app.kubernetes.io/managed-by": "kfp-viz-server"}},
            "spec": {"type": "ExternalName", "externalName": TARGET}}  # fmt: skip
    kube.kubectl("apply", "-f", "-", input=json.dumps(ours))
    account = {"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": ACCOUNT, "namespace": SERVER_NAMESPACE}}  # fmt: skip
    kube.kubectl("apply", "-f", "-", input=json.dumps(account))
    rbac = ROOT / "deploy/kustomize/shared-server-profile-services/rbac.yaml"
    kube.kubectl("apply", "-n", SERVER_NAMESPACE, "-f", str(rbac))
    admin = Minio(seaweedfs.endpoint, seaweedfs.access_key, seaweedfs.secret_key, secure=False)
    for key, rows in ((A_KEY, A_ROWS), (B_KEY, B_ROWS)):
        data = rows.encode()
        admin.put_object(BUCKET, key, io.BytesIO(data), len(data), content_type="text/csv")
    profile_bucket_policy(seaweedfs, BUCKET)
    yield kube
    admin.delete_bucket_policy(BUCKET)  # the session's other tests run without it


@pytest.fixture(scope="module")
def shared(cluster: KubeApiServer, seaweedfs: SeaweedFS, tmp_path_factory) -> Iterator:
    """The shared server: the server's own keys are SeaweedFS's admin ones (kubeflow's
    Secret), each profile's come from its own Secret."""
    folder = tmp_path_factory.mktemp("shared-server")
    env = {
        **seaweedfs.server_env(BUCKET),
        "KUBECONFIG": str(account_kubeconfig(cluster, folder)),
        "POD_NAMESPACE": SERVER_NAMESPACE,
        "SERVE_PROFILES": "true",
        "PROFILE_SERVICES": "true",
    }
    server = RunningServer(["--pool-size", "2", "--allow-custom-visualizations"], env,
                           folder / "server.log")  # fmt: skip
    server.wait_ready()
    yield server
    code = server.stop()
    assert code == 0, f"server exited with {code}:\n{server.log()}"


def test_the_servers_account_may_do_no_more_than_the_component_grants(cluster):
    who = f"--as=system:serviceaccount:{SERVER_NAMESPACE}:{ACCOUNT}"
    for allowed in (("list", "namespaces"), ("create", "services", "-n", "team-a"),
                    ("get", "secret/mlpipeline-minio-artifact", "-n", "team-a")):  # fmt: skip
        assert cluster.kubectl("auth", "can-i", *allowed, who).stdout.strip() == "yes"
    for refused in (("list", "secrets", "-n", "team-a"), ("list", "services", "-A"),
                    ("get", "secret/other", "-n", "team-a"), ("delete", "services/other",
                    "-n", "team-a"), ("create", "pods", "-n", "team-a")):  # fmt: skip
        answer = cluster.kubectl("auth", "can-i", *refused, who, check=False)
        assert answer.stdout.strip() == "no", refused


def test_the_server_keeps_services_in_profile_namespaces_only(cluster, shared):
    for name in ("team-a", "team-b", "team-broken", "team-nosecret"):
        wait_until(lambda n=name: service_in(cluster, n) is not None, timeout=30,
                   what=f"the Service in {name}")  # fmt: skip
        spec = service_in(cluster, name)["spec"]
        assert spec["type"] == "ExternalName" and spec["externalName"] == TARGET
        assert {(p["name"], p["port"]) for p in spec["ports"]} == {("http", 8888), ("grpc", 8887)}
    wait_until(lambda: service_in(cluster, "former") is None, timeout=30, what="former's removed")
    assert service_in(cluster, "plain") is None
    own = service_in(cluster, SERVER_NAMESPACE)  # never made in its own namespace
    assert own is None or "app.kubernetes.io/managed-by" not in own["metadata"].get("labels", {})
    theirs = service_in(cluster, "own-server")
    assert theirs is not None and theirs["spec"]["type"] == "ClusterIP"  # left alone
    assert shared.ready()["profiles"]["services"]["left_alone"] == ["own-server"]
    lease = json.loads(cluster.kubectl("get", "lease", "kfp-viz-server-profiles", "-n",
                                       SERVER_NAMESPACE, "-o", "json").stdout)  # fmt: skip
    assert lease["spec"]["holderIdentity"] and shared.ready()["profiles"]["services"]["leading"]

    # A namespace becomes a profile, another stops being one: followed by the watch.
    namespace(cluster, "plain", PROFILE)
    wait_until(lambda: service_in(cluster, "plain") is not None, timeout=30, what="plain's")
    cluster.kubectl("label", "namespace", "plain", "pipelines.kubeflow.org/enabled-")
    wait_until(lambda: service_in(cluster, "plain") is None, timeout=30, what="plain's removed")


def test_a_render_reads_its_namespaces_object_with_its_namespaces_keys(shared):
    source = f"minio://{BUCKET}/{A_KEY}"
    reply = shared.post(type="table", source=source, arguments="{}", headers=host("team-a"))
    assert reply.status_code == 200, reply.reason
    assert "alpha-of-team-a" in reply.text
    # The same over KFP's gRPC, the namespace from the request.
    stub_reply = _grpc(shared, "team-a", source)
    assert "alpha-of-team-a" in stub_reply.html and not stub_reply.error
    # A namespace whose keys the store refuses: said, naming the Secret, never read otherwise.
    for name, status in (("team-broken", 503), ("team-nosecret", 404)):
        own = f"minio://{BUCKET}/private-artifacts/{name}/data/table.csv"
        refused = shared.post(type="table", source=own, arguments="{}", headers=host(name))
        assert refused.status_code == status, refused.reason
        assert f"{name}/mlpipeline-minio-artifact" in refused.reason or (
            f"Namespace {name} has no Secret mlpipeline-minio-artifact" in refused.reason
        )


def _grpc(server: RunningServer, namespace: str, source: str) -> visualization_pb2.Visualization:
    from kfp_viz.pb import visualization_pb2_grpc

    stub = visualization_pb2_grpc.VisualizationServiceStub(server.channel)
    request = visualization_pb2.CreateVisualizationRequest(
        visualization=visualization_pb2.Visualization(
            type=visualization_pb2.Visualization.TABLE, source=source, arguments="{}"
        ),
        namespace=namespace,
    )
    return stub.CreateVisualizationV1(request, timeout=60)


@pytest.mark.parametrize(
    "source",
    [
        f"minio://{BUCKET}/{B_KEY}",
        f"s3://{BUCKET}/{B_KEY}",
        f"minio://{BUCKET}/private-artifacts/*/data/table.csv",
        f"minio://{BUCKET}/*/team-b/data/table.csv",
        f"minio://{BUCKET}/private-artifacts/team-a/../team-b/data/table.csv",
    ],
)
def test_a_hostile_tenant_naming_another_namespaces_source_gets_a_4xx_and_nothing(shared, source):
    reply = shared.post(type="table", source=source, arguments="{}", headers=host("team-a"))
    assert reply.status_code == 403, reply.reason
    assert "bravo-of-team-b" not in reply.text and "bravo" not in reply.reason
    with pytest.raises(grpc.RpcError) as refused:
        _grpc(shared, "team-a", source)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_custom_code_cannot_reach_another_namespaces_objects_through_the_server(shared):
    code = custom_code(
        "from kfp_viz_kernels.object_access import ask, Refused",
        "from kfp_viz_kernels import sources",
        "def attempt(label, request):",
        "    try:",
        "        print(label, 'GOT', ask({'scheme': 'minio', 'bucket': 'mlpipeline', **request}))",
        "    except Refused as error:",
        "        print(label, 'REFUSED', error)",
        f"attempt('B', {{'op': 'get', 'key': {B_KEY!r}}})",
        "attempt('DOTS', {'op': 'get', 'key': 'private-artifacts/team-a/../team-b/x.csv'})",
        "attempt('OWN', {'op': 'list', 'prefix': 'private-artifacts/team-a/', 'recursive': True})",
        "attempt('ALL', {'op': 'list', 'prefix': 'private-artifacts/', 'recursive': True})",
        "try:",
        f"    print('READ', sources.read_text('minio://mlpipeline/{B_KEY}'))",
        "except Exception as error:",
        "    print('FAILED', error)",
    )
    reply = shared.post(type="custom", source="x", arguments=code, headers=host("team-a"))
    assert reply.status_code == 200, reply.reason
    text = reply.text
    assert "B REFUSED AccessDenied" in text and "DOTS REFUSED AccessDenied" in text, text[-3000:]
    assert re.search(rf"OWN GOT[^\n]*{re.escape(A_KEY)}", text)  # its own, with its keys
    everything = re.search(r"ALL (GOT|REFUSED)[^\n]*", text)
    assert everything and "team-b" not in everything[0]  # filtered (or refused): never shown
    assert "FAILED" in text and "bravo-of-team-b" not in text


LARGE = custom_code(
    "import base64, os",
    "from IPython.display import HTML, display",
    "display(HTML('<pre>' + base64.b64encode(os.urandom(4_500_000)).decode() + '</pre>'))",
)


def test_a_namespaces_large_page_lands_in_its_own_folder_and_opens_only_there(shared, seaweedfs):
    reply = shared.post(type="custom", source="x", arguments=LARGE, headers=host("team-a"),
                        timeout=120)  # fmt: skip
    assert reply.status_code == 200, reply.reason
    reference = reference_of(reply.text)
    page_id = reference["id"]
    prefix = "private-artifacts/team-a/visualizations/"
    assert reference["uri"] == f"s3://{BUCKET}/{prefix}{page_id}.html"
    assert reference["namespace"] == "team-a"
    assert reference["http_url"].endswith(f"/visualizations/{page_id}?namespace=team-a")
    admin = Minio(seaweedfs.endpoint, seaweedfs.access_key, seaweedfs.secret_key, secure=False)
    assert admin.stat_object(BUCKET, f"{prefix}{page_id}.html").size == reference["size"]

    url = f"{shared.url}/visualizations/{page_id}"
    own = requests.get(url, params={"namespace": "team-a"}, timeout=60)
    assert own.status_code == 200 and len(own.content) == reference["size"]
    by_host = requests.get(url, headers=host("team-a"), timeout=60)
    assert by_host.status_code == 200 and by_host.content == own.content
    # Another namespace's id space holds no such page, and the server's own neither.
    for elsewhere in ({"params": {"namespace": "team-b"}}, {"headers": host("team-b")}, {}):
        other = requests.get(url, timeout=60, **elsewhere)
        assert other.status_code == 404, elsewhere
        assert "team-a" not in other.reason and other.content.count(b"<pre>") == 0
    bad = requests.get(url, params={"namespace": "../team-a"}, timeout=60)
    assert bad.status_code == 400
    # gRPC: the reference's namespace fetches it; another's does not.
    fetched = fetch_page(shared.channel, page_id, namespace="team-a")
    assert fetched.data == own.content and fetched.reference.namespace == "team-a"
    with pytest.raises(grpc.RpcError) as missing:
        fetch_page(shared.channel, page_id, namespace="team-b")
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_without_a_namespace_in_the_host_the_server_is_its_own(shared, seaweedfs):
    """Single-user KFP and local clients: the server's own keys and prefix, as before."""
    reply = shared.post(type="custom", source="x", arguments=LARGE, timeout=120)
    assert reply.status_code == 200, reply.reason
    reference = reference_of(reply.text)
    assert reference["uri"].startswith(f"s3://{BUCKET}/visualizations/")
    assert reference["namespace"] == ""
    assert not reference["http_url"].endswith("namespace=")
