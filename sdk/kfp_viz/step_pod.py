"""What a Kubeflow Pipelines step pod says about itself without being asked: the run id.

KFP v2 does not put the run id in a step's environment, but its launcher is the step's
parent process: the driver makes the main container's command
`/kfp-launcher/launch --pipeline_name P --run_id RUN --execution_id N ... --pod_name
$(KFP_POD_NAME) --pod_uid $(KFP_POD_UID) ... -- <the component's command>`, and the launcher
runs that command as its child. Its arguments are in `/proc/<pid>/cmdline`, readable by its
children in the same container. KFP v1 sets `KFP_RUN_ID` itself (from the pod label
`pipeline/runid`) only in steps given the pod label `add-pod-env: "true"`, which
`kfp_viz.progress` reads before this.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
LAUNCHER_NAMES = frozenset({"launch", "launcher-v2"})
"""The basename of KFP v2's launcher as the driver starts it (/kfp-launcher/launch): the
process's first argument, or its second when an interpreter runs it as a script."""
MAX_ANCESTORS = 8
"""How far up the process tree to look: the launcher is the parent, or the parent of a
shell the component's command starts (`sh -ec "python3 -m kfp.dsl.executor_main ..."`)."""


def launcher_run_id(proc: Path = PROC, pid: int | None = None) -> str:
    """The `--run_id` of the nearest KFP v2 launcher among this process's ancestors; "" when
    there is none (not in a KFP v2 step, or no /proc)."""
    current = os.getpid() if pid is None else pid
    for _ in range(MAX_ANCESTORS):
        parent = _parent(proc, current)
        if parent <= 0:
            return ""
        argv = _argv(proc, parent)
        if any(os.path.basename(arg) in LAUNCHER_NAMES for arg in argv[:2]):
            return _flag(argv, "--run_id")
        current = parent
    return ""


def _parent(proc: Path, pid: int) -> int:
    """The parent's pid from /proc/<pid>/stat (the field after the name, which may hold
    spaces and parentheses, hence from the last ')')."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
        return int(stat.rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _argv(proc: Path, pid: int) -> list[str]:
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0")[:-1]]


def _flag(argv: list[str], name: str) -> str:
    """The value of `name VALUE` or `name=VALUE` before the `--` that starts the user's
    command."""
    for index, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == name and index + 1 < len(argv):
            return argv[index + 1].strip()
        if arg.startswith(name + "="):
            return arg[len(name) + 1 :].strip()
    return ""
