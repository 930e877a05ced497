"""`GET /progress?runs=A,B,...`: several runs' metrics overlaid, live, with a legend per run.

The runs are a query, not a path segment: a run id may hold any of `._:@-`, so no path
separator could tell two ids apart, and a query takes a form's repeated `runs` fields too
(the run page's "compare with" form sends `runs=THIS&runs=OTHER,...`). Every id is checked
with the run id rule the rest of progress uses; a bad one gets 400 naming it and its
position, before anything is followed. The page opens one event stream per run, and a
browser keeps at most six HTTP/1.1 connections to a server, so at most six runs at once.
"""

from __future__ import annotations

from urllib.parse import urlencode

from kfp_viz.events import validate_namespace, validate_run_id

from ..errors import ErrorKind, RequestFailed
from ..http_base import HandlerRule
from ..http_limits import PAGE_POLICY
from .access import RunAccess
from .checks import refused_if_invalid
from .http_access import ProgressHandler
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
        with refused_if_invalid(f"runs, item {position}: "):
            validate_run_id(run_id)
    unique = list(dict.fromkeys(given))
    if len(unique) > MAX_COMPARED:
        raise RequestFailed(
            ErrorKind.INVALID,
            f"runs names {len(unique)} runs; at most {MAX_COMPARED} can be compared at once",
        )
    return unique


class CompareHandler(ProgressHandler):
    """The comparison page; its streams are the runs' own `/progress/<run>/events`.

    Every run is checked as its own stream will be: a comparison never shows that a run the
    caller may not read exists beyond what the refusal says.
    """

    def initialize(self, page: LivePage, access: RunAccess) -> None:
        self._page = page
        self.use_access(access)

    async def get(self) -> None:
        try:
            runs = compared_runs(self.get_query_arguments("runs"))
            with refused_if_invalid():
                namespace = validate_namespace(self.get_query_argument("namespace", ""))
            await self.reader_of(runs)
        except RequestFailed as failure:
            self.fail(failure)
            return
        query = urlencode({"from_beginning": 1, **({"namespace": namespace} if namespace else {})})
        feeds = [RunFeed(run, events_url=f"/progress/{run}/events?{query}") for run in runs]
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Content-Security-Policy", PAGE_POLICY)  # as the run's live page
        title = "Comparing runs " + ", ".join(runs)
        self.finish(self._page.page(title, feeds, compare=True, compare_url="/progress"))


def compare_route(page: LivePage, access: RunAccess) -> HandlerRule:
    """The Tornado route: exactly `/progress` (a run's pages are `/progress/<run_id>`)."""
    return (r"/progress", CompareHandler, {"page": page, "access": access})
