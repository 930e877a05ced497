"""What installing the SDK alone costs a pipeline step: prints figures, never passes or fails.

For the base install and each extra, `pip install ./sdk[EXTRA]` into a fresh venv (Debian's
/usr/bin/python3, as scripts/sdk_venv.py makes them) and prints the venv's size, what the
install added to an empty venv (pip itself is most of an empty one), the distributions it
pulled in besides kfp-viz, and the median seconds of making the venv and installing into it
over `--runs` installs (pip's download cache is warm after the first: what a step's image
build spends, not the network).

Usage: python scripts/sdk_size.py [--runs 3] [--extras ,kafka,grpc,rich]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from sdk_venv import PYTHON, create

LISTING = (
    "import importlib.metadata as m, json; "
    "print(json.dumps(sorted({d.metadata['Name'].lower() for d in m.distributions()})))"
)
NOT_DEPENDENCIES = {"pip", "setuptools", "kfp-viz"}
"""What every venv has (pip; setuptools on older Pythons) and the SDK itself."""


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under `folder`, as `du --apparent-size` counts them (links once)."""
    total, seen = 0, set()
    for root, _, files in os.walk(folder):
        for name in files:
            info = os.lstat(os.path.join(root, name))
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_size
    return total


def distributions(folder: Path) -> list[str]:
    """Names of the distributions installed in the venv at `folder`."""
    listing = subprocess.run(
        [str(folder / "bin" / "python"), "-I", "-c", LISTING], check=True, capture_output=True
    )
    return json.loads(listing.stdout)


def measure(extras: str, runs: int, scratch: Path) -> dict:
    """Size, dependencies and install time of `./sdk[extras]` in fresh venvs."""
    empty = scratch / "empty"
    subprocess.run([PYTHON, "-m", "venv", str(empty)], check=True)
    seconds = []
    for run in range(runs):
        folder = scratch / f"{extras or 'base'}-{run}"
        started = time.monotonic()
        create(folder, extras)
        seconds.append(time.monotonic() - started)
    size = folder_bytes(folder)
    return {
        "install": f"./sdk[{extras}]" if extras else "./sdk",
        "venv_mb": size / 1e6,
        "added_mb": (size - folder_bytes(empty)) / 1e6,
        "dependencies": [d for d in distributions(folder) if d not in NOT_DEPENDENCIES],
        "seconds": statistics.median(seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--extras", default=",kafka,grpc,rich", help="comma-separated; '' = base")
    args = parser.parse_args()
    print(f"{'install':<18} {'venv MB':>8} {'added MB':>9} {'deps':>5} {'secs':>6}  dependencies")
    for extras in args.extras.split(","):
        with tempfile.TemporaryDirectory(prefix="kfp-viz-sdk-size-") as scratch:
            row = measure(extras.strip(), args.runs, Path(scratch))
        print(
            f"{row['install']:<18} {row['venv_mb']:8.1f} {row['added_mb']:9.2f} "
            f"{len(row['dependencies']):5d} {row['seconds']:6.1f}  "
            f"{', '.join(row['dependencies']) or '-'}"
        )


if __name__ == "__main__":
    main()
