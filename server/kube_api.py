"""The one way the server reaches the Kubernetes API: the pod's service account, else KUBECONFIG.

Argo's Workflows, the Lease, TokenReview and SubjectAccessReview, and the profile
namespaces' Secrets and Services all use the official `kubernetes` client (blocking: its
calls run in threads), built here from whichever configuration is there, so every part
talks to the same API server as the same identity. `short_error` says in one line what the
API server refused.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any


def kube_client() -> Any:
    """An API client: the pod's service account in a cluster, else KUBECONFIG (~/.kube/config)."""
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.ApiClient()


def short_error(error: BaseException) -> str:
    """One line about an error; for the API server's refusals, its status and message."""
    status, reason = getattr(error, "status", None), getattr(error, "reason", None)
    if isinstance(status, int) and reason:
        body = getattr(error, "body", None)
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            return f"{status} {reason}: {json.loads(str(body))['message']}"[:300]
        return f"{status} {reason}"
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
