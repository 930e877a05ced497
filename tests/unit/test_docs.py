"""The README matches the code: its two commands exist, every setting is documented."""

from __future__ import annotations

import os
import re
from pathlib import Path

from kfp_viz_server.config import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_readme_starts_with_the_two_commands():
    first_block = re.search(r"```sh\n(.*?)```", README, re.S)[1]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands == ["./scripts/serve", "./scripts/test"]
    for command in commands:
        assert os.access(ROOT / command, os.X_OK), f"{command} is not executable"


def test_ci_runs_the_readme_test_command():
    assert "./scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_every_setting_is_in_the_readme_table():
    rows = {line for line in README.splitlines() if line.startswith("| `--")}
    for setting in SETTINGS:
        row = next((r for r in rows if r.startswith(f"| `{setting.flag}`")), None)
        assert row is not None, f"{setting.flag} is missing from the README's settings table"
        assert f"`{setting.env}`" in row
    assert len(rows) == len(SETTINGS), "the README documents a setting the server does not have"
