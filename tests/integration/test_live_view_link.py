"""A link on every run (kfp_viz.kfp, kfp_viz.run_link), with KFP's own SDK and a real server.

KFP's SDK pins protobuf and kubernetes below the server's, so it runs in a venv of its own
(`./sdk[kfp]`, scripts/sdk_venv.py). There:
- a pipeline with `live_view_link()` compiles to a step that depends on nothing, is never
  cached, takes the run id KFP resolves, outputs a `system.Markdown` artifact, and installs
  KFP (without its dependencies) and kfp-viz from the server's index;
- KFP's local runner (`SubprocessRunner(use_venv=True)`: a fresh venv, the component's own
  install command) runs that pipeline against a running server, kfp-viz coming from the
  server's `/simple/`: the Markdown artifact's file holds the link to the run's live page and
  the server knows the run (its first event, a run-level `Running`, on a watch stream);
- KFP v1's component (kfp_viz/components/live_view_link_v1.yaml) runs its command as KFP v1
  would, in a fresh venv, and writes mlpipeline-ui-metadata with the link.
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml
from progress_support import Watch
from sdk_support import ROOT, fresh_venv, run_in, sdk_dists, sdk_venv, step_env
from support import wait_until

pytestmark = pytest.mark.integration

SERVER_IN_CLUSTER = "http://ml-pipeline-visualizationserver.kubeflow:8888"


@pytest.fixture(scope="module")
def kfp_venv() -> Path:
    sdk_dists()  # what the server serves at /simple/: this checkout's SDK
    return sdk_venv("kfp")


PIPELINE = """
    import sys
    from kfp import compiler, dsl
    from kfp_viz.kfp import live_view_link, sdk_install

    @dsl.component(base_image="python:3.11", **sdk_install("tqdm"))
    def train(epochs: int) -> float:
        from kfp_viz.progress import Reporter
        with Reporter() as report:
            report.metric(loss=0.5, step=epochs)
        return 0.5

    @dsl.pipeline(name="train-with-a-live-link")
    def pipeline(epochs: int = 3):
        live_view_link()
        train(epochs=epochs)

    compiler.Compiler().compile(pipeline, sys.argv[1])
"""


def test_the_compiled_pipeline_links_every_run(kfp_venv, tmp_path):
    version = run_in(kfp_venv, "python", "-c", "import kfp; print(kfp.__version__)",
                     env=step_env(), cwd=tmp_path)  # fmt: skip
    kfp_version = version.stdout.strip()
    assert version.returncode == 0 and kfp_version, version.stderr
    (tmp_path / "pipeline.py").write_text(textwrap.dedent(PIPELINE))
    done = run_in(kfp_venv, "python", "pipeline.py", "pipeline.yaml", env=step_env(),
                  cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    spec = yaml.safe_load((tmp_path / "pipeline.yaml").read_text())

    task = spec["root"]["dag"]["tasks"]["live-view-link"]
    assert "dependentTasks" not in task, "it starts with the run"
    assert task["cachingOptions"] == {}, "never cached: every run gets its own link"
    inputs = {k: v["runtimeValue"]["constant"] for k, v in task["inputs"]["parameters"].items()}
    assert inputs == {"run_id": "{{$.pipeline_job_uuid}}", "base_url": "/kfp-viz",
                      "server_url": ""}  # fmt: skip
    outputs = spec["components"]["comp-live-view-link"]["outputDefinitions"]["artifacts"]
    assert outputs["link"]["artifactType"]["schemaTitle"] == "system.Markdown"

    executors = spec["deploymentSpec"]["executors"]
    install = executors["exec-live-view-link"]["container"]["command"][2]
    assert (
        "--index-url https://pypi.org/simple "
        f"--extra-index-url {SERVER_IN_CLUSTER}/simple/ "
        "--trusted-host ml-pipeline-visualizationserver.kubeflow "
        f"'kfp-viz' 'kfp=={kfp_version}' '--no-deps'"
    ) in install
    train_install = executors["exec-train"]["container"]["command"][2]
    assert f"'kfp-viz' 'tqdm' 'kfp=={kfp_version}' &&" in train_install, (
        "KFP skips installing itself when a package starts with 'kfp': sdk_install names it"
    )
    assert f"--extra-index-url {SERVER_IN_CLUSTER}/simple/" in train_install


DOCS = ROOT / "docs" / "pipeline-authors" / "README.md"


def test_every_complete_pipeline_in_the_docs_compiles(kfp_venv, tmp_path):
    """The guide's pipelines with KFP's SDK and this SDK (those needing kfp-kubernetes aside):
    what authors copy compiles, and installs kfp-viz the way that works."""
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    complete = [b for b in blocks if "compiler.Compiler().compile(" in b and "kubernetes" not in b]
    assert len(complete) >= 3
    for number, code in enumerate(complete):
        folder = tmp_path / str(number)
        folder.mkdir()
        (folder / "pipeline.py").write_text(code)
        done = run_in(kfp_venv, "python", "pipeline.py", env=step_env(), cwd=folder)
        assert done.returncode == 0, f"block {number}:\n{code}\n{done.stderr}"
        compiled = (folder / "pipeline.yaml").read_text()
        if "kfp_viz" in code:
            assert "--extra-index-url http://ml-pipeline-visualizationserver.kubeflow:8888" in (
                compiled
            ), f"block {number} installs kfp-viz from no index that has it"


LOCAL_RUN = """
    import json, sys
    from pathlib import Path
    from kfp import dsl, local
    from kfp_viz.kfp import live_view_link

    server_url, root = sys.argv[1], Path(sys.argv[2])
    local.init(runner=local.SubprocessRunner(use_venv=True), pipeline_root=str(root))

    @dsl.pipeline(name="linked")
    def pipeline():
        live_view_link(server_url=server_url, sdk_index_url=server_url + "/simple/",
                       base_url="https://kubeflow.example.com/kfp-viz")

    pipeline()
    links = sorted(root.rglob("link"))
    print(json.dumps([str(path) for path in links]))
"""


def test_kfps_local_runner_installs_from_the_server_and_links_the_run(
    kfp_venv, start_server, tmp_path
):
    server = start_server("--pool-size", "1", "--progress-heartbeat", "0.5")
    done = run_in(
        kfp_venv, "python", "-c", textwrap.dedent(LOCAL_RUN), server.url, str(tmp_path / "root"),
        env=step_env(), cwd=tmp_path, timeout=600,
    )  # fmt: skip
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-6000:]
    links = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(links) == 1, log[-4000:]
    markdown = Path(links[0]).read_text()
    match = re.search(r"\]\(https://kubeflow\.example\.com/kfp-viz/progress/([^)]+)\)", markdown)
    assert match, markdown
    run_id = match[1]

    watch = Watch(server.grpc_target, run_id, from_beginning=True)
    try:
        wait_until(lambda: watch.events, timeout=15, what="the run's first event")
        first = watch.events[0].event
        assert (first.kind, first.node_id, first.status) == ("status", "", "Running")
    finally:
        watch.cancel()


V1_ARGUMENTS = ("run_id", "base_url", "server_url", "mlpipeline-ui-metadata", "index_url")


def test_the_v1_component_writes_ui_metadata_with_the_link(start_server, tmp_path):
    """The component's command as KFP v1 runs it: placeholders replaced by values and a path,
    `python3` an image's interpreter with nothing installed (a fresh venv)."""
    server = start_server("--pool-size", "1", "--progress-heartbeat", "0.5")
    sdk_dists()
    component = yaml.safe_load(
        (ROOT / "sdk" / "kfp_viz" / "components" / "live_view_link_v1.yaml").read_text()
    )
    assert component["outputs"] == [
        {"name": "mlpipeline-ui-metadata", "type": "kfp.v1.ui-metadata"}
    ]
    container = component["implementation"]["container"]
    metadata = tmp_path / "outputs" / "mlpipeline-ui-metadata" / "data"
    values = {
        "run_id": "v1-run-1",
        "base_url": "/kfp-viz",
        "server_url": server.url,
        "mlpipeline-ui-metadata": str(metadata),
        "index_url": f"{server.url}/simple/",
    }
    arguments = []
    for item in container["command"]:
        if isinstance(item, dict):
            ((kind, name),) = item.items()
            assert (kind, name) in {("inputValue", n) for n in V1_ARGUMENTS} | {
                ("outputPath", "mlpipeline-ui-metadata")
            }
            arguments.append(values[name])
        else:
            arguments.append(item)
    image = fresh_venv(tmp_path / "image")
    env = step_env(PATH=f"{image / 'bin'}:{step_env()['PATH']}")
    watch = Watch(server.grpc_target, "v1-run-1", from_beginning=True)
    try:
        done = subprocess.run(arguments, env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.strip().splitlines()[-1] == "/kfp-viz/progress/v1-run-1"
        outputs = json.loads(metadata.read_text())["outputs"]
        assert outputs[0]["type"] == "markdown" and outputs[0]["storage"] == "inline"
        assert "](/kfp-viz/progress/v1-run-1)" in outputs[0]["source"]
        wait_until(lambda: watch.events, timeout=15, what="the run's first event")
        assert watch.events[0].event.status == "Running"
    finally:
        watch.cancel()
