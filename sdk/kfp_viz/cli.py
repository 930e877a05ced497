"""The `kfp-viz` command: send progress events, and watch a run's progress in a terminal.

    kfp-viz progress emit --run-id R --node-id train --progress 30/100
    kfp-viz progress emit --run-id R --node-id train --metric loss=0.31 --step 30
    kfp-viz progress emit --run-id R --node-id train --metric top1=0.7 --metric top5=0.9 --group acc
    kfp-viz progress emit --run-id R --status Succeeded --run-level
    kfp-viz watch R --server-url http://localhost:8888
    kfp-viz link --run-id R --ui-metadata /tmp/outputs/mlpipeline-ui-metadata/data

`emit` sends where the SDK's Reporter sends: over HTTP to the server (KFP_VIZ_SERVER_URL or
--server-url), else through Kafka (KAFKA_BOOTSTRAP_SERVERS or --bootstrap-servers); or, with
--server, through the server's gRPC PublishProgress. With none of these it fails (exit 2):
a command that sends one event has no other job.

`watch` follows a run where the SDK publishes it: the server's HTTP address (--server-url,
else KFP_VIZ_SERVER_URL), reading its server-sent events with the standard library, or with
--server its gRPC WatchProgress stream; it sends the pod's ServiceAccount token when there is
one (a server with tenancy on needs an identity to read). It draws a bar per step (live with
rich on a terminal, lines otherwise); while the server is away or does not know the run yet it
says so in a line per attempt and tries again; when the connection drops it resumes after the
last event it got.

`link` writes a link to the run's live page where KFP's run page shows it (Markdown, or KFP
v1's mlpipeline-ui-metadata) and publishes the run's first event (kfp_viz.run_link): the
command of the v1 component. Both publishing paths send the pod's ServiceAccount token
(kfp_viz.sa_token) when it has one.

Both paths build the event with the one schema (`kfp_viz.events`), so a bad value is
refused here with the server's words. Kafka needs the SDK's `kafka` extra, --server its
`grpc` extra, the live bars its `rich` extra.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from .events import Cursor, InvalidEvent, new_event, to_message
from .progress import Reporter, ReporterError, default_namespace
from .run_link import DEFAULT_BASE_URL, DEFAULT_SERVER_URL, write_link
from .sa_token import TokenFile
from .transport import NullTransport
from .watch_feed import (
    Beat,
    Feed,
    Got,
    GrpcFeed,
    HttpFeed,
    Item,
    NotFound,
    Refused,
    Unreachable,
    Watched,
)  # fmt: skip
from .watch_state import RunState
from .watch_view import View, open_view

DEFAULT_URL = "http://localhost:8888"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kfp-viz", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers()
    progress = commands.add_parser("progress", help="send progress events").add_subparsers()
    emit = progress.add_parser("emit", help="send one progress event")
    emit.add_argument("--run-id", help="run id (default: $KFP_RUN_ID)")
    emit.add_argument(
        "--node-id", help="step (default: $KFP_NODE_ID, KFP v2's task, $ARGO_NODE_ID, ...)"
    )
    emit.add_argument("--namespace", help="Kubernetes namespace (default: the pod's)")
    emit.add_argument(
        "--server-url", help="the server's HTTP address (default: $KFP_VIZ_SERVER_URL)"
    )
    emit.add_argument("--bootstrap-servers", help="Kafka (default: $KAFKA_BOOTSTRAP_SERVERS)")
    emit.add_argument(
        "--topic", help="Kafka topic (default: $KAFKA_PROGRESS_TOPIC or kfp-progress)"
    )
    emit.add_argument("--server", help="send through this server's gRPC port instead of Kafka")
    what = emit.add_mutually_exclusive_group(required=True)
    what.add_argument("--progress", metavar="CURRENT/TOTAL", help="e.g. 30/100")
    what.add_argument("--fraction", type=float, help="0 to 1")
    what.add_argument("--metric", action="append", metavar="NAME=VALUE", help="repeatable")
    what.add_argument("--log", metavar="MESSAGE")
    what.add_argument("--status", help="Running, Succeeded, Failed, ...")
    emit.add_argument("--step", type=float, help="x value of --metric points")
    emit.add_argument("--group", default="", help="the chart the --metric values share")
    emit.add_argument("--message", default="", help="text shown with the step")
    emit.add_argument("--run-level", action="store_true", help="a --status of the whole run")
    emit.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for delivery")
    emit.set_defaults(handler=_emit)

    link = commands.add_parser(
        "link", help="write a link to a run's live page for KFP's run page; announce the run"
    )
    link.add_argument("--run-id", default="", help="run id (default: $KFP_RUN_ID, the launcher's)")
    link.add_argument(
        "--base-url", default=DEFAULT_BASE_URL,
        help=f"where the live pages are (default: {DEFAULT_BASE_URL}, the gateway's prefix)",
    )  # fmt: skip
    link.add_argument("--markdown", metavar="PATH", help="write the link here as Markdown")
    link.add_argument(
        "--ui-metadata", metavar="PATH", help="write KFP v1's mlpipeline-ui-metadata here"
    )
    link.add_argument("--server-url", default="", help="the server's HTTP address (default: "
                      f"$KFP_VIZ_SERVER_URL, Kafka, else {DEFAULT_SERVER_URL})")  # fmt: skip
    link.add_argument("--no-publish", action="store_true", help="do not send the first event")
    link.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for delivery")
    link.set_defaults(handler=_link)

    watch = commands.add_parser(
        "watch", help="progress bars of a run, live",
        description="Follow a run's progress until it ends (exit 0 if it succeeded, 1 if not).",
    )  # fmt: skip
    watch.add_argument("run_id", help="the run to follow")
    watch.add_argument(
        "--server-url", metavar="URL",
        help="the server's HTTP address, the one steps publish to; its server-sent events "
        f"are read (default: $KFP_VIZ_SERVER_URL, else {DEFAULT_URL})",
    )  # fmt: skip
    watch.add_argument(
        "--server", metavar="HOST:PORT",
        help="read the server's gRPC stream at this address instead; needs the grpc extra "
        "(default: none, HTTP)",
    )  # fmt: skip
    watch.add_argument("--node-id", default="", help="only this step (default: every step)")
    watch.add_argument(
        "--namespace", default="", help="only events of this namespace (default: any)"
    )
    watch.add_argument(
        "--live-only", action="store_true",
        help="skip the run's history (default: the history first, then live)",
    )  # fmt: skip
    watch.add_argument(
        "--plain", action="store_true",
        help="print lines, no redraw (default: off; on when the output is no terminal, or "
        "rich is not installed)",
    )  # fmt: skip
    watch.add_argument(
        "--progress-every", metavar="PERCENT", type=_positive, default=10.0,
        help="plain lines: a step's line when its status changes or its progress reaches "
        "the next multiple of PERCENT (default: %(default)g)",
    )  # fmt: skip
    watch.add_argument(
        "--metrics-every", metavar="SECONDS", type=_positive, default=30.0,
        help="plain lines: a step's latest metrics at most once per SECONDS of the run's "
        "time, and when it ends (default: %(default)g)",
    )  # fmt: skip
    watch.set_defaults(handler=_watch)
    return parser


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


# -- emit ---------------------------------------------------------------------------


def _event_fields(args: argparse.Namespace) -> dict[str, Any]:
    if args.progress:
        current, _, total = args.progress.partition("/")
        try:
            return {"kind": "progress", "current": float(current), "total": float(total)}
        except ValueError:
            raise SystemExit(
                f"kfp-viz: --progress must be CURRENT/TOTAL, got {args.progress!r}"
            ) from None
    if args.fraction is not None:
        return {"kind": "progress", "fraction": args.fraction}
    if args.metric:
        metrics = {}
        for item in args.metric:
            name, _, value = item.partition("=")
            try:
                metrics[name] = float(value)
            except ValueError:
                raise SystemExit(f"kfp-viz: --metric must be NAME=NUMBER, got {item!r}") from None
        return {"kind": "metric", "metrics": metrics}
    if args.log is not None:
        return {"kind": "log", "message": args.log}
    return {"kind": "status", "status": args.status}


def _emit(args: argparse.Namespace) -> int:
    fields = _event_fields(args)
    fields["message"] = args.message or fields.get("message", "")
    if fields["kind"] == "metric":
        fields["current"] = args.step
    if args.group:
        fields["group"] = args.group  # on another kind, refused with the schema's words
    try:
        return _emit_grpc(args, fields) if args.server else _emit_reporter(args, fields)
    except (InvalidEvent, ReporterError) as error:
        print(f"kfp-viz: {error}", file=sys.stderr)
        return 1


def _emit_reporter(args: argparse.Namespace, fields: dict[str, Any]) -> int:
    try:
        reporter = Reporter(
            args.run_id, args.node_id, namespace=args.namespace, server_url=args.server_url,
            bootstrap_servers=args.bootstrap_servers, topic=args.topic,
        )  # fmt: skip
    except ReporterError as error:
        print(f"kfp-viz: {error}", file=sys.stderr)
        return 2
    if isinstance(reporter.transport, NullTransport):
        print(f"kfp-viz: nothing sent: {reporter.transport.target}", file=sys.stderr)
        return 2
    try:
        reporter.emit(run_level=args.run_level, **fields)
        delivered = reporter.flush(args.timeout)
    finally:
        reporter.close(timeout=0)
    if not delivered:
        print(f"kfp-viz: not delivered within {args.timeout:g} s; is "
              f"{reporter.transport.target} reachable?", file=sys.stderr)  # fmt: skip
        return 1
    if reporter.failed:
        print(f"kfp-viz: not delivered: {reporter.transport.target} refused it (the reason "
              "is above)", file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _emit_grpc(args: argparse.Namespace, fields: dict[str, Any]) -> int:
    grpc, pb, pb_grpc = _grpc_modules("--server")
    if not args.run_id:
        print("kfp-viz: --run-id is required with --server", file=sys.stderr)
        return 2
    event = new_event(
        run_id=args.run_id, node_id="" if args.run_level else (args.node_id or ""),
        namespace=args.namespace if args.namespace is not None else default_namespace(),
        **fields,
    )  # fmt: skip
    with grpc.insecure_channel(args.server) as channel:
        try:
            reply = pb_grpc.ProgressStub(channel).PublishProgress(
                pb.PublishProgressRequest(events=[to_message(event)]), timeout=args.timeout,
                metadata=_token_metadata(),
            )  # fmt: skip
        except grpc.RpcError as error:
            print(f"kfp-viz: {error.code().name}: {error.details()}", file=sys.stderr)
            return 1
    print(Cursor.from_message(reply.cursors[0]).text())
    return 0


def _token_metadata() -> tuple[tuple[str, str], ...]:
    """The pod's ServiceAccount token as gRPC metadata (kfp_viz.sa_token), when it has one:
    what a server with AUTH=kubeflow asks publishers, and readers without a gateway, for."""
    header = TokenFile().header()
    return (("authorization", header),) if header else ()


def _grpc_modules(feature: str) -> tuple[ModuleType, ModuleType, ModuleType]:
    """grpc and the progress service's stubs, or a clear exit when the extra is missing."""
    try:
        import grpc

        from .pb import kfpviz_progress_pb2, kfpviz_progress_pb2_grpc
    except ImportError as error:
        raise SystemExit(
            f"kfp-viz: {feature} needs gRPC ({error}); pip install 'kfp-viz[grpc]'"
        ) from None
    return grpc, kfpviz_progress_pb2, kfpviz_progress_pb2_grpc


# -- link ----------------------------------------------------------------------------


def _link(args: argparse.Namespace) -> int:
    """The v1 component's command (and anyone's): the files, then the run's first event. Not
    reaching the server is a warning only: the link still leads to the page."""
    try:
        link = write_link(
            args.run_id, args.base_url, markdown_path=args.markdown,
            ui_metadata_path=args.ui_metadata, server_url=args.server_url,
            publish=not args.no_publish, timeout=args.timeout,
        )  # fmt: skip
    except ValueError as error:
        print(f"kfp-viz: {error}", file=sys.stderr)
        return 2
    print(link.url)
    return 0


# -- watch --------------------------------------------------------------------------

FIRST_RETRY = 1.0
LAST_RETRY = 10.0
"""Seconds between two attempts to reach the server: 1, 2, 4, then every 10."""


def _watch(args: argparse.Namespace) -> int:
    try:
        feed = _feed(args)
    except ValueError as error:
        print(f"kfp-viz: {error}", file=sys.stderr)
        return 2
    view = open_view(
        sys.stdout, plain=args.plain or not sys.stdout.isatty(),
        progress_every=args.progress_every, metrics_every=args.metrics_every,
    )  # fmt: skip
    try:
        return follow(feed, RunState(args.run_id), view, args.node_id)
    finally:
        view.close()


def _feed(args: argparse.Namespace) -> Feed:
    """gRPC with --server, else the server-sent events at --server-url."""
    watched = Watched(args.run_id, args.node_id, args.namespace, not args.live_only)
    if args.server:
        _grpc_modules("watch --server")
        return GrpcFeed(args.server, watched, TokenFile())
    url = args.server_url or os.environ.get("KFP_VIZ_SERVER_URL", "").strip() or DEFAULT_URL
    return HttpFeed(url, watched, TokenFile())


def follow(
    feed: Feed, state: RunState, view: View, node_id: str = "",
    sleep: Callable[[float], None] = time.sleep,
) -> int:  # fmt: skip
    """Follow the run until it (or `node_id`) ends: 0 if it succeeded, 1 if not or if the
    server refused the watch. While the server is away, or knows no such run yet, each
    attempt says so in a line and the next one comes 1, 2, 4, then every 10 s; a stream
    that breaks off resumes after the last event it gave."""
    resume: str | None = None
    pause = FIRST_RETRY
    troubled = False
    while True:
        try:
            for item in feed.open(resume):
                if troubled:
                    troubled = False
                    view.note(f"connected to {feed.target}")
                pause = FIRST_RETRY
                resume = _take(item, state, view) or resume
            final = state.final_status(node_id)
            state.ended = bool(final)
            view.draw(state, force=True)
            if final:
                return 0 if final == "Succeeded" else 1
            problem = f"{feed.target} ended the stream before the run ended; reconnecting"
        except Unreachable as error:
            problem = f"{error}; trying again in {pause:g} s"
        except NotFound as error:
            problem = f"{error}; waiting for the run: asking again in {pause:g} s"
        except Refused as error:
            view.draw(state, force=True)
            print(f"kfp-viz: {error}", file=sys.stderr)
            return 1
        troubled = True
        state.upstream = problem
        view.note(problem)
        view.draw(state, force=True)
        sleep(pause)
        pause = min(LAST_RETRY, 2 * pause)


def _take(item: Item, state: RunState, view: View) -> str | None:
    """Fold one item into the state and the view; the cursor it carried, if any."""
    cursor = None
    if isinstance(item, Got):
        state.apply(item.event)
        cursor = item.cursor or None
    elif isinstance(item, Beat):
        state.upstream = "" if item.reachable else f"{item.upstream} unreachable"
        if item.server_time:
            state.clock_offset = item.server_time - time.time()
    elif item.kind == "caught_up":
        state.caught_up = True  # the views say "waiting" while the run has no events
        state.upstream = ""  # connected again (a heartbeat says if Kafka is not)
    elif item.kind == "lagged":
        view.note("fell behind; the server resynced this view from its log")
    view.draw(state)
    return cursor


if __name__ == "__main__":
    raise SystemExit(main())
