"""The live progress page in headless Chromium (Debian's, via Playwright): bars move and
metric charts grow as events are produced, on the page itself and inside the KFP UI's
sandboxed iframe (the `progress` view, following the server cross-origin).

These pages must reach the server over loopback, so they use the `online_browser`
fixture; the pages themselves load nothing but the server's own routes (no CDN).
"""

from __future__ import annotations

import pytest
from browser import show_in_kfp_iframe
from progress_support import new_run
from support import RunningServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def page_server(tmp_path_factory):
    log = tmp_path_factory.mktemp("page") / "server.log"
    server = RunningServer(["--pool-size", "1"], {}, log, public=True)
    server.wait_ready()
    yield server
    assert server.stop() == 0, server.log()


def publish(server, run, **event) -> None:
    reply = server.post_progress(run, event)
    assert reply.status_code == 200, reply.text


def step_fraction(frame, node: str) -> float:
    value = frame.get_attribute(f'.step[data-node="{node}"]', "data-fraction")
    return float(value)


def points(frame, metric: str) -> int:
    return int(frame.get_attribute(f'.chart[data-metric="{metric}"]', "data-points"))


def test_live_page_bar_moves_and_metric_curve_grows(online_browser, page_server):
    run = new_run()
    context = online_browser.new_context()
    page = context.new_page()
    page.goto(f"{page_server.url}/progress/{run}")
    page.wait_for_function(  # no event of the run yet: the page says it knows of no such run
        "!document.getElementById('unknown').hidden"
        " && document.getElementById('unknown').textContent.includes('is known yet')"
    )
    page.close()
    publish(page_server, run, node_id="train", kind="progress", current=1, total=10)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    requests_made: list[str] = []
    page.on("request", lambda request: requests_made.append(request.url))
    page.goto(f"{page_server.url}/progress/{run}")
    page.wait_for_selector('.step[data-node="train"]')
    page.wait_for_function("document.getElementById('conn').textContent === 'live'")
    assert step_fraction(page, "train") == pytest.approx(0.1)
    width_before = page.eval_on_selector('.step[data-node="train"] .fill', "e => e.offsetWidth")
    for step in range(1, 6):
        publish(page_server, run, node_id="train", kind="metric", metrics={"loss": 1 / step},
                current=step)  # fmt: skip
        page.wait_for_function(
            f"(document.querySelector('.chart[data-metric=\"train: loss\"]') || {{dataset: {{}}}})"
            f".dataset.points == {step}"
        )
    drawn = page.get_attribute('.chart[data-metric="train: loss"]', "data-drawn-points")
    assert drawn == "5" and page.locator('.chart[data-metric="train: loss"] canvas').count()
    publish(page_server, run, node_id="train", kind="progress", current=7, total=10)
    page.wait_for_function(
        "document.querySelector('.step[data-node=\"train\"]').dataset.fraction == '0.7'"
    )
    page.wait_for_timeout(300)  # the bar's width transition
    width_after = page.eval_on_selector('.step[data-node="train"] .fill', "e => e.offsetWidth")
    assert width_after > width_before * 5
    publish(page_server, run, node_id="train", kind="status", status="Succeeded")
    publish(page_server, run, kind="status", status="Succeeded")
    page.wait_for_function("document.getElementById('conn').textContent === 'run finished'")
    assert page.text_content("#run-status") == "Succeeded"
    assert step_fraction(page, "train") == 1.0
    assert errors == []
    assert all(url.startswith(page_server.url) for url in requests_made), requests_made
    context.close()


def test_progress_view_in_the_kfp_iframe_follows_live_updates(online_browser, page_server):
    run = new_run()
    publish(page_server, run, node_id="prep", kind="progress", current=2, total=4)
    publish(page_server, run, node_id="train", kind="metric", metrics={"acc": 0.5}, current=1)
    html = page_server.post(type="progress", source=run, arguments="{}").text
    shown = show_in_kfp_iframe(online_browser, html)
    frame = shown.frame
    frame.wait_for_selector('.step[data-node="prep"]')
    assert step_fraction(frame, "prep") == 0.5
    assert points(frame, "train: acc") == 1
    frame.wait_for_function("document.getElementById('conn').textContent === 'live'")
    publish(page_server, run, node_id="train", kind="metric", metrics={"acc": 0.7}, current=2)
    publish(page_server, run, node_id="prep", kind="progress", current=4, total=4)
    frame.wait_for_function(
        "document.querySelector('.chart[data-metric=\"train: acc\"]').dataset.points == '2'"
    )
    frame.wait_for_function(
        "document.querySelector('.step[data-node=\"prep\"]').dataset.fraction == '1'"
    )
    assert frame.text_content("#count") == "4", "an event was shown twice or lost"
    assert shown.errors == []
    shown.page.context.close()


def test_steps_stand_in_dag_order_with_their_times(online_browser, page_server):
    """Argo's status events (parents, start, finish) on the page: a step below the steps it
    depends on, whatever order they arrived in, with how long it took."""
    run = new_run()
    publish(page_server, run, node_id="report", kind="status", status="Running",
            started=1000.0, parents=["train", "evaluate"])  # fmt: skip
    publish(page_server, run, node_id="train", kind="status", status="Succeeded",
            started=900.0, finished=960.0, parents=["prepare"])  # fmt: skip
    publish(page_server, run, node_id="evaluate", kind="status", status="Failed",
            started=900.0, finished=903.5, parents=["prepare"])  # fmt: skip
    publish(page_server, run, node_id="prepare", kind="status", status="Succeeded",
            started=800.0, finished=890.0)  # fmt: skip
    page = online_browser.new_page()
    page.goto(f"{page_server.url}/progress/{run}")
    page.wait_for_selector('.step[data-node="prepare"]')
    order = page.eval_on_selector_all(".step", "rows => rows.map(r => r.dataset.node)")
    assert order.index("prepare") < order.index("train") < order.index("report")
    assert order.index("evaluate") < order.index("report")
    assert page.get_attribute('.step[data-node="evaluate"] .timing', "data-elapsed") == "3.5"
    assert "took 3.5 s" in page.text_content('.step[data-node="evaluate"]')
    assert "after train, evaluate" in page.text_content('.step[data-node="report"]')
    page.close()
