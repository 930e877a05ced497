"""The one way the server reaches the Kubernetes API: the pod's service account, else KUBECONFIG.

Argo's Workflows, the Lease, TokenReview and SubjectAccessReview, and the profile
namespaces' Secrets and Services all use the official `kubernetes` client (blocking: its
calls run in threads), built here from whichever configuration is there, so every part
talks to the same API server as the same identity. `follow` watches what a list call
lists; `short_error` says in one line what the API server refused.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any


def kube_client() -> Any:
    """An API client: the pod's service account in a cluster, else KUBECONFIG (~/.kube/config)."""
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.ApiClient()


def follow(
    lister: Callable[..., Any],
    version: str,
    keep_going: Callable[[], bool],
    take: Callable[[str, Any], None],
    *args: Any,
    timeout_seconds: int,
    **kwargs: Any,
) -> None:
    """Hand `take(kind, object)` every change of what `lister(*args, **kwargs)` lists, from
    `version` on, renewing the watch request every `timeout_seconds`, until `keep_going()`
    is false or `version` is gone (410: the caller lists again). Bookmarks only move the
    version on; any other error event raises."""
    from kubernetes import watch
    from kubernetes.client.exceptions import ApiException

    while keep_going():
        stream = watch.Watch()
        try:
            for change in stream.stream(
                lister, *args, resource_version=version, timeout_seconds=timeout_seconds,
                allow_watch_bookmarks=True, **kwargs,
            ):  # fmt: skip
                if not keep_going():
                    stream.stop()
                    return
                kind, obj = change["type"], change["object"]
                if kind == "ERROR":
                    if isinstance(obj, dict) and obj.get("code") == 410:
                        return  # our version is gone: list again
                    raise RuntimeError(f"watch error: {obj}")
                if kind != "BOOKMARK":
                    take(kind, obj)
        except ApiException as error:
            if error.status == 410:
                return
            raise
        version = stream.resource_version or version


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
