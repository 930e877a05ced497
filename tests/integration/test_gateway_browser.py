"""The progress pages behind a gateway that serves the server under a path prefix.

Debian's nginx serves the server under `/kfp-viz/` and cuts the prefix off before passing a
request on, as Kubeflow's gateway does with the VirtualService of deploy/kustomize/gateway
(`/kfp-viz/progress` reaches the server as `/progress`): the server never sees the prefix.
Real Chromium opens the run list, a run's live page, the comparison and the `progress`
snapshot (inside the KFP UI's sandboxed iframe, PUBLIC_URL being the gateway's address)
through nginx only, with every other address blocked: everything they load, stream and link
to must stay under the prefix, server-sent events included (events published after a page
opened must show on it). Steps publish straight to the server, as pods in the cluster do.
A stored page's link (PUBLIC_URL with the prefix) leads to it through the gateway too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import quote

import pytest
import requests
from browser import axe_violations, show_in_kfp_iframe
from live_run import (
    EPOCHS,
    FAIL_AT,
    Run,
    Shown,
    overflow,
    publish_grpc,
    publish_http,
    wait_points,
)
from progress_support import new_run
from services import Nginx
from stored_pages import reference_of
from support import RunningServer, free_port, wait_until

pytestmark = pytest.mark.integration

PREFIX = "/kfp-viz/"
LIGHT, DARK = "rgb(255, 255, 255)", "rgb(31, 31, 31)"


@dataclass
class Gateway:
    server: RunningServer
    proxy: Nginx

    @property
    def url(self) -> str:
        """The server as browsers reach it: the gateway's prefix (no trailing slash)."""
        return self.proxy.url


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gateway")
    port = free_port()
    public = f"http://127.0.0.1:{port}{PREFIX.rstrip('/')}"
    server = RunningServer(["--pool-size", "1", "--public-url", public], {}, folder / "server.log")
    try:
        server.wait_ready()
        proxy = Nginx(folder / "nginx", server.url, PREFIX, port=port)
        proxy.start()
    except BaseException:
        server.stop()
        raise
    yield Gateway(server, proxy)
    proxy.stop()
    assert server.stop() == 0, server.log()


@pytest.fixture(scope="module")
def runs(gateway):
    """A finished run whose id holds a colon (a relative link must not read it as a scheme),
    and a failed one, published straight to the server over HTTP and gRPC."""
    good, bad = Run("train:" + new_run()), Run(new_run(), fail_at=FAIL_AT, seed=3)
    publish_http(gateway.server, good.run_id, list(good.events()))
    publish_grpc(gateway.server, bad.run_id, list(bad.events()))
    return good, bad


def row(run_id: str) -> str:
    return f'.run[data-run="{run_id}"]'


def listed(page) -> list[str]:
    return page.eval_on_selector_all(".run[data-run]", "rows => rows.map(r => r.dataset.run)")


def test_the_run_list_filters_and_opens_the_comparison_under_the_prefix(chromium, gateway, runs):
    good, bad = runs
    running = new_run()
    publish_http(gateway.server, running, [{"node_id": "prep", "kind": "progress", "current": 1,
                                            "total": 4}])  # fmt: skip
    shown = Shown(chromium, f"{gateway.url}/progress")
    page = shown.page
    page.wait_for_selector(row(running))
    order = [run for run in listed(page) if run in (good.run_id, bad.run_id, running)]
    assert order[0] == running  # newest first: it started last
    assert page.text_content(f"{row(bad.run_id)} .badge") == "Failed"
    assert page.text_content(f"{row(good.run_id)} .badge") == "Succeeded"
    assert page.text_content(f"{row(running)} .badge") == "Running"
    assert "step train failed" in page.text_content(f"{row(bad.run_id)} .reason")
    assert "took 11 min" in page.text_content(f"{row(good.run_id)} .timing")
    link = page.eval_on_selector(f"{row(good.run_id)} a", "a => a.href")
    assert link == f"{gateway.url}/progress/{quote(good.run_id, safe='')}"

    # Search (part of an id, any case) and status, asked of the server as the reader types.
    page.fill("#search", bad.run_id[-6:].upper())
    page.wait_for_function("n => document.querySelectorAll('.run[data-run]').length === n", arg=1)
    assert listed(page) == [bad.run_id]
    page.fill("#search", "")
    page.select_option("#status", label="Failed")
    page.wait_for_function(
        "[...document.querySelectorAll('.run[data-run]')].every(r => r.dataset.status === 'Failed')"
    )
    assert bad.run_id in listed(page) and good.run_id not in listed(page)
    page.select_option("#status", label="Any")
    page.wait_for_selector(row(good.run_id))

    # Two runs picked open the comparison, whose streams come through the prefix too.
    page.check(f"{row(good.run_id)} input[type=checkbox]")
    assert page.is_disabled("#compare-go")  # one run is no comparison
    page.check(f"{row(bad.run_id)} input[type=checkbox]")
    assert page.text_content("#picked") == f"{good.run_id}\u00d7{bad.run_id}\u00d7"
    with page.expect_navigation():
        page.click("#compare-go")
    assert page.url == f"{gateway.url}/progress?runs={quote(good.run_id, safe='')},{bad.run_id}"
    wait_points(page, "train: loss", EPOCHS + FAIL_AT - 1)
    assert page.get_attribute('.chart[data-metric="train: loss"]', "data-series") == (
        f"{good.run_id},{bad.run_id}"
    )
    shown.close_cleanly(gateway.url)
    streamed = f"GET {PREFIX}progress/{bad.run_id}/events?"
    wait_until(  # nginx logs a request when it ends: the streams, once the page is gone
        lambda: any(line.startswith(streamed) for line in gateway.proxy.requests()),
        what=f"{streamed}... in nginx's access log",
    )


def test_the_live_page_follows_events_published_after_it_opened(chromium, gateway):
    run = "ns:" + new_run()
    publish_http(gateway.server, run, [{"node_id": "train", "kind": "status", "status": "Running"}])
    shown = Shown(chromium, f"{gateway.url}/progress/{run}")
    page = shown.page
    page.wait_for_selector('.step[data-node="train"]')
    page.wait_for_function("document.getElementById('conn').textContent === 'live'")
    for epoch in range(1, 6):  # published while the page is open: they arrive by the stream
        publish_grpc(gateway.server, run, [
            {"node_id": "train", "kind": "metric", "metrics": {"loss": 1 / epoch},
             "current": epoch},
        ])  # fmt: skip
    wait_points(page, "train: loss", 5)
    publish_http(gateway.server, run, [{"kind": "status", "status": "Succeeded"}])
    page.wait_for_function("document.getElementById('conn').textContent === 'run finished'")
    assert page.text_content("#run-status") == "Succeeded"
    links = page.eval_on_selector_all("#links a", "a => a.map(e => [e.textContent, e.href])")
    assert links == [
        ["All runs", f"{gateway.url}/progress"],
        ["Compare with other runs", f"{gateway.url}/progress?selected={quote(run, safe='')}"],
    ]
    shown.close_cleanly(gateway.url)


def test_an_unknown_run_says_so_and_shows_once_it_starts(chromium, gateway):
    run = new_run()
    shown = Shown(chromium, f"{gateway.url}/progress/{run}")
    page = shown.page
    page.wait_for_selector("#unknown:not([hidden])")
    assert page.text_content("#unknown").startswith(f"No run {run} is known yet")
    assert page.text_content("#run-status") == "unknown"
    assert page.eval_on_selector("#unknown a", "a => a.href") == f"{gateway.url}/progress"
    publish_http(gateway.server, run, [{"node_id": "prep", "kind": "log", "message": "started"}])
    page.wait_for_selector('.step[data-node="prep"]')
    page.wait_for_selector("#unknown", state="hidden")
    assert page.text_content("#run-status") == "Running"
    shown.close_cleanly(gateway.url)


def test_the_snapshot_in_kfps_iframe_links_and_streams_through_the_gateway(chromium, gateway):
    run = new_run()
    publish_http(gateway.server, run, [
        {"node_id": "train", "kind": "metric", "metrics": {"loss": 1.0}, "current": 1},
    ])  # fmt: skip
    html = gateway.server.post(type="progress", source=run, arguments="{}").text
    shown = show_in_kfp_iframe(chromium, html)
    frame = shown.frame
    wait_points(frame, "train: loss", 1)
    links = frame.eval_on_selector_all("#links a", "a => a.map(e => [e.textContent, e.href])")
    assert links == [
        ["Open the live page", f"{gateway.url}/progress/{run}"],
        ["All runs", f"{gateway.url}/progress"],
        ["Compare with other runs", f"{gateway.url}/progress?selected={run}"],
    ]
    publish_http(gateway.server, run, [
        {"node_id": "train", "kind": "metric", "metrics": {"loss": 0.5}, "current": 2},
    ])  # fmt: skip
    wait_points(frame, "train: loss", 2)  # the snapshot's stream, through the gateway
    assert shown.errors == []
    shown.page.context.close()
    streamed = f"GET {PREFIX}progress/{run}/events?"
    wait_until(  # nginx logs a request when it ends: the stream, once the page is gone
        lambda: any(line.startswith(streamed) for line in gateway.proxy.requests()),
        what=f"{streamed}... in nginx's access log",
    )


def test_a_stored_pages_link_leads_through_the_gateway(tmp_path):
    """The small page standing in for a stored one (KFP's iframe shows it) links to the page
    on this server under PUBLIC_URL: the gateway's address, prefix included."""
    port = free_port()
    public = f"http://127.0.0.1:{port}{PREFIX.rstrip('/')}"
    server = RunningServer(["--pool-size", "1", "--inline-limit", "1000", "--public-url", public],
                           {}, tmp_path / "server.log")  # fmt: skip
    try:
        server.wait_ready()
        with Nginx(tmp_path / "nginx", server.url, PREFIX, port=port):
            reply = server.post(type="test", source="gs://bucket/data.csv", arguments="{}")
            assert reply.status_code == 200, reply.reason
            reference = reference_of(reply.text)
            assert reference["http_url"] == f"{public}/visualizations/{reference['sha256']}"
            page = requests.get(reference["http_url"], timeout=30)
            assert page.status_code == 200
            assert hashlib.sha256(page.content).hexdigest() == reference["sha256"]
    finally:
        assert server.stop() == 0, server.log()


def pages(gateway, runs) -> dict[str, str]:
    good, bad = runs
    return {
        "list": f"{gateway.url}/progress?selected={quote(good.run_id, safe='')}",
        "live": f"{gateway.url}/progress/{good.run_id}",
        "compare": f"{gateway.url}/progress?runs={quote(good.run_id, safe='')},{bad.run_id}",
        "unknown": f"{gateway.url}/progress/{new_run()}",
    }


def wait_drawn(page, name: str) -> None:
    if name == "list":
        page.wait_for_selector(".run[data-run] .badge")
    elif name == "unknown":
        page.wait_for_selector("#unknown:not([hidden])")
    else:
        page.wait_for_selector(".chart canvas")
        page.wait_for_timeout(300)


@pytest.mark.parametrize("width", [360, 1280])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_behind_the_prefix_passes_axe_and_fits(chromium, gateway, runs, scheme, width):
    for name, url in pages(gateway, runs).items():
        shown = Shown(chromium, url, width=width, scheme=scheme)
        wait_drawn(shown.page, name)
        assert axe_violations(shown.page.main_frame) == [], (name, scheme, width)
        assert overflow(shown.page) == [], (name, width)
        background = shown.page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == (DARK if scheme == "dark" else LIGHT), name
        shown.close_cleanly(gateway.url)
