"""The progress pages' server side: the comparison's run list, the page's config and inlined
assets, where the pages' links lead (relative to the page, so any path prefix works), and the
snapshot's links (the browser side is tests/integration/test_live_browser.py and
test_gateway_browser.py)."""

from __future__ import annotations

import json
import re

import pytest
from kfp_viz.events import Cursor, parse_event
from kfp_viz_server.errors import ErrorKind, RequestFailed
from kfp_viz_server.progress.compare import MAX_COMPARED, compared_runs
from kfp_viz_server.progress.hub import Delivered
from kfp_viz_server.progress.page import Link, LivePage, RunFeed
from kfp_viz_server.progress.urls import PageUrls
from kfp_viz_server.progress.view import ProgressView


def test_compared_runs_split_commas_and_repeated_fields_and_drop_duplicates():
    assert compared_runs(["a, b", "c,a", ""]) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([], "runs is required"),
        ([" , "], "runs is required"),
        (["ok", "x/y"], "runs, item 2: run_id 'x/y' is not a run id"),
        (["-dash"], "runs, item 1: run_id '-dash' is not a run id"),
        ([",".join(f"r{i}" for i in range(MAX_COMPARED + 1))], "runs names 7 runs; at most 6"),
    ],
)
def test_compared_runs_refuse_what_is_not_a_list_of_run_ids(values, message):
    with pytest.raises(RequestFailed) as caught:
        compared_runs(values)
    assert caught.value.kind is ErrorKind.INVALID
    assert caught.value.message.startswith(message)


def config_of(page: str) -> dict:
    found = re.search(r'<script id="progress-config" type="application/json">(.*?)</script>', page)
    assert found
    return json.loads(found[1])


def test_the_page_inlines_uplot_and_its_script_and_escapes_the_config():
    page = LivePage()
    event = parse_event(
        {"v": 1, "run_id": "r1", "node_id": "train", "kind": "log", "message": "</script><b>"}
    )
    html = page.render(
        "r1", events=[Delivered(event, Cursor(0, 4))], events_url=None, note="n",
        links=[Link("Open the live page", "http://viz/progress/r1")], urls=PageUrls.at_run(),
    )  # fmt: skip
    assert html.count("<script") == 4  # the config, uPlot, the pages' shared script, its own
    assert "uPlot" in html and "kfpVizLive" in html and "src=" not in html
    assert "</script><b>" not in html
    config = config_of(html)
    assert config["mode"] == "run"
    assert config["urls"]["list"] == "../progress"  # relative to /progress/r1
    run = config["runs"][0]
    assert run["events"][0]["message"] == "</script><b>" and run["events"][0]["cursor"] == "0:4"
    assert run["live_url"] == "../progress/r1"
    assert config["links"] == [{"text": "Open the live page", "url": "http://viz/progress/r1"}]
    assert "<title>Progress of run r1</title>" in html
    assert len(html.encode()) < page.weight + 2000


def test_the_comparison_page_carries_every_run():
    feeds = [RunFeed("a", events_url="/progress/a/events"), RunFeed("b", ended=True)]
    config = config_of(LivePage().page("Comparing", feeds, urls=PageUrls.at_index(), compare=True))
    assert config["mode"] == "compare"
    assert [(r["run_id"], r["events_url"], r["ended"]) for r in config["runs"]] == [
        ("a", "/progress/a/events", False),
        ("b", None, True),
    ]


@pytest.mark.parametrize(
    ("public_url", "node_id", "live", "run_list"),
    [
        ("", "", None, None),
        ("http://viz.example", "", "http://viz.example/progress/r1", "http://viz.example/progress"),
        ("http://viz.example/kfp-viz/", "train",
         "http://viz.example/kfp-viz/progress/r1?node_id=train",
         "http://viz.example/kfp-viz/progress"),
    ],
)  # fmt: skip
def test_the_snapshot_links_to_the_live_page_and_run_list_only_with_a_public_url(
    public_url, node_id, live, run_list
):
    view = ProgressView(hub=None, page=LivePage(), public_url=public_url)  # links need no hub
    links = view._links("r1", node_id, "")
    if live is None:
        assert links == {"urls": None}
    else:
        assert links["urls"] is not None and links["urls"].run_list() == run_list
        assert [(link.text, link.url) for link in links["links"]] == [
            ("Open the live page", live),
            ("All runs", run_list),
            ("Compare with other runs", f"{run_list}?selected=r1"),
        ]


@pytest.mark.parametrize(
    ("urls", "root"),
    [(PageUrls.at_index(), "./"), (PageUrls.at_run(), "../"),
     (PageUrls.public("https://kf.example/kfp-viz/"), "https://kf.example/kfp-viz/")],
)  # fmt: skip
def test_every_url_a_page_uses_is_under_its_root_and_a_colon_never_reads_as_a_scheme(urls, root):
    run = "ns:run@1"
    found = [
        urls.live(run, node_id="train"), urls.events(run, from_beginning="1"), urls.run_list(),
        urls.run_list([run, "b"]), urls.compare([run, "b"]), urls.runs_json(), urls.run_json(run),
        *urls.for_script().values(),
    ]  # fmt: skip
    assert all(url.startswith(root) for url in found), found
    assert urls.live(run, node_id="train") == f"{root}progress/ns%3Arun%401?node_id=train"
    assert urls.events(run, from_beginning="1", node_id="") == (
        f"{root}progress/ns%3Arun%401/events?from_beginning=1"
    )
    assert urls.compare([run, "b"]) == f"{root}progress?runs=ns%3Arun%401,b"
    assert urls.for_script()["run"].replace("{run}", "x") == urls.run_json("x")
    assert urls.for_script()["live"].replace("{run}", "x") == urls.live("x")


def test_the_run_list_page_carries_its_routes_and_picked_runs_and_no_chart_library():
    html = LivePage().run_list(PageUrls.at_index(), ["a", "b"], MAX_COMPARED)
    config = config_of(html)
    assert config == {
        "mode": "list",
        "urls": PageUrls.at_index().for_script(),
        "selected": ["a", "b"],
        "max_compared": MAX_COMPARED,
    }
    assert "<title>Runs</title>" in html and "kfpVizRuns" in html
    assert "uPlot" not in html and "src=" not in html
