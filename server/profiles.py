"""Whose render it is, when one server serves every KFP profile namespace: the rules, no I/O.

Multi-user KFP's API server sends a namespace's visualizations to
`http://ml-pipeline-visualizationserver.<namespace>:8888`. With --serve-profiles that name
leads to this one shared server (a Service of type ExternalName in the namespace, made by
server/profile_services.py or by the deploy/kustomize/shared-profile-namespace base), and
the namespace is read back from the `Host` the API server used; over KFP's gRPC it is the
request's `namespace` field. A Host naming no namespace (single-user KFP, localhost, the
server's own namespace) means the server's own settings, as without the setting.

KFP's object-store layout decides what is a namespace's own: since 2.15 a profile's keys
(its Secret `mlpipeline-minio-artifact`) may use only `private-artifacts/<namespace>/` and
`private/<namespace>/` of the bucket besides the shared `artifacts/` and `shared/`
(MinIO installs up to 2.14 give every namespace the same keys, so this server checks the
layout itself, whatever the keys allow). A render's pages are stored under
`private-artifacts/<namespace>/visualizations/`.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from kfp_viz.events import NAMESPACE
from kfp_viz.safe_text import printable

from .errors import ErrorKind, RequestFailed

SERVICE_NAME = "ml-pipeline-visualizationserver"
"""The Service KFP's API server calls in a profile namespace (its VISUALIZATIONSERVICE_NAME)."""
PROFILE_LABEL = "pipelines.kubeflow.org/enabled"
"""The label KFP's pipelines profile controller selects profile namespaces by (value "true")."""
SECRET_NAME = "mlpipeline-minio-artifact"
SECRET_KEYS = ("accesskey", "secretkey")
PRIVATE_PREFIXES = ("private-artifacts", "private")
"""The bucket's top folders whose next folder is a namespace's own."""
CLUSTER_SUFFIXES = ("", ".svc", ".svc.cluster.local")

_HOST = re.compile(r"^(?P<name>[^.:\[\]]+)(?:\.(?P<rest>[^:\[\]]+?))?\.?(?::\d+)?$")
_OBJECT = re.compile(r"^(minio|s3)://([^/]+)/?(.*)$", re.I)


def page_prefix(namespace: str) -> str:
    """Where a namespace's stored pages go: the part of the bucket its own keys may write."""
    return f"private-artifacts/{namespace}/visualizations/"


def secret_of(namespace: str) -> str:
    return f"{namespace}/{SECRET_NAME}"


@dataclass(frozen=True)
class ProfileRouting:
    """Which namespace a request is for; every answer is "" while `enabled` is off."""

    enabled: bool = False
    own_namespace: str = ""
    """The server's own namespace: a request naming it uses the server's own settings."""

    def from_host(self, host: str) -> str:
        """The namespace in `ml-pipeline-visualizationserver.<ns>[.svc[.cluster.local]][:port]`,
        else "" (another name, an address, localhost, the server's own namespace)."""
        if not self.enabled:
            return ""
        match = _HOST.match(host.strip().lower())
        if match is None or match["name"] != SERVICE_NAME or not match["rest"]:
            return ""
        for suffix in sorted(CLUSTER_SUFFIXES, key=len, reverse=True):
            if suffix and match["rest"].endswith(suffix):
                namespace = match["rest"][: -len(suffix)]
                break
        else:
            namespace = match["rest"]
        if not NAMESPACE.match(namespace) or namespace == self.own_namespace:
            return ""
        return namespace

    def from_field(self, value: str) -> str:
        """KFP's `CreateVisualizationRequest.namespace` (checked by validation), or ""."""
        value = value.strip()
        if not self.enabled or value == self.own_namespace:
            return ""
        return value


def check_namespace(namespace: str) -> None:
    if namespace and not NAMESPACE.match(namespace):
        raise RequestFailed(
            ErrorKind.INVALID,
            f"Invalid namespace {printable(namespace)}: expected a Kubernetes namespace name",
        )


def foreign_owner(key: str, namespace: str) -> str | None:
    """The other namespace whose private folder `key` (a key, a listing prefix or a pattern
    of keys) may reach, or None when it reaches no other namespace's private folder.

    A pattern counts as what it may match: `*/team-b/x` may reach `private/team-b/x`, and
    `private-artifacts/*/x` every namespace's ("" stands for "some other namespace"). Keys
    with `.`, `..` or empty folders count as another's too: a store that cleans paths
    could read them elsewhere. A prefix that stops above the private folders (`priv`, "")
    reaches none by itself; what it lists is filtered name by name.
    """
    parts = key.split("/")
    if any(part in (".", "..") for part in parts) or "" in parts[:-1]:
        return ""
    if not any(fnmatch.fnmatchcase(private, parts[0]) for private in PRIVATE_PREFIXES):
        return None
    if len(parts) == 1:
        return "" if _is_pattern(parts[0]) else None
    owner = parts[1]
    if owner == namespace:
        return None
    return "" if _is_pattern(owner) else owner


def _is_pattern(text: str) -> bool:
    return any(mark in text for mark in "*?[")


def refuse_foreign_source(source: str, namespace: str) -> None:
    """403 for a `minio://` / `s3://` source in another namespace's private folder."""
    match = _OBJECT.match(source.strip())
    if not namespace or match is None:
        return
    owner = foreign_owner(match[3], namespace)
    if owner is not None:
        whose = f"namespace {owner}'s" if owner else "another namespace's"
        raise RequestFailed(
            ErrorKind.FORBIDDEN,
            f"Source {printable(source)} may reach {whose} private artifacts; this "
            f"visualization is namespace {namespace}'s, which may read only its own "
            f"(private-artifacts/{namespace}/, private/{namespace}/) and shared ones",
        )
