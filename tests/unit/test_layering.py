"""The house's rules of direction: the SDK needs nothing of the server, the core nothing of
the edge, and the two distributions move in step.

- `kfp_viz` (sdk/): what pipeline steps install; it imports neither the server nor the core.
- `kfp_viz_kernels` (kernels/): execution; it never imports `kfp_viz_server` (the edge).
- `kfp_viz_server` (server/): the process; it may import both.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "kfp_viz": ROOT / "sdk" / "kfp_viz",
    "kfp_viz_kernels": ROOT / "kernels",
    "kfp_viz_server": ROOT / "server",
}
FORBIDDEN = {
    "kfp_viz": {"kfp_viz_server", "kfp_viz_kernels"},
    "kfp_viz_kernels": {"kfp_viz_server"},
}


def imported_packages(path: Path) -> set[str]:
    """Top-level names a module imports (relative imports stay inside its package)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_only_inward(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in PACKAGES[package].rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_old_generic_names_are_gone():
    """`server` and `kernels` as import names would collide with other installs."""
    stale = {
        str(path.relative_to(ROOT))
        for folder in PACKAGES.values()
        for path in folder.rglob("*.py")
        if imported_packages(path) & {"server", "kernels"}
    }
    assert stale == set()


def _setup_py():
    spec = importlib.util.spec_from_file_location("setup_py", ROOT / "setup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # defines; setup() runs only as __main__
    return module


def test_the_sdk_and_the_server_move_in_step(tmp_path):
    """A release requires the SDK of its own version; a checkout requires its own ./sdk
    (setup.py), so `pip install .` of a fresh clone needs no index holding kfp-viz, while an
    sdist keeps the version PyPI can resolve. Real builds: tests/integration/test_packaging.py."""
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    server_version = setup["metadata"]["version"]
    sdk = tomllib.loads((ROOT / "sdk" / "pyproject.toml").read_text())["project"]
    assert sdk["version"] == server_version
    released = f"kfp-viz[grpc,kafka]=={server_version}"
    assert released in setup["options"]["install_requires"].split()
    setup_py = _setup_py()
    declared = setup_py.declared_requirements()
    from_checkout = f"kfp-viz[grpc,kafka] @ {(ROOT / 'sdk').as_uri()}"
    for command in ("dist_info", "bdist_wheel", "egg_info", "editable_wheel"):
        wheel = setup_py.requirements(["setup.py", command])
        assert wheel == [from_checkout if line == released else line for line in declared]
    assert setup_py.requirements(["setup.py", "sdist", "--formats", "gztar"]) == declared
    assert setup_py.requirements(["setup.py", "bdist_wheel"], sdk=tmp_path) == declared


def test_test_modules_have_names_of_their_own():
    """pytest imports test modules by their base name (no packages): two files of one name,
    in unit/ and integration/, pass alone and break the whole suite's collection."""
    names = [path.name for path in (ROOT / "tests").rglob("test_*.py")]
    assert sorted(name for name in set(names) if names.count(name) > 1) == []
