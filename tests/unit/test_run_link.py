"""The link a run's page shows (kfp_viz.run_link) and the `kfp-viz link` command that writes it:
the URL, the Markdown (v2) and mlpipeline-ui-metadata (v1), bad base URLs refused, and a
server that is away never failing the step. Against a real server, through KFP's local runner
and the v1 component's command: tests/integration/test_live_view_link.py."""

from __future__ import annotations

import json
import logging

import pytest
from kfp_viz import cli
from kfp_viz.run_link import link_markdown, live_page_url, ui_metadata, write_link


def test_the_url_joins_the_gateway_prefix_and_the_run():
    assert live_page_url("3f2a-9c1e") == "/kfp-viz/progress/3f2a-9c1e"
    assert live_page_url("r:1@a", "https://kubeflow.example.com/kfp-viz/") == (
        "https://kubeflow.example.com/kfp-viz/progress/r:1@a"
    )


@pytest.mark.parametrize(
    ("base", "reason"),
    [
        ("kfp-viz", "neither a path"),
        ("//evil.example/x", "neither a path"),
        ("javascript:alert(1)", "neither a path"),
        ("/kfp viz", "spaces, quotes, brackets"),
        ("/kfp-viz)[x](y", "spaces, quotes, brackets"),
        ("https://h/kfp-viz?a=1", "a query or a fragment"),
    ],
)
def test_a_base_url_that_would_break_the_link_is_refused(base, reason):
    with pytest.raises(ValueError, match=reason):
        live_page_url("run", base)


def test_a_bad_run_id_is_refused_with_the_schemas_words():
    with pytest.raises(ValueError, match="is not a run id"):
        live_page_url("no spaces")


def test_markdown_and_v1_metadata_hold_the_link():
    url = "/kfp-viz/progress/run-1"
    assert f"[Open the live page of run run-1]({url})" in link_markdown("run-1", url)
    metadata = ui_metadata("run-1", url)
    assert metadata["outputs"] == [
        {"type": "markdown", "storage": "inline", "source": link_markdown("run-1", url)}
    ]


def test_a_server_away_costs_at_most_the_timeout_and_the_link_is_written(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    markdown, metadata = tmp_path / "out" / "link.md", tmp_path / "ui" / "metadata.json"
    made = write_link(
        "run-1", markdown_path=markdown, ui_metadata_path=metadata,
        server_url="http://127.0.0.1:9", timeout=0.5,
    )  # fmt: skip
    assert (made.url, made.announced) == ("/kfp-viz/progress/run-1", False)
    assert "(/kfp-viz/progress/run-1)" in markdown.read_text()
    assert json.loads(metadata.read_text())["outputs"][0]["type"] == "markdown"
    assert "did not take the run's first event within 0.5 s" in caplog.text


def test_the_run_id_comes_from_the_pod_when_not_given(monkeypatch, tmp_path):
    monkeypatch.setenv("KFP_RUN_ID", "from-env")
    assert write_link(publish=False).url == "/kfp-viz/progress/from-env"
    monkeypatch.delenv("KFP_RUN_ID")
    monkeypatch.setattr("kfp_viz.run_link.launcher_run_id", lambda: "")
    with pytest.raises(ValueError, match="PIPELINE_JOB_ID_PLACEHOLDER"):
        write_link(publish=False)


def test_the_command_prints_the_url_and_refuses_bad_input(tmp_path, capsys):
    path = tmp_path / "mlpipeline-ui-metadata.json"
    assert cli.main(["link", "--run-id", "r", "--ui-metadata", str(path), "--no-publish"]) == 0
    assert capsys.readouterr().out.strip() == "/kfp-viz/progress/r"
    assert "/kfp-viz/progress/r" in json.loads(path.read_text())["outputs"][0]["source"]
    assert cli.main(["link", "--run-id", "r", "--base-url", "nope", "--no-publish"]) == 2
    assert "neither a path" in capsys.readouterr().err
