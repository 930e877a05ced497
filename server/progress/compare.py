"""`GET /progress?runs=A,B,...`: several runs' metrics overlaid, live, with a legend per run.

The runs are a query, not a path segment: a run id may hold any of `._:@-`, so no path
separator could tell two ids apart, and a query takes a form's repeated `runs` fields too
(the run page's "compare with" form sends `runs=THIS&runs=OTHER,...`). Every id is checked
with the run id rule the rest of progress uses; a bad one gets 400 naming it and its
position, before anything is followed. The page opens one event stream per run, and a
browser keeps at most six HTTP/1.1 connections to a server, so at most six runs at once.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import tornado.web

from ..errors import ErrorKind, RequestFailed
from .events import InvalidEvent, validate_namespace, validate_run_id
from .page import LivePage, RunFeed

MAX_COMPARED = 6
"""Runs one comparison follows: one server-sent event stream each, and browsers open at
most six connections to one server over HTTP/1.1."""


def compared_runs(values: list[str]) -> list[str]:
    """The run ids of `runs` query values (each comma-separated), checked, duplicates dropped."""
    given = [part.strip() for value in values for part in value.split(",")]
    given = [part for part in given if part]
    if not given:
        raise RequestFailed(
            ErrorKind.INVALID,
            "runs is required: name the runs to compare, e.g. /progress?runs=RUN_A,RUN_B",
        )
    for position, run_id in enumerate(given, 1):
        try:
            validate_run_id(run_id)
        except InvalidEvent as error:
            raise RequestFailed(ErrorKind.INVALID, f"runs, item {position}: {error}") from None
    unique = list(dict.fromkeys(given))
    if len(unique) > MAX_COMPARED:
        raise RequestFailed(
            ErrorKind.INVALID,
            f"runs names {len(unique)} runs; at most {MAX_COMPARED} can be compared at once",
        )
    return unique


class CompareHandler(tornado.web.RequestHandler):
    """The comparison page; its streams are the runs' own `/progress/<run>/events`."""

    def initialize(self, page: LivePage) -> None:
        self._page = page

    def get(self) -> None:
        try:
            runs = compared_runs(self.get_query_arguments("runs"))
            namespace = self._namespace()
        except RequestFailed as failure:
            self.set_status(failure.kind.http_status, reason=failure.message)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"error": failure.message}))
            return
        query = urlencode({"from_beginning": 1, **({"namespace": namespace} if namespace else {})})
        feeds = [RunFeed(run, events_url=f"/progress/{run}/events?{query}") for run in runs]
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(
            self._page.page(
                "Comparing runs " + ", ".join(runs), feeds, compare=True, compare_url="/progress"
            )
        )

    def _namespace(self) -> str:
        try:
            return validate_namespace(self.get_query_argument("namespace", ""))
        except InvalidEvent as error:
            raise RequestFailed(ErrorKind.INVALID, str(error)) from None


def compare_route(page: LivePage) -> tuple:
    """The Tornado route: exactly `/progress` (a run's pages are `/progress/<run_id>`)."""
    return (r"/progress", CompareHandler, {"page": page})
