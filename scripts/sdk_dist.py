"""The SDK's wheel and sdist (`python -m build sdk`), where the server serves them at /simple/.

    .venv/bin/python scripts/sdk_dist.py [--check] [--out FOLDER]

Builds into FOLDER (default: .venv/share/kfp-viz/sdk, where a server run from .venv looks by
default, server/config.py SDK_DIST_DIR) once per digest of sdk/ (scripts/sdk_venv.py's): a
repeat run with the same SDK does nothing, so scripts/lib/venv.sh calls it on every
`./scripts/serve` and `./scripts/test`. `--check` then runs `twine check --strict` on both files,
as `./scripts/test` does. The build runs without isolation (setuptools, build and twine come
from .venv: setup.cfg's test extras) on a copy of sdk/, so it leaves nothing in the working
tree; the sdist is built first and the wheel from it (build's default), which also proves the
sdist complete. deploy/Dockerfile builds the same into the image's share/kfp-viz/sdk.
"""

from __future__ import annotations

import argparse
import fcntl
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sdk_venv import LEFTOVERS, ROOT, SDK, sdk_digest

DEFAULT_OUT = ROOT / ".venv" / "share" / "kfp-viz" / "sdk"
STAMP = ".sdk-digest"
PATTERNS = ("kfp_viz-*.whl", "kfp_viz-*.tar.gz")


def built(out: Path) -> list[Path]:
    return sorted(path for pattern in PATTERNS for path in out.glob(pattern))


def ensure(out: Path = DEFAULT_OUT) -> list[Path]:
    """The wheel and sdist of the current sdk/ in `out`, built first when stale."""
    digest = sdk_digest()
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = out / STAMP
        if stamp.exists() and stamp.read_text() == digest and len(built(out)) == 2:
            return built(out)
        print(f">> building the SDK's wheel and sdist into {out}", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="kfp-viz-sdk-dist-") as scratch:
            source, fresh = Path(scratch) / "sdk", Path(scratch) / "dist"
            shutil.copytree(SDK, source, ignore=shutil.ignore_patterns(*LEFTOVERS))
            done = subprocess.run(
                [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(fresh),
                 str(source)],
                capture_output=True, text=True,
            )  # fmt: skip
            if done.returncode != 0:
                raise SystemExit(f"python -m build sdk failed:\n{done.stdout}{done.stderr}")
            for old in built(out):
                old.unlink()
            for new in fresh.iterdir():
                shutil.move(str(new), out / new.name)
        stamp.write_text(digest)
        return built(out)


def check(files: list[Path]) -> None:
    """`twine check --strict`: the metadata PyPI would take, the README it would render."""
    kinds = sorted(path.name.rsplit(".", 1)[-1] for path in files)
    if kinds != ["gz", "whl"]:
        raise SystemExit(f"expected one wheel and one sdist, found {[p.name for p in files]}")
    subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, files)], check=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="twine check --strict the files")
    args = parser.parse_args()
    files = ensure(args.out.resolve())
    if args.check:
        check(files)


if __name__ == "__main__":
    main()
