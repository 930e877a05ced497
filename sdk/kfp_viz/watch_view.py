"""What `kfp-viz watch` draws of a run's state (`kfp_viz.watch_state`), for a person.

`LiveView` redraws in place with rich (the SDK's `rich` extra): as wide as the terminal is at
each drawing (a resize included), colours by status, and clocks that move between events (it
redraws every second, from its own thread). `PlainView` prints lines, for pipes and logs, or
where rich is not installed: a step's line when it changes noticeably, its metrics now and
then; lines are never cut, since a pipe has no width.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

from .numbers import clock_time, percent
from .watch_state import LogLine, RunState, StepState

REDRAW_EVERY = 0.1
"""Seconds between two drawings of a busy stream: faster than that, nobody reads it."""
TICKS_PER_SECOND = 1
"""Redraws a second of an idle live view: elapsed times and ETAs move on between events."""
LOG_TAIL = 5
"""Log lines under the live view's steps."""
PLAIN_BAR = 20
PROGRESS_EVERY = 10.0
"""Plain lines: a step's line when its progress reaches the next multiple of this percent."""
METRICS_EVERY = 30.0
"""Plain lines: a step's metrics at most once per this many seconds of the run's time."""
_STATUS_STYLES = {
    "Succeeded": "green", "Failed": "bold red", "Error": "bold red", "Running": "cyan",
    "Pending": "yellow", "waiting": "yellow",
}  # fmt: skip
"""Other statuses (Skipped, Cancelled, ...) are yellow: over, but not as planned."""
_FIXED = 4 + 3
"""The live view's percent column and the spaces between its four columns."""
_MIN_REST = 16
"""Characters kept for a step's count and status on a narrow terminal."""


def status_style(status: str) -> str:
    return _STATUS_STYLES.get(status, "yellow" if status else "")


class _View:
    """Draws at most every REDRAW_EVERY seconds, unless forced (the last state of a stream)."""

    _last = 0.0

    def _due(self, force: bool) -> bool:
        now = time.monotonic()
        if not force and now - self._last < REDRAW_EVERY:
            return False
        self._last = now
        return True

    def close(self) -> None:
        """Leave the last drawing on the screen."""


# -- plain lines ----------------------------------------------------------------------


def plain_step(name: str, step: StepState) -> str:
    """One step as a line (timing as of its last event): bar, percent, count, status."""
    filled = round(PLAIN_BAR * min(1.0, max(0.0, step.fraction)))
    line = f"{name} [{'#' * filled}{'-' * (PLAIN_BAR - filled)}] {percent(step.fraction):>4}"
    for part in (step.count(), step.status):
        line += f" {part}" if part else ""
    line += f" · {step.timing(None)}"
    if step.message and step.message != step.reason:
        line += f" · {step.message}"
    return line


def plain_head(state: RunState) -> str:
    """The run's line: printed when its status (or its end) changes."""
    if not state.events:
        return f"run {state.run_id}: no events yet; waiting"
    head = f"run {state.run_id}: {state.shown_status()}"
    if state.end is not None:
        head += f" · {state.clock(None)}"
    return head + (f" · {state.message}" if state.message else "")


class PlainView(_View):
    """Lines for a pipe or a log, few enough to read: a step's line when its status changes
    or its progress reaches the next multiple of `progress_every` percent; its metrics at most
    once per `metrics_every` seconds of the run's time (and when it ends); each log line once;
    the run's line when its status does; notes (a server away) as they come."""

    def __init__(
        self, out: TextIO, progress_every: float = PROGRESS_EVERY,
        metrics_every: float = METRICS_EVERY,
    ) -> None:  # fmt: skip
        self._out = out
        self.progress_every = progress_every
        self.metrics_every = metrics_every
        self._steps: dict[str, tuple[str, int]] = {}
        """Step → the (status, progress step) its last line showed."""
        self._metrics: dict[str, tuple[str, float]] = {}
        """Step → the metrics its last metrics line showed, and the step's time then."""
        self._head = ""
        self._logged = 0

    def note(self, text: str) -> None:
        self._out.write(f"{text}\n")
        self._out.flush()

    def draw(self, state: RunState, force: bool = False) -> None:
        """Print what became due (every call: which lines are due is decided here, so none
        is skipped, however fast events come)."""
        with state.lock:
            lines = self._changes(state)
        self._out.writelines(line + "\n" for line in lines)
        self._out.flush()

    def _changes(self, state: RunState) -> list[str]:
        out = []
        for name, step in state.steps.items():
            out += self._step_lines(name, step, flush=state.ended)
        new = state.logged - self._logged
        if new > len(state.logs):
            out.append(f"({new - len(state.logs)} log lines not shown)")
        for entry in list(state.logs)[len(state.logs) - min(new, len(state.logs)) :]:
            out.append(f"{clock_time(entry.ts)} {entry.node_id}: {entry.message}")
        self._logged = state.logged
        head = plain_head(state)
        if head != self._head and (state.events or state.caught_up):
            self._head = head
            out.append(head)
        return out

    def _step_lines(self, name: str, step: StepState, *, flush: bool) -> list[str]:
        """The step's own line and its metrics line, each when due (`flush`: the watch is
        over, so the latest metrics are due)."""
        lines = []
        fraction = min(1.0, max(0.0, step.fraction))
        key = (step.status, math.floor(100 * fraction / self.progress_every + 1e-9))
        if self._steps.get(name) != key:
            self._steps[name] = key
            lines.append(plain_step(name, step))
        metrics = step.latest_metrics()
        shown, at = self._metrics.get(name, ("", -math.inf))
        due = flush or step.end is not None or step.last_ts - at >= self.metrics_every
        if metrics and metrics != shown and due:
            self._metrics[name] = (metrics, step.last_ts)
            lines.append(f"{name} metrics: {metrics}")
        return lines


# -- live, with rich ------------------------------------------------------------------


class LiveView(_View):
    """Redraws the run in place with rich, fitted to the terminal's current width."""

    def __init__(self, out: TextIO) -> None:
        from rich.console import Console
        from rich.live import Live

        self._console = Console(file=out)
        self._state: RunState | None = None
        self._live = Live(
            console=self._console, get_renderable=self._render, auto_refresh=True,
            refresh_per_second=TICKS_PER_SECOND, redirect_stdout=False, redirect_stderr=False,
        )  # fmt: skip
        self._live.start()

    def note(self, text: str) -> None:
        """A fact worth keeping (e.g. a resync): printed above the live drawing, with its time."""
        self._live.console.print(f"{clock_time(time.time())} {text}", markup=False, highlight=False)

    def draw(self, state: RunState, force: bool = False) -> None:
        self._state = state
        if self._due(force):
            self._live.refresh()

    def _render(self) -> Any:
        """Called by rich (from its refresh thread too) for what to draw now."""
        from rich.text import Text

        state = self._state
        if state is None:
            return Text("connecting", style="dim")
        return rich_view(state, self._console.width, None if state.ended else state.now())

    def close(self) -> None:
        self._live.stop()


def rich_view(state: RunState, width: int, now: float | None = None) -> Any:
    """The run for a terminal `width` columns wide, no line wider: its head and clock, why it
    failed, a block per step (bar, status, timing, metrics, message), the last log lines.
    What must be read whole (the head, reasons, metrics) wraps; the rest is cut with "…"."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.rule import Rule
    from rich.text import Text

    with state.lock:
        parts: list[Any] = [_head(state, now, width)]
        parts += [Text(line, style="bold red") for line in state.failures()]
        layout = _columns(state, width)
        for name, step in state.steps.items():
            parts.append(_step_row(name, step, layout))
            details = [step.timing(now), step.latest_metrics()]
            if step.message and step.message != step.reason:
                details.append(step.message)
            parts += [Padding(Text(text), (0, 0, 0, 2)) for text in details if text]
        tail = list(state.logs)[-LOG_TAIL:]
        if tail:
            parts.append(Rule("logs", align="left", style="dim"))
            parts += [_log_line(entry) for entry in tail]
    return Group(*parts)


def _head(state: RunState, now: float | None, width: int) -> Any:
    """The run's id, status and clock (wrapped when narrow); the event count where it fits."""
    from rich.text import Text

    status = state.shown_status()
    head = Text.assemble((f"run {state.run_id}", "bold"), "  ", (status, status_style(status)))
    if not state.events:
        head.append("  no events yet; waiting" if state.caught_up else "  connecting", "dim")
    else:
        head.append(f"  {state.clock(now)}")
    if state.upstream:
        head.append(f"  [{state.upstream}]", "yellow")
    count = f"  ({state.events} events)"
    if state.events and head.cell_len + len(count) <= width:
        head.append(count, "dim")
    return head


def _columns(state: RunState, width: int) -> tuple[int, int, int]:
    """Widths of a step row's name, bar and count-and-status columns: every one fixed, the
    last taking what is left (rich would otherwise squeeze the bar first)."""
    bar = state.bar_width(width)
    name = min(state.name_width(), max(4, width - bar - _FIXED - _MIN_REST))
    return name, bar, max(1, width - name - bar - _FIXED)


def _step_row(name: str, step: StepState, layout: tuple[int, int, int]) -> Any:
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    name_width, bar_width, rest_width = layout
    style = status_style(step.status)
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True, overflow="ellipsis", width=name_width)
    table.add_column(no_wrap=True, width=bar_width)
    table.add_column(no_wrap=True, justify="right", width=4)
    table.add_column(no_wrap=True, overflow="ellipsis", width=rest_width)
    bar_style = style or "bar.complete"
    bar = ProgressBar(
        total=1.0, completed=step.fraction, width=bar_width,
        complete_style=bar_style, finished_style=bar_style,
    )  # fmt: skip
    rest = Text(" ").join(Text(text, style=how) for text, how in
                          ((step.count(), ""), (step.status, style)) if text)  # fmt: skip
    table.add_row(Text(name, style="bold"), bar, f"{percent(step.fraction):>4}", rest)
    return table


def _log_line(entry: LogLine) -> Any:
    from rich.text import Text

    return Text.assemble(
        (clock_time(entry.ts), "dim"), " ", (entry.node_id, "bold"), " ",
        (entry.message, "red" if entry.failed else ""), no_wrap=True, overflow="ellipsis",
    )  # fmt: skip


View = PlainView | LiveView


def open_view(
    out: TextIO, plain: bool, progress_every: float = PROGRESS_EVERY,
    metrics_every: float = METRICS_EVERY,
) -> View:  # fmt: skip
    """The live view on a terminal when rich is there; plain lines otherwise."""
    if not plain:
        try:
            return LiveView(out)
        except ImportError:
            print("kfp-viz: live bars need rich (pip install 'kfp-viz[rich]'); printing lines",
                  file=sys.stderr)  # fmt: skip
    return PlainView(out, progress_every, metrics_every)
