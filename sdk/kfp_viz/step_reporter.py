"""The one Reporter the one-line integrations share (`kfp_viz.tqdm`, `kfp_viz.keras`,
`kfp_viz.log_handler`), made from the step's environment on first use.

Shared, so that a step with several bars, a callback and a log handler sends through one
buffer and one connection, in one order. Made lazily, so importing an integration costs
nothing. When it cannot be made (a server URL or Kafka is configured but the run id is not
found, or a setting is malformed) the integrations carry on without it after one warning:
a step never fails because progress cannot be sent.
"""

from __future__ import annotations

import logging
import threading

from .progress import Reporter, ReporterError

log = logging.getLogger("kfp_viz.progress")

_lock = threading.Lock()
_shared: list[Reporter | None] = []  # empty until the first try; [None] when it failed


def step_reporter() -> Reporter | None:
    """The step's shared Reporter (made on the first call), or None if it cannot be made."""
    with _lock:
        if not _shared:
            try:
                _shared.append(Reporter())
            except ReporterError as error:
                log.warning("kfp_viz: progress is not sent: %s", error)
                _shared.append(None)
        return _shared[0]


def reset() -> None:
    """Close the shared Reporter and forget it (tests; a process that forks workers)."""
    with _lock:
        if _shared and _shared[0] is not None:
            _shared[0].close()
        _shared.clear()
