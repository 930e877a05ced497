"""Where the progress pages' links, streams and lists are, wherever the server is mounted.

A gateway may serve this server under a path prefix that it strips before passing the request
on (Kubeflow's gateway with an Istio `rewrite`, nginx's `proxy_pass http://server/`): the
server never sees the prefix. So the pages link relative to themselves, and a page's root is
where it sits: `./` from `/progress` (the run list, the comparison), `../` from
`/progress/<run>` (a run's live page). Every reference starts with a dot, so a run id holding
`:` is never read as a URL scheme, and run ids are percent-encoded as path segments.

The `progress` snapshot travels inside the KFP UI's iframe (an about:srcdoc document, which
nothing can be relative to): its root is PUBLIC_URL, absolute.

The routes are written here once: the pages' script gets them as templates (`{run}` stands
for an encoded run id), so Python and JavaScript cannot disagree on a path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

RUN = "{run}"
"""Where a run id goes in a template handed to the pages' script."""


@dataclass(frozen=True)
class PageUrls:
    """The URLs one page uses, all under `root` (relative to the page, or PUBLIC_URL)."""

    root: str

    @classmethod
    def at_index(cls) -> PageUrls:
        """For a page served at `/progress` (the run list, the comparison)."""
        return cls("./")

    @classmethod
    def at_run(cls) -> PageUrls:
        """For a page served at `/progress/<run>` (a run's live page)."""
        return cls("../")

    @classmethod
    def public(cls, public_url: str) -> PageUrls:
        """Under PUBLIC_URL (the snapshot in KFP's iframe)."""
        return cls(public_url.rstrip("/") + "/")

    def live(self, run_id: str, **query: str) -> str:
        return self._with_query(self._run(run_id), query)

    def events(self, run_id: str, **query: str) -> str:
        return self._with_query(self._run(run_id) + "/events", query)

    def run_list(self, selected: Iterable[str] = ()) -> str:
        picked = ",".join(selected)
        return self._with_query(self.root + "progress", {"selected": picked} if picked else {})

    def compare(self, run_ids: Iterable[str]) -> str:
        return self.root + "progress?runs=" + ",".join(quote(r, safe="") for r in run_ids)

    def runs_json(self) -> str:
        return self.root + "progress/runs"

    def run_json(self, run_id: str) -> str:
        return f"{self.runs_json()}/{quote(run_id, safe='')}"

    def for_script(self) -> dict[str, str]:
        """The routes as the pages' script builds URLs for runs it finds (`{run}`: an id)."""
        return {
            "live": f"{self.root}progress/{RUN}",
            "list": self.root + "progress",
            "compare": self.root + "progress",
            "runs": self.runs_json(),
            "run": f"{self.runs_json()}/{RUN}",
        }

    def _run(self, run_id: str) -> str:
        return f"{self.root}progress/{quote(run_id, safe='')}"

    @staticmethod
    def _with_query(url: str, query: dict[str, str]) -> str:
        given = {k: v for k, v in query.items() if v}
        return f"{url}?{urlencode(given)}" if given else url
