"""The progress pages' server side: the comparison's run list, the page's config and inlined
assets, and the snapshot's links (the browser side is tests/integration/test_live_browser.py)."""

from __future__ import annotations

import json
import re

import pytest
from kfp_viz.events import Cursor, parse_event
from kfp_viz_server.errors import ErrorKind, RequestFailed
from kfp_viz_server.progress.compare import MAX_COMPARED, compared_runs
from kfp_viz_server.progress.hub import Delivered
from kfp_viz_server.progress.page import Link, LivePage, RunFeed
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
        links=[Link("Open the live page", "http://viz/progress/r1")], compare_url=None,
    )  # fmt: skip
    assert html.count("<script") == 3  # the config, uPlot, the page's own
    assert "uPlot" in html and "kfpVizLive" in html and "src=" not in html
    assert "</script><b>" not in html
    config = config_of(html)
    assert config["mode"] == "run" and config["compare_url"] is None
    run = config["runs"][0]
    assert run["events"][0]["message"] == "</script><b>" and run["events"][0]["cursor"] == "0:4"
    assert run["live_url"] == "/progress/r1"
    assert config["links"] == [{"text": "Open the live page", "url": "http://viz/progress/r1"}]
    assert "<title>Progress of run r1</title>" in html
    assert len(html.encode()) < page.weight + 2000


def test_the_comparison_page_carries_every_run():
    feeds = [RunFeed("a", events_url="/progress/a/events"), RunFeed("b", ended=True)]
    config = config_of(LivePage().page("Comparing", feeds, compare=True))
    assert config["mode"] == "compare"
    assert [(r["run_id"], r["events_url"], r["ended"]) for r in config["runs"]] == [
        ("a", "/progress/a/events", False),
        ("b", None, True),
    ]


@pytest.mark.parametrize(
    ("public_url", "node_id", "live", "compare"),
    [
        ("", "", None, None),
        ("http://viz.example", "", "http://viz.example/progress/r1", "http://viz.example/progress"),
        ("http://viz.example", "train", "http://viz.example/progress/r1?node_id=train",
         "http://viz.example/progress"),
    ],
)  # fmt: skip
def test_the_snapshot_links_to_the_live_page_and_comparison_only_with_a_public_url(
    public_url, node_id, live, compare
):
    view = ProgressView(hub=None, page=LivePage(), public_url=public_url)  # links need no hub
    links = view._links("r1", node_id, "")
    assert links.get("compare_url") == compare
    if live is None:
        assert "links" not in links
    else:
        assert [(link.text, link.url) for link in links["links"]] == [
            ("Open the live page", live),
            ("Compare with other runs", f"{compare}?runs=r1"),
        ]
