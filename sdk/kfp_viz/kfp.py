"""Kubeflow Pipelines (v2) integration: a link on every run's page, and kfp-viz in any step.

Needs the KFP SDK, 2.9 or later (`pip install "kfp-viz[kfp]"`), where pipelines are compiled.

    from kfp import dsl
    from kfp_viz.kfp import live_view_link, sdk_install

    @dsl.component(base_image="python:3.11", **sdk_install("tqdm"))
    def train(epochs: int) -> float: ...

    @dsl.pipeline(name="train")
    def pipeline(epochs: int = 10):
        live_view_link()          # the run's page links to its live page within seconds
        train(epochs=epochs)

`live_view_link()` adds a step that starts with the run (it depends on nothing), installs
kfp-viz from the server's own package index, writes a `system.Markdown` artifact linking to
`<base_url>/progress/<run id>` (KFP's run page shows it while the run goes on), publishes the
run's first event with the pod's token, and ends within seconds (kfp_viz.run_link).

Installing kfp-viz in a step takes more than `packages_to_install=["kfp-viz"]`:
- kfp-viz may be on no index the cluster reaches: the server serves it at /simple/
  (`pip_index_urls`), an http:// address pip uses only for a trusted host;
- KFP installs itself in a step (its executor runs the component) unless a package's name
  starts with "kfp", as "kfp-viz" does; then the step fails with `No module named 'kfp'`.
  So the KFP SDK compiling the pipeline is named too, at its version.
`sdk_install(*packages)` gives those arguments of `dsl.component`.
"""

import urllib.parse
from typing import Any

import kfp
from kfp import dsl

from .run_link import DEFAULT_BASE_URL, DEFAULT_SERVER_URL

PUBLIC_INDEX_URL = "https://pypi.org/simple"
SDK_INDEX_URL = f"{DEFAULT_SERVER_URL}/simple/"
"""The server's package index (server/sdk_index.py), from step pods."""
DEFAULT_BASE_IMAGE = "python:3.11"
"""kfp-viz needs Python 3.11 or later."""


def index_options(
    index_url: str = PUBLIC_INDEX_URL, sdk_index_url: str = SDK_INDEX_URL
) -> dict[str, list[str]]:
    """`pip_index_urls` (the public or mirror index first, for KFP itself and other packages;
    the server's for kfp-viz) and `pip_trusted_hosts` (the hosts pip reaches over http://)."""
    urls = [url for url in (index_url, sdk_index_url) if url]
    hosts = sorted({
        urllib.parse.urlsplit(url).hostname or ""
        for url in urls
        if urllib.parse.urlsplit(url).scheme == "http"
    } - {""})  # fmt: skip
    return {"pip_index_urls": urls, "pip_trusted_hosts": hosts}


def sdk_install(
    *packages: str,
    requirement: str = "kfp-viz",
    index_url: str = PUBLIC_INDEX_URL,
    sdk_index_url: str = SDK_INDEX_URL,
) -> dict[str, Any]:
    """Keyword arguments of `dsl.component` that install kfp-viz (`requirement`, e.g.
    `kfp-viz[tqdm]==0.1.0`) and `packages` in the step, and KFP itself, which KFP would
    otherwise leave out (see the module's docstring). `index_url=""` leaves the server's
    index alone, for steps that reach no other (then KFP itself must be in the image)."""
    return {
        "packages_to_install": [requirement, *packages, f"kfp=={kfp.__version__}"],
        **index_options(index_url, sdk_index_url),
    }


def live_view_link_component(
    *,
    base_image: str = DEFAULT_BASE_IMAGE,
    requirement: str = "kfp-viz",
    index_url: str = PUBLIC_INDEX_URL,
    sdk_index_url: str = SDK_INDEX_URL,
) -> Any:
    """The component `live_view_link()` adds: inputs `run_id`, `base_url`, `server_url`,
    output `link` (a `system.Markdown` artifact). Its install is KFP's own (KFP without its
    dependencies, which its executor does not need) plus kfp-viz (standard library only):
    seconds, with nothing to build."""

    def live_view_link(
        run_id: str, base_url: str, server_url: str, link: dsl.Output[dsl.Markdown]
    ) -> None:
        """Writes a link to the run's live page and tells the server the run started."""
        from kfp_viz.run_link import write_link

        made = write_link(run_id, base_url, markdown_path=link.path, server_url=server_url)
        print(f"live page: {made.url} (server told: {made.announced})")

    return dsl.component(
        live_view_link,
        base_image=base_image,
        packages_to_install=[requirement, f"kfp=={kfp.__version__}", "--no-deps"],
        **index_options(index_url, sdk_index_url),
    )


def live_view_link(
    base_url: str = DEFAULT_BASE_URL,
    *,
    server_url: str = "",
    run_id: str = dsl.PIPELINE_JOB_ID_PLACEHOLDER,
    base_image: str = DEFAULT_BASE_IMAGE,
    requirement: str = "kfp-viz",
    index_url: str = PUBLIC_INDEX_URL,
    sdk_index_url: str = SDK_INDEX_URL,
) -> Any:
    """Call inside a `@dsl.pipeline` function: adds the step that links the run's page to its
    live page, `<base_url>/progress/<run id>`, and returns its task (never cached).

    `base_url`: where browsers reach the server's pages: by default `/kfp-viz`, the prefix of
    deploy/kustomize/gateway on the Kubeflow host (the KFP UI's own), or a full URL.
    `server_url`: where the step publishes the run's first event (default: the step's
    KFP_VIZ_SERVER_URL, else Kafka's settings, else the server in `kubeflow`).
    `index_url`, `sdk_index_url`, `requirement`, `base_image`: how the step installs kfp-viz.
    """
    component = live_view_link_component(
        base_image=base_image,
        requirement=requirement,
        index_url=index_url,
        sdk_index_url=sdk_index_url,
    )
    task = component(run_id=run_id, base_url=base_url, server_url=server_url)
    task.set_caching_options(False)
    return task
