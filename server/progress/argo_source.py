"""Step status with no code in the steps: Argo's Workflow objects become `status` events.

With `--argo-workflows`, the server lists and watches `workflows.argoproj.io` in its
namespace (PROGRESS_NAMESPACE, else POD_NAMESPACE, else the pod's service-account
namespace; none of them: every namespace) with the official `kubernetes` client, in a
thread of its own. For each KFP run (the `pipeline/runid` label) it publishes a
`status` event whenever a step's phase changes (display name, phase, start and finish,
message, and the step's `parents`: the DAG's edges), and a run-level `status` when the
Workflow's phase changes, into Kafka when configured, else into the in-process bus.
Rules of what a Workflow says: argo_workflow.py.

Who publishes, when several replicas run:

- **With Kafka** every replica reads every event, so exactly one replica publishes: the
  holder of a `coordination.k8s.io` Lease (`kfp-viz-server-argo-status`, in the watched
  namespace), which it renews every RENEW_INTERVAL; it stops publishing when it could
  not renew within RENEW_DEADLINE, before another replica may take the Lease over
  (LEASE_SECONDS after the last renewal it saw). A replica that becomes the leader first
  reads each run's history from Kafka and publishes only phases that differ from the
  last status there: a failover or a restart repeats nothing and misses nothing that
  is still in the Workflow.
- **With the in-process bus** each replica has a log of its own, so each one watches and
  publishes into its own bus; no Lease.

Within one term nothing is published twice: the last phase published per step is kept
(dropped when the Workflow is deleted), so the watch's reconnects and relists repeat
nothing. A publish that fails (the broker away) is retried until it succeeds, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .argo_workflow import StepState, run_id_of, run_state, step_states
from .events import Cursor, InvalidEvent, ProgressEvent, parse_event
from .hub import Delivered

log = logging.getLogger(__name__)

GROUP, VERSION, PLURAL = "argoproj.io", "v1alpha1", "workflows"
LEASE_NAME = "kfp-viz-server-argo-status"
LEASE_SECONDS = 15
RENEW_INTERVAL = 3.0
RENEW_DEADLINE = 10.0
"""A leader that could not renew for this long stops publishing (< LEASE_SECONDS)."""
WATCH_SECONDS = 300
"""Each watch request ends after this long and is renewed from where it was."""
RETRY_DELAY = 2.0
SEED_TIMEOUT = 10.0
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")

Publish = Callable[[ProgressEvent], Awaitable[Cursor]]
History = Callable[[str, str], Awaitable[list[Delivered]]]
"""(run id, namespace) → the run's events so far."""


def watched_namespace(configured: str) -> str:
    """The namespace to watch: the server's, the pod's, or "" (all namespaces)."""
    if configured:
        return configured
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    with contextlib.suppress(OSError):
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
    return ""


def kube_client() -> Any:
    """An API client: the pod's service account in a cluster, else KUBECONFIG (~/.kube/config)."""
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.ApiClient()


class ArgoStatus:
    """Watches Workflows in a thread; publishes their steps' phase changes from the loop."""

    name = "argo"

    def __init__(
        self,
        publish: Publish,
        *,
        namespace: str,
        history: History | None = None,
        elect: bool = False,
        api_client: Any = None,
    ) -> None:
        self.namespace = namespace
        self._publish = publish
        self._history = history
        self._api_client = api_client
        self._elect = elect
        self.identity = f"{os.environ.get('HOSTNAME', 'kfp-viz-server')}-{secrets.token_hex(3)}"
        self._stop = threading.Event()
        self.leading = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._threads: list[threading.Thread] = []
        self._task: asyncio.Task[None] | None = None
        self._published: dict[str, dict[str, str]] = {}
        """Workflow uid → step id ("" for the run) → the phase last published this term."""
        self._runs: dict[str, tuple[str, str]] = {}
        """Workflow uid → (run id, namespace)."""
        self.detail = "starting"
        """What the watch last met, for /readyz."""
        self.published = 0

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._api_client is None:
            try:
                self._api_client = kube_client()
            except Exception as error:
                raise RuntimeError(
                    "--argo-workflows / ARGO_WORKFLOWS: no Kubernetes API to watch (neither a "
                    f"pod's service account nor KUBECONFIG): {error}"
                ) from None
        self._task = asyncio.create_task(self._consume())
        targets = [("argo-watch", self._watch_forever)]
        if self._elect:
            targets.append(("argo-lease", self._lead_forever))
        else:
            self._begin_term()
        for name, target in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        where = f"namespace {self.namespace}" if self.namespace else "every namespace"
        log.info("progress: watching Argo Workflows in %s%s", where,
                 " (publishing while holding the Lease)" if self._elect else "")  # fmt: skip

    async def close(self) -> None:
        self._stop.set()
        loop = asyncio.get_running_loop()
        for thread in self._threads:
            await loop.run_in_executor(None, thread.join, 5.0)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def status(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace or "(all)",
            "leading": self.leading.is_set(),
            "detail": self.detail,
            "published": self.published,
        }

    # -- the watch (its own thread) -----------------------------------------------

    def _watch_forever(self) -> None:
        from kubernetes import client

        api = client.CustomObjectsApi(self._api_client)
        while not self._stop.is_set():
            if not self.leading.wait(0.5):
                continue
            try:
                self._list_and_watch(api)
            except Exception as error:  # the API server away, RBAC missing, ...
                self.detail = f"{type(error).__name__}: {_short(error)}"
                log.warning("progress: watching Argo Workflows failed, retrying: %s", self.detail)
                self._stop.wait(RETRY_DELAY)

    def _list_and_watch(self, api: Any) -> None:
        """List every Workflow, then follow changes until the list is stale or we lose the lead."""
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException

        scope = {"namespace": self.namespace} if self.namespace else {}
        lister = (
            api.list_namespaced_custom_object if self.namespace else api.list_cluster_custom_object
        )
        listed = lister(GROUP, VERSION, **scope, plural=PLURAL)
        self._hand("SYNC", listed.get("items") or [])
        version = listed["metadata"]["resourceVersion"]
        self.detail = ""
        while not self._stop.is_set() and self.leading.is_set():
            stream = watch.Watch()
            try:
                for change in stream.stream(
                    lister, GROUP, VERSION, **scope, plural=PLURAL, resource_version=version,
                    timeout_seconds=WATCH_SECONDS, allow_watch_bookmarks=True,
                ):  # fmt: skip
                    if self._stop.is_set() or not self.leading.is_set():
                        stream.stop()
                        return
                    kind, obj = change["type"], change["object"]
                    if kind == "ERROR":
                        if isinstance(obj, dict) and obj.get("code") == 410:
                            return  # our version is gone: list again
                        raise RuntimeError(f"watch error: {obj}")
                    if kind != "BOOKMARK":
                        self._hand(kind, [obj])
            except ApiException as error:
                if error.status == 410:
                    return
                raise
            version = stream.resource_version or version

    def _hand(self, kind: str, workflows: list[dict]) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop closed while we were reading
            self._loop.call_soon_threadsafe(self._queue.put_nowait, (kind, workflows))

    def _begin_term(self) -> None:
        """We publish from now on: forget what the last term published (read it anew)."""
        self.leading.set()
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._queue.put_nowait, ("TERM", None))

    # -- the Lease (its own thread) -----------------------------------------------

    def _lead_forever(self) -> None:
        from kubernetes import client

        lease = Lease(client.CoordinationV1Api(self._api_client), self.namespace or "default",
                      LEASE_NAME, self.identity)  # fmt: skip
        renewed = 0.0
        while not self._stop.is_set():
            try:
                held = lease.try_hold()
                if held:
                    renewed = time.monotonic()
                    if not self.leading.is_set():
                        log.info("progress: this replica (%s) publishes Argo status", self.identity)
                        self._begin_term()
                elif self.leading.is_set():
                    log.info("progress: another replica holds the Argo status Lease now")
                    self.leading.clear()
            except Exception as error:
                self.detail = f"Lease: {type(error).__name__}: {_short(error)}"
                log.warning("progress: renewing the Argo status Lease failed: %s", self.detail)
            if self.leading.is_set() and time.monotonic() - renewed > RENEW_DEADLINE:
                log.warning("progress: Lease not renewed for %gs; not publishing", RENEW_DEADLINE)
                self.leading.clear()
            self._stop.wait(RENEW_INTERVAL)
        if self.leading.is_set():
            with contextlib.suppress(Exception):
                lease.release()
            self.leading.clear()

    # -- publishing (on the loop) -------------------------------------------------

    async def _consume(self) -> None:
        while True:
            kind, workflows = await self._queue.get()
            if kind == "TERM":
                self._published.clear()
                continue
            if not self.leading.is_set():
                continue
            if kind == "SYNC":
                self._forget_all_but({_uid(w) for w in workflows})
            for workflow in workflows:
                if kind == "DELETED":
                    self._published.pop(_uid(workflow), None)
                    self._runs.pop(_uid(workflow), None)
                else:
                    await self._publish_changes(workflow)

    def _forget_all_but(self, uids: set[str]) -> None:
        for uid in list(self._published):
            if uid not in uids:
                del self._published[uid]
                self._runs.pop(uid, None)

    async def _publish_changes(self, workflow: dict) -> None:
        run_id = run_id_of(workflow)
        if run_id is None:
            return
        uid = _uid(workflow)
        namespace = (workflow.get("metadata") or {}).get("namespace") or ""
        published = self._published.get(uid)
        if published is None:
            published = self._published[uid] = await self._seed(run_id, namespace)
            self._runs[uid] = (run_id, namespace)
        states = step_states(workflow)
        run = run_state(workflow)
        if run is not None:
            states.append(run)  # last: a terminal run status ends viewers' streams
        now = time.time()
        for state in states:
            if published.get(state.node_id) == state.phase:
                continue
            if await self._send(state, run_id, namespace, now):
                published[state.node_id] = state.phase

    async def _seed(self, run_id: str, namespace: str) -> dict[str, str]:
        """The phases Kafka already holds for a run (another replica, or an earlier term)."""
        if self._history is None:
            return {}
        try:
            delivered = await asyncio.wait_for(self._history(run_id, namespace), SEED_TIMEOUT)
        except Exception as error:  # Kafka away: publish as if new (a repeat, not a loss)
            log.warning("progress: could not read run %s's history: %s", run_id, error)
            return {}
        return {d.event.node_id: d.event.status for d in delivered if d.event.kind == "status"}

    async def _send(self, state: StepState, run_id: str, namespace: str, now: float) -> bool:
        """Publish one status, retrying while the log is away; False if the event is invalid."""
        try:
            event = parse_event(state.event(run_id, namespace, now))
        except InvalidEvent as error:
            log.warning("progress: Argo step %r of run %s not published: %s",
                        state.node_id, run_id, error)  # fmt: skip
            return False
        while True:
            try:
                await self._publish(event)
                self.published += 1
                return True
            except Exception as error:
                self.detail = f"publishing: {_short(error)}"
                log.warning("progress: publishing Argo status failed, retrying: %s", error)
                await asyncio.sleep(RETRY_DELAY)


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


def _uid(workflow: dict) -> str:
    meta = workflow.get("metadata") or {}
    return meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}"


def _short(error: BaseException) -> str:
    """One line about an error; for the API server's refusals, its status and message."""
    status, reason = getattr(error, "status", None), getattr(error, "reason", None)
    if isinstance(status, int) and reason:
        body = getattr(error, "body", None)
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            return f"{status} {reason}: {json.loads(body)['message']}"[:300]
        return f"{status} {reason}"
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
