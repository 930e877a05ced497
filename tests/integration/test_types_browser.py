"""The built-in types' pages in headless Chromium, inside the KFP UI's sandboxed iframe, offline.

Every request the page could make fails (the browser fixture blocks all network), so a
page that needed a CDN would log an error: `shown.errors == []` proves it needs none. Each
interaction a data scientist uses is driven with the mouse or keyboard, on real data
(typedata.py), and the numbers the page shows are checked against scikit-learn's, pandas'
or numpy's. Every page passes axe-core (no serious or critical violation) in light and
dark mode, and fits a 360-pixel-wide frame without a horizontal scroll of the page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import typedata
from browser import ShownPage, axe_violations, show_in_kfp_iframe
from sklearn.metrics import classification_report, roc_auc_score, roc_curve
from support import RunningServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> typedata.TypeData:
    return typedata.build(tmp_path_factory.mktemp("types-browser") / "data")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("types-browser-server") / "server.log"
    running = RunningServer(["--pool-size", "2", "--allow-custom-visualizations"], {}, log)
    running.wait_ready()
    yield running
    code = running.stop()
    assert code == 0, f"server exited with {code}:\n{running.log()}"


def page_of(server: RunningServer, viz_type: str, source: str = "", **arguments) -> str:
    reply = server.post(type=viz_type, source=source, arguments=json.dumps(arguments), timeout=120)
    assert reply.status_code == 200, reply.reason
    assert 'class="output error"' not in reply.text, reply.text[-3000:]
    return reply.text


def closed(shown: ShownPage) -> None:
    assert shown.errors == []
    shown.page.context.close()


def number(text: str) -> float:
    return float(text.replace(",", "").replace("\u2007", "").replace("\u2008", "").strip())


# -- roc_curve ---------------------------------------------------------------------


def test_roc_curves_legend_zoom_log_scale_and_operating_points(browser, server, data):
    page = page_of(
        server, "roc_curve", f"{data.root}/predictions", compare=[f"{data.root}/weak"], fprs=[0.05]
    )
    shown = show_in_kfp_iframe(browser, page)
    frame, mouse = shown.frame, shown.page.mouse
    legend = frame.locator(".kv-legend li").all_inner_texts()
    expected = [
        roc_auc_score(data.labels, data.scores),
        roc_auc_score(data.labels, data.weak_scores),
    ]
    assert legend == [f"predictions: AUC {expected[0]:.4g}", f"weak: AUC {expected[1]:.4g}"]

    plot = frame.locator(".kv-plot")
    box = frame.locator(".kv-plot .u-over").bounding_box()
    assert box["width"] > 1000  # fills the frame's width, not a fixed 520 px
    assert plot.get_attribute("data-x-range") == "0 1"
    # zoom: drag a box over the top-left corner, then double-click to reset
    mouse.move(box["x"] + 2, box["y"] + 2)
    mouse.down()
    mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.3, steps=5)
    mouse.up()
    low, high = (float(v) for v in plot.get_attribute("data-x-range").split())
    assert low == pytest.approx(0, abs=0.01) and high == pytest.approx(0.2, abs=0.01)
    assert float(plot.get_attribute("data-y-range").split()[0]) == pytest.approx(0.7, abs=0.02)
    mouse.dblclick(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert plot.get_attribute("data-x-range") == "0 1"
    # log FPR: the axis starts at the power of ten at or below half the smallest positive FPR
    frame.locator(".kv-log").check()
    assert plot.get_attribute("data-scale") == "log"
    fpr_weak, _, _ = roc_curve(data.labels, data.weak_scores)
    fpr_model, _, _ = roc_curve(data.labels, data.scores)
    smallest = min(v for v in (*fpr_weak, *fpr_model) if v > 0)
    floor = 10 ** np.floor(np.log10(smallest / 2))
    assert float(plot.get_attribute("data-x-range").split()[0]) == pytest.approx(floor)
    frame.locator(".kv-log").uncheck()

    # operating points: the last point with FPR <= 0.05, exactly as sklearn's curve has it
    rows = [r.split("\t") for r in frame.locator(".kv-ops tr.kv-op").all_inner_texts()]
    for row, scores in zip(rows, (data.scores, data.weak_scores), strict=True):
        fpr, tpr, thresholds = roc_curve(data.labels, scores)
        at = np.searchsorted(fpr, 0.05, side="right") - 1
        positives, negatives = data.labels.sum(), (data.labels == 0).sum()
        precision = tpr[at] * positives / (tpr[at] * positives + fpr[at] * negatives)
        assert row[1] == "FPR ≤ 0.05"
        assert [number(v) for v in row[2:]] == pytest.approx(
            [thresholds[at], fpr[at], tpr[at], precision], rel=1e-3
        )
    # the point under the pointer joins the table; hiding a curve drops its rows
    mouse.move(box["x"] + box["width"] * 0.02, box["y"] + box["height"] * 0.1)
    under = frame.locator(".kv-ops tr.kv-under").inner_text().split("\t")
    assert under[0] == "predictions" and under[1] == "under the pointer"
    assert 0 <= number(under[3]) <= 0.1 and number(under[4]) >= 0.8
    frame.locator(".kv-legend button", has_text="weak").click()
    assert frame.locator(".kv-legend button[aria-pressed=false]").count() == 1
    assert frame.locator(".kv-ops tr.kv-op").count() == 1
    frame.locator(".kv-targets").fill("0.01, 0.1")
    frame.locator(".kv-targets").press("Enter")
    assert frame.locator(".kv-ops tr.kv-op").count() == 2
    closed(shown)


def test_roc_one_curve_per_class(browser, server, data):
    shown = show_in_kfp_iframe(browser, page_of(server, "roc_curve", f"{data.root}/iris"))
    shown.frame.locator(".kv-log").check()  # its smallest FPR is just under 0.02
    plot = shown.frame.locator(".kv-plot")
    assert plot.get_attribute("data-x-range") == "0.001 1"
    # a zoom box on the log axis that starts just under a power of ten (uPlot's own log
    # ticks threw there): the page zooms and logs no error
    box = shown.frame.locator(".kv-plot .u-over").bounding_box()
    shown.page.mouse.move(box["x"] + box["width"] * 0.33, box["y"] + 5)
    shown.page.mouse.down()
    shown.page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2, steps=4)
    shown.page.mouse.up()
    low, high = (float(v) for v in plot.get_attribute("data-x-range").split())
    assert 0.005 < low < 0.02 and 0.3 < high < 0.7
    legend = shown.frame.locator(".kv-legend li").all_inner_texts()
    expected = [
        f"{name}: AUC {roc_auc_score(data.iris_labels == name, data.iris_scores[:, i]):.4g}"
        for i, name in enumerate(typedata.IRIS)
    ]
    assert legend == expected
    macro = roc_auc_score(data.iris_labels, data.iris_scores, multi_class="ovr", average="macro")
    assert shown.frame.locator(".kv-macro-auc").inner_text() == f"{macro:.4g}"
    closed(shown)


# -- table -------------------------------------------------------------------------


def test_table_search_filters_summaries_and_missing_values(browser, server, data):
    shown = show_in_kfp_iframe(browser, page_of(server, "table", f"{data.root}/table/*.csv"))
    frame = shown.frame
    table = pd.concat(pd.read_csv(p) for p in sorted((data.root / "table").glob("*.csv")))
    assert frame.locator("tbody tr").count() == 100  # one page of the 100,000
    assert frame.locator(".kv-count").inner_text() == f"{typedata.TABLE_ROWS} rows"
    assert frame.locator("thead button.kv-sort").all_inner_texts() == [
        "id",
        "city",
        "value",
        "flag",
    ]
    # row 0 has a missing value (every 97th): a visible marker, not a blank
    assert frame.locator("tbody tr").first.locator("td").nth(2).inner_text() == "NA"
    assert frame.locator("tbody tr").first.locator("td.kv-missing").count() == 1

    frame.locator(".kv-search").fill("Quito-417")
    frame.locator(".kv-filter[data-col='2']").fill(">100")
    quito = table[(table.city == "Quito-417") & (table.value > 100)]
    frame.wait_for_function(
        f"() => document.querySelector('.kv-count').textContent.startsWith('{len(quito)} of')"
    )
    assert {c for c in frame.locator("tbody td:nth-child(2)").all_inner_texts()} == {"Quito-417"}
    frame.locator(".kv-summarize").click()
    summary = frame.locator("tr.kv-summary td[data-col='2']").inner_text()
    assert f"min {quito.value.min():.4g}" in summary and f"max {quito.value.max():.4g}" in summary
    assert f"unique {quito.value.nunique()}" in summary and "missing 0" in summary
    frame.locator(".kv-filter[data-col='2']").fill("missing")
    frame.locator(".kv-search").fill("")
    missing = int(table.value.isna().sum())
    frame.wait_for_function(
        f"() => document.querySelector('.kv-count').textContent.startsWith('{missing} of')"
    )
    closed(shown)


def test_table_sorts_from_the_keyboard_and_aligns_decimal_points(browser, server, data):
    shown = show_in_kfp_iframe(browser, page_of(server, "table", f"{data.root}/table/*.csv"))
    frame, keyboard = shown.frame, shown.page.keyboard
    frame.locator(".kv-summarize").focus()
    keyboard.press("Tab")  # the scroll region, then the first header button
    keyboard.press("Tab")
    assert frame.evaluate("() => document.activeElement.textContent") == "id"
    keyboard.press("Enter")
    keyboard.press("Enter")  # descending
    assert frame.locator("thead th[aria-sort]").count() == 1
    assert frame.locator("thead th").first.get_attribute("aria-sort") == "descending"
    first = frame.locator("tbody tr td:first-child").first.inner_text()
    assert first == str(typedata.TABLE_ROWS - 1)
    keyboard.press("Tab")  # on to the next header: "city"
    keyboard.press("Space")
    assert frame.locator("thead th").nth(1).get_attribute("aria-sort") == "ascending"
    assert frame.locator("thead th").first.get_attribute("aria-sort") is None
    # every value's decimal point (or where it would be) sits at the same x
    points = frame.evaluate(
        """() => Array.from(document.querySelectorAll('tbody td:nth-child(3).kv-num')).map(td => {
             const text = td.firstChild, at = text.textContent.search(/[.\u2008]/);
             const range = document.createRange();
             range.setStart(text, at); range.setEnd(text, at + 1);
             return range.getBoundingClientRect().left; })"""
    )
    assert len(points) > 50 and max(points) - min(points) < 0.5
    closed(shown)


# -- confusion_matrix --------------------------------------------------------------


def test_confusion_matrix_rates_and_report(browser, server, data):
    shown = show_in_kfp_iframe(
        browser, page_of(server, "confusion_matrix", f"{data.root}/iris_confusion.csv")
    )
    frame = shown.frame
    matrix = pd.crosstab(data.iris_labels, data.iris_predicted).reindex(
        index=typedata.IRIS, columns=typedata.IRIS, fill_value=0
    )
    counts = [number(v) for v in frame.locator("td.kv-cell").all_inner_texts()]
    assert counts == matrix.to_numpy().ravel().tolist()
    frame.locator(".kv-mode[data-mode=rates]").click()
    assert frame.locator(".kv-mode[data-mode=rates]").get_attribute("aria-pressed") == "true"
    rates = [v for v in frame.locator("td.kv-cell").all_inner_texts()]
    normalised = matrix.to_numpy() / matrix.to_numpy().sum(axis=1, keepdims=True)
    assert rates == [f"{100 * v:.1f}%" for v in normalised.ravel()]
    report = classification_report(data.iris_labels, data.iris_predicted, output_dict=True)
    for row in frame.locator("table.kv-report tbody tr").all_inner_texts():
        name, *values = row.split("\t")
        want = report[name]
        assert [number(v) for v in values] == pytest.approx(
            [want["precision"], want["recall"], want["f1-score"], want["support"]], abs=5e-5
        )
    frame.locator(".kv-mode[data-mode=counts]").click()
    assert number(frame.locator("td.kv-cell").first.inner_text()) == counts[0]
    closed(shown)


# -- tfdv --------------------------------------------------------------------------


def test_tfdv_compares_datasets_sorts_and_searches(browser, server, data):
    page = page_of(
        server, "tfdv", f"{data.root}/stats/stats.pb", compare=[f"{data.root}/eval-stats/stats.pb"]
    )
    shown = show_in_kfp_iframe(browser, page)
    frame = shown.frame
    stats = json.loads(frame.locator("script.kv-data").text_content())
    names = frame.locator("th.kv-name").evaluate_all("e => e.map(x => x.firstChild.textContent)")
    assert names == [*data.features, "diagnosis"]
    assert frame.locator("tbody.kv-feature").first.locator("tr").count() == 2  # a line per dataset
    overlay = frame.locator("svg.kv-hist").first.locator("rect").first.get_attribute("width")
    frame.locator(".kv-view[data-view=side]").click()
    side = frame.locator("svg.kv-hist").first.locator("rect").first.get_attribute("width")
    assert float(side) < float(overlay)  # each bucket shared by the two datasets
    frame.locator(".kv-order").select_option("distance")
    numeric = [f for f in stats["features"] if f["kind"] == "num"]
    by_distance = [f["name"] for f in sorted(numeric, key=lambda f: -f["distance"])]
    shown_names = frame.locator("table.kv-numeric th.kv-name")
    shown_order = shown_names.evaluate_all("e => e.map(x => x.firstChild.textContent)")
    assert shown_order == by_distance
    frame.locator(".kv-order").select_option("zeros")
    first = frame.locator("table.kv-numeric th.kv-name").first.evaluate(
        "e => e.firstChild.textContent"
    )
    most = max(numeric, key=lambda f: max(s["zeros"] for s in f["stats"]))
    assert first == most["name"]
    frame.locator(".kv-search").fill("concav")
    frame.wait_for_function(
        "() => document.querySelector('.kv-count').textContent.includes(' of ')"
    )
    found = frame.locator("th.kv-name").evaluate_all("e => e.map(x => x.firstChild.textContent)")
    assert found and sorted(found) == sorted(n for n in data.features if "concav" in n)
    closed(shown)


# -- tfma --------------------------------------------------------------------------


def test_tfma_sortable_slices_and_chart_with_counts(browser, server, data):
    shown = show_in_kfp_iframe(
        browser, page_of(server, "tfma", f"{data.root}/eval", slicing_column="size")
    )
    frame = shown.frame
    slices = frame.locator("tr.kv-slice-bar th").all_inner_texts()
    values = [number(v) for v in frame.locator("tr.kv-slice-bar td.kv-value").all_inner_texts()]
    by_value = sorted(data.tfma_accuracy.items(), key=lambda item: -item[1])
    assert [name.replace("size: ", "") for name in slices] == [name for name, _ in by_value]
    assert values == pytest.approx([v for _, v in by_value], rel=1e-3)
    frame.locator(".kv-chart-order").select_option("count")
    counts = frame.locator("tr.kv-slice-bar td.kv-count").all_inner_texts()
    assert all(c.startswith("n = ") for c in counts)
    counts = [number(c[4:]) for c in counts]
    assert counts == sorted(counts, reverse=True) and counts[0] == len(data.labels)
    header = frame.locator("thead button.kv-sort", has_text="accuracy")
    header.click()
    header.click()
    cells = frame.locator(".kv-datatable tbody tr td:nth-child(3)").all_inner_texts()
    assert [number(v) for v in cells] == sorted((number(v) for v in cells), reverse=True)
    assert frame.locator(".kv-datatable thead th").nth(2).get_attribute("aria-sort") == "descending"
    closed(shown)


# -- custom code plotting, html ----------------------------------------------------


def test_matplotlib_and_plotly_figures_from_custom_code_display_offline(browser, server):
    code = [
        "import matplotlib.pyplot as plt",
        "fig, ax = plt.subplots()",
        "ax.plot([0, 1, 2], [2, 0, 1]); ax.set_title('matplotlib')",
        "plt.show()",
        "import plotly.express as px",
        "px.bar(x=['a', 'b', 'c'], y=[3, 1, 2], title='plotly').show()",
        "px.line(x=[1, 2, 3], y=[1, 4, 9]).show()",
    ]
    reply = server.post(type="custom", arguments=json.dumps({"code": code}), timeout=120)
    assert reply.status_code == 200
    shown = show_in_kfp_iframe(browser, reply.text)
    frame = shown.frame
    # a large page arrives compressed and replaces itself: wait for the figures
    frame.wait_for_function(
        "() => document.querySelectorAll('.plotly-figure .main-svg').length >= 2"
    )
    image = frame.locator("img").first
    assert image.evaluate("img => img.complete && img.naturalWidth > 300") is True
    titles = frame.locator(".plotly-figure .gtitle").evaluate_all("e => e.map(t => t.textContent)")
    assert titles == ["plotly"]
    assert frame.locator(".plotly-figure").first.locator("g.point").count() == 3  # three bars
    assert frame.evaluate("() => document.querySelectorAll('script').length") >= 3
    library = frame.evaluate(
        "() => Array.from(document.scripts).filter(s => s.text.includes('plotly.js v')).length"
    )
    assert library == 1  # plotly.js once, for both figures
    closed(shown)


def test_bokeh_figures_from_custom_code_display_offline(browser, server):
    code = [
        "from bokeh.io import output_notebook",
        "from bokeh.plotting import figure, show",
        "output_notebook()",
        "plot = figure(title='bokeh', width=400, height=300)",
        "plot.scatter([1, 2, 3], [3, 1, 2], size=10)",
        "show(plot)",
    ]
    reply = server.post(type="custom", arguments=json.dumps({"code": code}), timeout=120)
    assert reply.status_code == 200
    shown = show_in_kfp_iframe(browser, reply.text)
    shown.frame.wait_for_function("() => window.Bokeh && Bokeh.documents.length === 1")
    shown.frame.locator(".bk-Figure, .bk-Canvas, canvas").first.wait_for()
    title = shown.frame.evaluate("() => Bokeh.documents[0].roots()[0].title.text")
    assert title == "bokeh"
    closed(shown)


def test_html_document_frame_is_sized_to_its_content(browser, server, data):
    tall = "<!doctype html><body style='margin:0'><div style='height:1700px'>tall</div></body>"
    shown = show_in_kfp_iframe(browser, page_of(server, "html", tall, storage="inline"))
    frame = shown.frame.locator("iframe.kv-html")
    shown.frame.wait_for_function(
        "() => document.querySelector('iframe.kv-html').getBoundingClientRect().height > 1600"
    )
    assert frame.bounding_box()["height"] == pytest.approx(1702, abs=2)  # 1700 + borders
    inner = shown.frame.child_frames[0]
    assert inner.evaluate("() => document.documentElement.scrollHeight <= innerHeight")
    closed(shown)


# -- every page: accessibility, dark mode, narrow frames ---------------------------


def _pages(data: typedata.TypeData) -> list[tuple[str, str, dict]]:
    root = data.root
    return [
        ("roc_curve", f"{root}/predictions", {"compare": [f"{root}/weak"]}),
        ("table", f"{root}/table/part-0.csv", {}),
        ("confusion_matrix", f"{root}/iris_confusion.csv", {}),
        ("tfdv", f"{root}/stats/stats.pb", {"compare": [f"{root}/eval-stats/stats.pb"]}),
        ("tfma", f"{root}/eval", {"slicing_column": "size"}),
        ("metrics", f"{root}/metrics.json", {}),
        ("markdown", f"{root}/notes.md", {}),
        ("html", f"{root}/report.html", {}),
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_passes_axe_in_light_and_dark_mode(browser, server, data, scheme):
    for viz_type, source, arguments in _pages(data):
        shown = show_in_kfp_iframe(
            browser, page_of(server, viz_type, source, **arguments), color_scheme=scheme
        )
        assert axe_violations(shown.frame) == [], viz_type
        dark = shown.frame.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert (dark == "rgb(31, 31, 31)") is (scheme == "dark"), viz_type
        closed(shown)


def test_every_page_fits_a_360_pixel_frame(browser, server, data):
    for viz_type, source, arguments in _pages(data):
        shown = show_in_kfp_iframe(
            browser, page_of(server, viz_type, source, **arguments), width=360
        )
        overflow = shown.frame.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, (viz_type, overflow)
        assert axe_violations(shown.frame) == [], viz_type
        closed(shown)
