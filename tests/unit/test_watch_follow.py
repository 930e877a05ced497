"""`kfp-viz watch` following a run: the server-sent events read, the retries it announces,
the few plain lines it prints, and `--help`. A real server, and the command in a pipe and on
a terminal: tests/integration/test_watch_terminal.py."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from kfp_viz import cli
from kfp_viz.events import new_event
from kfp_viz.watch_feed import (
    Beat,
    Got,
    Item,
    Marker,
    NotFound,
    Refused,
    Unreachable,
    _server_sent,
)
from kfp_viz.watch_state import RunState
from kfp_viz.watch_view import PlainView

T0 = 1_700_000_000.0


class Reply:
    """A response body read line by line, as http.client's is."""

    def __init__(self, text: str) -> None:
        self._lines = io.BytesIO(text.encode())

    def readline(self) -> bytes:
        return self._lines.readline()


def test_server_sent_events_become_items():
    progress = {"v": 1, "run_id": "r", "node_id": "s", "namespace": "", "ts": T0, "kind": "log",
                "message": "hi", "cursor": "0:7", "later_field": 1}  # fmt: skip
    beat = {"upstream_reachable": False, "upstream": "Kafka k:9092", "detail": "refused",
            "server_time": T0}  # fmt: skip
    body = (
        "retry: 2000\n\n"
        f"id: 0:7\nevent: progress\ndata: {json.dumps(progress)}\n\n"
        ": a comment\n"
        f"event: heartbeat\ndata: {json.dumps(beat)}\n\n"
        'event: caught_up\ndata: {"events": 1}\n\n'
        "event: something_new\ndata: {}\n\n"
        "event: end\ndata: {}\n\n"
        "event: progress\ndata: {}\n\n"
    )
    items = list(_server_sent(Reply(body), 30))
    assert [type(i).__name__ for i in items] == ["Got", "Beat", "Marker", "Marker"]
    got = items[0]
    assert isinstance(got, Got) and got.cursor == "0:7" and got.event.message == "hi"
    assert items[1] == Beat(False, "Kafka k:9092", "refused", T0)
    assert items[2:] == [Marker("caught_up"), Marker("end")], "nothing is read past the end"


class ScriptedFeed:
    """A feed that plays one script per connection: items, then maybe a failure."""

    target = "http://server:8888"

    def __init__(self, *connections: tuple[list[Item], Exception | None]) -> None:
        self.connections = list(connections)
        self.resumed: list[str | None] = []

    def open(self, resume: str | None) -> Iterator[Item]:
        self.resumed.append(resume)
        items, failure = self.connections.pop(0)
        yield from items
        if failure is not None:
            raise failure


def event(at: float, **fields: object) -> Item:
    return Got(new_event(run_id="r", namespace="", ts=T0 + at, **fields), f"0:{int(at)}")


def follow(feed: ScriptedFeed) -> tuple[int, list[str], list[float]]:
    out, pauses = io.StringIO(), []
    code = cli.follow(feed, RunState("r"), PlainView(out), sleep=pauses.append)
    return code, out.getvalue().splitlines(), pauses


def test_an_unreachable_server_is_said_at_once_and_each_retry_shows():
    feed = ScriptedFeed(
        ([], Unreachable("http://server:8888 unreachable (Connection refused)")),
        ([], Unreachable("http://server:8888 unreachable (Connection refused)")),
        ([], NotFound("http://server:8888: HTTP 404: no run r")),
        ([Marker("caught_up"), event(1, node_id="s", kind="log", message="one")],
         Unreachable("the stream broke off (Connection reset by peer)")),
        ([event(2, kind="status", status="Succeeded"), Marker("end")], None),
    )  # fmt: skip
    code, lines, pauses = follow(feed)
    assert code == 0
    assert lines[0] == "http://server:8888 unreachable (Connection refused); trying again in 1 s"
    assert lines[1].endswith("trying again in 2 s"), "and again, later"
    assert lines[2] == ("http://server:8888: HTTP 404: no run r; waiting for the run: asking "
                        "again in 4 s")  # fmt: skip
    assert lines[3] == "connected to http://server:8888"
    assert "the stream broke off (Connection reset by peer); trying again in 1 s" in lines
    assert pauses == [1, 2, 4, 1], "a connection that worked starts the pauses over"
    assert feed.resumed == [None, None, None, None, "0:1"], "resumed after the last event"
    assert lines[-1].startswith("run r: Succeeded")


def test_a_refusal_ends_the_watch_and_a_failed_run_exits_1(capsys):
    assert follow(ScriptedFeed(([], Refused("HTTP 403: may not read r"))))[0] == 1
    assert "kfp-viz: HTTP 403: may not read r" in capsys.readouterr().err
    failed = ScriptedFeed(([event(1, kind="status", status="Failed")], None))
    assert follow(failed)[0] == 1


def test_a_stream_the_server_ends_early_is_opened_again():
    feed = ScriptedFeed(
        ([event(1, node_id="s", kind="log", message="one")], None),
        ([event(2, kind="status", status="Succeeded")], None),
    )
    code, lines, pauses = follow(feed)
    assert code == 0 and pauses == [1] and feed.resumed == [None, "0:1"]
    assert any("ended the stream before the run ended; reconnecting" in line for line in lines)


def test_plain_lines_are_few_for_a_long_run():
    """A step of 100 progress events and 100 metric events over 100 s, and logs: a line per
    10% and a metrics line per 30 s of the run, where each event made a line before."""
    out = io.StringIO()
    view, state = PlainView(out), RunState("r", caught_up=True)
    for second in range(1, 101):
        progress = {"kind": "progress", "current": second, "total": 100}
        metrics = {"kind": "metric", "metrics": {"loss": 1 / second, "items": 2200.0}}
        for fields in (progress, metrics):
            event = new_event(run_id="r", namespace="", node_id="s", ts=T0 + second, **fields)
            state.apply(event, now=T0 + second)
            view.draw(state)
    state.apply(new_event(run_id="r", namespace="", node_id="s", ts=T0 + 101, kind="status",
                          status="Succeeded"))  # fmt: skip
    view.draw(state, force=True)
    lines = out.getvalue().splitlines()
    steps = [line for line in lines if line.startswith("s [")]
    metrics = [line for line in lines if line.startswith("s metrics: ")]
    assert [line.split("] ")[1].split()[0] for line in steps] == [
        "1%",
        *(f"{p}%" for p in range(10, 101, 10)),
        "100%",
    ], "the first, one per 10%, and Succeeded"
    assert " 100/100 Succeeded · " in steps[-1]
    assert len(metrics) == 5, "at 1, 31, 61 and 91 s, and the last values at the end"
    assert metrics[0] == "s metrics: items=2,200 loss=1", "numbers as the page writes them"
    assert metrics[-1] == "s metrics: items=2,200 loss=0.01"
    assert "2,200 items/s" not in out.getvalue() and " 1 items/s" in steps[2]


def test_help_shows_every_default(capsys):
    with pytest.raises(SystemExit):
        cli.main(["watch", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    watch = next(
        parser
        for action in cli._parser()._subparsers._group_actions  # type: ignore[union-attr]
        for name, parser in action.choices.items()
        if name == "watch"
    )
    options = [a for a in watch._actions if a.option_strings and a.dest != "help"]
    assert len(options) == 8
    for option in options:
        assert "(default: " in (option.help or ""), option.option_strings
    assert "(default: $KFP_VIZ_SERVER_URL, else http://localhost:8888)" in text
    assert "(default: 10)" in text and "(default: 30)" in text
