"""The run list (server/progress/run_list.py): what a caller may see, filtered, and its JSON.

A fake tenancy decides who reads which namespace (the real ones are server/auth's, checked
against a real kube-apiserver in tests/integration); the runs are a real RunTable, and the
handlers run on a real Tornado server over a real hub on the in-process bus.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable

import pytest
import tornado.httpclient
import tornado.httpserver
import tornado.testing
import tornado.web
from kfp_viz.events import Cursor, InvalidEvent, parse_event, validate_run_id
from kfp_viz_server.auth import Caller, Credentials, HeaderNames, OpenTenancy
from kfp_viz_server.errors import ErrorKind, RequestFailed
from kfp_viz_server.progress.access import RunAccess
from kfp_viz_server.progress.hub import ProgressHub
from kfp_viz_server.progress.run_list import (
    MAX_LIMIT,
    RunQuery,
    readable_runs,
    run_list_routes,
)
from kfp_viz_server.progress.runs import RunTable
from kfp_viz_server.progress.source import LocalBus


class FakeTenancy:
    """Callers named by the gateway's header; each may read the namespaces `grants` gives it."""

    mode = "fake"

    def __init__(self, grants: dict[str, set[str]]) -> None:
        self.names = HeaderNames()
        self.grants = grants
        self.asked: list[set[str]] = []

    @property
    def open(self) -> bool:
        return False

    async def publisher(self, credentials: Credentials) -> str:
        raise AssertionError("the run list never publishes")

    async def reader(self, credentials: Credentials) -> Caller:
        if not credentials.userid:
            raise RequestFailed(ErrorKind.UNAUTHENTICATED, "Unauthenticated: no identity")
        return Caller(credentials.userid)

    async def check_read(self, caller: Caller, namespace: str, what: str) -> None:
        if namespace not in self.grants.get(caller.user, set()):
            raise RequestFailed(ErrorKind.FORBIDDEN, f"{caller.user} may not read {what}")

    async def readable(self, caller: Caller, namespaces: Iterable[str]) -> set[str]:
        asked = set(namespaces)
        self.asked.append(asked)
        return asked & self.grants.get(caller.user, set())


ALICE, BOB = Caller("alice@example.com"), Caller("bob@example.com")
GRANTS = {ALICE.user: {"team-a"}, BOB.user: {"team-b", "team-c"}}


def event(run_id: str, namespace: str, ts: float, **fields: object):
    return parse_event({"v": 1, "run_id": run_id, "namespace": namespace, "ts": ts,
                        "kind": "log", "message": "m", **fields})  # fmt: skip


def table() -> RunTable:
    """Six runs in three namespaces and of every state, started a second apart."""
    runs = RunTable()
    rows = [
        ("train-a1", "team-a", "Succeeded"), ("train-a2", "team-a", "Failed"),
        ("eval-a3", "team-a", ""), ("train-b1", "team-b", "Running"),
        ("Train-C1", "team-c", "Cancelled"), ("orphan", "", ""),
    ]  # fmt: skip
    for offset, (run_id, namespace, status) in enumerate(rows):
        ts = 1000.0 + offset
        runs.observe(event(run_id, namespace, ts, node_id="prep"), Cursor(0, 10 * offset))
        if status:
            runs.observe(
                event(run_id, namespace, ts + 0.5, kind="status", status=status, message="why"),
                Cursor(0, 10 * offset + 1),
            )
    return runs


def query(**given: str) -> RunQuery:
    return RunQuery.parse(lambda name: [given[name]] if name in given else [])


def listed(caller: Caller, tenancy=None, **given: str) -> tuple[list[str], int]:
    found, total = asyncio.run(
        readable_runs(table(), tenancy or FakeTenancy(GRANTS), caller, query(**given))
    )
    return [run.run_id for run in found], total


def test_a_caller_lists_only_the_namespaces_it_may_read_newest_first():
    assert listed(ALICE) == (["eval-a3", "train-a2", "train-a1"], 3)
    assert listed(BOB) == (["Train-C1", "train-b1"], 2)
    assert listed(Caller("mallory@example.com")) == ([], 0)


def test_every_namespace_is_asked_about_once_per_listing():
    tenancy = FakeTenancy(GRANTS)
    listed(ALICE, tenancy)
    assert tenancy.asked == [{"team-a", "team-b", "team-c", ""}]


def test_an_open_server_lists_every_run_including_ones_no_namespace_owns():
    names, total = listed(Caller(""), OpenTenancy())
    assert total == 6 and names[0] == "orphan" and names[-1] == "train-a1"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"search": "TRAIN"}, ["Train-C1", "train-b1", "train-a2", "train-a1"]),
        ({"search": "a1"}, ["train-a1"]),
        ({"status": "running"}, ["orphan", "train-b1", "eval-a3"]),  # no status yet: running
        ({"status": "Failed,Cancelled"}, ["Train-C1", "train-a2"]),
        ({"namespace": "team-b"}, ["train-b1"]),
        ({"search": "train", "status": "Succeeded", "namespace": "team-a"}, ["train-a1"]),
        ({"search": "nothing"}, []),
    ],
)
def test_search_status_and_namespace_narrow_the_list(given, expected):
    assert listed(Caller(""), OpenTenancy(), **given)[0] == expected


def test_the_limit_keeps_the_newest_and_the_total_counts_every_match():
    assert listed(Caller(""), OpenTenancy(), limit="2") == (["orphan", "Train-C1"], 6)
    assert listed(BOB, limit="1") == (["Train-C1"], 2)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"limit": "0"}, f"limit '0' is not a whole number from 1 to {MAX_LIMIT}"),
        ({"limit": str(MAX_LIMIT + 1)}, "limit '1001' is not a whole number"),
        ({"limit": "ten"}, "limit 'ten' is not a whole number"),
        ({"limit": "-5"}, "limit '-5' is not a whole number"),
        ({"status": "Running,Done"}, "status 'Done' is not a run status: use Pending, Running"),
        ({"namespace": "Team_A"}, "namespace 'Team_A' is not a Kubernetes namespace name"),
        ({"search": "x" * 129}, "search is 129 characters long; at most 128"),
    ],
)
def test_bad_query_values_are_refused_naming_them(given, message):
    with pytest.raises(RequestFailed) as caught:
        query(**given)
    assert caught.value.kind is ErrorKind.INVALID
    assert caught.value.message.startswith(message), caught.value.message


def test_repeated_status_values_add_up():
    parsed = RunQuery.parse(lambda name: ["Failed", "error"] if name == "status" else [])
    assert parsed.statuses == {"Failed", "Error"}


def test_runs_is_no_run_id_on_publish_and_watch_alike():
    with pytest.raises(InvalidEvent, match="run_id 'runs' is reserved: /progress/runs is"):
        validate_run_id("runs")
    with pytest.raises(InvalidEvent, match="is reserved"):
        parse_event({"v": 1, "run_id": "runs", "kind": "log", "message": "m"})
    assert validate_run_id("Runs") == "Runs" and validate_run_id("runs-1") == "runs-1"


def test_a_summary_counts_steps_once_and_shows_running_until_a_status():
    runs = table()
    summary = runs.get("eval-a3")
    assert summary is not None
    runs.observe(event("eval-a3", "team-a", 1003.0, node_id="prep"), Cursor(0, 20))  # again
    runs.observe(event("eval-a3", "team-a", 1004.0, node_id="train"), Cursor(0, 99))
    assert summary.to_dict() == {
        "run_id": "eval-a3", "namespace": "team-a", "status": "Running", "started": 1002.0,
        "updated": 1004.0, "message": "", "ended": False, "steps": 2,
    }  # fmt: skip
    failed = runs.get("train-a2")
    assert failed is not None and failed.to_dict()["status"] == "Failed"
    assert failed.to_dict()["message"] == "why" and failed.to_dict()["ended"] is True


# -- the handlers, over HTTP -----------------------------------------------------------------


def fetch_all(tenancy, requests: list[tuple[str, dict[str, str]]], events=()) -> list:
    """Serve the run list's routes over a hub on the in-process bus holding `events`, and GET
    each (path, headers): the replies, in order."""

    async def run() -> list:
        hub = ProgressHub(LocalBus())
        hub.start()
        for item in events:
            await hub.publish(item)
        app = tornado.web.Application(run_list_routes(hub, RunAccess(tenancy, hub)))
        sock, port = tornado.testing.bind_unused_port()
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets([sock])
        client = tornado.httpclient.AsyncHTTPClient()
        try:
            return [
                await client.fetch(f"http://127.0.0.1:{port}{path}", headers=headers,
                                   raise_error=False)
                for path, headers in requests
            ]  # fmt: skip
        finally:
            server.stop()
            await server.close_all_connections()
            await hub.close()

    return asyncio.run(run())


AS_ALICE = {"kubeflow-userid": ALICE.user}
PUBLISHED = [
    event("old-a", "team-a", 100.0, node_id="prep"),
    event("old-a", "team-a", 160.0, kind="status", status="Failed", message="out of memory"),
    event("old-b", "team-b", 200.0, node_id="prep"),
]


def test_the_list_replies_json_of_the_runs_the_caller_may_read():
    tenancy = FakeTenancy(GRANTS)
    reply, = fetch_all(tenancy, [("/progress/runs?limit=5", AS_ALICE)], PUBLISHED)  # fmt: skip
    assert reply.code == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in reply.headers  # a checked server: no wildcard
    body = json.loads(reply.body)
    assert set(body) == {"runs", "total", "server_time"} and body["total"] == 1
    assert body["runs"] == [{
        "run_id": "old-a", "namespace": "team-a", "status": "Failed", "started": 100.0,
        "updated": 160.0, "message": "out of memory", "ended": True, "steps": 1,
    }]  # fmt: skip


def test_one_run_is_known_refused_or_unknown():
    replies = fetch_all(FakeTenancy(GRANTS), [
        ("/progress/runs/old-a", AS_ALICE),
        ("/progress/runs/old-b", AS_ALICE),
        ("/progress/runs/never-published", AS_ALICE),
        ("/progress/runs/bad%20id", AS_ALICE),
        ("/progress/runs", {}),
        ("/progress/runs?status=Done", AS_ALICE),
    ], PUBLISHED)  # fmt: skip
    known, refused, unknown, bad, anonymous, bad_query = replies
    assert known.code == 200 and json.loads(known.body)["status"] == "Failed"
    assert refused.code == 403 and json.loads(refused.body) == {
        "error": "alice@example.com may not read run old-b"
    }
    assert unknown.code == 404
    assert json.loads(unknown.body)["error"].startswith("no run never-published is known yet")
    assert bad.code == 400 and "is not a run id" in json.loads(bad.body)["error"]
    assert anonymous.code == 401 and "runs" not in json.loads(anonymous.body)
    assert bad_query.code == 400 and bad_query.reason.startswith("status 'Done' is not a run")


def test_an_open_server_lets_the_sandboxed_pages_read_the_list_from_any_origin():
    reply, = fetch_all(OpenTenancy(), [("/progress/runs", {})], PUBLISHED)  # fmt: skip
    assert reply.code == 200 and reply.headers["Access-Control-Allow-Origin"] == "*"
    assert [run["run_id"] for run in json.loads(reply.body)["runs"]] == ["old-b", "old-a"]
