"""KFP's own manifests, restated for the deploy tests: what a real install puts in the cluster.

The facts (names, labels, probes, security context, requests, environment, images) are KFP's,
per release line; the text is ours, built as data so each line differs only where KFP did:

- up to 2.4: image gcr.io/ml-pipeline/visualization-server, probes `exec: wget /`, MinIO
  (minio-service.kubeflow);
- 2.5 to 2.13: image ghcr.io/kubeflow/kfp-visualization-server, `exec: wget` probes, MinIO;
- 2.14: the ghcr.io image, probes `httpGet /` on 8888, MinIO;
- 2.15 and later: the ghcr.io image, `httpGet` probes, SeaweedFS (seaweedfs.kubeflow).

Multi-user: the API server calls `ml-pipeline-visualizationserver.<namespace>:8888`; up to 2.14
the pipelines profile controller creates that server in every profile namespace (its image from
VISUALIZATION_SERVER_IMAGE / VISUALIZATION_SERVER_TAG), since 2.15 it creates none, only the
namespace's `mlpipeline-minio-artifact` Secret (SeaweedFS credentials for that namespace).

`write_install(folder, version, multi_user)` writes a kustomization of these objects, the way
an operator's overlay would reference KFP's `env/platform-agnostic[-multi-user]`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NAMESPACE = "kubeflow"
NAME = "ml-pipeline-visualizationserver"
PROFILE_NAMESPACE = "kubeflow-user-example-com"
ACCESS_KEY, SECRET_KEY = "minio", "minio123"  # KFP's default mlpipeline-minio-artifact
BUCKET = "mlpipeline"


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def stock_image(version: str) -> str:
    """The visualization server image a KFP release deploys (ghcr.io since 2.5)."""
    if version_tuple(version) >= (2, 5):
        return f"ghcr.io/kubeflow/kfp-visualization-server:{version}"
    return f"gcr.io/ml-pipeline/visualization-server:{version}"


def store_host(version: str) -> str:
    """The object store KFP's API server talks to (SeaweedFS since 2.15, MinIO before)."""
    return "seaweedfs.kubeflow" if version_tuple(version) >= (2, 15) else "minio-service.kubeflow"


def _probe(version: str) -> dict[str, Any]:
    timing = {"initialDelaySeconds": 3, "periodSeconds": 5, "timeoutSeconds": 2}
    if version_tuple(version) >= (2, 14):
        return {"httpGet": {"path": "/", "port": 8888}, **timing}
    wget = ["wget", "-q", "-S", "-O", "-", "http://localhost:8888/"]
    return {"exec": {"command": wget}, **timing}


RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "runAsGroup": 0,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def visualization_server(version: str, namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    """KFP's Deployment, Service and ServiceAccount of the visualization server."""
    labels = {"app": NAME}
    container = {
        "name": NAME,
        "image": stock_image(version),
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": 8888}],
        "readinessProbe": _probe(version),
        "livenessProbe": _probe(version),
        "resources": {"requests": {"cpu": "30m", "memory": "500Mi"}},
        "securityContext": RESTRICTED_CONTAINER,
    }
    pod_security = {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 0,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": namespace, "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "true"},
                },
                "spec": {
                    "serviceAccountName": NAME,
                    "securityContext": pod_security,
                    "containers": [container],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": namespace, "labels": labels},
        "spec": {
            "selector": labels,
            "ports": [{"name": "http", "port": 8888, "protocol": "TCP", "targetPort": 8888}],
        },
    }
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": NAME, "namespace": namespace},
    }
    return [deployment, service, account]


def store_secret(namespace: str = NAMESPACE) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "mlpipeline-minio-artifact", "namespace": namespace},
        "stringData": {"accesskey": ACCESS_KEY, "secretkey": SECRET_KEY},
    }


def install_config(version: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "pipeline-install-config", "namespace": NAMESPACE},
        "data": {"appName": "pipeline", "appVersion": version, "bucketName": BUCKET},
    }


def api_server(version: str, multi_user: bool) -> dict[str, Any]:
    """The API server, with the object-store environment the visualization server mirrors."""
    env = [
        {"name": "OBJECTSTORECONFIG_HOST", "value": store_host(version)},
        {"name": "OBJECTSTORECONFIG_PORT", "value": "9000"},
        {"name": "OBJECTSTORECONFIG_SECURE", "value": "false"},
        {
            "name": "OBJECTSTORECONFIG_BUCKETNAME",
            "valueFrom": {
                "configMapKeyRef": {"name": "pipeline-install-config", "key": "bucketName"}
            },
        },
        *(
            {
                "name": variable,
                "valueFrom": {"secretKeyRef": {"name": "mlpipeline-minio-artifact", "key": key}},
            }
            for variable, key in (
                ("OBJECTSTORECONFIG_ACCESSKEY", "accesskey"),
                ("OBJECTSTORECONFIG_SECRETACCESSKEY", "secretkey"),
            )
        ),
    ]
    if multi_user:
        env += [
            {"name": "MULTIUSER", "value": "true"},
            {"name": "VISUALIZATIONSERVICE_NAME", "value": NAME},
            {"name": "VISUALIZATIONSERVICE_PORT", "value": "8888"},
        ]
    labels = {"app": "ml-pipeline"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "ml-pipeline", "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": "ml-pipeline",
                    "containers": [
                        {
                            "name": "ml-pipeline-api-server",
                            "image": f"ghcr.io/kubeflow/kfp-api-server:{version}",
                            "env": env,
                            "securityContext": RESTRICTED_CONTAINER,
                        }
                    ],
                },
            },
        },
    }


def profile_controller(version: str) -> dict[str, Any]:
    """The pipelines profile controller (multi-user), as deployed before any override."""
    labels = {"app": "kubeflow-pipelines-profile-controller"}
    env = [
        {"name": "KFP_VERSION", "value": version},
        {"name": "DISABLE_ISTIO_SIDECAR", "value": "false"},
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "kubeflow-pipelines-profile-controller",
            "namespace": NAMESPACE,
            "labels": labels,
        },
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "profile-controller",
                            "image": "python:3.11",
                            "env": env,
                            "securityContext": RESTRICTED_CONTAINER,
                        }
                    ]
                },
            },
        },
    }


KFP_SERVICE_ACCOUNTS = [
    "ml-pipeline", "ml-pipeline-ui", "ml-pipeline-persistenceagent",
    "ml-pipeline-scheduledworkflow", "ml-pipeline-viewer-crd-service-account",
    "kubeflow-pipelines-cache",
]  # fmt: skip
"""Who KFP's multi-user AuthorizationPolicy lets call the visualization server in `kubeflow`."""


def istio_objects() -> list[dict[str, Any]]:
    """KFP's multi-user Istio objects for the visualization server
    (`base/installs/multi-user/istio-authorization-config.yaml`): an AuthorizationPolicy that
    admits KFP's own service accounts, to any path, and mutual TLS to it."""
    principals = [f"cluster.local/ns/{NAMESPACE}/sa/{name}" for name in KFP_SERVICE_ACCOUNTS]
    policy = {
        "apiVersion": "security.istio.io/v1beta1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {
            "selector": {"matchLabels": {"app": NAME}},
            "rules": [{"from": [{"source": {"principals": principals}}]}],
        },
    }
    tls = {
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "DestinationRule",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {
            "host": f"{NAME}.{NAMESPACE}.svc.cluster.local",
            "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}},
        },
    }
    return [policy, tls]


def install_objects(version: str, multi_user: bool, istio: bool = False) -> list[dict[str, Any]]:
    """Every object the tests need from one KFP install (namespace `kubeflow`); with `istio`
    (multi-user only), KFP's Istio objects for the visualization server too (their CRDs must
    be installed to apply them)."""
    objects = [
        *visualization_server(version),
        api_server(version, multi_user),
        install_config(version),
        store_secret(),
    ]
    if multi_user:
        objects.append(profile_controller(version))
    if multi_user and istio:
        objects += istio_objects()
    return objects


def write_install(folder: Path, version: str, multi_user: bool, istio: bool = False) -> Path:
    """A kustomization holding KFP's objects, one file each; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for obj in install_objects(version, multi_user, istio):
        name = f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
        (folder / name).write_text(json.dumps(obj, indent=2))
        names.append(name)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": names,
    }
    (folder / "kustomization.yaml").write_text(json.dumps(kustomization, indent=2))
    return folder
