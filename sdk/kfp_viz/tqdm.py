"""`tqdm` that also reports to kfp-viz-server: change the import, keep the loop.

    from kfp_viz.tqdm import tqdm          # instead of: from tqdm import tqdm

    for batch in tqdm(loader, desc="train"):
        ...

The bar still prints where tqdm prints it (the pod's log); the step's progress (`n` of
`total`, the bar's `desc` as its message) goes to the step's shared Reporter
(`kfp_viz.step_reporter`) at most every `report_every` seconds and when the bar closes. Only
the outermost bar reports unless `report=True` is given (nested bars' own loops would make the
step's bar jump back and forth); a bar with no total says how many items it did, once, as a
log line. Reporting never interrupts the loop: a Reporter that cannot be made, or an event it
refuses, leaves the bar printing as before. Needs `tqdm` (the `tqdm` extra).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from tqdm import tqdm as _tqdm

from .progress import Reporter, ReporterError
from .step_reporter import step_reporter

__all__ = ["tqdm", "trange"]

log = logging.getLogger("kfp_viz.progress")


class tqdm(_tqdm):  # type: ignore[type-arg]  # tqdm's own name: a drop-in
    """A `tqdm.tqdm` whose progress also goes to the step's Reporter."""

    def __init__(
        self,
        *args: Any,
        report: bool | None = None,
        reporter: Reporter | None = None,
        report_every: float = 0.5,
        **kwargs: Any,
    ) -> None:
        # Set before tqdm's own __init__, which may draw (and so report) already.
        self._kfp_report = report
        self._kfp_reporter = reporter
        self._kfp_every = report_every
        self._kfp_last = float("-inf")
        super().__init__(*args, **kwargs)

    def display(self, msg: str | None = None, pos: int | None = None) -> None:
        """Draw the bar as tqdm does, then report (each draw is already rate-limited)."""
        super().display(msg, pos)
        self._kfp_tick(final=False)

    def close(self) -> None:
        if not self.disable:
            self._kfp_tick(final=True)
        super().close()

    def _kfp_tick(self, *, final: bool) -> None:
        now = time.monotonic()
        if not final and now - self._kfp_last < self._kfp_every:
            return
        reporter = self._kfp_target()
        if reporter is None:
            return
        self._kfp_last = now
        total, done = self.total, self.n
        try:
            if total and total > 0:
                reporter.progress(min(done, total), total, message=self.desc or "")
            elif final:
                reporter.log(f"{self.desc or 'loop'}: {done} items done")
        except ReporterError as error:  # e.g. a negative n: the bar goes on, unreported
            log.warning("kfp_viz.tqdm: this bar is no longer reported: %s", error)
            self._kfp_report = False

    def _kfp_target(self) -> Reporter | None:
        report = self._kfp_report
        if report is None:
            report = getattr(self, "pos", 0) == 0  # the outermost bar
        if not report:
            return None
        return self._kfp_reporter or step_reporter()


def trange(*args: int, **kwargs: Any) -> tqdm:
    """`tqdm(range(*args), **kwargs)`, as tqdm's own `trange`."""
    return tqdm(range(*args), **kwargs)
