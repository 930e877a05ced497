"""`GET /progress?runs=A,B,...`: several runs' metrics overlaid, live, with a legend per run.
Without `runs`, `GET /progress` is the run list page (`selected=A,B`: those runs picked).

The runs are a query, not a path segment: a run id may hold any of `._:@-`, so no path
separator could tell two ids apart, and a query takes a form's repeated `runs` fields too
(the run page's "compare with" form sends `runs=THIS&runs=OTHER,...`). Every id is checked
with the run id rule the rest of progress uses; a bad one gets 400 naming it and its
position, before anything is followed. The page opens one event stream per run, and a
browser keeps at most six HTTP/1.1 connections to a server, so at most six runs at once.
"""

from __future__ import annotations

from kfp_viz.events import validate_namespace, validate_run_id

from ..errors import ErrorKind, RequestFailed
from ..http_base import HandlerRule
from .access import RunAccess
from .checks import refused_if_invalid
from .http_access import ProgressHandler
from .page import LivePage, RunFeed, nav_links
from .urls import PageUrls

MAX_COMPARED = 6
"""Runs one comparison follows: one server-sent event stream each, and browsers open at
most six connections to one server over HTTP/1.1."""


def compared_runs(values: list[str], name: str = "runs", required: bool = True) -> list[str]:
    """The run ids of `name` query values (each comma-separated), checked, duplicates dropped."""
    given = [part.strip() for value in values for part in value.split(",")]
    given = [part for part in given if part]
    if not given and required:
        raise RequestFailed(
            ErrorKind.INVALID,
            "runs is required: name the runs to compare, e.g. /progress?runs=RUN_A,RUN_B",
        )
    for position, run_id in enumerate(given, 1):
        with refused_if_invalid(f"{name}, item {position}: "):
            validate_run_id(run_id)
    unique = list(dict.fromkeys(given))
    if len(unique) > MAX_COMPARED:
        raise RequestFailed(
            ErrorKind.INVALID,
            f"{name} names {len(unique)} runs; at most {MAX_COMPARED} can be compared at once",
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
        if "runs" not in self.request.query_arguments:  # no runs named: the run list
            await self._run_list()
            return
        try:
            runs = compared_runs(self.get_query_arguments("runs"))
            with refused_if_invalid():
                namespace = validate_namespace(self.get_query_argument("namespace", ""))
            await self.reader_of(runs)
        except RequestFailed as failure:
            self.fail(failure)
            return
        urls = PageUrls.at_index()  # relative: the page works under any path prefix
        query = {"from_beginning": "1", "namespace": namespace}
        feeds = [RunFeed(run, events_url=urls.events(run, **query)) for run in runs]
        title = "Comparing runs " + ", ".join(runs)
        links = nav_links(urls, runs, compare=True)
        self.finish_page(
            lambda nonce: self._page.page(
                title, feeds, urls=urls, compare=True, links=links, nonce=nonce
            )
        )

    async def _run_list(self) -> None:
        """The run list page (run_list.py), the runs of `selected` already picked; it lists
        only what its user may read, and needs a user when tenancy is on."""
        try:
            selected = compared_runs(self.get_query_arguments("selected"), "selected", False)
            await self.reader_of([])
        except RequestFailed as failure:
            self.fail(failure)
            return
        self.finish_page(
            lambda nonce: self._page.run_list(PageUrls.at_index(), selected, MAX_COMPARED, nonce)
        )


def compare_route(page: LivePage, access: RunAccess) -> HandlerRule:
    """The Tornado route: exactly `/progress` (a run's pages are `/progress/<run_id>`)."""
    return (r"/progress", CompareHandler, {"page": page, "access": access})
