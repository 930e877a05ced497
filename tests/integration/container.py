"""The server's container image, built and run with Debian's podman as KFP's pod runs it.

scripts/test installs podman, runc and mmdebstrap and makes a Debian base with python3
(scripts/lib/deps.sh: ensure_podman; the registry behind `python:3.11-slim` is out of reach
here). `deploy/Dockerfile` is built unchanged on that base through its BASE argument. Podman
keeps its images under the cache, so the dependency layer is built once per setup.cfg.

Quirks of this machine, handled here: crun fails on its hybrid cgroups (runc is used), and
podman's default open-files and process limits are above what may be raised (lower ones are
passed). Containers share the host network, so tests reach them on loopback ports and they
reach the object stores the tests started.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("KFP_VIZ_CACHE", Path.home() / ".cache" / "kfp-viz"))
BASE_TAR = Path(os.environ.get("KFP_VIZ_TEST_BASE", CACHE / "images" / "base-bookworm.tar"))
RUNROOT = Path(os.environ.get("XDG_RUNTIME_DIR", "/run")) / "kfp-viz-containers"
"""Podman's per-boot state (locks, mounts): on a tmpfs, not in the cache."""
LIMITS = ("--ulimit", "nofile=16384:16384", "--ulimit", "nproc=8192:8192")
"""Passed to every build and run: podman's defaults cannot be raised to here."""
AS_KFP = ("--user", "1000:0", "--cap-drop", "ALL", "--security-opt", "no-new-privileges")
"""uid 1000, gid 0, no capabilities, no privilege escalation: KFP's pod security context."""


class Podman:
    """podman with its storage under the test cache and the runtime this machine supports."""

    def __init__(self) -> None:
        self.prefix = [
            "podman",
            "--root", str(CACHE / "containers" / "storage"),
            "--runroot", str(RUNROOT),
            "--runtime", "runc",
            "--cgroup-manager", "cgroupfs",
            "--events-backend", "none",
        ]  # fmt: skip

    def __call__(
        self, *args: str, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*self.prefix, *args], capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"podman {' '.join(args[:3])} ... failed ({result.returncode}):\n"
                f"{result.stdout[-4000:]}{result.stderr[-4000:]}"
            )
        return result

    def base_image(self) -> str:
        """The Debian test base, imported once per tarball (named by the tarball's digest)."""
        assert BASE_TAR.exists(), f"{BASE_TAR} is missing: run ./scripts/test (ensure_podman)"
        digest = hashlib.sha256(
            f"{BASE_TAR.stat().st_size}:{BASE_TAR.stat().st_mtime_ns}".encode()
        ).hexdigest()[:12]
        name = f"localhost/kfp-viz-test-base:{digest}"
        if self("image", "exists", name, check=False).returncode != 0:
            self("import", str(BASE_TAR), name, timeout=600)
        return name

    def build(self, tag: str) -> str:
        """Build deploy/Dockerfile from the repository, on the test base; returns `tag`."""
        self(
            "build", "--network", "host", *LIMITS,
            "--build-arg", f"BASE={self.base_image()}",
            "-f", str(ROOT / "deploy" / "Dockerfile"), "-t", tag, str(ROOT),
            timeout=1800,
        )  # fmt: skip
        return tag

    def run_detached(self, image: str, *options: str, args: tuple[str, ...] = ()) -> str:
        """Start a container (host network, KFP's security context); returns its id."""
        result = self("run", "--detach", "--network", "host", *LIMITS, *options, image, *args)
        return result.stdout.strip()

    def pid(self, container: str) -> int:
        """The host pid of the container's first process."""
        state = json.loads(self("inspect", container).stdout)[0]["State"]
        assert state["Running"], f"container {container} is not running: {state}"
        return int(state["Pid"])

    def logs(self, container: str) -> str:
        result = self("logs", container, check=False)
        return result.stdout + result.stderr

    def remove(self, container: str) -> None:
        self("rm", "--force", "--time", "5", container, check=False)

    def layers(self, image: str) -> list[tuple[int, str]]:
        """(size in bytes, instruction) of each layer, newest first."""
        result = self("history", "--no-trunc", "--format", "json", image)
        return [(int(layer["size"]), layer["CreatedBy"]) for layer in json.loads(result.stdout)]

    def size(self, image: str) -> int:
        return int(json.loads(self("image", "inspect", image).stdout)[0]["Size"])
