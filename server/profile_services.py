"""The way from each profile namespace to the shared server: a Service kept by the server.

Multi-user KFP's API server calls `http://ml-pipeline-visualizationserver.<namespace>:8888`.
With --profile-services the server keeps, in every namespace labelled
`pipelines.kubeflow.org/enabled: "true"` (KFP's own profile selector), a Service of that
name of type ExternalName leading to the shared server
(`ml-pipeline-visualizationserver.<its namespace>.svc.cluster.local`, or
--profile-service-target), and removes the ones it made once a namespace loses the label.
A Service of that name it did not make (a per-namespace server, an operator's own) is left
alone and said so in the log. It never touches its own namespace.

One replica does it: the holder of the Lease `kfp-viz-server-profiles` in the server's
namespace, with the Lease machinery live progress already uses (progress/leadership.py).
Each term lists every namespace, then watches them; the list is taken again every
RESYNC seconds, after a `410 Gone`, and after any failure (retried every RETRY_DELAY).
The RBAC it needs (deploy/kustomize/shared-server-profile-services): list and watch
namespaces; create Services; get, update and delete the Service of that one name.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from .kube_api import follow, short_error
from .profiles import PROFILE_LABEL, SERVICE_NAME
from .progress.leadership import Leadership

log = logging.getLogger(__name__)

LEASE_NAME = "kfp-viz-server-profiles"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "kfp-viz-server"
PORTS = (("http", 8888), ("grpc", 8887))
RESYNC = 600.0
WATCH_SECONDS = 60
"""A watch request ends after this long (so a lost term is noticed) and is renewed."""
RETRY_DELAY = 5.0


def default_target(own_namespace: str) -> str:
    return f"{SERVICE_NAME}.{own_namespace}.svc.cluster.local"


def wanted_service(target: str) -> dict[str, Any]:
    """The Service a profile namespace gets: a name for the shared server, nothing to run."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": SERVICE_NAME,
            "labels": {MANAGED_BY: MANAGER, "app": SERVICE_NAME},
        },
        "spec": {
            "type": "ExternalName",
            "externalName": target,
            "ports": [
                {"name": name, "port": port, "protocol": "TCP", "targetPort": port}
                for name, port in PORTS
            ],
        },
    }


def is_profile(namespace: Any) -> bool:
    """A KFP profile namespace (KFP's label), not being deleted."""
    metadata = namespace.metadata
    labels = metadata.labels or {}
    return labels.get(PROFILE_LABEL) == "true" and metadata.deletion_timestamp is None


class ProfileServices:
    """Keeps the profile namespaces' Services while this replica holds the Lease."""

    def __init__(self, *, own_namespace: str, target: str, api_client: Any = None) -> None:
        self.own_namespace = own_namespace
        self.target = target or (default_target(own_namespace) if own_namespace else "")
        self._api_client = api_client
        self._leadership: Leadership | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._served: set[str] = set()
        """Namespaces whose Service this replica made or found its own (this term)."""
        self._foreign: set[str] = set()
        """Namespaces holding a Service of that name someone else made (said once)."""
        self.detail = ""
        self.synced_at = 0.0

    def start(self) -> None:
        if not self.own_namespace:
            self.detail = "the server's own namespace is unknown (set POD_NAMESPACE)"
            log.error("profile services: %s; no profile namespace gets a Service", self.detail)
            return
        if self._api_client is None:
            try:
                from .kube_api import kube_client

                self._api_client = kube_client()
            except Exception as error:
                self.detail = f"no Kubernetes API: {short_error(error)}"
                log.error("profile services: %s; no profile namespace gets a Service", self.detail)
                return
        self._leadership = Leadership(
            elect=True, namespace=self.own_namespace, api_client=self._api_client,
            lease_name=LEASE_NAME, what="profile services",
        )  # fmt: skip
        self._leadership.start()
        self._thread = threading.Thread(target=self._run, name="profile-services", daemon=True)
        self._thread.start()

    async def close(self) -> None:
        """Stop, giving the Lease up. A thread waiting on a watch (at most WATCH_SECONDS) is
        not waited for: it is a daemon, and writes nothing once stopped."""
        self._stop.set()
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 1.0)
        if self._leadership is not None:
            await self._leadership.close()

    def status(self) -> dict[str, Any]:
        """For /readyz."""
        leadership = self._leadership
        return {
            "target": self.target,
            "leading": bool(leadership and leadership.leading.is_set()),
            "lease": f"{self.own_namespace}/{LEASE_NAME}",
            "namespaces": len(self._served),
            "left_alone": sorted(self._foreign),
            "synced": self.synced_at or None,
            "detail": self.detail or (leadership.detail if leadership else ""),
        }

    # -- the thread -----------------------------------------------------------------

    def _run(self) -> None:
        from kubernetes import client

        api = client.CoreV1Api(self._api_client)
        assert self._leadership is not None
        leading = self._leadership.leading
        while not self._stop.is_set():
            if not leading.wait(0.5):
                self._served.clear()
                continue
            try:
                self._list_and_watch(api)
            except Exception as error:  # the API server away, RBAC missing, ...
                self.detail = short_error(error)
                log.warning("profile services: failed, retrying: %s", self.detail)
                self._stop.wait(RETRY_DELAY)

    def _list_and_watch(self, api: Any) -> None:
        """Bring every namespace in line, then follow changes until RESYNC or the term ends."""
        assert self._leadership is not None
        leadership = self._leadership
        term = leadership.term
        listed = api.list_namespace()
        for namespace in listed.items:
            if self._stop.is_set() or leadership.term != term:
                return
            self._reconcile(api, namespace, listed=True)
        self.synced_at, self.detail = time.time(), ""
        until = time.monotonic() + RESYNC

        def keep_going() -> bool:
            return (
                not self._stop.is_set()
                and leadership.leading.is_set()
                and leadership.term == term
                and time.monotonic() < until
            )

        follow(api.list_namespace, listed.metadata.resource_version, keep_going,
               lambda kind, obj: self._change(api, kind, obj),
               timeout_seconds=WATCH_SECONDS)  # fmt: skip

    def _change(self, api: Any, kind: str, namespace: Any) -> None:
        if kind in ("ADDED", "MODIFIED"):
            self._reconcile(api, namespace, listed=False)
        elif kind == "DELETED":
            self._served.discard(namespace.metadata.name)
            self._foreign.discard(namespace.metadata.name)

    def _reconcile(self, api: Any, namespace: Any, *, listed: bool) -> None:
        """One namespace: its Service made or updated if it is a profile, else removed if
        ours. An unlabelled namespace is looked at only in a full listing, or when it was
        a profile a moment ago, so the many namespaces that never were cost nothing."""
        name = namespace.metadata.name
        if name == self.own_namespace:
            return
        if is_profile(namespace):
            self._ensure(api, name)
        elif listed or name in self._served:
            self._remove(api, name)

    def _ensure(self, api: Any, namespace: str) -> None:
        from kubernetes.client.exceptions import ApiException

        wanted = wanted_service(self.target)
        try:
            found = api.read_namespaced_service(SERVICE_NAME, namespace)
        except ApiException as error:
            if error.status != 404:
                raise
            try:
                api.create_namespaced_service(namespace, wanted)
            except ApiException as conflict:
                if conflict.status != 409:  # made meanwhile (by a replica whose term ended)
                    raise
            log.info("profile services: %s/%s → %s", namespace, SERVICE_NAME, self.target)
            self._served.add(namespace)
            return
        if (found.metadata.labels or {}).get(MANAGED_BY) != MANAGER:
            if namespace not in self._foreign:
                log.warning(
                    "profile services: %s already has a Service %s this server did not make "
                    "(a per-namespace server?): left alone", namespace, SERVICE_NAME,
                )  # fmt: skip
                self._foreign.add(namespace)
            return
        self._foreign.discard(namespace)
        self._served.add(namespace)
        if not _same(found, wanted):
            wanted["metadata"]["resourceVersion"] = found.metadata.resource_version
            api.replace_namespaced_service(SERVICE_NAME, namespace, wanted)
            log.info("profile services: %s/%s updated → %s", namespace, SERVICE_NAME, self.target)

    def _remove(self, api: Any, namespace: str) -> None:
        from kubernetes.client.exceptions import ApiException

        self._served.discard(namespace)
        self._foreign.discard(namespace)
        try:
            found = api.read_namespaced_service(SERVICE_NAME, namespace)
        except ApiException as error:
            if error.status == 404:
                return
            raise
        if (found.metadata.labels or {}).get(MANAGED_BY) != MANAGER:
            return  # not ours: whatever it is, someone else keeps it
        try:
            api.delete_namespaced_service(SERVICE_NAME, namespace)
        except ApiException as error:
            if error.status != 404:
                raise
        log.info("profile services: %s is no longer a profile: its %s removed", namespace,
                 SERVICE_NAME)  # fmt: skip


def _same(found: Any, wanted: dict[str, Any]) -> bool:
    spec = found.spec
    ports = {(p.name, p.port, p.target_port) for p in spec.ports or ()}
    wanted_ports = {(p["name"], p["port"], p["targetPort"]) for p in wanted["spec"]["ports"]}
    return (
        spec.type == "ExternalName"
        and spec.external_name == wanted["spec"]["externalName"]
        and ports == wanted_ports
    )
