"""Which replica publishes what the server itself observes (Argo's Workflows, TensorBoard logs).

Events the server makes itself must be published once, whatever the number of replicas:

- **With Kafka** every replica reads every event, so exactly one replica publishes: the
  holder of a `coordination.k8s.io` Lease (`kfp-viz-server-argo-status`, in the server's
  namespace), renewed every RENEW_INTERVAL. A holder that could not renew within
  RENEW_DEADLINE stops publishing, before any other replica may take the Lease over
  (LEASE_SECONDS after the last renewal that replica saw). At shutdown the holder gives
  the Lease up, so another replica takes over within RENEW_INTERVAL. Each time a replica
  becomes the holder a new *term* begins: feeds then read from the log what is already
  there before publishing (argo_source.py, tensorboard_source.py), so a handover repeats
  nothing and misses nothing.
- **With the in-process bus** each replica has a log of its own: each one publishes into
  it, always (one term, no Lease).

The same machinery, on a Lease of its own (`lease_name`), decides which replica keeps the
profile namespaces' Services (server/profile_services.py): that one is always elected.

The `kubernetes` client's own leaderelection module was not used: it runs once (a lost
lease ends it), cannot be stopped, and never gives the lease up at shutdown.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..kube_api import kube_client
from ..kube_api import short_error as short_error  # its home before kube_api; still used

log = logging.getLogger(__name__)

LEASE_NAME = "kfp-viz-server-argo-status"
LEASE_SECONDS = 15
RENEW_INTERVAL = 3.0
RENEW_DEADLINE = 10.0
"""A holder that could not renew for this long stops publishing (< LEASE_SECONDS)."""
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def own_namespace(configured: str) -> str:
    """The server's namespace: the configured one, the pod's, or "" (unknown)."""
    if configured:
        return configured
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    with contextlib.suppress(OSError):
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
    return ""


class Leadership:
    """`leading` is set while this replica publishes; `term` counts the times it began."""

    name = "leadership"

    def __init__(
        self,
        *,
        elect: bool,
        namespace: str,
        api_client: Any = None,
        lease_name: str = LEASE_NAME,
        what: str = "progress",
    ) -> None:
        self.elect = elect
        self.namespace = namespace or "default"
        self.lease_name = lease_name
        self.what = what
        """What this replica does while it leads, for the log."""
        self.identity = f"{os.environ.get('HOSTNAME', 'kfp-viz-server')}-{secrets.token_hex(3)}"
        self.leading = threading.Event()
        self.term = 0
        self.detail = ""
        self._api_client = api_client
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.elect:
            self._begin()
            return
        if self._api_client is None:
            try:
                self._api_client = kube_client()
            except Exception as error:
                log.warning(
                    "%s: no Kubernetes API for the Lease (%s): this replica works alone; "
                    "run one replica", self.what, error,
                )  # fmt: skip
                self.elect = False
                self._begin()
                return
        self._thread = threading.Thread(target=self._hold_forever, name="lease", daemon=True)
        self._thread.start()

    async def close(self) -> None:
        import asyncio

        self._stop.set()
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 5.0)

    def status(self) -> dict[str, Any]:
        return {
            "leading": self.leading.is_set(),
            "lease": f"{self.namespace}/{self.lease_name}" if self.elect else "none (own log)",
            "identity": self.identity,
            "detail": self.detail,
        }

    def _begin(self) -> None:
        self.term += 1
        self.leading.set()

    def _hold_forever(self) -> None:
        from kubernetes import client

        lease = Lease(client.CoordinationV1Api(self._api_client), self.namespace,
                      self.lease_name, self.identity)  # fmt: skip
        renewed = 0.0
        while not self._stop.is_set():
            try:
                if lease.try_hold():
                    renewed = time.monotonic()
                    self.detail = ""
                    if not self.leading.is_set():
                        log.info("%s: this replica (%s) holds the Lease", self.what,
                                 self.identity)  # fmt: skip
                        self._begin()
                elif self.leading.is_set():
                    log.info("%s: another replica holds the Lease now", self.what)
                    self.leading.clear()
            except Exception as error:
                self.detail = f"Lease: {short_error(error)}"
                log.warning("%s: renewing the Lease failed: %s", self.what, self.detail)
            if self.leading.is_set() and time.monotonic() - renewed > RENEW_DEADLINE:
                log.warning("%s: Lease not renewed for %gs; standing down", self.what,
                            RENEW_DEADLINE)  # fmt: skip
                self.leading.clear()
            self._stop.wait(RENEW_INTERVAL)
        if self.leading.is_set():
            self.leading.clear()
            with contextlib.suppress(Exception):
                lease.release()


class Lease:
    """A `coordination.k8s.io/v1` Lease held by one replica at a time.

    Taken over only when its holder has not renewed it for its duration, measured on this
    replica's clock from when this replica saw it change (as client-go does: no trust in
    other nodes' clocks). Writes carry the Lease's resourceVersion, so of two replicas
    taking it at once, one gets a conflict.
    """

    def __init__(self, api: Any, namespace: str, name: str, identity: str) -> None:
        self.api, self.namespace, self.name, self.identity = api, namespace, name, identity
        self._seen: tuple[Any, ...] | None = None
        self._seen_at = 0.0

    def try_hold(self) -> bool:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        now = datetime.now(UTC)
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace)
        except ApiException as error:
            if error.status != 404:
                raise
            body = client.V1Lease(
                metadata=client.V1ObjectMeta(name=self.name),
                spec=client.V1LeaseSpec(
                    holder_identity=self.identity, lease_duration_seconds=LEASE_SECONDS,
                    acquire_time=now, renew_time=now, lease_transitions=0,
                ),
            )  # fmt: skip
            return self._write(lambda: self.api.create_namespaced_lease(self.namespace, body))
        spec = lease.spec
        record = (spec.holder_identity, spec.renew_time, spec.lease_duration_seconds)
        if record != self._seen:
            self._seen, self._seen_at = record, time.monotonic()
        mine = spec.holder_identity == self.identity
        expired = time.monotonic() - self._seen_at > (spec.lease_duration_seconds or LEASE_SECONDS)
        if not (mine or not spec.holder_identity or expired):
            return False
        if not mine:
            spec.holder_identity = self.identity
            spec.acquire_time = now
            spec.lease_transitions = (spec.lease_transitions or 0) + 1
        spec.renew_time = now
        spec.lease_duration_seconds = LEASE_SECONDS
        return self._write(
            lambda: self.api.replace_namespaced_lease(self.name, self.namespace, lease)
        )

    def _write(self, call: Callable[[], Any]) -> bool:
        from kubernetes.client.exceptions import ApiException

        try:
            call()
            return True
        except ApiException as error:
            if error.status == 409:  # another replica wrote first
                return False
            raise

    def release(self) -> None:
        """Give the Lease up at shutdown, so another replica takes over at once."""
        lease = self.api.read_namespaced_lease(self.name, self.namespace)
        if lease.spec.holder_identity == self.identity:
            lease.spec.holder_identity = None
            lease.spec.lease_duration_seconds = 1
            self.api.replace_namespaced_lease(self.name, self.namespace, lease)
