"""A Keras 3 callback that reports training to kfp-viz-server: one line in `model.fit`.

    from kfp_viz.keras import ProgressCallback

    model.fit(x, y, epochs=10, validation_split=0.2, callbacks=[ProgressCallback()])

Per epoch, every number in Keras' logs (`loss`, `val_loss`, `accuracy`, ...) becomes a
`metric` event at step = the epoch's number (1, 2, ...), so the live page charts `loss` with
`val_loss`; per batch, at most every `every` seconds, the step's progress (batches done of
epochs × batches per epoch, or epochs done when Keras does not know the batches) and, with
`batch_metrics`, the running values as `batch_loss`, ... at step = batches done. Works on any
Keras 3 backend (JAX, TensorFlow, PyTorch). Reporting never interrupts training: values that
are not finite numbers are left out. Needs `keras` (the `keras` extra) and a backend.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import keras

from .progress import Reporter, ReporterError
from .step_reporter import step_reporter

__all__ = ["ProgressCallback"]


class ProgressCallback(keras.callbacks.Callback):  # type: ignore[misc]  # keras ships no types
    """Reports `model.fit`'s progress and metrics to the step's Reporter (or `reporter`)."""

    def __init__(
        self, reporter: Reporter | None = None, *, every: float = 0.5, batch_metrics: bool = True
    ) -> None:
        super().__init__()
        self._reporter = reporter
        self.every = every
        self.batch_metrics = batch_metrics
        self._epochs = 0
        self._steps: int | None = None
        self._epoch = 0
        self._last = float("-inf")

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        params = self.params or {}
        self._epochs = int(params.get("epochs") or 0)
        steps = params.get("steps")
        self._steps = int(steps) if steps else None

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        now = time.monotonic()
        if not self._steps or now - self._last < self.every:
            return
        self._last = now
        done = self._epoch * self._steps + batch + 1
        self._send(lambda r: self._progress(r, done))
        numbers = {f"batch_{name}": value for name, value in _numbers(logs).items()}
        if self.batch_metrics and numbers:
            self._send(lambda r: r.emit("metric", metrics=numbers, current=done))

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        numbers = _numbers(logs)
        if numbers:
            self._send(lambda r: r.emit("metric", metrics=numbers, current=epoch + 1))
        self._send(lambda r: self._progress(r, (epoch + 1) * (self._steps or 1)))

    def _progress(self, reporter: Reporter, done: int) -> None:
        """`done` batches (or epochs, when Keras does not know the batches) of all."""
        total = max(self._epochs, 1) * (self._steps or 1)
        message = f"epoch {self._epoch + 1}/{self._epochs}" if self._epochs else ""
        reporter.progress(min(done, total), total, message=message)

    def _send(self, call: Callable[[Reporter], None]) -> None:
        reporter = self._reporter or step_reporter()
        if reporter is None:
            return
        with contextlib.suppress(ReporterError):  # a refused value: training goes on
            call(reporter)


def _numbers(logs: Mapping[str, Any] | None) -> dict[str, float]:
    """The finite numbers among Keras' logs (Python, NumPy or backend scalars)."""
    out: dict[str, float] = {}
    for name, value in (logs or {}).items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out[str(name)] = number
    return out
