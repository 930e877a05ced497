"""Fixtures both test suites use."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest


class ProjectedVolume:
    """A projected ServiceAccount token laid out as the kubelet lays it out: `token` →
    `..data/token`, `..data` → a timestamped folder, swapped with one atomic rename when the
    token is rotated (what kfp_viz.sa_token must follow)."""

    def __init__(self, root: Path) -> None:
        self.root, self.generation = root, 0
        root.mkdir(parents=True, exist_ok=True)
        (root / "token").symlink_to("..data/token")

    @property
    def path(self) -> Path:
        return self.root / "token"

    @property
    def current(self) -> Path:
        """The file behind the links now."""
        return self.root / os.readlink(self.root / "..data") / "token"

    def write(self, token: str) -> None:
        self.generation += 1
        folder = self.root / f"..2026_01_01_00_00_{self.generation:02d}"
        folder.mkdir()
        (folder / "token").write_text(token)
        (self.root / "..data_tmp").symlink_to(folder.name)
        os.replace(self.root / "..data_tmp", self.root / "..data")


@pytest.fixture
def projected_volume(tmp_path: Path) -> Callable[[str], ProjectedVolume]:
    """Factory: projected_volume(name) → an empty ProjectedVolume in the test's folder."""
    return lambda name: ProjectedVolume(tmp_path / name)
