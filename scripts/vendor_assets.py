#!/usr/bin/env python3
"""Re-fetch every third-party asset inlined into pages, from the npm registry, and check it.

Pages must display with no network, so the few libraries they use are kept in the
repository under `kernels/assets/vendor/<package>/`, each with its licence (the built-in
types' pages and the live progress pages, server/progress/page.py, inline them). This script
is the only way those files change: it runs `npm pack <package>@<version>` (npm checks
the tarball against the registry's integrity hash), takes the listed files out of the
tarball, checks each against the SHA-256 pinned below and writes it. A digest that does
not match stops the script before anything is written. `--check` only compares the files
in the repository with the pins (no network); `tests/unit/test_vendored_assets.py` does
the same on every test run.

To upgrade: change the version, run with `--print-digests` to see the new files' digests,
read the library's changes, then pin the digests and run again.

Usage: python scripts/vendor_assets.py [--check | --print-digests]
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "kernels" / "assets" / "vendor"


@dataclass(frozen=True)
class Asset:
    package: str
    version: str
    member: str
    """The file's path inside the npm tarball (under its `package/` folder)."""
    sha256: str

    @property
    def target(self) -> Path:
        return VENDOR / self.package / Path(self.member).name


# package   version   file in the tarball   SHA-256 of that file
ASSETS = (
    Asset("uplot", "1.6.32", "dist/uPlot.iife.min.js",
          "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f"),
    Asset("uplot", "1.6.32", "dist/uPlot.min.css",
          "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04"),
    Asset("uplot", "1.6.32", "LICENSE",
          "8f989229699b4fe2f1a0432d0e9edc338a8a911e250e2d1b01ecd770a5f5b1bd"),
)  # fmt: skip


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mismatches() -> list[str]:
    """What in the repository differs from the pins (empty when everything matches)."""
    problems = []
    for asset in ASSETS:
        if not asset.target.exists():
            problems.append(f"{asset.target.relative_to(ROOT)} is missing")
        elif sha256(asset.target.read_bytes()) != asset.sha256:
            problems.append(f"{asset.target.relative_to(ROOT)} does not match its pinned SHA-256")
    return problems


def fetch(package: str, version: str, folder: Path) -> tarfile.TarFile:
    """`npm pack` the package into `folder` and open the tarball."""
    subprocess.run(
        ["npm", "pack", f"{package}@{version}", "--pack-destination", str(folder), "--silent"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return tarfile.open(folder / f"{package}-{version}.tgz")


def fetched_files() -> dict[Asset, bytes]:
    """Every asset's bytes, straight from the registry."""
    found: dict[Asset, bytes] = {}
    with tempfile.TemporaryDirectory() as folder:
        for package, version in dict.fromkeys((a.package, a.version) for a in ASSETS):
            with fetch(package, version, Path(folder)) as tarball:
                for asset in ASSETS:
                    if (asset.package, asset.version) == (package, version):
                        member = tarball.extractfile(f"package/{asset.member}")
                        if member is None:
                            raise SystemExit(f"{package}@{version} has no file {asset.member}")
                        found[asset] = member.read()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="compare the files with the pins")
    mode.add_argument("--print-digests", action="store_true", help="fetch and print digests")
    args = parser.parse_args()
    if args.check:
        problems = mismatches()
        print("\n".join(problems) or "every vendored asset matches its pinned SHA-256")
        return 1 if problems else 0
    files = fetched_files()
    if args.print_digests:
        for asset, data in files.items():
            print(f"{asset.package}@{asset.version} {asset.member} {sha256(data)}")
        return 0
    wrong = [a for a, data in files.items() if sha256(data) != a.sha256]
    if wrong:
        for asset in wrong:
            print(f"{asset.package}@{asset.version} {asset.member}: SHA-256 "
                  f"{sha256(files[asset])}, pinned {asset.sha256}", file=sys.stderr)  # fmt: skip
        return 1
    for asset, data in files.items():
        asset.target.parent.mkdir(parents=True, exist_ok=True)
        asset.target.write_bytes(data)
        print(f"wrote {asset.target.relative_to(ROOT)} ({len(data):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
