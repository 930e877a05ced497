"""Step status with no code in the steps: Argo's Workflow objects become `status` events.

With `--argo-workflows`, the server lists and watches `workflows.argoproj.io` in its
namespace (PROGRESS_NAMESPACE, else POD_NAMESPACE, else the pod's service-account
namespace; none of them: every namespace) with the official `kubernetes` client, in a
thread of its own. For each KFP run (the `pipeline/runid` label) it publishes a
`status` event whenever a step's phase changes or a new pod starts running it (the
step's name as KFP's UI shows it, phase, start and finish, message, the step's `parents`:
the DAG's edges, and `argo_nodes`: its pods), and a run-level `status` when the
Workflow's phase changes, into Kafka when configured, else into the in-process bus.
What a Workflow says, and what a step is (KFP v2's tasks fold their driver and executor
pods): argo_workflow.py. Which replica publishes: leadership.py.

Workflows that finished more than SETTLED (an hour) before a term first sees them are
taken as published (a previous publisher did), so a new term reads the history of recent
runs only. Within a term nothing is published twice: the last change published per step is kept
(dropped when the Workflow is deleted), so the watch's reconnects and relists repeat
nothing. At the start of a term, with Kafka, a run's phases already in the log are read
first (another replica published them, or this one in an earlier term), so a handover
publishes only what changed. A publish that fails (the broker away) is retried until it
succeeds, in order: nothing is lost while the Workflow still exists.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kfp_viz.events import Cursor, InvalidEvent, ProgressEvent, parse_event

from ..kube_api import follow, kube_client
from .argo_workflow import StepState, run_id_of, run_state, step_states
from .hub import Delivered
from .leadership import Leadership, short_error
from .threaded_feed import ThreadedFeed

log = logging.getLogger(__name__)

GROUP, VERSION, PLURAL = "argoproj.io", "v1alpha1", "workflows"
WATCH_SECONDS = 300
"""Each watch request ends after this long and is renewed from where it was."""
RETRY_DELAY = 2.0
SEED_TIMEOUT = 10.0
SETTLED = 3600.0
"""A Workflow finished this long before a term first sees it is taken as published: a new
publisher does not read the history of every old run the namespace still holds."""

Publish = Callable[[ProgressEvent], Awaitable[Cursor]]
History = Callable[[str, str], Awaitable[list[Delivered]]]
"""(run id, namespace) → the run's events so far."""


async def publish_until_done(publish: Publish, event: ProgressEvent, feed: Any) -> None:
    """Publish, retrying while the log is away (a feed's events must not be lost)."""
    while True:
        try:
            await publish(event)
            feed.published += 1
            feed.detail = ""
            return
        except Exception as error:
            feed.detail = f"publishing: {short_error(error)}"
            log.warning("progress: publishing %s events failed, retrying: %s", feed.name, error)
            await asyncio.sleep(RETRY_DELAY)


Change = tuple[str, tuple[str, ...]]
"""A step's phase and pods (StepState.change): a publish when either differs."""
WorkflowBatch = tuple[str, list[dict[str, Any]]]
"""What the watch hands the loop: Argo's event type (or SYNC, a full listing) and Workflows."""


class ArgoStatus(ThreadedFeed[WorkflowBatch]):
    """Watches Workflows in a thread; publishes their steps' phase changes from the loop."""

    name = "argo"
    thread_name = "argo-watch"

    def __init__(
        self,
        publish: Publish,
        leadership: Leadership,
        *,
        namespace: str,
        history: History | None = None,
        api_client: Any = None,
    ) -> None:
        self.namespace = namespace
        self.leadership = leadership
        self._publish = publish
        self._history = history
        self._api_client = api_client
        super().__init__()
        self._term = 0
        self._published: dict[str, dict[str, Change]] = {}
        """Workflow uid → step id ("" for the run) → what was last published this term."""

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._api_client is None:
            try:
                self._api_client = kube_client()
            except Exception as error:
                raise OSError(  # the server's start fails with this message (cli.py)
                    "--argo-workflows / ARGO_WORKFLOWS: no Kubernetes API to watch (neither a "
                    f"pod's service account nor KUBECONFIG): {error}"
                ) from None
        self._start_reading()
        where = f"namespace {self.namespace}" if self.namespace else "every namespace"
        log.info("progress: watching Argo Workflows in %s", where)

    def status(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace or "(all)",
            "leading": self.leadership.leading.is_set(),
            "detail": self.detail,
            "published": self.published,
        }

    # -- the watch (its own thread) -----------------------------------------------

    def _read_forever(self) -> None:
        from kubernetes import client

        api = client.CustomObjectsApi(self._api_client)
        while not self._stop.is_set():
            if not self.leadership.leading.wait(0.5):
                continue
            try:
                self._list_and_watch(api)
            except Exception as error:  # the API server away, RBAC missing, ...
                self.detail = short_error(error)
                log.warning("progress: watching Argo Workflows failed, retrying: %s", self.detail)
                self._stop.wait(RETRY_DELAY)

    def _list_and_watch(self, api: Any) -> None:
        """List every Workflow, then follow changes until the list is stale or the term ends."""
        scope = {"namespace": self.namespace} if self.namespace else {}
        lister = (
            api.list_namespaced_custom_object if self.namespace else api.list_cluster_custom_object
        )
        listed = lister(GROUP, VERSION, **scope, plural=PLURAL)
        self._hand(("SYNC", listed.get("items") or []))
        self.detail = ""
        leading = self.leadership.leading
        follow(
            lister, listed["metadata"]["resourceVersion"],
            lambda: not self._stop.is_set() and leading.is_set(),
            lambda kind, obj: self._hand((kind, [obj])),
            GROUP, VERSION, **scope, plural=PLURAL, timeout_seconds=WATCH_SECONDS,
        )  # fmt: skip

    # -- publishing (on the loop) -------------------------------------------------

    async def _take(self, item: WorkflowBatch) -> None:
        kind, workflows = item
        if not self.leadership.leading.is_set():
            return
        if self._term != self.leadership.term:  # a new term: read what the log holds
            self._term = self.leadership.term
            self._published.clear()
        if kind == "SYNC":
            listed = {_uid(w) for w in workflows}
            for uid in [uid for uid in self._published if uid not in listed]:
                del self._published[uid]
        for workflow in workflows:
            if kind == "DELETED":
                self._published.pop(_uid(workflow), None)
            else:
                await self._publish_changes(workflow)

    async def _publish_changes(self, workflow: dict[str, Any]) -> None:
        run_id = run_id_of(workflow)
        if run_id is None:
            return
        uid = _uid(workflow)
        namespace = (workflow.get("metadata") or {}).get("namespace") or ""
        states = step_states(workflow)
        run = run_state(workflow)
        if run is not None:
            states.append(run)  # last: a terminal run status ends viewers' streams
        now = time.time()
        published = self._published.get(uid)
        if published is None:
            if run is not None and run.finished is not None and now - run.finished > SETTLED:
                self._published[uid] = {state.node_id: state.change for state in states}
                return
            published = self._published[uid] = await self._seed(run_id, namespace)
        for state in states:
            if published.get(state.node_id) == state.change:
                continue
            event = self._event(state, run_id, namespace, now)
            if event is not None:
                await publish_until_done(self._publish, event, self)
            published[state.node_id] = state.change

    async def _seed(self, run_id: str, namespace: str) -> dict[str, Change]:
        """What the log already holds for a run (another replica, or an earlier term)."""
        if self._history is None:
            return {}
        try:
            delivered = await asyncio.wait_for(self._history(run_id, namespace), SEED_TIMEOUT)
        except Exception as error:  # Kafka away: publish as if new (a repeat, not a loss)
            log.warning("progress: could not read run %s's history: %s", run_id, error)
            return {}
        return {
            d.event.node_id: (d.event.status, d.event.argo_nodes)
            for d in delivered
            if d.event.kind == "status" and not d.event.argo_node_id  # not a step's own
        }

    @staticmethod
    def _event(state: StepState, run_id: str, namespace: str, now: float) -> ProgressEvent | None:
        try:
            return parse_event(state.event(run_id, namespace, now))
        except InvalidEvent as error:
            log.warning("progress: Argo step %r of run %s not published: %s",
                        state.node_id, run_id, error)  # fmt: skip
            return None


def _uid(workflow: dict[str, Any]) -> str:
    meta = workflow.get("metadata") or {}
    return meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}"
