"""A `logging.Handler` that sends a step's log records to kfp-viz-server as `log` events.

    import logging
    from kfp_viz.log_handler import install

    logging.basicConfig(level=logging.INFO)   # the records the handler should see
    install()                                  # the root logger's records, INFO and up

Each record, formatted (`LEVEL logger: message` unless another formatter is set), goes to the
step's shared Reporter (or `reporter`), cut to the schema's 16 KiB. The SDK's own records
(`kfp_viz.*`) are not sent, so a warning about sending cannot feed itself. A record that cannot
be sent is handled as logging handles a failing handler: never raised into the step.
"""

from __future__ import annotations

import logging

from .events import MAX_MESSAGE_CHARS
from .progress import Reporter
from .step_reporter import step_reporter

__all__ = ["ProgressLogHandler", "install"]

DEFAULT_FORMAT = "%(levelname)s %(name)s: %(message)s"


class ProgressLogHandler(logging.Handler):
    """Sends each record it handles as a `log` event of the step."""

    def __init__(self, reporter: Reporter | None = None, level: int = logging.INFO) -> None:
        super().__init__(level)
        self._reporter = reporter
        self.setFormatter(logging.Formatter(DEFAULT_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "kfp_viz" or record.name.startswith("kfp_viz."):
            return
        try:
            reporter = self._reporter or step_reporter()
            if reporter is not None:
                reporter.log(self.format(record)[:MAX_MESSAGE_CHARS])
        except Exception:
            self.handleError(record)


def install(
    level: int = logging.INFO,
    logger: logging.Logger | None = None,
    reporter: Reporter | None = None,
) -> ProgressLogHandler:
    """Add a ProgressLogHandler to `logger` (the root logger by default) and return it."""
    handler = ProgressLogHandler(reporter, level)
    (logger or logging.getLogger()).addHandler(handler)
    return handler
