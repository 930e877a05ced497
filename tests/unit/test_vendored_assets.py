"""The vendored third-party files are exactly the ones scripts/vendor_assets.py pins."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _vendor_script():
    path = ROOT / "scripts" / "vendor_assets.py"
    spec = importlib.util.spec_from_file_location("vendor_assets", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_vendored_file_matches_its_pinned_digest():
    script = _vendor_script()
    assert script.ASSETS, "the table of vendored assets is empty"
    assert script.mismatches() == []


def test_each_vendored_package_keeps_its_licence():
    script = _vendor_script()
    for package in {asset.package for asset in script.ASSETS}:
        assert (script.VENDOR / package / "LICENSE").is_file(), package


def test_a_changed_file_is_caught(tmp_path, monkeypatch):
    script = _vendor_script()
    first = script.ASSETS[0]
    copy = tmp_path / first.package / first.target.name
    copy.parent.mkdir()
    copy.write_bytes(first.target.read_bytes() + b"\n")
    monkeypatch.setattr(script, "VENDOR", tmp_path)
    monkeypatch.setattr(script, "ROOT", tmp_path)
    problems = script.mismatches()
    assert f"{first.package}/{first.target.name} does not match its pinned SHA-256" in problems
