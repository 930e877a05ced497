"""Zero-code metrics: TensorBoard event files → `metric` events on a live WatchProgress stream.

The files are written by the `tensorboard` package's own writer (`tensorboard.summary.Writer`,
no TensorFlow), in a process of their own as a pipeline step would: into real MinIO and
SeaweedFS through TensorBoard's S3 file system (boto3; an object store has no append, so
each flush uploads the whole file again), or into a local folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from progress_support import Watch, new_run
from support import wait_until

pytestmark = pytest.mark.integration

WRITER = r"""
import json, sys, time
from tensorboard.summary import Writer
writers = {}
for line in sys.stdin:
    command = json.loads(line)
    if command[0] == "scalar":
        _, folder, tag, value, step, wall_time = command
        if folder not in writers:
            writers[folder] = Writer(sys.argv[1] + "/" + folder)
        writers[folder].add_scalar(tag, value, step, wall_time=wall_time)
    elif command[0] == "flush":
        for writer in writers.values():
            writer.flush()
    print(json.dumps(time.time()), flush=True)
for writer in writers.values():
    writer.close()
"""


class StepWriter:
    """A pipeline step's process writing TensorBoard logs below `logdir`, on command."""

    def __init__(self, logdir: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", WRITER, logdir], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
        )  # fmt: skip

    def _do(self, *command: object) -> float:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def scalar(self, folder: str, tag: str, value: float, step: int, wall_time: float) -> None:
        self._do("scalar", folder, tag, value, step, wall_time)

    def flush(self) -> float:
        """Flush every file; returns when the flush (the upload, on a store) has finished."""
        return self._do("flush")

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        assert self.process.wait(30) == 0


def metric_points(watch: Watch) -> dict[tuple[str, float], tuple[float, float]]:
    """(metric name, step) → (value, ts) of every metric event seen."""
    return {
        (name, e.event.current): (value, e.event.ts)
        for e in watch.events
        if e.event.kind == "metric"
        for name, value in e.event.metrics.items()
    }


def write_and_follow(writer: StepWriter, watch: Watch, steps: int = 3) -> list[float]:
    """Write train/ and validation/ losses step by step; after each flush, wait for both on
    the stream. Returns the seconds from each flush's end to both metrics' arrival."""
    delays = []
    for step in range(1, steps + 1):
        wall = 1_790_000_000.0 + step
        writer.scalar("train", "loss", 1 / step, step, wall)
        writer.scalar("validation", "loss", 2 / step, step, wall)
        flushed = writer.flush()
        wanted = {("train/loss", step), ("validation/loss", step)}
        wait_until(lambda w=wanted: w <= metric_points(watch).keys(), timeout=20,
                   what=f"step {step}'s metrics")  # fmt: skip
        arrived = max(t for e, t in zip(watch.events, list(watch.arrived), strict=False)
                      if e.event.kind == "metric" and e.event.current == step)  # fmt: skip
        delays.append(arrived - flushed)
    points = metric_points(watch)
    for step in range(1, steps + 1):
        assert points[("train/loss", step)] == (pytest.approx(1 / step), 1_790_000_000.0 + step)
        assert points[("validation/loss", step)][0] == pytest.approx(2 / step)
    assert {e.event.node_id for e in watch.events} == {"tensorboard"}
    assert len([e for e in watch.events if e.event.kind == "metric"]) == 2 * steps  # no repeat
    return delays


def test_scalars_in_an_object_store_arrive_while_the_files_grow(object_store, start_server):
    from minio import Minio

    client = Minio(object_store.endpoint, object_store.access_key, object_store.secret_key,
                   secure=False)  # fmt: skip
    if not client.bucket_exists("mlpipeline"):
        client.make_bucket("mlpipeline")
    server = start_server(
        "--pool-size", "1", "--tensorboard-logs", "minio://mlpipeline/tb/{run_id}/",
        env=object_store.server_env(),
    )  # fmt: skip
    run = new_run()
    watch = Watch(server.grpc_target, run, from_beginning=True)
    wait_until(lambda: "caught_up" in watch.kinds(), timeout=20, what="caught_up")
    writer = StepWriter(f"s3://mlpipeline/tb/{run}", env={
        "S3_ENDPOINT": f"http://{object_store.endpoint}", "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": object_store.access_key,
        "AWS_SECRET_ACCESS_KEY": object_store.secret_key,
    })  # fmt: skip
    try:
        delays = write_and_follow(writer, watch)
    finally:
        writer.close()
    print(f"{type(object_store).__name__}: flush → metric event: "
          f"{', '.join(f'{d:.2f}' for d in delays)} s")  # fmt: skip
    assert server.ready()["progress"]["tensorboard"]["detail"] == ""
    watch.cancel()


def test_a_local_folder_and_a_partly_written_record(start_server, open_tmp: Path):
    """A record cut in two (a writer caught mid-write) waits for its second half; other files
    in the folder (not event files, other runs' folders) are left alone."""
    logs = open_tmp / "tb"
    server = start_server("--pool-size", "1", "--tensorboard-logs", f"{logs}/{{run_id}}/")
    run = new_run()
    watch = Watch(server.grpc_target, run, from_beginning=True)
    wait_until(lambda: "caught_up" in watch.kinds(), timeout=20, what="caught_up")
    writer = StepWriter(str(logs / run))
    try:
        write_and_follow(writer, watch, steps=2)
    finally:
        writer.close()
    # A second file of the run, made from a copy of the first and appended to in two halves.
    (first,) = (logs / run / "train").glob("events.out.tfevents.*")
    scratch = open_tmp / "scratch"
    writer = StepWriter(str(scratch))
    writer.scalar("train", "accuracy", 0.5, 7, 1_790_000_007.0)
    writer.flush()
    writer.scalar("train", "accuracy", 0.75, 8, 1_790_000_008.0)
    writer.flush()
    writer.close()
    (made,) = (scratch / "train").glob("events.out.tfevents.*")
    data = made.read_bytes()
    second = first.with_name(made.name.replace("tfevents.", "tfevents.9"))
    (logs / run / "notes.txt").write_text("not an event file")
    second.write_bytes(data[:-10])  # the last record lacks its end
    wait_until(lambda: ("train/accuracy", 7) in metric_points(watch), timeout=20, what="step 7")
    time.sleep(1.5)  # several reads of the cut file
    assert ("train/accuracy", 8) not in metric_points(watch)
    with second.open("ab") as file:
        file.write(data[-10:])
    wait_until(lambda: ("train/accuracy", 8) in metric_points(watch), timeout=20, what="step 8")
    assert metric_points(watch)[("train/accuracy", 8)][0] == 0.75
    watch.cancel()
