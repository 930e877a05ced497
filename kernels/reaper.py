"""Ending what renders leave running: process trees read from /proc, killed until none is left.

Why: code in a render can start processes that outlive it (`sleep 300 &`, a daemon that
calls `setsid` and listens on a socket, a hundred forks); left alone they outlive the
kernel and even the server. The kernel factory is the child subreaper of every kernel
(kernels/zygote.py), so whatever a kernel's processes leave behind becomes the factory's
child instead of escaping to init, and this module finds and ends it:

- `descendants(pid)`: every process below `pid`, from one read of /proc (this machine's
  Linux has no /proc/<pid>/task/<tid>/children, and the scan works everywhere).
- `kill_all(...)`: SIGKILL a set of trees, then look again, until no process is left:
  a process that forks while it is being killed leaves children, which are found and
  killed in the next round.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterable

KILL_ROUNDS = 50


def parents() -> dict[int, int]:
    """pid → parent pid for every process this one can see."""
    found: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        found[int(name)] = int(fields[1])
    return found


def children_map(table: dict[int, int] | None = None) -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for pid, parent in (parents() if table is None else table).items():
        children.setdefault(parent, []).append(pid)
    return children


def descendants(roots: Iterable[int], children: dict[int, list[int]] | None = None) -> set[int]:
    """Every process below the `roots` (not the roots themselves)."""
    children = children_map() if children is None else children
    found: set[int] = set()
    todo = [child for root in roots for child in children.get(root, ())]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def kill_all(find: Callable[[], set[int]], reap: Callable[[], object] = lambda: None) -> int:
    """SIGKILL what `find()` returns, and again, until it returns nothing; return how many.

    `reap` collects the exit status of killed children (the subreaper's duty), so that
    they do not linger as zombies that a later `find()` would see again.
    """
    killed: set[int] = set()
    for _ in range(KILL_ROUNDS):
        found = find() - killed
        if not found:
            break
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        killed |= found
        reap()
    return len(killed)
