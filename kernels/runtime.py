"""The in-kernel half of a render: hand the request its data, then leave no trace.

This module runs inside every kernel (installed by `kfp_viz_kernels.zygote` right after
the kernel app initialises). It never imports anything from the server.

Data in: a render's `execute_request` carries the request's `variables` and
`source` in its message metadata under `META_KEY`. IPython passes that metadata
to `pre_run_cell` listeners as `ExecutionInfo.cell_meta`; this module binds the
values as plain Python objects in the user namespace. They are never spliced
into code text, so quotes, newlines or backslashes in them cannot change what
runs.

State out: after the cell (`post_run_cell`, which IPython fires even when the
cell raised or was interrupted) everything a request could have left in the
interpreter's shared state is put back as it was when the kernel started: the
user namespace and output cache, builtins, the working folder (each render
gets a fresh empty one, deleted afterwards, which is also its TMPDIR),
environment variables, `sys.path` and `sys.argv`, the standard streams, and open
matplotlib figures. Processes a render started are ended by the kernel factory
(kernels/zygote.py), not here.

Output: a render may hold at most MAX_OUTPUT_VARIABLE bytes of output; the server
drops what is past it (kernels/outputs.py). Prints and displays past it are not
even sent: a `print` loop then costs the kernel a counter, not the server a flood.

What a reset cannot undo is a change made inside an imported module or a
background thread left running; that is why the pool replaces a kernel that
ran `custom` code unless the operator opts into reuse.
"""

from __future__ import annotations

import builtins
import os
import shutil
import sys
import tempfile
from typing import Any, TextIO

from . import plotting
from .outputs import CUT_MIME
from .sandbox import CONFINED_VARIABLE

META_KEY = "kfp_viz"
MAX_OUTPUT_VARIABLE = "KFP_VIZ_MAX_OUTPUT"


class OutputBudget:
    """What a render may still print or display; one note to the server once it is spent."""

    def __init__(self, limit: int, display: Any) -> None:
        self.left = limit
        self.limit = limit
        self._display = display
        self._cut = False

    def take(self, size: int) -> bool:
        """True if `size` more bytes may be sent; past the budget, tell the server once.
        Once cut, nothing more passes (until the output is cleared)."""
        if not self._cut and size <= self.left:
            self.left -= size
            return True
        if not self._cut:
            self._cut = True
            self._display({CUT_MIME: {"limit": self.limit}}, {})
        return False

    def refill(self) -> None:
        """The output was cleared: what it held no longer counts."""
        self.left = self.limit
        self._cut = False


FLUSH_EVERY = 4 * 2**20
"""Characters a stream may buffer before it is sent: ipykernel otherwise sends what 0.2 s of
a print loop wrote as one message, and the server parses a message in one go."""


class _CappedStream:
    """stdout or stderr for one render: writes pass until the budget is spent, and are sent
    in messages of at most about FLUSH_EVERY."""

    def __init__(self, stream: TextIO, budget: OutputBudget) -> None:
        self._stream = stream
        self._budget = budget
        self._unsent = 0

    def write(self, text: str) -> int:
        if not self._budget.take(len(text)):
            return len(text)
        written = self._stream.write(text)
        self._unsent += len(text)
        if self._unsent >= FLUSH_EVERY:
            self._unsent = 0
            self._stream.flush()
        return written

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class RequestScope:
    """Binds one request's data for the duration of one cell, then restores the kernel."""

    def __init__(self, shell: Any, work_root: str) -> None:
        self._shell = shell
        self._work_root = work_root
        self._workdir: str | None = None
        self._limit = int(os.environ.get(MAX_OUTPUT_VARIABLE) or 0)
        self._publish = shell.display_pub.publish
        self._clear_output = shell.display_pub.clear_output
        os.makedirs(work_root, exist_ok=True)
        os.chdir(work_root)
        self._builtins = dict(builtins.__dict__)
        self._environ = dict(os.environ)
        self._sys_path = list(sys.path)
        self._sys_argv = list(sys.argv)
        self._streams = (sys.stdout, sys.stderr, sys.stdin)

    def install(self) -> None:
        self._shell.events.register("pre_run_cell", self.enter)
        self._shell.events.register("post_run_cell", self.leave)

    def enter(self, info: Any) -> None:
        """Start a request: fresh working folder, `variables` and `source` as data."""
        request = (getattr(info, "cell_meta", None) or {}).get(META_KEY)
        if request is None:
            return
        self._workdir = tempfile.mkdtemp(prefix="render-", dir=self._work_root)
        os.chdir(self._workdir)
        os.environ["TMPDIR"] = tempfile.tempdir = self._workdir
        if self._limit:
            self._cap_output(OutputBudget(self._limit, self._publish))
        self._shell.user_ns["variables"] = request["variables"]
        self._shell.user_ns["source"] = request["source"]

    def _cap_output(self, budget: OutputBudget) -> None:
        """Route this render's prints and displays through `budget`."""
        sys.stdout = _CappedStream(self._streams[0], budget)
        sys.stderr = _CappedStream(self._streams[1], budget)

        def publish(
            data: dict[str, Any], metadata: dict[str, Any] | None = None, *args: Any, **kwargs: Any
        ) -> None:
            size = sum(len(str(value)) for value in (data or {}).values())
            if budget.take(size):
                self._publish(data, metadata, *args, **kwargs)

        def clear_output(*args: Any, **kwargs: Any) -> None:
            budget.refill()
            self._clear_output(*args, **kwargs)

        self._shell.display_pub.publish = publish
        self._shell.display_pub.clear_output = clear_output

    def leave(self, result: Any) -> None:
        """End a request: put back every piece of shared state it could have touched."""
        if self._workdir is None:
            return
        self._close_figures()
        self._shell.reset(new_session=False)
        _restore_dict(builtins.__dict__, self._builtins)
        _restore_environ(self._environ)
        sys.path[:] = self._sys_path
        sys.argv[:] = self._sys_argv
        sys.stdout, sys.stderr, sys.stdin = self._streams
        self._shell.display_pub.publish = self._publish
        self._shell.display_pub.clear_output = self._clear_output
        tempfile.tempdir = self._environ.get("TMPDIR")
        os.chdir(self._work_root)
        shutil.rmtree(self._workdir, ignore_errors=True)
        self._workdir = None

    @staticmethod
    def _close_figures() -> None:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close("all")


def _restore_dict(current: dict[str, Any], saved: dict[str, Any]) -> None:
    """Make `current` hold exactly `saved` again, touching only what changed."""
    for key in [k for k in current if k not in saved]:
        del current[key]
    for key, value in saved.items():
        if current.get(key, _MISSING) is not value:
            current[key] = value


def _restore_environ(saved: dict[str, str]) -> None:
    for key in [k for k in os.environ if k not in saved]:
        del os.environ[key]
    for key, value in saved.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


_MISSING = object()


def install(shell: Any, work_root: str) -> RequestScope:
    """Attach request scoping to a freshly initialised kernel shell (and have matplotlib
    figures follow the reader's dark mode: `kfp_viz_kernels.plotting`)."""
    plotting.register_dark_figures(shell)
    scope = RequestScope(shell, work_root)
    scope.install()
    if os.environ.get(CONFINED_VARIABLE):
        shell.set_custom_exc((PermissionError,), _explain_refused_file)
    return scope


SANDBOX_NOTE = (
    "The kernel sandbox lets code open files only in its render's folder (its TMPDIR) and "
    "the system's and Python's. Read data files as the built-in types do, through the "
    "server, within LOCAL_SOURCE_ROOTS: `from kfp_viz_kernels.sources import open_local; "
    "pd.read_csv(open_local(path))`."
)


def _explain_refused_file(
    shell: Any, kind: type[BaseException], error: BaseException, tb: Any, tb_offset: Any = None
) -> None:
    """Custom code that opened a file out of its reach: say why, and what reads it."""
    name = getattr(error, "filename", None)
    if isinstance(name, str) and SANDBOX_NOTE not in getattr(error, "__notes__", ()):
        error.add_note(SANDBOX_NOTE)
    shell.showtraceback((kind, error, tb), tb_offset=tb_offset)
