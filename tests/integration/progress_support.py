"""Helpers for the progress tests: a gRPC watcher that collects a stream in a thread."""

from __future__ import annotations

import threading
import time
import uuid

import grpc
from kfp_viz.pb import kfpviz_progress_pb2 as pb
from kfp_viz.pb import kfpviz_progress_pb2_grpc as pb_grpc

# A client that stops reading blocks the server once its flow-control window is full;
# without BDP probing that window stays small, so the server's queue for it fills soon.
SMALL_WINDOW = (("grpc.http2.bdp_probe", 0),)


def new_run() -> str:
    return f"run-{uuid.uuid4().hex[:12]}"


def new_topic() -> str:
    return f"progress-{uuid.uuid4().hex[:10]}"


def progress_server(start_server, bootstrap: str, topic: str, *flags: str):
    """A one-kernel server reading progress from `topic`, with heartbeats every 0.5 s."""
    return start_server(
        "--pool-size", "1", "--progress-heartbeat", "0.5", *flags,
        env={"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "KAFKA_PROGRESS_TOPIC": topic},
    )  # fmt: skip


class Watch:
    """One WatchProgress stream read by a background thread; `paused` stops the reading."""

    def __init__(
        self, target: str, run_id: str, paused: bool = False, options: tuple = (), **request: object
    ) -> None:
        self.channel = grpc.insecure_channel(target, options=options)
        self.call = pb_grpc.ProgressStub(self.channel).WatchProgress(
            pb.WatchProgressRequest(run_id=run_id, **request)
        )
        self.replies: list[pb.WatchProgressResponse] = []
        self.arrived: list[float] = []  # receive time of each event
        self.error: grpc.RpcError | None = None
        self.ended = threading.Event()
        self._reading = threading.Event()
        if not paused:
            self._reading.set()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        self._reading.wait()
        try:
            for reply in self.call:
                now = time.time()
                self.replies.append(reply)
                self.arrived.extend(now for _ in reply.events)
        except grpc.RpcError as error:
            self.error = error
        finally:
            self.ended.set()

    def resume_reading(self) -> None:
        self._reading.set()

    @property
    def events(self) -> list[pb.StreamedEvent]:
        return [e for r in list(self.replies) for e in r.events]

    @property
    def heartbeats(self) -> list[pb.Heartbeat]:
        return [r.heartbeat for r in list(self.replies) if r.HasField("heartbeat")]

    def kinds(self) -> list[str]:
        """The stream's shape, e.g. ['events', 'caught_up', 'heartbeat', 'events']."""
        return [
            next(f for f in ("events", "heartbeat", "lagged", "caught_up") if _has(r, f))
            for r in list(self.replies)
        ]

    def cursors(self) -> list[tuple[int, int]]:
        return [(e.cursor.partition, e.cursor.offset) for e in self.events]

    def messages(self) -> list[str]:
        return [e.event.message for e in self.events]

    def cancel(self) -> None:
        self.call.cancel()
        self.ended.wait(5)
        self.channel.close()


def _has(reply: pb.WatchProgressResponse, field: str) -> bool:
    return bool(reply.events) if field == "events" else reply.HasField(field)
