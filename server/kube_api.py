"""The one way the server reaches the Kubernetes API: the pod's service account, else KUBECONFIG.

Argo's Workflows, the Lease, TokenReview and SubjectAccessReview all use the official
`kubernetes` client (blocking: its calls run in threads), built here from whichever
configuration is there, so every part talks to the same API server as the same identity.
"""

from __future__ import annotations

from typing import Any


def kube_client() -> Any:
    """An API client: the pod's service account in a cluster, else KUBECONFIG (~/.kube/config)."""
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.ApiClient()
