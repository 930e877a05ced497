"""The pages as Kubeflow users see them: through a gateway that names the user, with tenancy on.

Kubeflow's gateway (oauth2-proxy behind Istio) turns the browser's session cookie into the
`kubeflow-userid` header of every request it passes on; here Debian's nginx does the same
from a cookie, under `/kfp-viz/`, in front of a server with `AUTH=kubeflow` reviewing
against a real kube-apiserver (tenants.py: alice reads tenant-a, bob tenant-b). A page's
own requests (the run list's JSON, each run's event stream) must carry the session, so the
page must keep its origin: sandboxed, its requests would carry no cookie and be refused.
Each user sees their namespace's runs only, live; another's run shows nothing of it.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
import requests
import tenants
from browser import wait_in
from live_run import Shown
from progress_support import new_run
from services import Nginx
from support import RunningServer, free_port

pytestmark = pytest.mark.integration

PREFIX = "/kfp-viz/"
SESSION = "kfsession"
SECRET = "tenant-a's private step"


@pytest.fixture(scope="module")
def gateway(kube_apiserver, tmp_path_factory):
    folder = tmp_path_factory.mktemp("gateway-tenancy")
    cluster = tenants.set_up(kube_apiserver, folder)
    server = RunningServer(
        ["--pool-size", "1", "--auth", "kubeflow", "--progress-heartbeat", "0.5"],
        {"KUBECONFIG": str(cluster.server_kubeconfig)},
        folder / "server.log",
    )
    try:
        server.wait_ready()
        proxy = Nginx(folder / "nginx", server.url, PREFIX, port=free_port(),
                      identity_cookie=SESSION)  # fmt: skip
        proxy.start()
    except BaseException:
        server.stop()
        raise
    yield server, proxy, cluster
    proxy.stop()
    assert server.stop() == 0, server.log()


def publish(server, token: str, run: str, *events: dict) -> None:
    reply = requests.post(f"{server.url}/progress/{run}", data=json.dumps(list(events)),
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip
    assert reply.status_code == 200, reply.text


def as_user(chromium, proxy: Nginx, user: str, path: str) -> Shown:
    """A page opened through the gateway by a browser whose session is `user`'s."""
    session = {"name": SESSION, "value": user, "domain": urlsplit(proxy.url).hostname,
               "path": "/"}  # fmt: skip
    return Shown(chromium, proxy.url + path, cookies=[session])


def test_each_user_sees_their_namespaces_runs_live_through_the_gateway(chromium, gateway):
    server, proxy, cluster = gateway
    mine, theirs = new_run(), new_run()
    token_a, token_b = cluster.step_token("tenant-a"), cluster.step_token("tenant-b")
    publish(server, token_a, mine, {"node_id": "train", "kind": "log", "message": SECRET})
    publish(server, token_b, theirs, {"node_id": "train", "kind": "log", "message": "b's"})

    listing = as_user(chromium, proxy, "alice", "/progress")
    page = listing.page
    page.wait_for_selector(f'.run[data-run="{mine}"]')
    shown_runs = page.eval_on_selector_all(".run[data-run]", "rows => rows.map(r => r.dataset.run)")
    assert theirs not in shown_runs
    listing.close_cleanly(proxy.url)

    live = as_user(chromium, proxy, "alice", f"/progress/{mine}")
    page = live.page
    wait_in(page, "document.getElementById('conn').textContent === 'live'")
    assert SECRET in page.text_content("#log")
    publish(server, token_a, mine, {"node_id": "train", "kind": "log", "message": "later"})
    wait_in(page, "document.getElementById('log').textContent.includes('later')")
    live.close_cleanly(proxy.url)


def test_another_users_run_and_no_session_show_nothing_of_it(gateway):
    server, proxy, cluster = gateway
    run = new_run()
    publish(server, cluster.step_token("tenant-a"), run,
            {"node_id": "train", "kind": "log", "message": SECRET})  # fmt: skip

    bob = {SESSION: "bob"}
    for path in (f"/progress/{run}", f"/progress/{run}/events", f"/progress/runs/{run}"):
        reply = requests.get(proxy.url + path, cookies=bob, timeout=10)
        assert reply.status_code == 403 and SECRET not in reply.text, (path, reply.text)
    listed = requests.get(f"{proxy.url}/progress/runs", cookies=bob, timeout=10).json()
    assert run not in [r["run_id"] for r in listed["runs"]]

    anonymous = requests.get(f"{proxy.url}/progress/{run}", timeout=10)
    assert anonymous.status_code == 401 and SECRET not in anonymous.text
    forged = requests.get(f"{proxy.url}/progress/{run}/events", timeout=10,
                          headers={"kubeflow-userid": "alice"})  # fmt: skip
    assert forged.status_code == 401, "the gateway, not the browser, names the user"
