"""The `kfp-viz` command: send progress events, and watch a run's progress in a terminal.

    kfp-viz progress emit --run-id R --node-id train --progress 30/100
    kfp-viz progress emit --run-id R --node-id train --metric loss=0.31 --step 30
    kfp-viz progress emit --run-id R --status Succeeded --run-level
    kfp-viz watch R --server localhost:8887

`emit` sends through Kafka (KAFKA_BOOTSTRAP_SERVERS or --bootstrap-servers), like the
SDK, or with --server through the server's gRPC PublishProgress (for a server running
its in-process bus). `watch` follows the gRPC WatchProgress stream and draws a bar per
step; when the connection drops it reconnects and resumes after the last event it got.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

TERMINAL = {
    "Succeeded", "Failed", "Error", "Skipped", "Cancelled", "Canceled", "Terminated", "Omitted",
}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kfp-viz", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers()
    progress = commands.add_parser("progress", help="send progress events").add_subparsers()
    emit = progress.add_parser("emit", help="send one progress event")
    emit.add_argument("--run-id", help="run id (default: $KFP_RUN_ID)")
    emit.add_argument("--node-id", help="step (default: $KFP_NODE_ID, $ARGO_NODE_ID, ...)")
    emit.add_argument("--namespace", help="Kubernetes namespace (default: the pod's)")
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
    emit.add_argument("--message", default="", help="text shown with the step")
    emit.add_argument("--run-level", action="store_true", help="a --status of the whole run")
    emit.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for delivery")
    emit.set_defaults(handler=_emit)

    watch = commands.add_parser("watch", help="progress bars of a run, live")
    watch.add_argument("run_id")
    watch.add_argument("--server", default="localhost:8887", help="gRPC address of the server")
    watch.add_argument("--node-id", default="", help="only this step")
    watch.add_argument("--namespace", default="")
    watch.add_argument("--live-only", action="store_true", help="skip the run's history")
    watch.add_argument("--plain", action="store_true", help="one line per change, no redraw")
    watch.set_defaults(handler=_watch)
    return parser


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
    if args.server:
        return _emit_grpc(args, fields)
    from .progress import Reporter, ReporterError

    try:
        reporter = Reporter(
            args.run_id, args.node_id, namespace=args.namespace,
            bootstrap_servers=args.bootstrap_servers, topic=args.topic,
        )  # fmt: skip
    except ReporterError as error:
        print(f"kfp-viz: {error}", file=sys.stderr)
        return 2
    kind = fields.pop("kind")
    message = args.message or fields.pop("message", "")
    if kind == "progress":
        reporter.progress(fields.get("current"), fields.get("total"),
                          fraction=fields.get("fraction"), message=message)  # fmt: skip
    elif kind == "metric":
        reporter.metric(step=args.step, **fields["metrics"])
    elif kind == "log":
        reporter.log(message)
    else:
        reporter.status(fields["status"], message, run_level=args.run_level)
    delivered = reporter.flush(args.timeout)
    reporter.close(timeout=0)
    if not delivered:
        print(f"kfp-viz: not delivered within {args.timeout:g} s; is Kafka at "
              f"{','.join(reporter.bootstrap_servers)} reachable?", file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _emit_grpc(args: argparse.Namespace, fields: dict[str, Any]) -> int:
    import grpc

    from kfp_viz.pb import kfpviz_progress_pb2 as pb
    from kfp_viz.pb import kfpviz_progress_pb2_grpc as pb_grpc

    from .progress import default_namespace

    if not args.run_id:
        print("kfp-viz: --run-id is required with --server", file=sys.stderr)
        return 2
    event = pb.ProgressEvent(
        v=1, run_id=args.run_id, node_id="" if args.run_level else (args.node_id or ""),
        namespace=args.namespace if args.namespace is not None else default_namespace(),
        ts=time.time(), kind=fields["kind"], message=args.message or fields.get("message", ""),
        status=fields.get("status", ""), metrics=fields.get("metrics", {}),
    )  # fmt: skip
    for name in ("current", "total", "fraction"):
        if fields.get(name) is not None:
            setattr(event, name, fields[name])
    if fields["kind"] == "metric" and args.step is not None:
        event.current = args.step
    with grpc.insecure_channel(args.server) as channel:
        try:
            reply = pb_grpc.ProgressStub(channel).PublishProgress(
                pb.PublishProgressRequest(events=[event]), timeout=args.timeout
            )
        except grpc.RpcError as error:
            print(f"kfp-viz: {error.code().name}: {error.details()}", file=sys.stderr)
            return 1
    cursor = reply.cursors[0]
    print(f"{cursor.partition}:{cursor.offset}")
    return 0


# -- watch --------------------------------------------------------------------------


@dataclass
class StepState:
    fraction: float = 0.0
    current: float | None = None
    total: float | None = None
    status: str = ""
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class RunState:
    """What the terminal shows: per step its bar, status and latest metrics."""

    run_id: str
    status: str = ""
    steps: dict[str, StepState] = field(default_factory=dict)
    upstream: str = ""
    events: int = 0

    def apply(self, event: Any) -> None:
        self.events += 1
        if event.kind == "status" and not event.node_id:
            self.status = event.status
            return
        step = self.steps.setdefault(event.node_id, StepState())
        if event.kind == "progress":
            step.fraction = event.fraction
            step.current = event.current if event.HasField("current") else None
            step.total = event.total if event.HasField("total") else None
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
        if self.status in TERMINAL:
            return self.status
        step = self.steps.get(node_id) if node_id else None
        return step.status if step is not None and step.status in TERMINAL else ""

    def lines(self, width: int = 100) -> list[str]:
        head = f"run {self.run_id}  {self.status or 'waiting'}  ({self.events} events)"
        out = [head + (f"  [{self.upstream}]" if self.upstream else "")]
        name_width = min(30, max((len(n) for n in self.steps), default=4))
        bar_width = max(10, min(40, width - name_width - 40))
        for name, step in self.steps.items():
            filled = round(bar_width * step.fraction)
            bar = "#" * filled + "-" * (bar_width - filled)
            count = (
                f" {step.current:g}/{step.total:g}"
                if step.current is not None and step.total
                else ""
            )
            metrics = " ".join(f"{k}={v:.4g}" for k, v in list(step.metrics.items())[:3])
            line = f"{name[:name_width]:<{name_width}} [{bar}] {step.fraction:4.0%}{count}"
            line += f" {step.status}" + (f" {metrics}" if metrics else "")
            out.append(line[:width])
        return out


def _watch(args: argparse.Namespace) -> int:
    import grpc

    from kfp_viz.pb import kfpviz_progress_pb2 as pb
    from kfp_viz.pb import kfpviz_progress_pb2_grpc as pb_grpc

    state = RunState(args.run_id)
    screen = _Screen(sys.stdout, plain=args.plain or not sys.stdout.isatty())
    last = None
    with grpc.insecure_channel(args.server) as channel:
        stub = pb_grpc.ProgressStub(channel)
        while True:
            request = pb.WatchProgressRequest(
                run_id=args.run_id, node_id=args.node_id, namespace=args.namespace,
                from_beginning=not args.live_only, resume_after=last,
            )  # fmt: skip
            try:
                for reply in stub.WatchProgress(request):
                    for streamed in reply.events:
                        state.apply(streamed.event)
                        last = streamed.cursor
                    if reply.HasField("heartbeat"):
                        hb = reply.heartbeat
                        state.upstream = (
                            "" if hb.upstream_reachable else f"{hb.upstream} unreachable"
                        )
                    if reply.HasField("caught_up") and not reply.caught_up.events:
                        screen.note(f"no events for run {args.run_id} yet; waiting")
                    if reply.HasField("lagged"):
                        screen.note("fell behind; the server resynced this view from Kafka")
                    screen.draw(state)
                screen.draw(state, force=True)
                final = state.final_status(args.node_id)
                if final:
                    return 0 if final == "Succeeded" else 1
                time.sleep(1.0)  # the server went away (e.g. restarted) before the run ended
            except grpc.RpcError as error:
                if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
                    state.upstream = f"server {args.server} unreachable; reconnecting"
                    screen.draw(state, force=True)
                    time.sleep(1.0)
                    continue
                print(f"kfp-viz: {error.code().name}: {error.details()}", file=sys.stderr)
                return 1


class _Screen:
    """Redraws the bars in place on a terminal; prints changed lines otherwise."""

    def __init__(self, out: TextIO, plain: bool) -> None:
        self._out = out
        self._plain = plain
        self._drawn = 0
        self._shown: list[str] = []
        self._last = 0.0

    def note(self, text: str) -> None:
        self._out.write(f"{text}\n")
        self._drawn = 0

    def draw(self, state: RunState, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        lines = state.lines()
        if self._plain:
            for line in lines[1:]:
                if line not in self._shown:
                    self._out.write(line + "\n")
            if lines[0].split("  (")[0] != (self._shown[:1] or [""])[0].split("  (")[0]:
                self._out.write(lines[0] + "\n")
            self._shown = lines
        else:
            if self._drawn:
                self._out.write(f"\x1b[{self._drawn}F")
            self._out.write("".join(f"\x1b[2K{line}\n" for line in lines))
            self._drawn = len(lines)
        self._out.flush()


if __name__ == "__main__":
    raise SystemExit(main())
