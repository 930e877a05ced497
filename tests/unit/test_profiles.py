"""One server for every profile namespace: whose a request is, what a namespace may reach, whose
keys it gets (server/profiles.py, server/profile_stores.py, the broker's side)."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace

import pytest
from kfp_viz_kernels import lookup
from kfp_viz_server.config import ConfigError, load_config
from kfp_viz_server.errors import ErrorKind, RequestFailed
from kfp_viz_server.object_broker import ObjectBroker
from kfp_viz_server.profile_services import ProfileServices, wanted_service
from kfp_viz_server.profile_stores import ProfileStores
from kfp_viz_server.profiles import ProfileRouting, foreign_owner, page_prefix
from kfp_viz_server.stored_page import PLACEHOLDER
from kfp_viz_server.validation import validate
from kubernetes.client.exceptions import ApiException

ON = ProfileRouting(enabled=True, own_namespace="kubeflow")


@pytest.mark.parametrize(
    ("host", "namespace"),
    [
        ("ml-pipeline-visualizationserver.team-a:8888", "team-a"),
        ("ml-pipeline-visualizationserver.team-a", "team-a"),
        ("ml-pipeline-visualizationserver.team-a.svc:8888", "team-a"),
        ("ml-pipeline-visualizationserver.team-a.svc.cluster.local:8888", "team-a"),
        ("ML-Pipeline-VisualizationServer.Team-A:8888", "team-a"),
        ("ml-pipeline-visualizationserver:8888", ""),  # single-user KFP
        ("ml-pipeline-visualizationserver.kubeflow:8888", ""),  # the server's own namespace
        ("ml-pipeline-visualizationserver.kubeflow.svc.cluster.local", ""),
        ("localhost:8888", ""),
        ("127.0.0.1:8888", ""),
        ("[::1]:8888", ""),
        ("other-service.team-a:8888", ""),
        ("ml-pipeline-visualizationserver.Team_A:8888", ""),  # not a namespace name
        ("ml-pipeline-visualizationserver.a.b:8888", ""),
        ("", ""),
    ],
)
def test_the_namespace_comes_from_the_host_kfp_called(host, namespace):
    assert ON.from_host(host) == namespace


def test_without_the_setting_no_request_has_a_namespace():
    off = ProfileRouting(enabled=False, own_namespace="kubeflow")
    assert off.from_host("ml-pipeline-visualizationserver.team-a:8888") == ""
    assert off.from_field("team-a") == ""
    assert ON.from_field("team-a") == "team-a" and ON.from_field("kubeflow") == ""


@pytest.mark.parametrize(
    ("key", "owner"),
    [
        ("private-artifacts/team-a/data.csv", None),
        ("private/team-a/x", None),
        ("artifacts/run/x.csv", None),
        ("shared/x.csv", None),
        ("", None),
        ("priv", None),  # a listing prefix: what it lists is filtered name by name
        ("private-artifacts/team-b/data.csv", "team-b"),
        ("private/team-b/x", "team-b"),
        ("private-artifacts/*/data.csv", ""),
        ("*/team-b/x.csv", "team-b"),
        ("private-*/team-b/x.csv", "team-b"),
        ("**/*.csv", ""),
        ("private-artifacts/team-a/../team-b/x.csv", ""),
        ("private-artifacts//team-b/x.csv", ""),
        ("private-artifacts/", ""),  # the folder itself, as a listing shows it
    ],
)
def test_a_key_is_another_namespaces_when_it_may_reach_its_private_folder(key, owner):
    assert foreign_owner(key, "team-a") == owner


def _validate(source: str, namespace: str, type_name: str = "table"):
    return validate(type_name, source, "{}", timeout=5, allow_custom=True,
                    types=lookup, namespace=namespace)  # fmt: skip


def test_validation_carries_the_namespace_and_refuses_anothers_source():
    request = _validate("minio://mlpipeline/private-artifacts/team-a/x.csv", "team-a")
    assert request.namespace == "team-a"
    with pytest.raises(RequestFailed) as refused:
        _validate("minio://mlpipeline/private-artifacts/team-b/x.csv", "team-a")
    assert refused.value.kind is ErrorKind.FORBIDDEN and "team-b" in refused.value.message
    with pytest.raises(RequestFailed) as pattern:
        _validate("s3://mlpipeline/private-artifacts/*/x.csv", "team-a")
    assert pattern.value.kind is ErrorKind.FORBIDDEN
    # The server's own renders keep today's rules.
    assert _validate("minio://mlpipeline/private-artifacts/team-b/x.csv", "").namespace == ""
    with pytest.raises(RequestFailed) as bad:
        _validate("minio://mlpipeline/x.csv", "Team A")
    assert bad.value.kind is ErrorKind.INVALID


def _secret(access: str = "AK", secret: str = "SK") -> dict[str, str]:
    return {
        name: base64.b64encode(value.encode()).decode()
        for name, value in (("accesskey", access), ("secretkey", secret))
        if value
    }


def _stores(secrets: dict[str, dict[str, str] | None] | Exception) -> ProfileStores:
    def read(namespace: str) -> dict[str, str] | None:
        if isinstance(secrets, Exception):
            raise secrets
        return secrets.get(namespace)

    config = load_config(["--object-store-host", "127.0.0.1"], environ={})
    return ProfileStores(config, ttl=60, read_secret=read)


def test_a_namespaces_keys_come_from_its_secret_and_nothing_else():
    keys = _stores({"team-a": _secret()}).keys("team-a")
    assert (keys.access_key, keys.secret_key) == ("AK", "SK")
    with pytest.raises(RequestFailed) as none:
        _stores({}).keys("team-b")
    assert none.value.kind is ErrorKind.NOT_FOUND
    assert "has no Secret mlpipeline-minio-artifact" in none.value.message
    with pytest.raises(RequestFailed) as half:
        _stores({"team-a": _secret(secret="")}).keys("team-a")
    assert half.value.kind is ErrorKind.UNAVAILABLE
    assert "team-a/mlpipeline-minio-artifact has no secretkey" in half.value.message
    with pytest.raises(RequestFailed) as unreadable:
        _stores(PermissionError("403 Forbidden")).keys("team-a")
    assert unreadable.value.kind is ErrorKind.UNAVAILABLE
    assert "Cannot read Secret team-a/mlpipeline-minio-artifact" in unreadable.value.message


def test_a_refusal_is_repeated_briefly_without_asking_again():
    asked = []

    def read(namespace: str) -> dict[str, str] | None:
        asked.append(namespace)
        return None

    config = load_config(["--object-store-host", "127.0.0.1"], environ={})
    stores = ProfileStores(config, ttl=60, read_secret=read)
    for _ in range(3):
        with pytest.raises(RequestFailed):
            stores.store("team-x")
    assert asked == ["team-x"]


def test_the_broker_answers_only_during_a_render_and_never_across_namespaces():
    own_store = ["--object-store-host", "127.0.0.1", "--object-store-region", "us-east-1",
                 "--object-store-access-key", "admin",
                 "--object-store-secret-key", "x"]  # fmt: skip
    config = load_config(own_store, environ={})
    broker = ObjectBroker(config, _stores({}))
    get = json.dumps({"op": "get", "scheme": "minio", "bucket": "mlpipeline",
                      "key": "private-artifacts/team-b/x.csv"}).encode()  # fmt: skip
    assert broker.answer(get, None)["error"]["code"] == "NoRender"
    refused = broker.answer(get, "team-a")["error"]
    assert refused["code"] == "AccessDenied" and "namespace team-b's" in refused["message"]
    own = json.dumps({"op": "get", "scheme": "minio", "bucket": "mlpipeline",
                      "key": "private-artifacts/team-a/x.csv"}).encode()  # fmt: skip
    missing = broker.answer(own, "team-a")["error"]  # no Secret: never the server's own keys
    assert missing["code"] == "NamespaceKeys" and "mlpipeline-minio-artifact" in missing["message"]
    assert "url" in broker.answer(own, "")  # the server's own render: its own settings
    broker.close()


def test_a_namespaces_page_names_its_namespace():
    page = PLACEHOLDER.__class__(**{**PLACEHOLDER.__dict__, "namespace": "team-a"})
    assert (
        page.http_url("http://h:8888/")
        == f"http://h:8888/visualizations/{'0' * 64}?namespace=team-a"
    )
    assert page_prefix("team-a") == "private-artifacts/team-a/visualizations/"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--profile-services"], "needs --serve-profiles"),
        (["--serve-profiles"], "set OBJECTSTORECONFIG_HOST"),
        (["--serve-profiles", "--object-store-host", "s", "--reuse-custom-kernels"],
         "cannot be used with --reuse-custom-kernels"),
        (["--profile-service-target", "Not A Name"], "expected a DNS name"),
    ],
)  # fmt: skip
def test_the_shared_layouts_settings_must_fit_together(argv, message):
    with pytest.raises(ConfigError, match=message):
        load_config(argv, environ={})


class FakeCoreApi:
    """The four Service calls the profile services make, on a dict of namespace → body."""

    def __init__(self, services: dict[str, dict]) -> None:
        self.services = services
        self.calls: list[tuple[str, str]] = []

    def read_namespaced_service(self, name: str, namespace: str) -> SimpleNamespace:
        self.calls.append(("read", namespace))
        if namespace not in self.services:
            raise ApiException(status=404)
        body = self.services[namespace]
        spec = body["spec"]
        ports = [SimpleNamespace(name=p["name"], port=p["port"], target_port=p["targetPort"])
                 for p in spec.get("ports", [])]  # fmt: skip
        return SimpleNamespace(
            metadata=SimpleNamespace(labels=body["metadata"].get("labels"), resource_version="7"),
            spec=SimpleNamespace(
                type=spec["type"], external_name=spec.get("externalName"), ports=ports
            ),
        )

    def create_namespaced_service(self, namespace: str, body: dict) -> None:
        self.calls.append(("create", namespace))
        self.services[namespace] = body

    def replace_namespaced_service(self, name: str, namespace: str, body: dict) -> None:
        self.calls.append(("replace", namespace))
        self.services[namespace] = body

    def delete_namespaced_service(self, name: str, namespace: str) -> None:
        self.calls.append(("delete", namespace))
        del self.services[namespace]


def _namespace(name: str, profile: bool) -> SimpleNamespace:
    labels = {"pipelines.kubeflow.org/enabled": "true"} if profile else {}
    return SimpleNamespace(metadata=SimpleNamespace(name=name, labels=labels,
                                                    deletion_timestamp=None))  # fmt: skip


def test_profile_services_are_made_kept_in_line_and_removed_only_where_theirs():
    theirs = {"metadata": {"labels": {}}, "spec": {"type": "ClusterIP", "ports": []}}
    api = FakeCoreApi({"own-server": theirs, "former": wanted_service("elsewhere")})
    services = ProfileServices(own_namespace="kubeflow", target="", api_client=object())
    for name, profile in (("team-a", True), ("kubeflow", True), ("plain", False),
                          ("own-server", True), ("former", False)):  # fmt: skip
        services._reconcile(api, _namespace(name, profile), listed=True)
    assert sorted(api.services) == ["own-server", "team-a"]
    assert api.services["own-server"] is theirs  # someone else's: untouched
    assert api.services["team-a"]["spec"]["externalName"] == (
        "ml-pipeline-visualizationserver.kubeflow.svc.cluster.local"
    )
    assert services.status()["left_alone"] == ["own-server"]
    api.calls.clear()
    services._reconcile(api, _namespace("team-a", True), listed=False)
    assert api.calls == [("read", "team-a")]  # in line already: nothing written
    api.services["team-a"]["spec"]["externalName"] = "changed-by-hand"
    services._reconcile(api, _namespace("team-a", True), listed=False)
    assert api.calls[-1] == ("replace", "team-a")
    services._reconcile(api, _namespace("plain", False), listed=False)
    assert api.calls[-1] != ("read", "plain")  # never a profile: not even looked at
    services._reconcile(api, _namespace("team-a", False), listed=False)
    assert api.calls[-1] == ("delete", "team-a") and "team-a" not in api.services
