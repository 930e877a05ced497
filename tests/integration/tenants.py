"""Two Kubeflow profiles on a real kube-apiserver, as the tenancy tests need them.

Namespaces `tenant-a` and `tenant-b`, each with KFP's step ServiceAccount `default-editor`;
users `alice` (may read tenant-a's runs) and `bob` (tenant-b's), granted the way Kubeflow's
profiles grant them: a RoleBinding in the namespace to a role that allows `get` and `list`
on `runs.pipelines.kubeflow.org` (Kubeflow binds `kubeflow-view` / `kubeflow-edit`, which
aggregate KFP's `kubeflow-pipelines-view` / `-edit`). The server runs as KFP's
`ml-pipeline-visualizationserver` ServiceAccount in `kubeflow`, with exactly the RBAC of
deploy/kustomize/tenancy (applied from that file), through a kubeconfig holding its token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from services import KubeApiServer

ROOT = Path(__file__).resolve().parents[2]
AUDIENCE = "pipelines.kubeflow.org"
TENANTS = {"tenant-a": "alice", "tenant-b": "bob"}
SERVER_SA = ("kubeflow", "ml-pipeline-visualizationserver")

ROLE = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: pipelines-view, namespace: {ns}}}
rules:
- apiGroups: [pipelines.kubeflow.org]
  resources: [runs]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: user-{user}, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: pipelines-view}}
subjects:
- {{apiGroup: rbac.authorization.k8s.io, kind: User, name: {user}}}
- {{kind: ServiceAccount, name: default-editor, namespace: {ns}}}
"""


@dataclass
class Tenants:
    """The cluster's two profiles and what a test needs to act as each party."""

    kube: KubeApiServer
    server_kubeconfig: Path

    def step_token(self, namespace: str, audience: str | None = AUDIENCE) -> str:
        """A token of the namespace's `default-editor`, as KFP projects it into step pods
        (`audience` None: the API server's own default audience)."""
        args = ["create", "token", "default-editor", "-n", namespace, "--duration", "1h"]
        if audience is not None:
            args += ["--audience", audience]
        return self.kube.kubectl(*args).stdout.strip()


def set_up(kube: KubeApiServer, folder: Path) -> Tenants:
    """Make the namespaces, accounts and grants (idempotent), and the server's kubeconfig."""
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        for ns in ("kubeflow", *TENANTS)
    ]
    objects += [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "default-editor", "namespace": ns}}
        for ns in TENANTS
    ]  # fmt: skip
    objects.append(
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": SERVER_SA[1], "namespace": SERVER_SA[0]}}
    )  # fmt: skip
    kube.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                       "items": objects}))  # fmt: skip
    roles = "---".join(ROLE.format(ns=ns, user=user) for ns, user in TENANTS.items())
    kube.kubectl("apply", "-f", "-", input=roles)
    kube.kubectl("apply", "-f", str(ROOT / "deploy" / "kustomize" / "tenancy" / "rbac.yaml"))
    token = kube.kubectl(
        "create", "token", SERVER_SA[1], "-n", SERVER_SA[0], "--duration", "2h"
    ).stdout.strip()
    kubeconfig = folder / "server-kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1", "kind": "Config", "current-context": "server",
                "clusters": [{"name": "test", "cluster": {"server": kube.url,
                                                          "insecure-skip-tls-verify": True}}],
                "users": [{"name": "server", "user": {"token": token}}],
                "contexts": [{"name": "server",
                              "context": {"cluster": "test", "user": "server"}}],
            }
        )
    )  # fmt: skip
    return Tenants(kube, kubeconfig)
