"""Whose run it is (server/progress/runs.py, access.py), on a real hub over the in-process bus.

The first event's namespace owns a run, a Workflow's namespace overrides it, events of
another namespace are not delivered once tenancy is on, and the checks refuse writers and
readers of another namespace's run.
"""

from __future__ import annotations

import asyncio

import pytest
from kfp_viz.events import Cursor, parse_event
from kfp_viz_server.auth import Caller, Credentials
from kfp_viz_server.errors import ErrorKind, RequestFailed
from kfp_viz_server.progress.access import RunAccess
from kfp_viz_server.progress.hub import CaughtUp, Delivered, ProgressHub
from kfp_viz_server.progress.runs import RunTable
from kfp_viz_server.progress.source import LocalBus
from test_tenancy_rules import FakeReviews, step_token, tenancy

T0 = 1_700_000_000.0


def event(run: str, namespace: str, **fields):
    base = {"v": 1, "run_id": run, "node_id": "s", "namespace": namespace, "kind": "log",
            "message": "m", "ts": T0 + 100}  # fmt: skip
    return parse_event({**base, **fields})


def test_a_run_belongs_to_the_namespace_of_its_first_event_in_the_log():
    table = RunTable()
    assert table.observe(event("r", "team-a", ts=T0 + 105), Cursor(0, 5))
    assert not table.observe(event("r", "team-b", ts=T0 + 110), Cursor(0, 6))
    assert table.owner("r") == "team-a"
    # a history scan then finds an earlier event: that one names the owner
    assert table.observe(event("r", "team-b", ts=T0 + 90), Cursor(0, 1))
    assert table.owner("r") == "team-b"
    summary = table.get("r")
    assert summary is not None and (summary.started, summary.updated) == (T0 + 90, T0 + 105)


def test_a_workflows_namespace_wins_over_the_first_event():
    table = RunTable()
    table.observe(event("r", "intruder"), Cursor(0, 0))
    table.claim("r", "team-a")
    assert table.owner("r") == "team-a"
    assert not table.observe(event("r", "intruder"), Cursor(0, 1))
    assert table.observe(event("r", "team-a"), Cursor(0, 2))


def test_the_run_status_is_the_latest_run_level_status_with_its_reason():
    table = RunTable()
    table.observe(event("r", "a", kind="status", node_id="", status="Running"), Cursor(0, 1))
    table.observe(
        event("r", "a", kind="status", node_id="", status="Failed", message="OOMKilled"),
        Cursor(0, 3),
    )
    table.observe(event("r", "a", kind="status", node_id="train", status="Running"), Cursor(0, 4))
    summary = table.get("r")
    assert summary is not None and summary.ended
    assert summary.to_dict()["status"] == "Failed" and summary.message == "OOMKilled"


def test_the_table_forgets_the_least_recently_updated_runs_past_its_bound():
    table = RunTable(limit=3)
    for index in range(5):
        table.observe(event(f"r{index}", "a", ts=T0 + 100 + index), Cursor(0, index))
    assert [s.run_id for s in table.newest_first()] == ["r4", "r3", "r2"]


async def history(hub: ProgressHub, run_id: str) -> list[Delivered]:
    async with hub.watch(run_id) as watcher:
        found: list[Delivered] = []
        while True:
            for item in await watcher.next_items(100, 5):
                if isinstance(item, CaughtUp):
                    return found
                if isinstance(item, Delivered):
                    found.append(item)


def test_with_tenancy_on_another_namespaces_events_never_reach_the_runs_readers():
    async def run() -> list[str]:
        hub = ProgressHub(LocalBus(partitions=1), owners_only=True)
        hub.start()
        for namespace in ("team-a", "team-b", "team-a"):
            await hub.publish(event("r", namespace))
        return [d.event.namespace for d in await history(hub, "r")]

    assert asyncio.run(run()) == ["team-a", "team-a"]


class FakeWorkflows:
    def __init__(self, owners: dict[str, str]) -> None:
        self.owners = owners

    async def namespace_of(self, run_id: str) -> str | None:
        return self.owners.get(run_id)


def checks(workflows: FakeWorkflows | None = None) -> tuple[RunAccess, ProgressHub, FakeReviews]:
    reviews = FakeReviews()
    hub = ProgressHub(LocalBus(partitions=1), owners_only=True)
    hub.start()
    return RunAccess(tenancy(reviews), hub, workflows), hub, reviews


def refused(coroutine) -> RequestFailed:
    with pytest.raises(RequestFailed) as failure:
        asyncio.run(coroutine)
    return failure.value


def test_publishing_into_another_namespaces_run_is_forbidden():
    async def run() -> RequestFailed:
        access, hub, reviews = checks()
        namespace = await access.publisher(Credentials(step_token(reviews, "team-b")))
        await hub.publish(event("r", "team-a"))
        await access.check_publish(["new-run"], namespace)  # nobody's yet: fine
        with pytest.raises(RequestFailed) as failure:
            await access.check_publish(["r"], namespace)
        return failure.value

    failure = asyncio.run(run())
    assert failure.kind is ErrorKind.FORBIDDEN
    assert "run r belongs to namespace team-a; this step publishes as team-b" in failure.message


def test_the_workflows_namespace_decides_before_any_event():
    async def run() -> RequestFailed:
        access, _, _ = checks(FakeWorkflows({"r": "team-a"}))
        with pytest.raises(RequestFailed) as failure:
            await access.check_publish(["r"], "team-b")
        return failure.value

    assert asyncio.run(run()).kind is ErrorKind.FORBIDDEN


def test_readers_of_an_unknown_run_get_not_found_and_of_another_namespaces_forbidden():
    async def run() -> tuple[RequestFailed, RequestFailed]:
        access, hub, reviews = checks()
        reviews.grants.add(("alice", "team-a"))
        await hub.publish(event("r-b", "team-b"))
        await hub.publish(event("r-a", "team-a"))
        alice = Caller("alice")
        await access.check_read(alice, "r-a")
        with pytest.raises(RequestFailed) as unknown:
            await access.check_read(alice, "nope")
        with pytest.raises(RequestFailed) as forbidden:
            await access.check_read(alice, "r-b")
        return unknown.value, forbidden.value

    unknown, forbidden = asyncio.run(run())
    assert unknown.kind is ErrorKind.NOT_FOUND and "no run nope is known" in unknown.message
    assert forbidden.kind is ErrorKind.FORBIDDEN and "team-b" not in forbidden.message
