"""The built-in types' pages in headless Chromium, inside the KFP UI's sandboxed iframe, offline.

Every request the page could make fails (the browser fixture blocks all network), so a
page that needed a CDN would log an error: `shown.errors == []` proves it needs none.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import typedata
from browser import show_in_kfp_iframe
from support import RunningServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> typedata.TypeData:
    return typedata.build(tmp_path_factory.mktemp("types-browser") / "data")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("types-browser-server") / "server.log"
    running = RunningServer(["--pool-size", "2"], {}, log)
    running.wait_ready()
    yield running
    code = running.stop()
    assert code == 0, f"server exited with {code}:\n{running.log()}"


def page_of(server: RunningServer, viz_type: str, source: str, **arguments) -> str:
    reply = server.post(type=viz_type, source=source, arguments=json.dumps(arguments), timeout=120)
    assert reply.status_code == 200, reply.reason
    assert 'class="output error"' not in reply.text
    return reply.text


def test_roc_plot_draws_and_hover_shows_the_threshold(browser, server, data):
    shown = show_in_kfp_iframe(browser, page_of(server, "roc_curve", f"{data.root}/predictions"))
    frame = shown.frame
    curve = frame.locator("polyline.kv-curve")
    assert curve.count() == 1
    points = curve.get_attribute("points").split()
    assert len(points) > 5
    box = frame.locator(".kv-plot svg").bounding_box()
    assert box is not None and box["width"] > 300
    tip = frame.locator(".kv-tip")
    assert not tip.is_visible()
    # Point at the curve's knee: the top-left part of the plot area.
    shown.page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.15)
    tip.wait_for(state="visible")
    text = tip.inner_text()
    assert text.startswith("Threshold: ") and "FPR:" in text and "TPR:" in text
    threshold = text.split()[1]
    assert threshold == "∞" or 0.0 <= float(threshold) <= 1.0
    assert frame.locator(".kv-auc").inner_text() == f"{data.auc:.4g}"
    assert shown.errors == []
    shown.page.context.close()


def test_table_shows_rows_and_search_filters_them(browser, server, data):
    shown = show_in_kfp_iframe(browser, page_of(server, "table", f"{data.root}/table/*.csv"))
    frame = shown.frame
    rows = frame.locator("tbody tr")
    assert rows.count() == 100  # one page of the 100,000
    assert frame.locator(".kv-count").inner_text() == f"{typedata.TABLE_ROWS} rows"
    assert frame.locator("thead th").all_inner_texts() == ["id", "city", "value", "flag"]
    frame.locator(".kv-search").fill("Quito-417")
    frame.wait_for_function(
        "() => document.querySelector('.kv-count').textContent.includes(' of ')"
    )
    cities = frame.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert cities and all(city == "Quito-417" for city in cities)
    expected = sum(1 for line in _table_lines(data) if ",Quito-417," in line)
    assert frame.locator(".kv-count").inner_text() == f"{expected} of {typedata.TABLE_ROWS} rows"
    frame.locator(".kv-search").fill("")
    frame.locator("thead th", has_text="id").click()
    frame.locator("thead th", has_text="id").click()  # descending
    assert frame.locator("tbody tr td:first-child").first.inner_text() == str(
        typedata.TABLE_ROWS - 1
    )
    assert shown.errors == []
    shown.page.context.close()


def _table_lines(data: typedata.TypeData) -> list[str]:
    return [
        line
        for part in sorted((data.root / "table").glob("*.csv"))
        for line in part.read_text().splitlines()[1:]
    ]


def test_tfdv_page_lists_the_features(browser, server, data):
    page = page_of(server, "tfdv", f"{data.root}/stats/stats.tfrecord")
    shown = show_in_kfp_iframe(browser, page)
    names = shown.frame.locator("td.kv-name").all_inner_texts()
    assert names == [*data.features, "diagnosis"]
    assert shown.frame.locator("svg.kv-bars rect").count() >= 10 * len(data.features)
    assert shown.errors == []
    shown.page.context.close()


@pytest.mark.parametrize(
    ("viz_type", "name", "arguments", "selector"),
    [
        ("confusion_matrix", "confusion_matrix.csv", {"labels": typedata.LABELS}, "td.kv-cell"),
        ("tfma", "eval", {"slicing_column": "size"}, "tr.kv-slice"),
        ("metrics", "metrics.json", {}, "table.kv-metrics td"),
        ("markdown", "notes.md", {}, ".kv-markdown h1"),
        ("html", "report.html", {}, "iframe.kv-html"),
    ],
)
def test_other_types_display_offline_without_errors(
    browser, server, data, viz_type, name, arguments, selector
):
    page = page_of(server, viz_type, f"{data.root}/{name}", **arguments)
    shown = show_in_kfp_iframe(browser, page)
    assert shown.frame.locator(selector).count() >= 1
    if viz_type == "html":
        inner = shown.frame.child_frames[0]
        inner.wait_for_load_state("load")
        assert inner.locator("#report").inner_text() == "Report"
    assert shown.errors == []
    shown.page.context.close()
