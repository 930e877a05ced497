"""The docs match the code: the README's two commands exist, every setting is documented,
and every link between the docs leads somewhere."""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pytest
from kfp_viz_server.config import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SETTINGS_PAGE = (ROOT / "docs" / "operators" / "settings.md").read_text()
TOP_PAGES = ("README.md", "deploy/README.md", "sdk/README.md")
DOCS = sorted([*(ROOT / name for name in TOP_PAGES), *(ROOT / "docs").rglob("*.md")])
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_readme_starts_with_the_two_commands():
    first_block = re.search(r"```sh\n(.*?)```", README, re.S)[1]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands == ["./scripts/serve", "./scripts/test"]
    for command in commands:
        assert os.access(ROOT / command, os.X_OK), f"{command} is not executable"


def test_ci_runs_the_readme_test_command():
    assert "./scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_every_setting_is_in_the_settings_page():
    rows = {line for line in SETTINGS_PAGE.splitlines() if line.startswith("| `--")}
    for setting in SETTINGS:
        row = next((r for r in rows if r.startswith(f"| `{setting.flag}`")), None)
        assert row is not None, f"{setting.flag} is missing from docs/operators/settings.md"
        assert f"`{setting.env}`" in row
    assert len(rows) == len(SETTINGS), "the settings page documents a setting the server lacks"


def test_the_settings_page_is_generated_from_the_code():
    spec = importlib.util.spec_from_file_location("gen", ROOT / "scripts" / "gen_settings_doc.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert gen.MARKER in SETTINGS_PAGE
    assert gen.generated(SETTINGS_PAGE) == SETTINGS_PAGE, (
        "docs/operators/settings.md is out of date: run scripts/gen_settings_doc.py"
    )


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {_slug(m[1]) for m in re.finditer(r"^#+ (.+)$", text, re.M)}


@pytest.mark.parametrize("page", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_leads_somewhere(page: Path):
    """A doc split into pages by reader is only as good as the links between them."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        dest = (page.parent / file).resolve() if file else page
        assert dest.exists(), f"{page.name} links to {target}: no such file"
        if anchor and dest.suffix == ".md":
            assert anchor in _anchors(dest), f"{page.name} links to {target}: no such heading"
