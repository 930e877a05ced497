"""A run as `kfp-viz watch` shows it, folded from its events: per step its progress, status,
timing, latest metrics and message, and a failed step's reason; the run's clock; recent logs.

The rules are the live page's (server/progress/templates/live.js), so a terminal and a browser
watching one run say the same thing: timing comes from the events' `ts`; a step's rate is its
progress over the time of its last RATE_WINDOW progress events; its ETA is what is left at that
rate, counting down from the last progress event (from its arrival once the stream is live, so a
step pod's clock that runs ahead or behind does not show as a jump); a failed step's reason is
its `Failed` status' message, else its last log line.

Texts from events are made one line of printable characters here, once: a message or a metric
name is the step's to choose, and an escape sequence in it must not reach the viewer's terminal.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field

from .events import TERMINAL_STATUSES, ProgressEvent
from .numbers import clock_time, duration, number, rate_text

RATE_WINDOW = 10
"""Progress events a step's rate is measured over (the live page's window)."""
KEPT_LOGS = 200
"""Log lines kept: the live view shows the last few; the plain view prints each once."""
FAILED = frozenset({"Failed", "Error"})


def one_line(text: str) -> str:
    """`text` as one line a terminal shows as it is: runs of white space (line breaks too)
    become one space, and other control characters (an escape sequence's ESC) a "?"."""
    return "".join(ch if ch.isprintable() else "?" for ch in " ".join(text.split()))


@dataclass(frozen=True)
class LogLine:
    ts: float
    node_id: str
    message: str
    failed: bool = False


@dataclass
class StepState:
    """One step: its bar, status, timing and what it last said."""

    start: float
    last_ts: float
    end: float | None = None
    fraction: float = 0.0
    current: float | None = None
    total: float | None = None
    counted: bool | None = None
    """Whether the step reports counts (current of total) or fractions; None before either."""
    progress: collections.deque[tuple[float, float]] = field(
        default_factory=lambda: collections.deque(maxlen=RATE_WINDOW + 1)
    )
    """(ts, current or fraction) of the last progress events: the rate's window."""
    eta_from: float = 0.0
    """When the ETA starts counting down: the last progress event's ts, or its arrival."""
    status: str = ""
    message: str = ""
    reason: str = ""
    last_log: str = ""
    metrics: dict[str, float] = field(default_factory=dict)

    def count(self) -> str:
        """ "5/10" when the step reports items, else ""."""
        if self.current is None or not self.total:
            return ""
        return f"{number(self.current)}/{number(self.total)}"

    def latest_metrics(self) -> str:
        """Every metric's latest value, by name: the same order in every run and every view."""
        return " ".join(f"{name}={number(self.metrics[name])}" for name in sorted(self.metrics))

    def rate(self) -> float | None:
        """Progress per second over the window (items, or fraction), or None when unknown."""
        if len(self.progress) < 2:
            return None
        (t0, v0), (t1, v1) = self.progress[0], self.progress[-1]
        return (v1 - v0) / (t1 - t0) if t1 > t0 and v1 > v0 else None

    def eta(self, now: float | None) -> float | None:
        """Seconds left at the current rate, counted down to `now` (None: as of the last
        progress event); None when the step is over or its rate unknown."""
        rate = self.rate()
        if self.end is not None or rate is None or self.status == "Pending":
            return None
        if self.counted and self.total is not None and self.current is not None:
            left = self.total - self.current
        else:
            left = 1 - self.fraction
        waited = 0.0 if now is None else max(0.0, now - self.eta_from)
        return max(0.0, left / rate - waited)

    def timing(self, now: float | None) -> str:
        """The step's timing, e.g. "started 14:03:27 · elapsed 4 min · 30 s/item · ETA 5 min",
        as of `now`, or of its last event when `now` is None (a line that changes only with
        events)."""
        parts = [f"started {clock_time(self.start)}"]
        if self.end is not None:
            parts.append(f"took {duration(self.end - self.start)}")
        else:
            until = self.last_ts if now is None else max(now, self.last_ts)
            parts.append(f"elapsed {duration(until - self.start)}")
        rate = self.rate()
        if rate and self.counted:
            parts.append(rate_text(rate))
        eta = self.eta(now)
        if eta is not None:
            parts.append(f"ETA {duration(eta)}")
        return " · ".join(parts)


@dataclass
class RunState:
    """What the terminal shows of a run. The stream's thread applies events while a live
    view's refresh thread draws: both hold `lock`."""

    run_id: str
    status: str = ""
    message: str = ""
    start: float | None = None
    last_ts: float = 0.0
    end: float | None = None
    steps: dict[str, StepState] = field(default_factory=dict)
    """In the order their first events came: a stable order for a run."""
    logs: collections.deque[LogLine] = field(
        default_factory=lambda: collections.deque(maxlen=KEPT_LOGS)
    )
    logged: int = 0
    """Log lines so far, including those no longer kept."""
    upstream: str = ""
    events: int = 0
    caught_up: bool = False
    """The history is replayed: from now on events arrive as they happen."""
    ended: bool = False
    """The stream is over (the run, or the watched step, ended)."""
    clock_offset: float = 0.0
    """The server's clock minus this machine's (from heartbeats), so elapsed times agree."""
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def now(self) -> float:
        return time.time() + self.clock_offset

    def apply(self, event: ProgressEvent, now: float | None = None) -> None:
        with self.lock:
            self._apply(event, self.now() if now is None else now)

    def _apply(self, event: ProgressEvent, now: float) -> None:
        self.events += 1
        ts = event.ts or now
        self.start = ts if self.start is None else min(self.start, ts)
        self.last_ts = max(self.last_ts, ts)
        if event.is_run_level:
            if event.kind == "status":
                self.status, self.message = event.status, one_line(event.message)
                self.end = ts if event.status in TERMINAL_STATUSES else None
            return
        step = self.steps.get(event.node_id)
        if step is None:
            step = self.steps[event.node_id] = StepState(start=ts, last_ts=ts)
        step.start, step.last_ts = min(step.start, ts), max(step.last_ts, ts)
        if event.kind == "progress":
            self._progress(step, event, ts, now)
        elif event.kind == "status":
            self._step_status(event.node_id, step, event, ts)
        elif event.kind == "metric":
            step.metrics.update((one_line(name), value) for name, value in event.metrics.items())
        elif event.kind == "log":
            step.last_log = one_line(event.message)
            self._log(LogLine(ts, event.node_id, step.last_log))
        if event.message and event.kind != "log":
            step.message = one_line(event.message)

    def _progress(self, step: StepState, event: ProgressEvent, ts: float, now: float) -> None:
        step.fraction = event.fraction or 0.0
        counted = event.current is not None and event.total is not None
        if counted:
            step.current, step.total = event.current, event.total
        if counted != step.counted:  # counts and fractions do not make one rate
            step.progress.clear()
            step.counted = counted
        value = event.current if counted and event.current is not None else step.fraction
        step.progress.append((ts, value))
        step.eta_from = now if self.caught_up else ts
        step.status = step.status or "Running"

    def _step_status(self, node_id: str, step: StepState, event: ProgressEvent, ts: float) -> None:
        step.status = event.status
        if event.status == "Succeeded":
            step.fraction = 1.0
        step.end = ts if event.status in TERMINAL_STATUSES else None
        step.reason = ""
        if event.status in FAILED:
            step.reason = one_line(event.message) or step.last_log or "no reason given"
            self._log(LogLine(ts, node_id, f"{event.status}: {step.reason}", failed=True))

    def _log(self, line: LogLine) -> None:
        self.logs.append(line)
        self.logged += 1

    # -- what the views read --------------------------------------------------------

    def final_status(self, node_id: str = "") -> str:
        """The terminal status that ended the watch (the run's, or the watched step's), or ""."""
        if self.status in TERMINAL_STATUSES:
            return self.status
        step = self.steps.get(node_id) if node_id else None
        return step.status if step is not None and step.status in TERMINAL_STATUSES else ""

    def shown_status(self) -> str:
        """The run's status, else what its steps say: Failed, Running, or still waiting."""
        if self.status:
            return self.status
        if any(step.status in FAILED for step in self.steps.values()):
            return "Failed"
        return "Running" if self.steps else "waiting"

    def clock(self, now: float | None) -> str:
        """The run's wall clock: "started 14:00:02 · elapsed 12 min" (or "took", once over);
        as of `now`, or of the last event when `now` is None."""
        if self.start is None:
            return ""
        if self.end is not None:
            return f"started {clock_time(self.start)} · took {duration(self.end - self.start)}"
        over = self.ended or now is None
        until = self.last_ts if over else max(self.last_ts, now or 0.0)
        said = "took" if self.ended else "elapsed"
        return f"started {clock_time(self.start)} · {said} {duration(until - self.start)}"

    def failures(self) -> list[str]:
        """Why the run failed: the run's message, then each failed step's reason."""
        lines = []
        if self.status in FAILED and self.message:
            lines.append(f"run {self.status.lower()}: {self.message}")
        for name, step in self.steps.items():
            if step.status in FAILED:
                at = f" at {clock_time(step.end)}" if step.end is not None else ""
                lines.append(f"step {name} {step.status.lower()}{at}: {step.reason}")
        return lines

    def name_width(self) -> int:
        return min(30, max((len(n) for n in self.steps), default=4))

    def bar_width(self, width: int) -> int:
        """The bar takes what is left of `width` beside the name and the figures."""
        return max(10, min(40, width - self.name_width() - 40))
