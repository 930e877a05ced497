"""What `kfp-viz watch` shows: a run's state, folded from its events, drawn for a person.

`RunState` folds the stream: per step its bar, status and latest metrics. Two views draw it.
`LiveView` redraws in place with rich (the SDK's `rich` extra), as wide as the terminal is;
`PlainView` prints a line per change, for pipes and logs, or where rich is not installed.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from .events import TERMINAL_STATUSES, ProgressEvent

REDRAW_EVERY = 0.1
"""Seconds between two drawings of a busy stream: faster than that, nobody reads it."""
SHOWN_METRICS = 3
_STATUS_STYLES = {"Succeeded": "green", "Failed": "red", "Error": "red"}
_FIXED = 4 + 3
"""The live view's percent column and the spaces between its four columns."""
_MIN_REST = 16
"""Characters kept for a step's count, status and metrics on a narrow terminal."""


@dataclass
class StepState:
    fraction: float = 0.0
    current: float | None = None
    total: float | None = None
    status: str = ""
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)

    def count(self) -> str:
        """ " 5/10" when the step reports items, else ""."""
        if self.current is None or not self.total:
            return ""
        return f" {self.current:g}/{self.total:g}"

    def latest_metrics(self) -> str:
        return " ".join(f"{k}={v:.4g}" for k, v in list(self.metrics.items())[:SHOWN_METRICS])


@dataclass
class RunState:
    """What the terminal shows: per step its bar, status and latest metrics."""

    run_id: str
    status: str = ""
    steps: dict[str, StepState] = field(default_factory=dict)
    upstream: str = ""
    events: int = 0

    def apply(self, event: ProgressEvent) -> None:
        self.events += 1
        if event.kind == "status" and event.is_run_level:
            self.status = event.status
            return
        step = self.steps.setdefault(event.node_id, StepState())
        if event.kind == "progress":
            step.fraction = event.fraction or 0.0
            step.current = event.current
            step.total = event.total
            step.status = step.status or "Running"
        elif event.kind == "status":
            step.status = event.status
            if event.status == "Succeeded":
                step.fraction = 1.0
        elif event.kind == "metric":
            step.metrics.update(event.metrics)
        if event.message:
            step.message = event.message

    def final_status(self, node_id: str = "") -> str:
        """The terminal status that ended the watch (the run's, or the watched step's), or ""."""
        if self.status in TERMINAL_STATUSES:
            return self.status
        step = self.steps.get(node_id) if node_id else None
        return step.status if step is not None and step.status in TERMINAL_STATUSES else ""

    def head(self) -> str:
        head = f"run {self.run_id}  {self.status or 'waiting'}  ({self.events} events)"
        return head + (f"  [{self.upstream}]" if self.upstream else "")

    def name_width(self) -> int:
        return min(30, max((len(n) for n in self.steps), default=4))

    def bar_width(self, width: int) -> int:
        """The bar takes what is left of `width` beside the name and the figures."""
        return max(10, min(40, width - self.name_width() - 40))

    def lines(self, width: int = 100) -> list[str]:
        """The plain text form: the head, then one line per step of at most `width`."""
        out = [self.head()]
        name_width, bar_width = self.name_width(), self.bar_width(width)
        for name, step in self.steps.items():
            filled = round(bar_width * step.fraction)
            bar = "#" * filled + "-" * (bar_width - filled)
            line = f"{name[:name_width]:<{name_width}} [{bar}] {step.fraction:4.0%}{step.count()}"
            metrics = step.latest_metrics()
            line += f" {step.status}" + (f" {metrics}" if metrics else "")
            out.append(line[:width])
        return out


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


class PlainView(_View):
    """Prints each step's line when it changes, and the head when the run's status does."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._shown: list[str] = []

    def note(self, text: str) -> None:
        self._out.write(f"{text}\n")

    def draw(self, state: RunState, force: bool = False) -> None:
        if not self._due(force):
            return
        lines = state.lines(shutil.get_terminal_size((100, 24)).columns)
        for line in lines[1:]:
            if line not in self._shown:
                self._out.write(line + "\n")
        if lines[0].split("  (")[0] != (self._shown[:1] or [""])[0].split("  (")[0]:
            self._out.write(lines[0] + "\n")
        self._shown = lines
        self._out.flush()


class LiveView(_View):
    """Redraws the run in place with rich, fitted to the terminal's current width."""

    def __init__(self, out: TextIO) -> None:
        from rich.console import Console
        from rich.live import Live

        self._console = Console(file=out)
        self._live = Live(
            console=self._console, auto_refresh=False, redirect_stdout=False, redirect_stderr=False
        )
        self._live.start()

    def note(self, text: str) -> None:
        self._live.console.print(text, markup=False, highlight=False)

    def draw(self, state: RunState, force: bool = False) -> None:
        if self._due(force):
            self._live.update(rich_view(state, self._console.width), refresh=True)

    def close(self) -> None:
        self._live.stop()


def rich_view(state: RunState, width: int) -> Any:
    """The head and a row per step (name, bar, percent, count, status, metrics), no line
    wider than `width`: long names and metrics are cut with an ellipsis, never wrapped."""
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    bar_width = state.bar_width(width)
    # Every column's width fixed, the text last taking what is left: rich would otherwise
    # squeeze the bar and the percent of a narrow terminal before the text beside them.
    name_width = min(state.name_width(), max(4, width - bar_width - _FIXED - _MIN_REST))
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True, overflow="ellipsis", width=name_width)
    table.add_column(no_wrap=True, width=bar_width)
    table.add_column(no_wrap=True, justify="right", width=4)
    table.add_column(
        no_wrap=True, overflow="ellipsis", width=width - name_width - bar_width - _FIXED
    )
    for name, step in state.steps.items():
        style = _STATUS_STYLES.get(step.status, "")
        bar_style = style or "bar.complete"
        bar = ProgressBar(
            total=1.0, completed=step.fraction, width=bar_width,
            complete_style=bar_style, finished_style=bar_style,
        )  # fmt: skip
        parts = [(step.count().lstrip(), ""), (step.status, style), (step.latest_metrics(), "")]
        rest = Text(" ").join(Text(text, style=how) for text, how in parts if text)
        table.add_row(name, bar, f"{step.fraction:4.0%}", rest)
    head = Text(state.head(), style="bold", no_wrap=True, overflow="ellipsis")
    return Group(head, table)


def open_view(out: TextIO, plain: bool) -> PlainView | LiveView:
    """The live view on a terminal when rich is there; plain lines otherwise."""
    if plain:
        return PlainView(out)
    try:
        return LiveView(out)
    except ImportError:
        print("kfp-viz: live bars need rich (pip install 'kfp-viz[rich]'); printing lines",
              file=sys.stderr)  # fmt: skip
        return PlainView(out)
