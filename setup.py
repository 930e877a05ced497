"""kfp-viz-server's build: setup.cfg declares everything; this file only finds the SDK.

setup.cfg requires the SDK as a release needs it, `kfp-viz[grpc,kafka]==<version>`. In a
source checkout (./sdk beside this file) that requirement becomes a direct reference to
./sdk, so `pip install .` of a fresh clone installs the SDK of the same commit with no index
holding kfp-viz. An sdist keeps the versioned requirement (PyPI refuses direct references),
and so does every wheel built from one, a release's included: the sdist holds no ./sdk.
`python -m build` builds the sdist first and the wheel from it, which is how a release is made
(docs/maintainers/README.md#releasing); tests/unit/test_layering.py checks both forms.
"""

from __future__ import annotations

import configparser
import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
SDK = HERE / "sdk"
SDK_NAME = "kfp-viz"


def declared_requirements() -> list[str]:
    """`install_requires` as setup.cfg declares it (comments dropped)."""
    setup = configparser.ConfigParser()
    setup.read(HERE / "setup.cfg")
    return [line.strip() for line in setup["options"]["install_requires"].splitlines() if line]


def requirements(argv: Sequence[str], sdk: Path = SDK) -> list[str]:
    """setup.cfg's requirements, the SDK's as a direct reference to `sdk` when it is there and
    this is not an sdist being made."""
    declared = declared_requirements()
    if "sdist" in argv or not (sdk / "pyproject.toml").is_file():
        return declared
    return [_from_checkout(line, sdk) if _is_sdk(line) else line for line in declared]


def _is_sdk(requirement: str) -> bool:
    name = requirement.split("[", 1)[0].split("=", 1)[0].strip()
    return name.replace("_", "-").lower() == SDK_NAME


def _from_checkout(requirement: str, sdk: Path) -> str:
    """`kfp-viz[grpc,kafka]==0.1.0` → `kfp-viz[grpc,kafka] @ file:///…/sdk`."""
    name_and_extras = requirement.split("==", 1)[0].strip()
    return f"{name_and_extras} @ {sdk.as_uri()}"


if __name__ == "__main__":
    from setuptools import setup

    setup(install_requires=requirements(sys.argv))
