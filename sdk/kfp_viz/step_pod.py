"""What a Kubeflow Pipelines step pod says about itself without being asked: run and task.

KFP v2 does not put the run id or the task's name in a step's environment, but its
launcher is the step's parent process: the driver makes the main container's command
`/kfp-launcher/launch --pipeline_name P --run_id RUN --execution_id N --executor_input
JSON --component_spec JSON ... -- <the component's command>`, and the launcher runs that
command as its child. Its arguments are in `/proc/<pid>/cmdline`, readable by its
children in the same container. The task's name is in the executor input: the driver
puts a task's outputs under `<pipeline root>/<pipeline>/<run id>/<task name>/<salt>/`
(`outputs.outputFile`, as a local path such as `/minio/...`, and each output artifact's
`uri`). A task without outputs whose output file is KFP's older fixed path
(`/tmp/kfp_outputs/...`) cannot tell. KFP v1 sets `KFP_RUN_ID` itself (from the pod label
`pipeline/runid`) only in steps given the pod label `add-pod-env: "true"`, which
`kfp_viz.progress` reads before this.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .events import NODE_ID

PROC = Path("/proc")
LAUNCHER_NAMES = frozenset({"launch", "launcher-v2"})
"""The basename of KFP v2's launcher as the driver starts it (/kfp-launcher/launch): the
process's first argument, or its second when an interpreter runs it as a script."""
MAX_ANCESTORS = 8
"""How far up the process tree to look: the launcher is the parent, or the parent of a
shell the component's command starts (`sh -ec "python3 -m kfp.dsl.executor_main ..."`)."""


@dataclass(frozen=True)
class LauncherStep:
    """What the nearest KFP v2 launcher says of the step: "" for what it does not say."""

    run_id: str = ""
    task_name: str = ""


def launcher_step(proc: Path = PROC, pid: int | None = None) -> LauncherStep:
    """The run id and task name of the nearest KFP v2 launcher among this process's
    ancestors; empty when there is none (not in a KFP v2 step, or no /proc)."""
    current = os.getpid() if pid is None else pid
    for _ in range(MAX_ANCESTORS):
        parent = _parent(proc, current)
        if parent <= 0:
            return LauncherStep()
        argv = _argv(proc, parent)
        if any(os.path.basename(arg) in LAUNCHER_NAMES for arg in argv[:2]):
            run_id = _flag(argv, "--run_id")
            return LauncherStep(run_id, task_name(_flag(argv, "--executor_input"), run_id))
        current = parent
    return LauncherStep()


def launcher_run_id(proc: Path = PROC, pid: int | None = None) -> str:
    """The `--run_id` of the nearest KFP v2 launcher among this process's ancestors."""
    return launcher_step(proc, pid).run_id


def task_name(executor_input: str, run_id: str) -> str:
    """The task's name from the launcher's `--executor_input`: the folder after the run id
    in the task's output paths; "" when they do not say."""
    if not run_id or not executor_input:
        return ""
    try:
        outputs = json.loads(executor_input).get("outputs") or {}
    except (ValueError, AttributeError):
        return ""
    for path in _output_paths(outputs):
        parts = path.split("/")
        for index, part in enumerate(parts[:-2]):
            if part == run_id and NODE_ID.match(parts[index + 1]):
                return parts[index + 1]
    return ""


def _output_paths(outputs: Any) -> list[str]:
    if not isinstance(outputs, dict):
        return []
    paths = [outputs.get("outputFile")]
    for listed in (outputs.get("artifacts") or {}).values():
        for artifact in (listed or {}).get("artifacts") or ():
            paths.append((artifact or {}).get("uri"))
    return [path for path in paths if isinstance(path, str)]


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
