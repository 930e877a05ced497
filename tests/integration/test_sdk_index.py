"""A step installs the SDK from the server it reports to: `pip install --index-url
<server>/simple/ kfp-viz` into a fresh venv, with no other index and no cache, from a running
server's own package index (server/sdk_index.py, the files scripts/sdk_dist.py built), then
reports to that server with what it installed."""

from __future__ import annotations

import hashlib
import re

import pytest
import requests
from progress_support import Watch, new_run
from sdk_support import fresh_venv, run_in, sdk_dists, step_env

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dists():
    return sdk_dists()


def test_pip_installs_the_sdk_from_the_servers_index_alone(dists, start_server, tmp_path):
    server = start_server("--pool-size", "1", "--progress-heartbeat", "0.5")
    wheel = next(path for path in dists if path.suffix == ".whl")
    venv = fresh_venv(tmp_path / "step")
    env = step_env()
    installed = run_in(
        venv, "python", "-m", "pip", "install", "--no-cache-dir", "--index-url",
        f"{server.url}/simple/", "KFP_Viz",  # any spelling of the name: PEP 503 normalizes it
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert f"{server.url}/simple/kfp-viz/{wheel.name}" in installed.stdout

    probe = run_in(venv, "python", "-c", "import kfp_viz.progress, sys; print(kfp_viz.__file__)",
                   env=env, cwd=tmp_path)  # fmt: skip
    assert probe.returncode == 0 and probe.stdout.startswith(str(venv)), probe.stderr
    record = next(venv.glob("lib/python3*/site-packages/kfp_viz-*.dist-info/RECORD")).read_text()
    assert "kfp_viz/sa_token.py" in record, "the wheel of this checkout's SDK"

    run = new_run()
    watch = Watch(server.grpc_target, run, from_beginning=True)
    emit = run_in(venv, "kfp-viz", "progress", "emit", "--run-id", run, "--node-id", "train",
                  "--status", "Succeeded", "--run-level", "--server-url", server.url,
                  env=env, cwd=tmp_path)  # fmt: skip
    assert emit.returncode == 0, emit.stderr
    assert watch.ended.wait(30) and watch.error is None
    assert [e.event.status for e in watch.events] == ["Succeeded"]


def test_the_index_lists_what_pip_checks(dists, start_server):
    """The digests pip verifies are those of the files built, and the files served match."""
    server = start_server("--pool-size", "1")
    page = requests.get(f"{server.url}/simple/kfp_viz/", timeout=10)
    assert page.status_code == 200
    listed = dict(re.findall(r'href="([^"#]+)#sha256=([0-9a-f]{64})"', page.text))
    assert listed == {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in dists}
    assert 'data-requires-python="&gt;=3.11"' in page.text
    for name, digest in listed.items():
        served = requests.get(f"{server.url}/simple/kfp-viz/{name}", timeout=10)
        assert hashlib.sha256(served.content).hexdigest() == digest
    for path in ("/simple/kfp-viz/setup.cfg", "/simple/kfp-viz/..%2F..%2Fsetup.cfg",
                 "/simple/kfp-viz-server/"):  # fmt: skip
        refused = requests.get(server.url + path, timeout=10)
        assert refused.status_code == 404, path
