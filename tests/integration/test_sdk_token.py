"""The SDK publishes with a real projected ServiceAccount token to a real server with
`--auth kubeflow` (TokenReview and SubjectAccessReview on the suite's kube-apiserver, the
profiles of tenants.py): the token minted by `kubectl create token default-editor -n
tenant-a --audience pipelines.kubeflow.org`, put in a folder the way the kubelet projects it
(a symbolic link swapped on rotation), read from KF_PIPELINES_SA_TOKEN_PATH by a step's own
process.

Each rotation shows in what the server does: a token of another profile is refused with 403
(the run is tenant-a's), a fresh tenant-a token is taken again, a token of another audience is
refused with 401. Refused batches are counted and each kind of refusal is reported once; the
run holds exactly the batches sent with a tenant-a token, stamped tenant-a. The `kfp-viz`
command sends the token too: over HTTP, through gRPC, and to read a run with `watch`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from sdk_support import ROOT
from support import wait_until

# The tenancy tests' profiles and their server with --auth kubeflow, as this module's fixtures
# too (asked for by name: see tenancy()).
from test_tenancy import cluster, history, server, user  # noqa: F401

pytestmark = pytest.mark.integration


def step_env(volume, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KFP_", "KAFKA_"))}
    return {**env, "KF_PIPELINES_SA_TOKEN_PATH": str(volume.path), **extra}


STEP = """
    import logging, sys, time
    from pathlib import Path
    from kfp_viz.progress import Reporter

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    go, batches = Path(sys.argv[1]), int(sys.argv[2])
    rep = Reporter(sys.argv[3], "train")  # the run id and the server from the arguments, env
    for n in range(batches):                # the test rotates the token between batches
        while not (go / str(n)).exists():
            time.sleep(0.02)
        rep.log(f"batch {n}")
        assert rep.flush(30)
        (go / f"{n}.sent").touch()
    rep.close()
    print("sent", rep.sent, "failed", rep.failed)
"""


def tenancy(request: pytest.FixtureRequest):
    """The profiles (tenants.Tenants) and the server with AUTH=kubeflow."""
    return request.getfixturevalue("cluster"), request.getfixturevalue("server")


def test_a_step_publishes_with_its_projected_token_and_follows_rotation(
    request, projected_volume, tmp_path
):
    profiles, viz = tenancy(request)
    run = "run-sdk-token-rotation"
    volume = projected_volume("token-volume")
    rotations = [
        profiles.step_token("tenant-a"),  # taken: the run becomes tenant-a's
        profiles.step_token("tenant-b"),  # 403: another profile's run
        profiles.step_token("tenant-a"),  # taken again: the file was read again
        profiles.step_token("tenant-a", audience="https://example.com"),  # 401
    ]
    go = tmp_path / "go"
    go.mkdir()
    step = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(STEP), str(go), str(len(rotations)), run],
        cwd=ROOT, env=step_env(volume, KFP_VIZ_SERVER_URL=viz.url),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    for n, token in enumerate(rotations):
        volume.write(token)  # the kubelet rotates the file under the running step
        (go / str(n)).touch()
        wait_until(lambda n=n: (go / f"{n}.sent").exists() or step.poll() is not None,
                   timeout=60, what=f"batch {n}")  # fmt: skip
    out, err = step.communicate(timeout=60)
    assert step.returncode == 0, err
    assert out.split() == ["sent", "2", "failed", "2"], err

    refusals = [line for line in err.splitlines() if "not delivered" in line]
    assert len(refusals) == 2, err  # one per kind: 403, then 401
    where = f"from the server at {viz.url}/progress/{run}:"
    assert f"HTTP 403 {where}" in refusals[0] and "belongs to namespace tenant-a" in refusals[0]
    assert f"HTTP 401 {where} Unauthenticated" in refusals[1]
    assert all(f"(sent the token in {volume.path})" in line for line in refusals)
    assert not any(token in err for token in rotations), "a token is never printed"

    events = history(viz, run, user("alice"))  # alice reads tenant-a's runs
    assert [(e["message"], e["namespace"]) for e in events] == [
        ("batch 0", "tenant-a"),
        ("batch 2", "tenant-a"),
    ]


def test_the_command_sends_the_token_over_http_and_grpc_and_to_watch(request, projected_volume):
    profiles, viz = tenancy(request)
    run = "run-sdk-token-cli"
    volume = projected_volume("token-volume")
    volume.write(profiles.step_token("tenant-a"))
    env = step_env(volume)
    command = [sys.executable, "-m", "kfp_viz.cli"]
    emit = [*command, "progress", "emit", "--run-id", run, "--node-id", "train"]
    over_http = subprocess.run([*emit, "--server-url", viz.url, "--log", "over HTTP"],
                               env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert over_http.returncode == 0, over_http.stderr
    end = [*emit, "--server", viz.grpc_target, "--status", "Succeeded", "--run-level"]
    over_grpc = subprocess.run(end, env=env, capture_output=True, text=True, timeout=60)
    assert over_grpc.returncode == 0, over_grpc.stderr

    # Reading: the step's ServiceAccount may read its namespace's runs (tenants.py grants it).
    watch = [*command, "watch", run, "--server", viz.grpc_target, "--plain"]
    read = subprocess.run(watch, env=env, capture_output=True, text=True, timeout=60)
    assert read.returncode == 0, read.stdout + read.stderr
    assert "over HTTP" in read.stdout and "Succeeded" in read.stdout

    without = step_env(projected_volume("empty-volume"))  # no token in the file
    refused = subprocess.run(watch, env=without, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "UNAUTHENTICATED" in refused.stderr
    no_token = subprocess.run([*emit, "--server-url", viz.url, "--log", "x"], env=without,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    assert no_token.returncode == 1
    assert "HTTP 401" in no_token.stderr and "sent no token (" in no_token.stderr
