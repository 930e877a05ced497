"""A link from a KFP run's own page to its live page, made early in the run.

KFP 2.x's run page never calls the visualization server for a v2 run; it shows the run's
artifacts. So the first step of a run writes one: a Markdown artifact (v2, `system.Markdown`)
or `mlpipeline-ui-metadata` with an inline markdown output (v1), holding a link to
`<base_url>/progress/<run_id>`, the live page through Kubeflow's gateway. The KFP UI renders
that Markdown in its own page, with links opening in a new tab, so the default base URL is
the path `/kfp-viz` alone: the prefix of deploy/kustomize/gateway on the host the KFP UI is
served from. A full URL (`https://kubeflow.example.com/kfp-viz`) works as well.

The same step publishes the run's first event (a run-level `Running` status) through a
Reporter, with the pod's token, so the server knows the run from its start. Neither job may
hold up the run: publishing waits a few seconds at most, and a server that is away or refuses
is logged, not raised.

Used by the v2 component (`kfp_viz.kfp.live_view_link`, the `kfp` extra) and, for v1, by the
`kfp-viz link` command; standard library only.
"""

from __future__ import annotations

import json
import logging
import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .events import InvalidEvent, validate_run_id
from .progress import Reporter, ReporterError, _env_first
from .step_pod import launcher_run_id
from .transport import NullTransport

log = logging.getLogger("kfp_viz.run_link")

DEFAULT_BASE_URL = "/kfp-viz"
"""The path prefix deploy/kustomize/gateway routes to the server on Kubeflow's gateway."""
DEFAULT_SERVER_URL = "http://ml-pipeline-visualizationserver.kubeflow:8888"
"""Where a step reaches the server when neither KFP_VIZ_SERVER_URL nor Kafka is set."""
LINK_NODE_ID = "live-view-link"
V1_COMPONENT = Path(__file__).parent / "components" / "live_view_link_v1.yaml"
"""KFP v1's component running `kfp-viz link` (kfp.components.load_component_from_file)."""
_UNSAFE_IN_LINK = re.compile(r"[\s()<>\[\]\"'`\\]")
"""Characters that would end or break a Markdown link target, or a quoted attribute."""


def live_page_url(run_id: str, base_url: str = DEFAULT_BASE_URL) -> str:
    """`<base_url>/progress/<run_id>`; ValueError naming what is wrong with either."""
    try:
        run_id = validate_run_id(run_id)
    except InvalidEvent as error:
        raise ValueError(str(error)) from None
    base = base_url.strip().rstrip("/")
    parts = urllib.parse.urlsplit(base)
    absolute = parts.scheme in ("http", "https") and bool(parts.netloc)
    if not (absolute or (base.startswith("/") and not base.startswith("//"))):
        raise ValueError(
            f"base URL {base_url!r} is neither a path (e.g. /kfp-viz) nor an http(s) URL "
            "(e.g. https://kubeflow.example.com/kfp-viz)"
        )
    if _UNSAFE_IN_LINK.search(base) or parts.query or parts.fragment:
        raise ValueError(
            f"base URL {base_url!r} holds spaces, quotes, brackets, a query or a fragment"
        )
    return f"{base}/progress/{urllib.parse.quote(run_id, safe=':@')}"


def link_markdown(run_id: str, url: str) -> str:
    """The Markdown the run's page shows: a heading and the link (run ids need no escaping:
    they are letters, digits and `._:@-`)."""
    return (
        "## Live progress\n\n"
        f"[Open the live page of run {run_id}]({url}): every step's progress, metrics and "
        "logs while the run goes on.\n"
    )


def ui_metadata(run_id: str, url: str) -> dict[str, Any]:
    """KFP v1's `mlpipeline-ui-metadata`: one inline markdown output with the link."""
    return {
        "version": 1,
        "outputs": [
            {"type": "markdown", "storage": "inline", "source": link_markdown(run_id, url)}
        ],
    }


def announce(run_id: str, server_url: str = "", timeout: float = 5.0) -> bool:
    """Publish the run's first event, a run-level `Running` status, and wait up to `timeout`
    seconds for it to be taken; False (and a logged warning) when it was not.

    Where it goes: `server_url`, else where a Reporter sends by the environment
    (KFP_VIZ_SERVER_URL, else Kafka), else DEFAULT_SERVER_URL."""
    if not server_url and not _env_first("KFP_VIZ_SERVER_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        server_url = DEFAULT_SERVER_URL
    try:
        reporter = Reporter(run_id, LINK_NODE_ID, server_url=server_url or None)
    except ReporterError as error:
        log.warning("kfp_viz: the run's first event was not sent: %s", error)
        return False
    if isinstance(reporter.transport, NullTransport):  # Kafka named, kafka-python missing
        return False  # the Reporter said why
    try:
        reporter.status("Running", "the run started", run_level=True)
        delivered = reporter.flush(timeout) and not reporter.failed
    finally:
        reporter.close(timeout=0)
    if not delivered:
        log.warning(
            "kfp_viz: %s did not take the run's first event within %g s (the live page "
            "still works once the steps report)",
            reporter.transport.target,
            timeout,
        )
    return delivered


@dataclass(frozen=True)
class Link:
    """What `write_link` did: the live page's URL, and whether the server took the event."""

    run_id: str
    url: str
    announced: bool


def write_link(
    run_id: str = "",
    base_url: str = DEFAULT_BASE_URL,
    *,
    markdown_path: str | os.PathLike[str] | None = None,
    ui_metadata_path: str | os.PathLike[str] | None = None,
    server_url: str = "",
    publish: bool = True,
    timeout: float = 5.0,
) -> Link:
    """Write the link where the run's page looks (a Markdown file, v1's UI metadata file, or
    both), then publish the run's first event. The run id: `run_id`, else KFP_RUN_ID, else the
    `--run_id` of KFP v2's launcher (the step's parent process)."""
    run_id = run_id.strip() or _env_first("KFP_RUN_ID") or launcher_run_id()
    if not run_id:
        raise ValueError(
            "no run id: pass one (in KFP v2, dsl.PIPELINE_JOB_ID_PLACEHOLDER; in v1, "
            "dsl.RUN_ID_PLACEHOLDER) or set KFP_RUN_ID"
        )
    url = live_page_url(run_id, base_url)
    if markdown_path is not None:
        _write(Path(markdown_path), link_markdown(run_id, url))
    if ui_metadata_path is not None:
        _write(Path(ui_metadata_path), json.dumps(ui_metadata(run_id, url)))
    announced = announce(run_id, server_url, timeout) if publish else False
    return Link(run_id, url, announced)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
