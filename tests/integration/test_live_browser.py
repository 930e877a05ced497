"""The live run page, the run comparison and the `progress` snapshot in real Chromium.

A realistic run (tests/integration/live_run.py: preprocess, train for 20 epochs with loss,
accuracy and val_loss, evaluate) and its variant failing at epoch 10 are published through the
server's real HTTP and gRPC publish; Debian's Chromium (Playwright) shows the pages with the
network blocked except the server on loopback, the snapshot inside the KFP UI's sandboxed
iframe. What a pipeline author looks for is checked on the page itself: hover values, log-y and
smoothing, the comparison, timing and ETA, the failure reason, 360 px, dark mode, axe-core.
"""

from __future__ import annotations

import re
import time

import pytest
import requests
from browser import axe_violations, show_in_kfp_iframe
from live_run import (
    EPOCHS,
    FAIL_AT,
    REASON,
    Run,
    Shown,
    loss,
    overflow,
    publish_grpc,
    publish_http,
    val_loss,
    wait_points,
)
from progress_support import new_run
from support import RunningServer

pytestmark = pytest.mark.integration

LIGHT, DARK = "rgb(255, 255, 255)", "rgb(31, 31, 31)"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("live") / "server.log"
    server = RunningServer(["--pool-size", "1"], {}, log, public=True)
    server.wait_ready()
    yield server
    assert server.stop() == 0, server.log()


@pytest.fixture(scope="module")
def runs(server):
    """A finished run (published over HTTP) and its failing variant (over gRPC)."""
    good, bad = Run(new_run()), Run(new_run(), fail_at=FAIL_AT, seed=3)
    publish_http(server, good.run_id, list(good.events()))
    publish_grpc(server, bad.run_id, list(bad.events()))
    return good, bad


def canvas(frame, metric: str) -> str:
    return frame.eval_on_selector(f'.chart[data-metric="{metric}"] canvas', "c => c.toDataURL()")


def hover(shown_page, frame, metric: str, x: float) -> dict:
    """Move the mouse over `metric`'s chart at `x`; the readout as {series: value, '': x}."""
    left = frame.evaluate(
        "([m, x]) => window.kfpVizLive.charts.get(m).plot.valToPos(x, 'x')", [metric, x]
    )
    frame.locator(f'.chart[data-metric="{metric}"]').scroll_into_view_if_needed()
    box = frame.locator(f'.chart[data-metric="{metric}"] .u-over').bounding_box()
    shown_page.mouse.move(box["x"] + left, box["y"] + box["height"] / 2)
    frame.wait_for_function(
        'm => document.querySelector(`.chart[data-metric="${m}"] .readout`).dataset.hover',
        arg=metric,
    )
    return frame.evaluate(
        """m => {
          const r = document.querySelector(`.chart[data-metric="${m}"] .readout`);
          const out = {"": +r.dataset.x};
          r.querySelectorAll(".item[data-series]")
            .forEach(i => out[i.dataset.series] = +i.dataset.value);
          return out;
        }""",
        metric,
    )


def test_run_page_charts_hover_log_and_smoothing(chromium, server, runs):
    good, _ = runs
    shown = Shown(chromium, f"{server.url}/progress/{good.run_id}")
    page = shown.page
    wait_points(page, "train: loss", 2 * EPOCHS)  # loss and val_loss share a chart
    wait_points(page, "train: accuracy", EPOCHS)
    assert page.get_attribute('.chart[data-metric="train: loss"]', "data-series") == "loss,val_loss"
    # Single values are tiles, not charts.
    assert (
        page.locator('.tile[data-metric="evaluate: auc"] [data-value]').get_attribute("data-value")
        == "0.9312"
    )
    assert page.locator('.chart[data-metric^="evaluate"]').count() == 0
    values = hover(page, page, "train: loss", 7)
    assert values == {"": 7, "loss": loss(7), "val_loss": val_loss(7)}
    values = hover(page, page, "train: loss", 15)
    assert values == {"": 15, "loss": loss(15), "val_loss": val_loss(15)}

    linear = canvas(page, "train: loss")
    page.check("#log-y")
    page.wait_for_selector('.chart[data-metric="train: loss"][data-scale="log"]')
    logged = canvas(page, "train: loss")
    assert logged != linear
    page.uncheck("#log-y")
    page.wait_for_selector('.chart[data-metric="train: loss"][data-scale="linear"]')
    page.fill("#smoothing", "0.8")
    page.wait_for_selector('.chart[data-metric="train: loss"][data-smoothing="0.8"]')
    assert canvas(page, "train: loss") not in (linear, logged)
    smoothed = hover(page, page, "train: loss", 15)
    assert smoothed["loss"] != pytest.approx(loss(15), rel=1e-3)  # the average, not the point
    assert loss(20) < smoothed["loss"] < loss(1)
    page.fill("#smoothing", "0")

    # x as relative time and as wall time: the readout says which.
    page.select_option("#x-mode", "relative")
    page.wait_for_timeout(300)
    assert hover(page, page, "train: loss", 60 + 5 * 30.0)[""] == pytest.approx(210.0, abs=0.01)
    assert page.text_content('.chart[data-metric="train: loss"] .readout').startswith("+3 min 30 s")
    page.select_option("#x-mode", "wall")
    page.wait_for_timeout(300)
    at = good.start + 60 + 5 * 30.0
    assert hover(page, page, "train: loss", at)[""] == pytest.approx(at, abs=0.01)
    wall = page.text_content('.chart[data-metric="train: loss"] .readout')
    assert re.match(r"\d\d:\d\d:\d\d\.\d{3}loss ", wall), wall  # the time of day
    page.select_option("#x-mode", "step")

    # The text alternative: a table of the chart's points.
    page.click('.chart[data-metric="train: loss"] summary')
    page.wait_for_selector('.chart[data-metric="train: loss"] tbody tr')
    rows = page.locator('.chart[data-metric="train: loss"] tbody tr')
    assert rows.count() == EPOCHS
    assert rows.nth(6).text_content() == f"7{loss(7)}{val_loss(7)}"

    # Timing: every step has started/took; the run's wall clock.
    assert "took 10 min" in page.text_content('.step[data-node="train"] .timing')
    assert page.text_content("#clock").startswith("started ")
    assert "took 11 min" in page.text_content("#clock")
    bar = page.locator('.step[data-node="train"] [role=progressbar]')
    assert bar.get_attribute("aria-valuenow") == "100"
    shown.close_cleanly(server.url)


def test_failed_run_shows_its_reason_on_top(chromium, server, runs):
    _, bad = runs
    shown = Shown(chromium, f"{server.url}/progress/{bad.run_id}")
    page = shown.page
    page.wait_for_selector("#failure:not([hidden])")
    failure = page.text_content("#failure")
    assert "Step train failed" in failure and REASON in failure
    assert page.text_content("#run-status") == "Failed"
    steps_top = page.locator("#steps").bounding_box()["y"]
    assert page.locator("#failure").bounding_box()["y"] < steps_top
    assert page.get_attribute('.step[data-node="train"]', "data-status") == "Failed"
    assert REASON in page.text_content('.step[data-node="train"] .reason')
    bar = page.locator('.step[data-node="train"] [role=progressbar]')
    assert bar.get_attribute("aria-valuenow") == str(round(100 * (FAIL_AT - 1) / EPOCHS))
    # Logs: the reason first, then the lines, with their times; filter by step and text.
    first = page.locator("#log-failed .entry").first
    assert REASON in first.text_content() and first.locator("time").count() == 1
    page.select_option("#log-step", "preprocess")
    assert page.locator("#log-failed .entry").count() == 0
    assert page.locator("#log .entry").count() == 1
    page.select_option("#log-step", "train")
    assert page.locator("#log-failed .entry").count() == 1
    page.fill("#log-filter", "epoch 3:")
    page.wait_for_function("document.querySelectorAll('#log .entry').length === 1")
    assert "loss=" in page.text_content("#log .entry")
    assert page.locator("#log .entry time").get_attribute("datetime").endswith("Z")
    shown.close_cleanly(server.url)


def test_eta_appears_and_shrinks_while_a_step_runs(chromium, server):
    run = new_run()
    shown = Shown(chromium, f"{server.url}/progress/{run}")
    page = shown.page
    page.wait_for_function("document.getElementById('conn').textContent === 'live'")
    start = time.time() - 300  # an epoch takes 30 s by the events' ts
    etas = []
    for epoch in range(1, 9):
        ts = start + 30 * epoch
        publish_http(server, run, [
            {"node_id": "train", "kind": "progress", "current": epoch, "total": 10, "ts": ts},
            {"node_id": "train", "kind": "metric", "metrics": {"loss": 1 / epoch},
             "current": epoch, "ts": ts},
        ])  # fmt: skip
        page.wait_for_function(
            "n => document.querySelector('.step[data-node=\"train\"]')?.dataset.fraction == n / 10",
            arg=epoch,
        )
        eta = page.get_attribute('.step[data-node="train"] .timing', "data-eta")
        if epoch == 1:
            assert eta is None  # one point is no rate
        else:
            etas.append(float(eta))
    assert etas == pytest.approx([30.0 * (10 - k) for k in range(2, 9)], abs=3), etas
    # Between events it counts down.
    before = float(page.get_attribute('.step[data-node="train"] .timing', "data-eta"))
    page.wait_for_function(
        "b => +document.querySelector('.step[data-node=\"train\"] .timing').dataset.eta <= b - 1.5",
        arg=before,
    )
    text = page.text_content('.step[data-node="train"] .timing')
    assert "ETA " in text and "30 s/item" in text, text
    # A step reporting a fraction alone gets an ETA too (no item rate).
    publish_http(server, run, [
        {"node_id": "upload", "kind": "progress", "fraction": f, "ts": start + 100 * f}
        for f in (0.2, 0.4)
    ])  # fmt: skip
    upload = '.step[data-node="upload"] .timing'
    page.wait_for_selector(f"{upload}[data-eta]")
    assert float(page.get_attribute(upload, "data-eta")) == pytest.approx(60, abs=3)
    assert "/s" not in page.text_content(upload) and "/item" not in page.text_content(upload)
    assert page.text_content("#clock").startswith("started ")
    publish_http(server, run, [{"node_id": "train", "kind": "status", "status": "Succeeded"}])
    page.wait_for_function(
        "!document.querySelector('.step[data-node=\"train\"] .timing').dataset.eta"
    )
    assert "took" in page.text_content('.step[data-node="train"] .timing')
    # The change is announced to screen readers (a polite live region).
    assert page.get_attribute("#announce", "aria-live") == "polite"
    assert "step train: Succeeded" in page.text_content("#announce")
    shown.close_cleanly(server.url)


def test_comparison_overlays_runs_and_is_reached_from_the_run_page(chromium, server, runs):
    good, bad = runs
    shown = Shown(chromium, f"{server.url}/progress/{good.run_id}")
    page = shown.page
    # The run page leads to the run list with this run picked; another is picked there.
    with page.expect_navigation():
        page.click("#links >> text=Compare with other runs")
    assert page.url == f"{server.url}/progress?selected={good.run_id}"
    page.wait_for_selector(f'.run[data-run="{bad.run_id}"]')
    assert page.is_checked(f'.run[data-run="{good.run_id}"] input[type=checkbox]')
    page.check(f'.run[data-run="{bad.run_id}"] input[type=checkbox]')
    with page.expect_navigation():
        page.click("#compare-go")
    assert page.url == f"{server.url}/progress?runs={good.run_id},{bad.run_id}"
    wait_points(page, "train: loss", EPOCHS + FAIL_AT - 1)
    assert page.get_attribute('.chart[data-metric="train: loss"]', "data-series") == (
        f"{good.run_id},{bad.run_id}"
    )
    values = hover(page, page, "train: loss", 5)
    assert values == {"": 5, good.run_id: loss(5), bad.run_id: loss(5, 3)}
    values = hover(page, page, "train: loss", 15)
    assert values[good.run_id] == loss(15) and values[bad.run_id] == loss(9, 3)  # its last
    bad_item = f'.chart[data-metric="train: loss"] .readout [data-series="{bad.run_id}"]'
    assert page.text_content(bad_item).endswith("(step 9)")  # ... and says where it is
    # The legend: a row per run with its colour, status and clock, linking to its page.
    rows = page.locator(".step[data-run]")
    assert rows.count() == 2
    assert page.get_attribute(f'.step[data-run="{bad.run_id}"]', "data-status") == "Failed"
    assert page.get_attribute(f'.step[data-run="{good.run_id}"] a', "href") == (
        f"./progress/{good.run_id}"  # relative: the page works under any path prefix
    )
    colours = page.eval_on_selector_all(
        ".step[data-run] .swatch", "s => s.map(e => getComputedStyle(e).backgroundColor)"
    )
    assert len(set(colours)) == 2
    page.wait_for_function("document.getElementById('conn').textContent === 'all runs finished'")
    assert page.locator('.tile[data-metric="evaluate: auc"] [data-value]').count() == 1
    shown.close_cleanly(server.url)


def test_comparison_follows_a_run_live(chromium, server, runs):
    good, _ = runs
    run = new_run()
    shown = Shown(chromium, f"{server.url}/progress?runs={good.run_id},{run}")
    page = shown.page
    wait_points(page, "train: loss", EPOCHS)
    publish_http(server, run, [
        {"node_id": "train", "kind": "metric", "metrics": {"loss": 0.5 + i / 10}, "current": i}
        for i in range(1, 4)
    ])  # fmt: skip
    wait_points(page, "train: loss", EPOCHS + 3)
    assert hover(page, page, "train: loss", 2)[run] == 0.7
    shown.close_cleanly(server.url)


def test_an_event_names_the_chart_its_metrics_share(chromium, server):
    run = new_run()
    publish_grpc(server, run, [  # the optional `group` field, through gRPC's PublishProgress
        {"node_id": "train", "kind": "metric", "metrics": {"top1": 0.5 + i / 100,
         "top5": 0.8 + i / 100}, "current": i, "group": "accuracy at k"}
        for i in range(1, 6)
    ])  # fmt: skip
    shown = Shown(chromium, f"{server.url}/progress/{run}")
    wait_points(shown.page, "train: accuracy at k", 10)
    assert shown.page.locator(".chart").count() == 1
    assert hover(shown.page, shown.page, "train: accuracy at k", 3) == {
        "": 3,
        "top1": 0.5 + 3 / 100,
        "top5": 0.8 + 3 / 100,
    }
    shown.close_cleanly(server.url)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("runs=", "runs is required"),
        ("selected=a,bad%20id", "selected, item 2: run_id 'bad id' is not a run id"),
        ("runs=good-1,bad%20id", "runs, item 2: run_id 'bad id' is not a run id"),
        ("runs=" + ",".join(f"r{i}" for i in range(7)), "runs names 7 runs; at most 6"),
        ("runs=a&namespace=Bad_NS", "namespace 'Bad_NS' is not a Kubernetes namespace name"),
    ],
)
def test_comparison_refuses_bad_queries(server, query, reason):
    reply = requests.get(f"{server.url}/progress?{query}", timeout=10)
    assert reply.status_code == 400
    assert reply.reason.startswith(reason), reply.reason
    assert reply.json()["error"].startswith(reason)


def test_snapshot_in_the_kfp_iframe_links_to_the_live_page_and_comparison(chromium, server, runs):
    _, bad = runs
    html = server.post(type="table", source=f"progress://{bad.run_id}", arguments="{}").text
    shown = show_in_kfp_iframe(chromium, html)
    frame = shown.frame
    wait_points(frame, "train: loss", 2 * (FAIL_AT - 1))
    assert REASON in frame.text_content("#failure")
    links = frame.eval_on_selector_all("#links a", "a => a.map(e => [e.textContent, e.href])")
    assert links == [
        ["Open the live page", f"{server.url}/progress/{bad.run_id}"],
        ["All runs", f"{server.url}/progress"],
        ["Compare with other runs", f"{server.url}/progress?selected={bad.run_id}"],
    ]
    values = hover(shown.page, frame, "train: loss", 4)
    assert values == {"": 4, "loss": loss(4, 3), "val_loss": val_loss(4, 3)}
    assert frame.text_content("#conn") == "run finished"
    assert shown.errors == []
    shown.page.context.close()


def pages(server, runs) -> dict[str, str]:
    good, bad = runs
    return {
        "live": f"{server.url}/progress/{good.run_id}",
        "failed": f"{server.url}/progress/{bad.run_id}",
        "compare": f"{server.url}/progress?runs={good.run_id},{bad.run_id}",
    }


POINTS = {"live": 2 * EPOCHS, "failed": 2 * (FAIL_AT - 1), "compare": EPOCHS + FAIL_AT - 1}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_passes_axe_in_light_and_dark(chromium, server, runs, scheme):
    for name, url in pages(server, runs).items():
        shown = Shown(chromium, url, scheme=scheme)
        wait_points(shown.page, "train: loss", POINTS[name])
        shown.page.click('.chart[data-metric="train: loss"] summary')  # the table too
        assert axe_violations(shown.page.main_frame) == [], (name, scheme)
        background = shown.page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == (DARK if scheme == "dark" else LIGHT), name
        shown.close()
    html = server.post(type="progress", source=runs[1].run_id, arguments="{}").text
    snapshot = show_in_kfp_iframe(chromium, html, color_scheme=scheme)
    wait_points(snapshot.frame, "train: loss", 2 * (FAIL_AT - 1))
    assert axe_violations(snapshot.frame) == [], ("snapshot", scheme)
    background = snapshot.frame.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == (DARK if scheme == "dark" else LIGHT)
    snapshot.page.context.close()


def test_every_page_fits_360_pixels(chromium, server, runs):
    for name, url in pages(server, runs).items():
        shown = Shown(chromium, url, width=360)
        shown.page.wait_for_selector(".chart canvas")
        shown.page.wait_for_timeout(300)
        assert overflow(shown.page) == [], name
        bar = shown.page.locator(".bar").first.bounding_box()
        assert bar["width"] > 250, name  # the bar keeps the row's width
        badge = shown.page.locator("#run-status").bounding_box()
        assert badge["height"] < 24, name  # one line
        assert axe_violations(shown.page.main_frame) == [], name
        shown.close()
    html = server.post(type="progress", source=runs[0].run_id, arguments="{}").text
    snapshot = show_in_kfp_iframe(chromium, html, width=360)
    snapshot.frame.wait_for_selector(".chart canvas")
    assert overflow(snapshot.frame) == []
    snapshot.page.context.close()
