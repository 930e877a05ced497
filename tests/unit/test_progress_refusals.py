"""Progress refusals are `RequestFailed`s of an `ErrorKind` (server/progress/checks.py,
publish.py, hub.py), so HTTP and gRPC map them through the one table in server/errors.py."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from kfp_viz.events import Cursor, InvalidEvent
from kfp_viz_server.errors import ErrorKind, RequestFailed
from kfp_viz_server.progress.checks import INVALID_EVENT, WatchRequest, refused_if_invalid
from kfp_viz_server.progress.hub import ProgressHub
from kfp_viz_server.progress.publish import Publisher
from kfp_viz_server.progress.source import LocalBus


def hub(namespace: str = "") -> ProgressHub:
    return ProgressHub(LocalBus(partitions=1), namespace=namespace)


def refusal(action) -> RequestFailed:
    with pytest.raises(RequestFailed) as refused:
        action()
    return refused.value


def test_schema_errors_become_invalid_requests_with_the_schemas_words():
    def raise_invalid() -> None:
        with refused_if_invalid(INVALID_EVENT):
            raise InvalidEvent("kind must be one of progress")

    failure = refusal(raise_invalid)
    assert failure.kind is ErrorKind.INVALID
    assert (failure.kind.http_status, failure.kind.grpc_code) == (
        400, grpc.StatusCode.INVALID_ARGUMENT,
    )  # fmt: skip
    assert failure.message == "Invalid progress event: kind must be one of progress"


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"run_id": ""}, "run_id is required"),
        ({"run_id": "r", "namespace": "Team_A"}, "is not a Kubernetes namespace name"),
        ({"run_id": "r", "resume_after": "nonsense"}, "nonsense"),
    ],
)
def test_a_watch_request_is_checked_once_for_both_protocols(fields, words):
    failure = refusal(lambda: WatchRequest.check(hub(), **fields))
    assert failure.kind is ErrorKind.INVALID and words in failure.message


def test_a_resume_cursor_given_as_text_is_parsed():
    request = WatchRequest.check(hub(), "r", resume_after="0:41")
    assert request.resume_after == Cursor(0, 41)
    assert WatchRequest.check(hub(), "r", resume_after="").resume_after is None


def test_watching_another_namespace_is_forbidden_and_a_closed_hub_unavailable():
    async def run() -> tuple[RequestFailed, RequestFailed]:
        scoped = hub("team-a")
        with pytest.raises(RequestFailed) as forbidden:
            async with WatchRequest.check(scoped, "r", namespace="team-b").open(scoped):
                pass
        await scoped.close()
        with pytest.raises(RequestFailed) as closed:
            async with WatchRequest.check(scoped, "r").open(scoped):
                pass
        return forbidden.value, closed.value

    forbidden, closed = asyncio.run(run())
    assert (forbidden.kind.http_status, forbidden.kind.grpc_code) == (
        403, grpc.StatusCode.PERMISSION_DENIED,
    )  # fmt: skip
    assert "serves namespace 'team-a' only" in forbidden.message
    assert closed.kind is ErrorKind.UNAVAILABLE and "shutting down" in closed.message


def test_publishing_checks_every_event_before_any_and_names_the_first_problem():
    async def run() -> RequestFailed:
        publisher = Publisher(hub("team-a"))
        good = {"v": 1, "run_id": "r", "node_id": "s", "kind": "log", "message": "ok"}
        with pytest.raises(RequestFailed) as refused:
            await publisher.check_all([good, {**good, "kind": "nope"}])
        return refused.value

    failure = asyncio.run(run())
    assert failure.kind is ErrorKind.INVALID
    assert failure.message.startswith(INVALID_EVENT) and "kind must be one of" in failure.message


def test_publishing_into_another_namespace_is_forbidden():
    async def run() -> RequestFailed:
        publisher = Publisher(hub("team-a"))
        event = {
            "v": 1,
            "run_id": "r",
            "node_id": "s",
            "kind": "log",
            "message": "m",
            "namespace": "team-b",
        }
        with pytest.raises(RequestFailed) as refused:
            await publisher.check_all([event])
        return refused.value

    failure = asyncio.run(run())
    assert failure.kind is ErrorKind.FORBIDDEN
    assert "the event is for 'team-b'" in failure.message
