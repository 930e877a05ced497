"""Helpers for the tests of the SDK as steps install it: its cached venvs (scripts/sdk_venv.py),
its built distributions (scripts/sdk_dist.py, what the server serves at /simple/), fresh venvs,
and a step pod's environment with nothing of this checkout or of the test's venv in reach."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
STEP_PYTHON = "/usr/bin/python3"
"""Debian's interpreter, as the SDK venvs use (uid 1000 can run it; pyenv's it cannot)."""


def _script(name: str) -> ModuleType:
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))  # sdk_dist imports sdk_venv beside it
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sdk_venv(extras: str = "") -> Path:
    """The cached venv holding `./sdk[extras]` alone (built first when sdk/ changed)."""
    return _script("sdk_venv").cached(extras)


def sdk_dists() -> list[Path]:
    """The SDK's wheel and sdist of the current sdk/, where a server run from .venv serves
    them by default (built first when sdk/ changed)."""
    return _script("sdk_dist").ensure()


def fresh_venv(folder: Path) -> Path:
    """A new, empty venv (pip only) in `folder`."""
    subprocess.run([STEP_PYTHON, "-m", "venv", str(folder)], check=True)
    return folder


def step_env(**extra: str) -> dict[str, str]:
    """A step pod's environment: nothing of this checkout or of the test's venv reachable;
    pip's settings of this machine (its CA bundle) kept, its local wheel folder dropped."""
    keep = {k: v for k, v in os.environ.items()
            if k in ("PATH", "HOME", "LANG", "TMPDIR") or k.startswith("PIP_")}  # fmt: skip
    keep.pop("PIP_FIND_LINKS", None)
    return {**keep, **extra}


def run_in(venv: Path, *args: str, env: dict[str, str], cwd: Path,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """`args[0]` from the venv's bin/, the rest its arguments."""
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
