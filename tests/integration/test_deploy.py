"""deploy/ as an operator uses it: deploy/README.md's overlays and commands, on a real API server.

Each overlay is taken from deploy/README.md as written (only the KFP resource URL, the path to
this repository and `<registry>` are filled in), built with kustomize over KFP's manifests
restated for its release line (kfp_install.py), and applied to a real kube-apiserver in
namespaces labelled PodSecurity `restricted`. The API server must accept every object with no
warning, and what it stores must run our image with valid probes and KFP's store settings.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import istio
import kfp_install
import pytest
import yaml
from kfp_install import NAME, NAMESPACE, PROFILE_NAMESPACE
from services import cached_tool

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE = cached_tool("KFP_VIZ_KUSTOMIZE", "kustomize-*/kustomize")
OUR_IMAGE = "registry.example.com/kfp-viz-server:0.1.0"
RESTRICTED = {
    f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")
}


def readme_snippets() -> dict[str, str]:
    """deploy/README.md's blocks marked `<!-- test: NAME ... -->`, by NAME and its arguments."""
    text = (ROOT / "deploy" / "README.md").read_text()
    found = re.findall(r"<!-- test: ([^>]+?) -->\n```\w*\n(.*?)```", text, re.S)
    return {marker.strip(): body for marker, body in found}


SNIPPETS = readme_snippets()


def snippet(prefix: str) -> tuple[str, list[str]]:
    """The snippet whose marker starts with `prefix`, and the marker's arguments."""
    marker = next(m for m in SNIPPETS if m.split()[0] == prefix)
    return SNIPPETS[marker], marker.split()[1:]


def fill_in(text: str, folder: Path, kfp: Path | None = None) -> str:
    """An operator's overlay with the placeholders filled in for `folder` (where it lives)."""
    text = text.replace("<registry>", "registry.example.com")
    text = text.replace("path/to/kfp-viz-server/", os.path.relpath(ROOT, folder) + "/")
    if kfp is not None:
        url = r"github\.com/kubeflow/pipelines/manifests/kustomize/env/platform-agnostic\S*"
        text = re.sub(url, os.path.relpath(kfp, folder), text)
    return text


def kustomize(folder: Path) -> str:
    result = subprocess.run([KUSTOMIZE, "build", str(folder)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def objects(manifests: str) -> list[dict]:
    return [obj for obj in yaml.safe_load_all(manifests) if obj]


def the(found: list[dict], kind: str, name: str = NAME) -> dict:
    matches = [o for o in found if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{len(matches)} {kind} {name} in {[o['kind'] for o in found]}"
    return matches[0]


def container(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def env(deployment: dict) -> dict[str, dict]:
    return {item["name"]: item for item in container(deployment).get("env", [])}


def assert_probes_valid(deployment: dict) -> None:
    spec = container(deployment)
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/")):
        handlers = {"exec", "httpGet", "tcpSocket", "grpc"} & set(spec[probe])
        assert handlers == {"httpGet"}, f"{probe} has handlers {handlers}"
        assert spec[probe]["httpGet"]["path"] == path and spec[probe]["httpGet"]["port"] == 8888


@pytest.fixture(scope="module")
def kube(kube_apiserver):
    """The API server with KFP's namespace and a profile namespace, both PodSecurity restricted."""
    for namespace, extra in ((NAMESPACE, {}), (PROFILE_NAMESPACE, _PROFILE_LABELS)):
        labels = {**RESTRICTED, **extra}
        manifest = {"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": namespace, "labels": labels}}  # fmt: skip
        kube_apiserver.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    return kube_apiserver


_PROFILE_LABELS = {"app.kubernetes.io/part-of": "kubeflow-profile"}


class Applied:
    """Apply manifests for real (after a server-side dry run) and delete them afterwards."""

    def __init__(self, kube) -> None:
        self.kube = kube
        self._applied: list[tuple[str, str]] = []

    def __call__(self, manifests: str, namespace: str = NAMESPACE) -> list[dict]:
        dry = self.kube.kubectl("apply", "-n", namespace, "--dry-run=server", "-f", "-",
                                input=manifests)  # fmt: skip
        assert "Warning" not in dry.stderr, dry.stderr
        real = self.kube.kubectl("apply", "-n", namespace, "-f", "-", input=manifests)
        assert "Warning" not in real.stderr, real.stderr
        self._applied.append((namespace, manifests))
        stored = self.kube.kubectl("get", "-n", namespace, "-f", "-", "-o", "json",
                                   input=manifests)  # fmt: skip
        return json.loads(stored.stdout)["items"]

    def clean(self) -> None:
        applied, self._applied = self._applied, []
        for namespace, manifests in reversed(applied):
            self.kube.kubectl("delete", "-n", namespace, "--wait=false", "--ignore-not-found",
                              "-f", "-", input=manifests)  # fmt: skip


@pytest.fixture
def applied(kube) -> Iterator[Applied]:
    apply = Applied(kube)
    yield apply
    apply.clean()


LINES = [
    ("2.17.0", "kfp-2.15-and-later", False),
    ("2.17.0", "kfp-2.15-and-later", True),
    ("2.15.0", "kfp-2.15-and-later", False),
    ("2.14.0", "kfp-2.5-to-2.14", True),
    ("2.13.0", "kfp-2.5-to-2.14", False),
    ("2.5.0", "kfp-2.5-to-2.14", False),
    ("2.4.0", "kfp-2.4-and-earlier", False),
]


@pytest.mark.parametrize(("version", "component", "multi_user"), LINES)
def test_the_component_of_each_kfp_line_is_accepted_and_swaps_the_server(
    tmp_path, applied, version, component, multi_user
):
    text, (documented_component, documented_version) = snippet("overlay")
    text = text.replace(documented_component, component).replace(documented_version, version)
    if multi_user:
        text = text.replace("env/platform-agnostic", "env/platform-agnostic-multi-user")
    kfp = kfp_install.write_install(tmp_path / "kfp", version, multi_user)
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(fill_in(text, overlay, kfp))
    built = kustomize(overlay)

    assert kfp_install.stock_image(version).split(":")[0] not in built  # KFP's image is gone
    for deployment in (the(objects(built), "Deployment"), the(applied(built), "Deployment")):
        spec = container(deployment)
        assert spec["image"] == OUR_IMAGE
        assert_probes_valid(deployment)
        assert {p["containerPort"] for p in spec["ports"]} == {8888, 8887}
        assert spec["securityContext"]["readOnlyRootFilesystem"] is True
        variables = env(deployment)
        assert variables["OBJECTSTORECONFIG_HOST"]["value"] == kfp_install.store_host(version)
        assert variables["OBJECTSTORECONFIG_BUCKETNAME"]["valueFrom"]["configMapKeyRef"] == {
            "name": "pipeline-install-config", "key": "bucketName"
        }  # fmt: skip
        assert variables["OBJECTSTORECONFIG_SECRETACCESSKEY"]["valueFrom"]["secretKeyRef"] == {
            "name": "mlpipeline-minio-artifact", "key": "secretkey"
        }  # fmt: skip
    service = the(objects(built), "Service")
    assert {(p["name"], p["port"]) for p in service["spec"]["ports"]} == {
        ("http", 8888), ("grpc", 8887)
    }  # fmt: skip


@pytest.mark.parametrize("version", ["2.17.0", "2.13.0"])
def test_set_image_alone_is_accepted_and_keeps_kfps_pod(tmp_path, kube, applied, version):
    stock = kustomize(kfp_install.write_install(tmp_path / "kfp", version, multi_user=False))
    applied(stock)
    command = snippet("set-image")[0].replace("<registry>", "registry.example.com")
    args = command.replace("\\\n", " ").split()
    assert args[0] == "kubectl"
    kube.kubectl(*args[1:])
    stored = json.loads(kube.kubectl("get", "-n", NAMESPACE, "deployment", NAME,
                                     "-o", "json").stdout)  # fmt: skip
    spec = container(stored)
    assert spec["image"] == OUR_IMAGE
    assert spec["resources"] == {"requests": {"cpu": "30m", "memory": "500Mi"}}
    assert ("httpGet" in spec["livenessProbe"]) == (kfp_install.version_tuple(version) >= (2, 14))


def test_a_profile_namespace_gets_its_own_server_on_kfp_2_15_and_later(tmp_path, kube, applied):
    istio.install_crds(kube)
    applied(json.dumps(kfp_install.store_secret(PROFILE_NAMESPACE)), PROFILE_NAMESPACE)
    text, (namespace,) = snippet("profile-namespace")
    assert namespace == PROFILE_NAMESPACE
    for with_istio in (True, False):
        overlay = tmp_path / f"profile-{with_istio}"
        overlay.mkdir()
        body = text if with_istio else re.sub(r"components:\n- .*\n", "", text)
        (overlay / "kustomization.yaml").write_text(fill_in(body, overlay))
        stored = applied(kustomize(overlay), PROFILE_NAMESPACE)
        deployment = the(stored, "Deployment")
        assert deployment["metadata"]["namespace"] == PROFILE_NAMESPACE
        assert container(deployment)["image"] == OUR_IMAGE
        assert_probes_valid(deployment)
        variables = env(deployment)
        assert variables["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == (
            "metadata.namespace"
        )
        assert variables["PROGRESS_NAMESPACE"]["value"] == "$(POD_NAMESPACE)"
        assert (
            variables["STORE_PREFIX"]["value"]
            == "private-artifacts/$(POD_NAMESPACE)/visualizations/"
        )
        assert variables["OBJECTSTORECONFIG_HOST"]["value"] == "seaweedfs.kubeflow"
        account = the(stored, "ServiceAccount")
        assert account["automountServiceAccountToken"] is False
        assert the(stored, "Service")["spec"]["ports"][0]["port"] in (8887, 8888)
        mesh = [o for o in stored if o["apiVersion"].endswith("istio.io/v1beta1")]
        assert len(mesh) == (2 if with_istio else 0)
        if with_istio:
            policy = the(stored, "AuthorizationPolicy")
            principals = policy["spec"]["rules"][0]["from"][0]["source"]["principals"]
            assert principals == ["cluster.local/ns/kubeflow/sa/ml-pipeline"]
        applied.clean()


def _shared_overlay(tmp_path: Path, name: str, text: str, kfp: Path) -> str:
    overlay = tmp_path / name
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(fill_in(text, overlay, kfp))
    return kustomize(overlay)


def test_the_shared_layout_is_accepted_with_its_rbac_and_autoscalers(tmp_path, kube, applied):
    text, (component, version) = snippet("shared-overlay")
    kfp = kfp_install.write_install(tmp_path / "kfp", version, multi_user=True)
    built = _shared_overlay(tmp_path, "shared", text, kfp)
    stored = applied(built)
    deployment = the(stored, "Deployment")
    assert container(deployment)["image"] == OUR_IMAGE
    assert deployment["spec"]["template"]["spec"]["automountServiceAccountToken"] is True
    variables = env(deployment)
    assert variables["SERVE_PROFILES"]["value"] == variables["PROFILE_SERVICES"]["value"] == "true"
    assert variables["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    rules = the(stored, "ClusterRole", "ml-pipeline-visualizationserver-profiles")["rules"]
    named = {(r["resources"][0], tuple(r.get("resourceNames", ())), tuple(r["verbs"]))
             for r in rules}  # fmt: skip
    assert named == {
        ("namespaces", (), ("get", "list", "watch")),
        ("services", (), ("create",)),
        ("services", (NAME,), ("get", "update", "delete")),
        ("secrets", ("mlpipeline-minio-artifact",), ("get",)),
    }
    binding = the(stored, "ClusterRoleBinding", "ml-pipeline-visualizationserver-profiles")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]
    lease_rules = the(stored, "Role", "ml-pipeline-visualizationserver-profiles")["rules"]
    assert {"kfp-viz-server-profiles"} == {
        n for r in lease_rules for n in r.get("resourceNames", [])
    }
    cpu = the(stored, "HorizontalPodAutoscaler")["spec"]
    assert cpu["scaleTargetRef"]["name"] == NAME and cpu["metrics"][0]["resource"]["name"] == "cpu"
    applied.clean()

    by_queue = _shared_overlay(tmp_path, "queue", text.replace("autoscaling-cpu",
                               "autoscaling-queue-depth"), kfp)  # fmt: skip
    hpa = the(applied(by_queue), "HorizontalPodAutoscaler")["spec"]
    assert hpa["metrics"] == [{"type": "Pods", "pods": {
        "metric": {"name": "kfp_viz_queue_depth"},
        "target": {"type": "AverageValue", "averageValue": "2"}}}]  # fmt: skip
    applied.clean()

    # Without the Services kept by the server: no RBAC at all, and no PROFILE_SERVICES.
    plain = objects(
        _shared_overlay(tmp_path, "plain", text.replace(component, "shared-server"), kfp)
    )
    kinds = {o["kind"] for o in plain}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
    assert "PROFILE_SERVICES" not in env(the(plain, "Deployment"))
    assert env(the(plain, "Deployment"))["SERVE_PROFILES"]["value"] == "true"


def test_a_profile_namespace_of_the_shared_layout_holds_a_name_and_one_right(kube, applied):
    command, (namespace,) = snippet("shared-profile-namespace")
    assert namespace == PROFILE_NAMESPACE and f"apply -n {namespace}" in command
    base = ROOT / "deploy" / "kustomize" / "shared-profile-namespace"
    stored = applied(kustomize(base), PROFILE_NAMESPACE)
    assert {o["kind"] for o in stored} == {"Service", "Role", "RoleBinding"}
    spec = the(stored, "Service")["spec"]
    assert spec["type"] == "ExternalName"
    assert spec["externalName"] == f"{NAME}.{NAMESPACE}.svc.cluster.local"
    assert {p["port"] for p in spec["ports"]} == {8888, 8887}
    who = f"--as=system:serviceaccount:{NAMESPACE}:{NAME}"
    can = [("get", "secret/mlpipeline-minio-artifact"), ("get", "secret/other"),
           ("list", "secrets"), ("get", "services")]  # fmt: skip
    answers = [kube.kubectl("auth", "can-i", *c, "-n", PROFILE_NAMESPACE, who,
                            check=False).stdout.strip() for c in can]  # fmt: skip
    assert answers == ["yes", "no", "no", "no"]


def test_the_profile_controller_of_kfp_2_14_gets_our_image(tmp_path, kube, applied):
    patch, (version,) = snippet("profile-controller")
    overlay_text, (component, documented_version) = snippet("overlay")
    overlay_text = overlay_text.replace(component, "kfp-2.5-to-2.14")
    overlay_text = overlay_text.replace(documented_version, version)
    overlay_text = overlay_text.replace("env/platform-agnostic", "env/platform-agnostic-multi-user")
    kfp = kfp_install.write_install(tmp_path / "kfp", version, multi_user=True)
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(fill_in(overlay_text + patch, overlay, kfp))
    stored = applied(kustomize(overlay))
    controller = env(the(stored, "Deployment", "kubeflow-pipelines-profile-controller"))
    assert (
        controller["VISUALIZATION_SERVER_IMAGE"]["value"] == "registry.example.com/kfp-viz-server"
    )
    assert controller["VISUALIZATION_SERVER_TAG"]["value"] == "0.1.0"
    assert container(the(stored, "Deployment"))["image"] == OUR_IMAGE


def test_podsecurity_restricted_would_warn_about_a_pod_that_breaks_it(kube):
    """The check above can fail: KFP's pod without its security context draws a warning."""
    deployment = kfp_install.visualization_server("2.17.0")[0]
    deployment["spec"]["template"]["spec"].pop("securityContext")
    container(deployment).pop("securityContext")
    result = kube.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(deployment))
    assert 'would violate PodSecurity "restricted' in result.stderr


# -- through Kubeflow's gateway (deploy/kustomize/gateway) ----------------------------------

GATEWAY = "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"
API_SERVER = "cluster.local/ns/kubeflow/sa/ml-pipeline"
STEP_POD = "cluster.local/ns/kubeflow-user-example-com/sa/default-editor"
TOKEN = {"authorization": "Bearer a-projected-token"}
PERSON = {"kubeflow-userid": "user@example.com"}
PUBLISH = "/kfpviz.v1.Progress/PublishProgress"
RENDER = "/api.VisualizationService/CreateVisualizationV1"

# (source principal, method, path, headers) -> admitted by KFP's policy and ours together
GATEWAY_RULES = [
    # People, through the gateway (it sets kubeflow-userid): pages, streams, the run list.
    (GATEWAY, "GET", "/progress", PERSON, True),
    (GATEWAY, "GET", "/progress/run-1", PERSON, True),
    (GATEWAY, "GET", "/progress/run-1/events", PERSON, True),
    (GATEWAY, "GET", "/progress/runs", PERSON, True),
    (GATEWAY, "GET", "/visualizations/" + "0" * 64, PERSON, True),
    (GATEWAY, "GET", "/simple/kfp-viz/", PERSON, True),
    # ... but never a render, a publish, or the server's own endpoints.
    (GATEWAY, "POST", "/", PERSON, False),
    (GATEWAY, "GET", "/", PERSON, False),
    (GATEWAY, "POST", "/progress/run-1", PERSON, False),
    (GATEWAY, "GET", "/metrics", PERSON, False),
    (GATEWAY, "GET", "/readyz", PERSON, False),
    # Steps: with a token and no user id, publish over HTTP and gRPC, and watch.
    (STEP_POD, "POST", "/progress/run-1", TOKEN, True),
    (STEP_POD, "POST", PUBLISH, TOKEN, True),
    (STEP_POD, "POST", "/kfpviz.v1.Progress/WatchProgress", TOKEN, True),
    (STEP_POD, "GET", "/progress/run-1/events", TOKEN, True),
    (STEP_POD, "GET", "/simple/kfp-viz/", {}, True),  # pip sends no token
    # ... without a token, or posing as a person, or asking for a render: refused.
    (STEP_POD, "POST", "/progress/run-1", {}, False),
    (STEP_POD, "POST", PUBLISH, {**TOKEN, **PERSON}, False),
    (STEP_POD, "POST", "/", TOKEN, False),
    (STEP_POD, "POST", RENDER, TOKEN, False),
    (STEP_POD, "GET", "/readyz", TOKEN, False),
    # Renders stay KFP's: its API server, by KFP's own policy, on every path.
    (API_SERVER, "POST", "/", {}, True),
    (API_SERVER, "POST", RENDER, {}, True),
    ("", "POST", "/", {}, False),
]


def test_the_gateway_component_is_admitted_with_istios_crds_and_keeps_renders_kfps(
    tmp_path, kube, applied
):
    istio.install_crds(kube)
    text, (line, version) = snippet("gateway")
    kfp = kfp_install.write_install(tmp_path / "kfp", version, multi_user=True, istio=True)
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(fill_in(text, overlay, kfp))
    built = objects(kustomize(overlay))
    assert any(c.endswith(f"deploy/kustomize/{line}") for c in yaml.safe_load(text)["components"])
    stored = applied(yaml.safe_dump_all(built))  # a server-side dry run first, then for real

    route = the(stored, "VirtualService")
    assert route["spec"]["gateways"] == ["kubeflow/kubeflow-gateway"]
    home, proxied = route["spec"]["http"]
    assert home["redirect"] == {"uri": "/kfp-viz/progress"}
    assert proxied["match"] == [{"uri": {"prefix": "/kfp-viz/"}}]
    assert proxied["rewrite"] == {"uri": "/"}
    assert proxied["route"] == [{"destination": {
        "host": f"{NAME}.{NAMESPACE}.svc.cluster.local", "port": {"number": 8888}}}]  # fmt: skip
    assert proxied["timeout"] == "86400s"  # event streams stay open

    policies = [o for o in stored if o["kind"] == "AuthorizationPolicy"]
    assert len(policies) == 4  # KFP's own, kept, and ours
    assert the(stored, "AuthorizationPolicy")["spec"] == kfp_install.istio_objects()[0]["spec"]
    labels = the(stored, "Deployment")["spec"]["template"]["metadata"]["labels"]
    for principal, method, path, headers, admitted in GATEWAY_RULES:
        request = istio.Request(method, path, principal, headers)
        assert istio.admits(policies, labels, request) is admitted, request

    deployment = the(stored, "Deployment")
    assert env(deployment)["AUTH"]["value"] == "kubeflow"
    assert env(deployment)["PUBLIC_URL"]["value"] == "https://kubeflow.example.com/kfp-viz"
    assert deployment["spec"]["template"]["spec"]["automountServiceAccountToken"] is True
    account = f"system:serviceaccount:{NAMESPACE}:{NAME}"
    for resource in ("tokenreviews.authentication.k8s.io",
                     "subjectaccessreviews.authorization.k8s.io"):  # fmt: skip
        answer = kube.kubectl("auth", "can-i", "create", resource, f"--as={account}", check=False)
        assert answer.stdout.strip() == "yes", (resource, answer.stdout, answer.stderr)
    answer = kube.kubectl("auth", "can-i", "list", "secrets", f"--as={account}", check=False)
    assert answer.stdout.strip() == "no"


def test_istio_refuses_a_policy_its_schema_does_not_allow(kube):
    """The check above can fail: Istio's CRDs validate, so a misspelt field is an error."""
    istio.install_crds(kube)
    policy = {
        "apiVersion": "security.istio.io/v1beta1", "kind": "AuthorizationPolicy",
        "metadata": {"name": "misspelt", "namespace": NAMESPACE},
        "spec": {"rules": [{"to": [{"operation": {"path": ["/progress"]}}]}]},
    }  # fmt: skip
    result = kube.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(policy),
                          check=False)  # fmt: skip
    assert result.returncode != 0 and 'unknown field "spec.rules[0].to[0].operation.path"' in (
        result.stderr
    ), result.stderr


def test_the_dashboard_menu_entry_leads_to_the_run_list_through_the_gateways_prefix():
    item = json.loads(snippet("dashboard-link")[0])
    assert set(item) == {"type", "link", "text", "icon"} and item["type"] == "item"
    route = yaml.safe_load((ROOT / "deploy/kustomize/gateway/virtual-service.yaml").read_text())
    prefix = route["spec"]["http"][1]["match"][0]["uri"]["prefix"]
    assert item["link"] == prefix + "progress"
