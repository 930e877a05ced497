"""What `kfp-viz watch` shows: the run's state folded from events (timing by the live page's
rules, a stable metric order, failure reasons, a log tail) and how the views draw it. The real
command under a real pseudo-terminal: tests/integration/test_watch_terminal.py."""

from __future__ import annotations

import io

import pytest
from kfp_viz.events import new_event
from kfp_viz.watch_state import RunState, duration, one_line
from kfp_viz.watch_view import LiveView, PlainView, open_view, plain_step, rich_view
from rich.console import Console

T0 = 1_700_000_000.0


def apply(state: RunState, at: float, now: float | None = None, **fields: object) -> None:
    event = new_event(run_id=state.run_id, namespace="", ts=T0 + at, **fields)
    state.apply(event, now=T0 + (at if now is None else now))


def training(epochs: int = 4, caught_up: bool = True) -> RunState:
    """A step counting epochs of 30 s, each with three metrics (given in no sorted order)."""
    state = RunState("r1", caught_up=caught_up)
    apply(state, 0, node_id="train", kind="status", status="Running")
    for epoch in range(1, epochs + 1):
        at = 30.0 * epoch
        apply(state, at, node_id="train", kind="progress", current=epoch, total=10)
        metrics = {"val_loss": 1.5 / epoch, "loss": 1.0 / epoch, "accuracy": 0.5 + epoch / 50}
        apply(state, at, node_id="train", kind="metric", metrics=metrics, current=epoch)
        apply(state, at, node_id="train", kind="log", message=f"epoch {epoch} done")
    return state


def screen(state: RunState, width: int, now: float | None = None) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(rich_view(state, width, now))
    return [line.rstrip() for line in console.file.getvalue().splitlines()]


def test_timing_follows_the_events_ts_as_the_live_page_does():
    state = training(epochs=4)
    step = state.steps["train"]
    assert step.rate() == pytest.approx(1 / 30), "3 epochs over 90 s of progress events"
    assert step.eta(T0 + 120) == pytest.approx(180), "6 epochs left at 30 s each"
    assert step.eta(T0 + 150) == pytest.approx(150), "it counts down between events"
    assert step.eta(T0 + 999) == 0, "and stops at zero, never negative"
    assert step.timing(T0 + 150) == "started " + _clock(0) + " · elapsed 2 min 30 s" \
        " · 30 s/item · ETA 2 min 30 s"  # fmt: skip
    apply(state, 130, node_id="train", kind="status", status="Succeeded")
    assert step.timing(T0 + 999).endswith("took 2 min 10 s · 30 s/item"), "over: no ETA"
    assert step.fraction == 1.0
    assert state.clock(T0 + 200) == f"started {_clock(0)} · elapsed 3 min 20 s"
    apply(state, 140, kind="status", status="Succeeded")
    assert state.clock(T0 + 999) == f"started {_clock(0)} · took 2 min 20 s"


def test_history_counts_the_eta_down_from_the_events_ts_and_live_from_arrival():
    """Replayed history is old: its ETA has been running since the event's ts. A live event's
    runs from its arrival, so a step pod whose clock is off does not make the ETA jump."""
    history = training(epochs=4, caught_up=False)
    assert history.steps["train"].eta(T0 + 200) == pytest.approx(100)
    live = training(epochs=3)
    apply(live, 120, now=500, node_id="train", kind="progress", current=4, total=10)
    assert live.steps["train"].eta(T0 + 500) == pytest.approx(180)


def test_fractions_and_counts_are_not_one_rate():
    state = RunState("r1", caught_up=True)
    apply(state, 0, node_id="s", kind="progress", current=1, total=10)
    apply(state, 10, node_id="s", kind="progress", fraction=0.5)
    assert state.steps["s"].rate() is None, "the window starts over"
    apply(state, 20, node_id="s", kind="progress", fraction=0.75)
    assert state.steps["s"].eta(T0 + 20) == pytest.approx(10)
    assert "items/s" not in state.steps["s"].timing(None), "a rate in items only for counts"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0.0 s"), (9.94, "9.9 s"), (42.4, "42 s"), (60, "1 min"), (242, "4 min 2 s"),
     (3840, "1 h 4 min")],
)  # fmt: skip
def test_durations_read_as_the_live_page_writes_them(seconds, text):
    assert duration(seconds) == text


def test_metrics_keep_one_order_whatever_order_they_arrive_in():
    first, second = RunState("a"), RunState("b")
    apply(first, 0, node_id="t", kind="metric", metrics={"val_loss": 2, "loss": 1, "acc": 3})
    apply(second, 0, node_id="t", kind="metric", metrics={"acc": 3, "loss": 1})
    apply(second, 1, node_id="t", kind="metric", metrics={"val_loss": 2})
    assert first.steps["t"].latest_metrics() == "acc=3 loss=1 val_loss=2"
    assert second.steps["t"].latest_metrics() == first.steps["t"].latest_metrics()


def test_a_failed_step_says_why():
    state = training(epochs=2)
    apply(state, 70, node_id="train", kind="status", status="Failed", message="OOM:\n  at x")
    apply(state, 71, kind="status", status="Failed", message="step train failed")
    assert state.steps["train"].reason == "OOM: at x", "one line"
    assert state.failures() == ["run failed: step train failed",
                                f"step train failed at {_clock(70)}: OOM: at x"]  # fmt: skip
    assert state.logs[-1].failed and state.logs[-1].message == "Failed: OOM: at x"
    silent = training(epochs=1)
    apply(silent, 40, node_id="train", kind="status", status="Error")
    assert silent.steps["train"].reason == "epoch 1 done", "else its last log line"
    assert silent.shown_status() == "Failed", "a failed step fails the run before it says so"
    apply(silent, 41, node_id="train", kind="status", status="Running")
    assert silent.failures() == [] and silent.shown_status() == "Running", "retried"


def test_text_from_events_cannot_drive_the_terminal():
    """A message or a metric name is the step's text: an escape sequence in it is shown as
    "?", never sent to the viewer's terminal."""
    state = RunState("r1", caught_up=True)
    apply(state, 0, node_id="s", kind="log", message="\x1b[2J\x1b]0;owned\x07gone\r\nnext")
    apply(state, 1, node_id="s", kind="metric", metrics={"lo\x1b[31mss": 1.0})
    apply(state, 2, node_id="s", kind="status", status="Failed", message="bad\x1b[8m")
    text = "\n".join(screen(state, 80)) + plain_step("s", state.steps["s"])
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text
    assert "?[2J?]0;owned?gone next" in text and "lo?[31mss=1" in text and "bad?[8m" in text
    assert one_line(" a\t b\n") == "a b"


@pytest.mark.parametrize("width", [50, 60, 80, 160])
def test_the_live_view_fits_the_width_and_cuts_nothing_that_matters(width):
    state = training(epochs=4)
    for at, done in ((100, 0.5), (125, 1)):
        apply(state, at, node_id="prep-" + "x" * 60, kind="progress", current=done, total=2)
    apply(state, 126, node_id="prep-" + "x" * 60, kind="log", message="half way")
    reason = "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.78 GiB)"
    apply(state, 130, node_id="train", kind="status", status="Failed", message=reason)
    apply(state, 131, kind="status", status="Failed", message="step train failed")
    lines = screen(state, width, T0 + 140)
    assert all(len(line) <= width for line in lines), lines
    text = " ".join(" ".join(lines).split())
    assert reason in text, "a reason wraps rather than being cut"
    assert all(f"{name}=" in text for name in ("accuracy", "loss", "val_loss"))
    assert text.index("accuracy=") < text.index("loss=") < text.index("val_loss=")
    assert lines[0].startswith("run r1  Failed  started") and "took 2 min 11 s" in text
    assert lines[0].endswith("  (18 events)") == (width >= 80), "the count only where it fits"
    train = next(line for line in lines if line.startswith("train "))
    assert " 40% 4/10 Failed" in train
    prep = next(line for line in lines if line.startswith("prep-xx"))
    assert "…" in prep and " 50% 1/2 Running" in prep, "a long name gives way, not the bar"
    assert sum(ch == "━" for ch in prep) == state.bar_width(width) // 2
    assert "ETA 35 s" in text, "1 item left at 50 s an item, counted down for 15 s"
    assert lines[-1].startswith(f"{_clock(130)} train Failed: RuntimeError"), "the log tail"
    tail = lines[next(i for i, line in enumerate(lines) if line.startswith("logs ─")) + 1 :]
    assert len(tail) == 5 and tail[0].startswith(f"{_clock(60)} train epoch 2 done")
    assert "epoch 1 done" not in text, "the last five log lines only"


def test_the_live_view_says_it_waits_only_while_nothing_came():
    state = RunState("r1")
    assert screen(state, 60) == ["run r1  waiting  connecting"]
    state.caught_up = True
    assert screen(state, 60) == ["run r1  waiting  no events yet; waiting"]
    apply(state, 0, node_id="s", kind="progress", current=1, total=2)
    assert "waiting" not in "\n".join(screen(state, 60))


def test_plain_lines_print_what_changed_once():
    out = io.StringIO()
    view = PlainView(out)
    state = RunState("r1")
    view.draw(state, force=True)
    state.caught_up = True
    view.draw(state, force=True)
    for at in (0, 30):
        apply(state, at, node_id="prep", kind="progress", current=at / 30 + 1, total=2)
        apply(state, at, node_id="prep", kind="log", message=f"at {at}")
    apply(state, 31, node_id="prep", kind="status", status="Succeeded")
    view.draw(state, force=True)
    view.draw(state, force=True)
    apply(state, 32, kind="status", status="Succeeded")
    view.draw(state, force=True)
    assert out.getvalue().splitlines() == [
        "run r1: no events yet; waiting",
        "prep [####################] 100% 2/2 Succeeded · started "
        f"{_clock(0)} · took 31 s · 30 s/item",
        f"{_clock(0)} prep: at 0",
        f"{_clock(30)} prep: at 30",
        "run r1: Running",
        f"run r1: Succeeded · started {_clock(0)} · took 32 s",
    ]  # fmt: skip


def test_plain_lines_say_how_many_log_lines_went_by_unseen():
    out = io.StringIO()
    view, state = PlainView(out), RunState("r1", caught_up=True)
    for n in range(250):
        apply(state, n, node_id="s", kind="log", message=f"line {n}")
    view.draw(state, force=True)
    lines = out.getvalue().splitlines()
    assert "(50 log lines not shown)" in lines and lines[-2].endswith("s: line 249")


def test_views_draw_live_on_a_terminal_and_lines_otherwise():
    out = io.StringIO()
    plain = open_view(out, plain=True)
    plain.draw(training(1), force=True)
    plain.close()
    assert isinstance(plain, PlainView) and out.getvalue().startswith("train [")
    live = open_view(io.StringIO(), plain=False)
    try:
        assert isinstance(live, LiveView)
    finally:
        live.close()


def _clock(at: float) -> str:
    from kfp_viz.watch_state import clock_time

    return clock_time(T0 + at)
