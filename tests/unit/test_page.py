"""Outputs → HTML: collection rules, MIME choice, escaping, a small offline page."""

from __future__ import annotations

import re

import pytest
from kfp_viz_kernels.ansi import ansi_to_html
from kfp_viz_kernels.outputs import OutputCollector
from kfp_viz_kernels.page import PageTemplate


def collect(*messages):
    collector = OutputCollector()
    for msg_type, content in messages:
        collector.add(msg_type, content)
    return collector.outputs


def test_output_past_the_cap_is_cut_with_a_note_and_a_clear_makes_room_again():
    collector = OutputCollector(limit=100)
    collector.add("stream", {"name": "stdout", "text": "a" * 60}, 60)
    collector.add("stream", {"name": "stdout", "text": "b" * 60}, 60)  # over: cut here
    collector.add("stream", {"name": "stdout", "text": "c"}, 1)  # after the cut: dropped too
    collector.add("display_data", None, 10**9)  # too large to have been decoded
    outputs = collector.outputs
    assert outputs[0]["text"] == "a" * 60 and len(outputs) == 2
    assert "Output cut here" in outputs[1]["data"]["text/plain"]
    assert "100 bytes" in outputs[1]["data"]["text/plain"]
    collector.add("clear_output", {"wait": False}, 0)
    collector.add("display_data", {"data": {"text/plain": "fresh"}}, 50)
    assert [o["data"]["text/plain"] for o in collector.outputs] == ["fresh"]


def test_the_kernel_s_own_cut_marker_becomes_the_note():
    collector = OutputCollector()
    collector.add("display_data", {"data": {"application/vnd.kfp-viz.output-cut+json": {}}}, 10)
    assert collector.cut and "Output cut here" in str(collector.outputs[-1]["data"])


def test_streams_merge_until_something_else_comes():
    outputs = collect(
        ("stream", {"name": "stdout", "text": "a"}),
        ("stream", {"name": "stdout", "text": "b"}),
        ("stream", {"name": "stderr", "text": "c"}),
        ("display_data", {"data": {"text/plain": "d"}}),
        ("stream", {"name": "stdout", "text": "e"}),
    )
    assert [o.get("text") for o in outputs] == ["ab", "c", None, "e"]


def test_clear_output_now_and_on_next_output():
    assert collect(("stream", {"name": "stdout", "text": "a"}), ("clear_output", {})) == []
    outputs = collect(
        ("stream", {"name": "stdout", "text": "a"}),
        ("clear_output", {"wait": True}),
        ("stream", {"name": "stdout", "text": "b"}),
    )
    assert [o["text"] for o in outputs] == ["b"]


def test_update_display_data_replaces_by_id():
    outputs = collect(
        ("display_data", {"data": {"text/plain": "old"}, "transient": {"display_id": "x"}}),
        ("update_display_data", {"data": {"text/plain": "new"}, "transient": {"display_id": "x"}}),
    )
    assert outputs[0]["data"] == {"text/plain": "new"}


def test_unknown_messages_are_ignored():
    assert collect(("execute_input", {"code": "1"}), ("comm_open", {})) == []


def render(*outputs):
    return PageTemplate.default().render(outputs, title="t <b>")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"text/html": "<b>x</b>", "text/plain": "x"}, "<b>x</b>"),
        (
            {"image/png": "iVBO\nRw0", "text/plain": "fig"},
            '<img src="data:image/png;base64,iVBORw0"',
        ),
        ({"text/plain": "<&>"}, "<pre>&lt;&amp;&gt;</pre>"),
        ({"application/json": {"a": "<"}}, "&quot;a&quot;: &quot;&lt;&quot;"),
        ({"application/javascript": "go()"}, "<script>go()</script>"),
        ({"text/markdown": ["# h", "<i>"]}, "<pre># h&lt;i&gt;</pre>"),
    ],
)
def test_richest_representation_wins(data, expected):
    assert expected in render({"output_type": "display_data", "data": data, "metadata": {}})


def test_text_and_tracebacks_are_escaped():
    page = render(
        {"output_type": "stream", "name": "stdout", "text": "<script>alert(1)</script>"},
        {"output_type": "error", "ename": "E", "evalue": "v", "traceback": ["\x1b[31m<x>\x1b[0m"]},
    )
    assert "<script>alert(1)" not in page
    assert '<span class="ansi-red">&lt;x&gt;</span>' in page
    assert "<title>t &lt;b&gt;</title>" in page


def test_page_is_complete_small_and_offline():
    page = render({"output_type": "display_data", "data": {"text/html": "<p>hi</p>"}})
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert len(page.encode()) < 4096
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)


def test_template_must_have_both_slots():
    with pytest.raises(ValueError, match="body"):
        PageTemplate("<!--title--> no body slot")


def test_ansi_codes():
    assert ansi_to_html("\x1b[1;32mok\x1b[0m plain") == (
        '<span class="ansi-green ansi-bold">ok</span> plain'
    )
    assert ansi_to_html("\x1b[2Kgone") == "gone"
    assert ansi_to_html("\x1b[91mx\x1b[39my") == '<span class="ansi-red ansi-bright">x</span>y'


def test_a_large_output_is_copied_once_into_the_page():
    import tracemalloc

    big = "<pre>" + "x" * 20_000_000 + "</pre>"
    outputs = [{"output_type": "display_data", "data": {"text/html": big}}]
    template = PageTemplate.default()
    tracemalloc.start()
    try:
        page = template.render(outputs, title="t")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert big in page
    assert peak < 1.2 * len(big), f"{peak / len(big):.2f} copies besides the output"


def test_plotly_figures_get_the_packages_plotly_js_once_per_page(monkeypatch):
    from kfp_viz_kernels import page as page_module

    monkeypatch.setattr(page_module, "plotly_js", lambda: "/*plotly.js*/")
    figure = {"data": [{"type": "bar", "x": ["</script>"], "y": [1]}], "layout": {}}
    bundle = {"application/vnd.plotly.v1+json": figure, "text/html": "<p>fallback</p>"}
    out = {"output_type": "display_data", "data": bundle, "metadata": {}}
    page = render(out, out)
    assert page.count("/*plotly.js*/") == 1 and page.count('class="plotly-figure"') == 2
    assert "fallback" not in page and "<\\/script>" not in page and "\\u003c/script>" in page
    monkeypatch.setattr(page_module, "plotly_js", lambda: None)  # plotly not installed
    assert "<p>fallback</p>" in render(out)


def test_plotly_js_is_the_installed_packages():
    from kfp_viz_kernels.page import plotly_js

    script = plotly_js()
    assert script is not None and "plotly.js v" in script[:400] and "</script" not in script
