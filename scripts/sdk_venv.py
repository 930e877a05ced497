"""Virtual environments holding only the SDK (sdk/), as a pipeline step installs it.

    python scripts/sdk_venv.py [EXTRAS]     # e.g. `kafka`, or nothing for the base install;
                                            # prints the environment's folder

Made from Debian's /usr/bin/python3 (whose standard library a uid-1000 process can read,
unlike pyenv's under /root) and kept under $KFP_VIZ_CACHE (~/.cache/kfp-viz), named by the
extras and a digest of sdk/: a repeat run reuses one, any change to the SDK makes a new one.
Built at low priority, one builder at a time per folder (a lock: the lead and helpers share
the cache), from a copy of sdk/ so pip's build leaves nothing in the working tree.
scripts/lib/deps.sh builds the ones the tests use (tests/integration/test_sdk_install.py);
scripts/sdk_size.py measures fresh ones with `create`.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SDK = ROOT / "sdk"
CACHE = Path(os.environ.get("KFP_VIZ_CACHE", Path.home() / ".cache" / "kfp-viz"))
PYTHON = "/usr/bin/python3"
LEFTOVERS = ("build", "dist", "*.egg-info", "__pycache__")
"""What installs and builds leave in sdk/: not part of the SDK's source."""
STALE_AFTER = 7 * 86400
"""Seconds unused after which an environment of another SDK digest is removed (another
checkout may still be using a recent one)."""


def sdk_digest() -> str:
    """A digest of every file of the SDK's source (not of what builds leave behind)."""
    digest = hashlib.sha256()
    for path in sorted(SDK.rglob("*")):
        relative = path.relative_to(SDK)
        leftover = any(fnmatch(part, pattern) for part in relative.parts for pattern in LEFTOVERS)
        if path.is_file() and not leftover:
            digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def create(folder: Path, extras: str = "", python: str = PYTHON) -> None:
    """A new environment in `folder` with `pip install ./sdk[extras]`, at low priority."""
    subprocess.run(["nice", "-n", "19", python, "-m", "venv", str(folder)], check=True)
    with tempfile.TemporaryDirectory(prefix="kfp-viz-sdk-") as scratch:
        source = Path(scratch) / "sdk"
        shutil.copytree(SDK, source, ignore=shutil.ignore_patterns(*LEFTOVERS))
        spec = f"{source}[{extras}]" if extras else str(source)
        subprocess.run(
            ["nice", "-n", "19", str(folder / "bin" / "python"), "-m", "pip", "install",
             "--quiet", "--no-input", "--disable-pip-version-check", spec],
            check=True,
        )  # fmt: skip


def cached(extras: str = "") -> Path:
    """The cached environment of this SDK with `extras`, built first if there is none."""
    name = f"sdk-venv-{extras.replace(',', '-') or 'base'}"
    folder = CACHE / f"{name}-{sdk_digest()}"
    done = folder / ".complete"
    if done.exists():
        done.touch()  # in use: not stale
        return folder
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            print(
                f">> installing ./sdk{f'[{extras}]' if extras else ''} alone into {folder}",
                file=sys.stderr,
            )
            shutil.rmtree(folder, ignore_errors=True)
            create(folder, extras)
            done.touch()
    _remove_stale(name, keep=folder)
    return folder


def _remove_stale(name: str, keep: Path) -> None:
    for old in CACHE.glob(f"{name}-*"):
        marker = old / ".complete"
        if old != keep and marker.exists() and time.time() - marker.stat().st_mtime > STALE_AFTER:
            shutil.rmtree(old, ignore_errors=True)
            (CACHE / f"{old.name}.lock").unlink(missing_ok=True)


if __name__ == "__main__":
    print(cached(sys.argv[1] if len(sys.argv) > 1 else ""))
