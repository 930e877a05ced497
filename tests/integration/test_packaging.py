"""`pip install .` of a fresh clone needs no index holding kfp-viz (setup.py), and a release's
sdist requires the SDK by version, as PyPI needs.

Slow (about 30 s: two builds and an install). The clone is this checkout's files as `git
clone` would give them (tracked and new ones, nothing ignored). Its install runs with
`--no-index`: kfp-viz can come only from the clone's ./sdk. The server's other dependencies are
those of the test's venv, made visible to the fresh venv through a path file (installing them
anew would take minutes and a gigabyte); the test's own kfp-viz and kfp-viz-server are left out
of it, so neither can stand in for what the clone installs.
"""

from __future__ import annotations

import configparser
import email.parser
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest
from sdk_support import ROOT, fresh_venv

pytestmark = pytest.mark.integration

OURS = ("kfp_viz", "kfp-viz", "__editable__", "pip")
"""Entries of the test venv's site-packages the fresh venv must not see: our two
distributions (their editable finders and .pth files too) and pip (the fresh venv has its
own)."""


def clone(destination: Path) -> Path:
    """The checkout's files as a fresh clone of them would hold (uncommitted edits included)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.split(b"\0")  # fmt: skip
    for name in filter(None, (item.decode() for item in listed)):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def others_of_the_test_venv(folder: Path) -> Path:
    """A folder of links to the test venv's installed distributions, ours left out."""
    folder.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        if entry.name.startswith(OURS) or entry.suffix == ".pth":
            continue
        (folder / entry.name).symlink_to(entry)
    return folder


def requires(metadata: str) -> list[str]:
    return email.parser.Parser().parsestr(metadata, headersonly=True).get_all("Requires-Dist")


def test_a_fresh_clone_installs_with_no_index_holding_kfp_viz(tmp_path):
    source = clone(tmp_path / "clone")
    venv = fresh_venv(tmp_path / "venv")
    python = venv / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.run([python, "-c", purelib], capture_output=True, text=True,
                               check=True).stdout.strip())  # fmt: skip
    (site / "deps.pth").write_text(f"{others_of_the_test_venv(tmp_path / 'deps')}\n")
    # The venv's own setuptools (Python's bundled one) is older than the build needs: the
    # test venv's takes its place, as a build environment would bring a current one.
    subprocess.run([python, "-m", "pip", "uninstall", "--yes", "--quiet", "setuptools"],
                   check=True)  # fmt: skip
    installed = subprocess.run(
        [python, "-m", "pip", "install", "--no-index", "--no-build-isolation", "--quiet",
         "--no-cache-dir", str(source)],
        capture_output=True, text=True, timeout=600,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PIP_FIND_LINKS": ""},
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr

    probe = subprocess.run(
        [python, "-c", "import kfp_viz, kfp_viz_server.cli, importlib.metadata as m; "
         "print(kfp_viz.__file__); print(kfp_viz_server.cli.__file__); "
         "print(m.distribution('kfp-viz').read_text('direct_url.json'))"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    sdk_file, server_file, direct_url = probe.stdout.splitlines()
    assert sdk_file.startswith(str(site)) and server_file.startswith(str(site))
    assert (source / "sdk").as_uri() in direct_url, "kfp-viz came from the clone's ./sdk"
    server = subprocess.run([python, "-c", "import importlib.metadata as m; "
                             "print(m.distribution('kfp-viz-server').read_text('METADATA'))"],
                            capture_output=True, text=True, check=True,
                            cwd=tmp_path).stdout  # fmt: skip
    assert f"kfp-viz[grpc,kafka] @ {(source / 'sdk').as_uri()}" in requires(server)


def test_the_sdist_requires_the_sdk_by_version(tmp_path):
    """What PyPI gets: the sdist (and the wheel built from it) names kfp-viz by version."""
    source = clone(tmp_path / "clone")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path / "dist"),
         str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    released = f"kfp-viz[grpc,kafka]=={setup['metadata']['version']}"
    sdist = next((tmp_path / "dist").glob("*.tar.gz"))
    with tarfile.open(sdist) as archive:
        info = next(m for m in archive.getmembers() if m.name.endswith("/PKG-INFO")
                    and m.name.count("/") == 1)  # fmt: skip
        assert not any(m.name.split("/", 1)[-1].startswith("sdk/") for m in archive.getmembers())
        pkg_info = archive.extractfile(info).read().decode()
    assert released in requires(pkg_info)
    assert not [r for r in requires(pkg_info) if "@" in r], "no direct reference: PyPI refuses it"
    wheel = next((tmp_path / "dist").glob("*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        assert released in requires(archive.read(name).decode())
