"""The one-line integrations' own rules, with the real tqdm and logging and a recording
transport (the real server and Keras are in tests/integration/test_sdk_transports.py): which
bars report, what a log record becomes, and that nothing here can fail a step."""

from __future__ import annotations

import io
import json
import logging

import pytest
from kfp_viz import step_reporter
from kfp_viz.events import MAX_MESSAGE_CHARS
from kfp_viz.log_handler import ProgressLogHandler
from kfp_viz.progress import Reporter
from kfp_viz.tqdm import tqdm, trange


class Recorder:
    target = "a recorder"

    def __init__(self) -> None:
        self.events: list[dict] = []

    def connect(self) -> None:
        pass

    def send(self, key, value, done) -> None:
        self.events.append(json.loads(value))
        done(None)

    def close(self, timeout: float) -> None:
        pass


@pytest.fixture
def recorded():
    transport = Recorder()
    reporter = Reporter("run-1", "train", namespace="", transport=transport)
    yield reporter, transport.events
    reporter.close()


def test_the_outer_bar_reports_nested_bars_only_print(recorded):
    reporter, events = recorded
    out = io.StringIO()
    for _ in tqdm(range(3), desc="epochs", reporter=reporter, report_every=0, file=out):
        for _ in trange(4, reporter=reporter, report_every=0, file=out, leave=False):
            pass
    assert reporter.flush(5)
    assert {(e["total"], e["message"]) for e in events} == {(3, "epochs")}
    assert events[-1]["current"] == 3 and "epochs: 100%" in out.getvalue()


def test_a_bar_can_be_told_to_report_and_one_without_total_logs_once(recorded):
    reporter, events = recorded
    out = io.StringIO()
    with tqdm(total=5, position=1, report=True, reporter=reporter, file=out) as bar:
        bar.update(5)
    for _ in tqdm(iter(range(7)), desc="stream", reporter=reporter, file=out):
        pass
    assert reporter.flush(5)
    assert [(e["kind"], e.get("current"), e.get("message")) for e in events][-2:] == [
        ("progress", 5, None), ("log", None, "stream: 7 items done"),
    ]  # fmt: skip


def test_a_disabled_bar_reports_nothing(recorded):
    reporter, events = recorded
    for _ in tqdm(range(3), disable=True, reporter=reporter):
        pass
    assert reporter.flush(5) and events == []


def test_log_records_are_formatted_cut_to_the_schema_and_the_sdks_own_skipped(recorded):
    reporter, events = recorded
    logger = logging.getLogger("test.integrations")
    logger.propagate = False
    handler = ProgressLogHandler(reporter)
    logger.addHandler(handler)
    try:
        logger.warning("x" * (MAX_MESSAGE_CHARS + 10))
        logger.debug("below the handler's level")
        handler.handle(logging.makeLogRecord({"name": "kfp_viz.progress", "msg": "own",
                                              "levelno": logging.WARNING}))  # fmt: skip
    finally:
        logger.removeHandler(handler)
    assert reporter.flush(5)
    assert [len(e["message"]) for e in events] == [MAX_MESSAGE_CHARS]
    assert events[0]["message"].startswith("WARNING test.integrations: xxx")


def test_without_a_run_id_the_integrations_warn_once_and_carry_on(monkeypatch, caplog):
    for name in ("KFP_RUN_ID", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KFP_VIZ_SERVER_URL", "http://127.0.0.1:9")  # somewhere, but which run?
    step_reporter.reset()
    try:
        for _ in tqdm(range(3), file=io.StringIO(), report_every=0):
            pass
        logging.getLogger("test.integrations").addHandler(ProgressLogHandler())
        logging.getLogger("test.integrations").warning("still logged")
        assert step_reporter.step_reporter() is None
    finally:
        logging.getLogger("test.integrations").handlers.clear()
        step_reporter.reset()
    warnings = [r.getMessage() for r in caplog.records if "progress is not sent" in r.getMessage()]
    assert len(warnings) == 1 and "run_id is required" in warnings[0]
